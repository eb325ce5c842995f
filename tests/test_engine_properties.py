"""Property tests of the engine on random graphs (docs/semantics.md S3-S6, T1-T2, F1-F5, B11, J5).

Graphs come from the public strategy `durable_workflows.testing.workflow_specs` (the one users
get), without request ports, agents and halts, whose effects the conservation check below does
not model: executors of every kind joined by single edges (with or without a condition),
fan-outs, switch-case groups, fan-in barriers and self-loops, with extra and targeted sends.
Every node appends its id to the message's path, so a message says where it has been.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from durable_workflows import Workflow
from durable_workflows.model.context import InvocationResult, SentMessage
from durable_workflows.model.edges import FanInEdge, FanOutEdge, SingleEdge, SwitchCaseEdge
from durable_workflows.runtime.state import RunState, Superstep
from durable_workflows.runtime.wire import decode_state, encode_state
from durable_workflows.testing import InProcessResult, Trace, WorkflowSpec, workflow_specs
from durable_workflows.testing.graphs import build_or_none
from durable_workflows.testing.runner import InProcessRunner

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


def graph_specs() -> st.SearchStrategy[WorkflowSpec]:
    return workflow_specs(
        ports=False, agents=False, halts=False, asks=False, delays=False, subworkflows=False
    )


def build_or_skip(spec: WorkflowSpec) -> Workflow:
    workflow = build_or_none(spec)
    assume(workflow is not None)  # only barriers over mutually exclusive switch cases
    assert workflow is not None
    return workflow


def key(node_id: str, message: Any) -> tuple[str, str]:
    if isinstance(message, list):
        return node_id, json.dumps([m.path for m in message])
    return node_id, json.dumps(message.path)


class ShuffledRunner(InProcessRunner):
    """Runs a superstep's invocations in a random order; results go back in invocation order."""

    def __init__(self, workflow: Workflow, seed: int) -> None:
        super().__init__(workflow)
        self.rng = random.Random(seed)

    def execute(self, state: RunState, step: Superstep) -> list[InvocationResult]:
        shared = dict(state.shared)
        order = list(step.invocations)
        self.rng.shuffle(order)
        results = {inv.branch: self._invoke(state, inv, shared) for inv in order}
        return [results[inv.branch] for inv in step.invocations]


def summary(result: InProcessResult) -> tuple[Any, ...]:
    events = [
        (e.type, getattr(e, "executor_id", None), getattr(e, "superstep", None))
        for e in result.events
    ]
    return result.status, result.outputs, events


def expected_direct_deliveries(workflow: Workflow, source: str, sent: SentMessage) -> int:
    """R1-R4, M4: how many deliveries one sent message makes (barriers aside)."""
    value, target = sent.value, sent.target_id
    count = 0
    for group in workflow.outgoing[source]:
        if isinstance(group, SingleEdge):
            wanted = target in (None, group.target)
            count += wanted and (group.condition is None or bool(group.condition(value)))
        elif isinstance(group, FanOutEdge):
            count += sum(target in (None, t) for t in group.targets)
        elif isinstance(group, SwitchCaseEdge):
            chosen = next((t for cond, t, _ in group.cases if cond(value)), group.default)
            count += target in (None, chosen)
    return count


def drive(workflow: Workflow, *, round_trip: bool = False) -> RunState:
    """Run step by step, checking conservation of messages at every superstep."""
    runner = InProcessRunner(workflow)
    engine = runner.engine
    fan_ins = {g.id: g for g in workflow.fan_ins}
    state = engine.start(Trace(path=["in"]), "prop")
    while True:
        pending = Counter(key(d.target, d.message) for d in state.pending)
        queued = {g: {s: len(q) for s, q in state.barriers[g].items()} for g in fan_ins}
        step = engine.begin_superstep(state)
        if step is None:
            break
        # F2/F4: barriers fire as the superstep begins, exactly as often as complete sets
        # exist, never early, never twice
        activations = Counter(i.source for i in step.invocations if i.source in fan_ins)
        for group_id, group in fan_ins.items():
            fired = min(queued[group_id].values())
            assert activations[group_id] == fired
            for source in group.sources:
                assert len(state.barriers[group_id][source]) == queued[group_id][source] - fired
        for invocation in step.invocations:
            if invocation.source in fan_ins:
                # F2: the list is in source-declaration order (each path ends with its sender)
                senders = [m.path[-1] for m in invocation.message]
                assert senders == list(fan_ins[invocation.source].sources)
        # S3: every delivered message is exactly one invocation
        direct_invocations = [i for i in step.invocations if i.source not in fan_ins]
        assert Counter(key(i.node_id, i.message) for i in direct_invocations) == pending
        # S4: activations come after every direct delivery of their target
        for target in {i.node_id for i in step.invocations}:
            kinds = [i.source in fan_ins for i in step.invocations if i.node_id == target]
            assert kinds == sorted(kinds)
        queued = {g: {s: len(q) for s, q in state.barriers[g].items()} for g in fan_ins}
        results = runner.execute(state, step)
        direct = 0
        outputs = len(state.outputs)
        enqueued: Counter[tuple[str, str]] = Counter()
        for invocation, result in zip(step.invocations, results, strict=True):
            outputs += len(result.outputs)
            for sent in result.sent:
                direct += expected_direct_deliveries(workflow, invocation.node_id, sent)
                outputs += not workflow.outgoing[invocation.node_id]
                for group in workflow.outgoing[invocation.node_id]:
                    if isinstance(group, FanInEdge) and sent.target_id in (None, group.target):
                        enqueued[(group.id, invocation.node_id)] += 1
        engine.finish_superstep(state, step, results)
        assert len(state.outputs) == outputs
        # F1: what a source routes through a barrier is queued (nothing fires before the
        # next superstep begins)
        for group_id, group in fan_ins.items():
            for source in group.sources:
                expected = queued[group_id][source] + enqueued[(group_id, source)]
                assert len(state.barriers[group_id][source]) == expected
        # nothing else was delivered (R1-R4)
        assert len(state.pending) == direct
        if round_trip:
            data = json.loads(json.dumps(encode_state(workflow, state)))
            state = decode_state(workflow, data)
    assert engine.status(state) == "completed"
    return state


@SETTINGS
@given(graph_specs())
def test_messages_are_conserved_and_barriers_fire_once_per_activation(spec: WorkflowSpec) -> None:
    """S3, R1-R4, F1-F5: nothing lost or duplicated; a barrier fires once per complete set."""
    drive(build_or_skip(spec))


@SETTINGS
@given(graph_specs(), st.integers(0, 2**32 - 1))
def test_outcome_does_not_depend_on_execution_order(spec: WorkflowSpec, seed: int) -> None:
    """S5, S6, T1, T2: shuffling the execution order of each superstep changes nothing."""
    workflow = build_or_skip(spec)
    reference = InProcessRunner(workflow).run(Trace(path=["in"]))
    shuffled = ShuffledRunner(workflow, seed).run(Trace(path=["in"]))
    assert reference.status == "completed", reference.error
    assert summary(shuffled) == summary(reference)


@SETTINGS
@given(graph_specs())
def test_plan_hash_is_deterministic(spec: WorkflowSpec) -> None:
    """B11: building the same graph twice gives the same plan and hash."""
    first = build_or_skip(spec)
    second = spec.build()
    assert first.plan == second.plan
    assert first.graph_hash == second.graph_hash


@SETTINGS
@given(graph_specs())
def test_json_round_trip_of_the_run_state_changes_nothing(spec: WorkflowSpec) -> None:
    """J5: encoding and decoding the RunState after every superstep gives the same run."""
    workflow = build_or_skip(spec)
    plain = drive(workflow)
    tripped = drive(workflow, round_trip=True)
    assert tripped.outputs == plain.outputs
    assert tripped.shared == plain.shared
    assert tripped.superstep == plain.superstep
    assert tripped.barriers == plain.barriers
