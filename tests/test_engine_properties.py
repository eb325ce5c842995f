"""Property tests of the engine on random graphs (docs/semantics.md S3-S6, T1-T2, F1-F5, B11, J5).

Graphs are random DAGs over `TraceNode` executors, joined by single edges (with or without a
condition), fan-outs, switch-case groups and fan-in barriers. Every node appends its id to the
message's path, so a message says where it has been.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from durable_workflows import (
    Case,
    Default,
    Executor,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowValidationError,
    handler,
)
from durable_workflows.model.context import InvocationResult
from durable_workflows.model.edges import FanInEdge, FanOutEdge, SingleEdge, SwitchCaseEdge
from durable_workflows.runtime.engine import RunState, Superstep
from durable_workflows.runtime.wire import decode_state, encode_state
from durable_workflows.testing import InProcessResult
from durable_workflows.testing.runner import InProcessRunner

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


class Trace(BaseModel):
    path: list[str]


def even_length(trace: Trace) -> bool:
    return len(trace.path) % 2 == 0


def long_path(trace: Trace) -> bool:
    return len(trace.path) >= 3


def mentions_n1(trace: Trace) -> bool:
    return any("n1" in step for step in trace.path)


def text_weight_odd(trace: Trace) -> bool:
    return sum(len(step) for step in trace.path) % 2 == 1


CONDITIONS: list[Callable[[Trace], bool]] = [even_length, long_path, mentions_n1, text_weight_odd]


class TraceNode(Executor):
    """Appends its id; reads and writes shared state; may send one extra copy."""

    def __init__(self, id: str, extra: bool) -> None:
        super().__init__(id)
        self.extra = extra

    def _step(self, trace: Trace, ctx: WorkflowContext[Trace, str]) -> Trace:
        seen = ctx.get_state("last", "nobody")
        ctx.set_state("last", self.id)
        ctx.set_state(f"count:{self.id}", ctx.get_state(f"count:{self.id}", 0) + 1)
        ctx.yield_output(f"{self.id} saw {seen}")
        out = Trace(path=[*trace.path, self.id])
        if self.extra and len(trace.path) % 2 == 1:
            ctx.send_message(Trace(path=[*out.path, "extra", self.id]))
        return out

    @handler
    def on_trace(self, trace: Trace, ctx: WorkflowContext[Trace, str]) -> Trace:
        return self._step(trace, ctx)

    @handler
    def on_batch(self, batch: list[Trace], ctx: WorkflowContext[Trace, str]) -> Trace:
        joined = "[" + "|".join("/".join(t.path) for t in batch) + "]"
        return self._step(Trace(path=[joined]), ctx)


@dataclass
class GroupSpec:
    kind: str  # "edges", "fan-out", "switch"
    source: int
    targets: list[int]
    conditions: list[int | None] = field(default_factory=list)


@dataclass
class GraphSpec:
    size: int
    declaration_order: list[int]
    groups: list[GroupSpec]
    fan_ins: list[tuple[list[int], int]]
    extra: list[bool]

    def build(self) -> Workflow:
        nodes = [TraceNode(f"n{i}", self.extra[i]) for i in range(self.size)]
        builder = WorkflowBuilder(nodes[0], name="random")
        for i in self.declaration_order:
            builder.add_node(nodes[i])
        for group in self.groups:
            source = nodes[group.source]
            targets = [nodes[t] for t in group.targets]
            conditions = [None if c is None else CONDITIONS[c] for c in group.conditions]
            if group.kind == "edges":
                for target, condition in zip(targets, conditions, strict=True):
                    builder.add_edge(source, target, condition)
            elif group.kind == "fan-out":
                builder.add_fan_out_edge(source, targets)
            else:
                cases: list[Case | Default] = [
                    Case(CONDITIONS[c or 0], t)
                    for t, c in zip(targets[:-1], group.conditions[:-1], strict=True)
                ]
                builder.add_switch_case_edge_group(source, [*cases, Default(targets[-1])])
        for sources, target in self.fan_ins:
            builder.add_fan_in_barrier_edge([nodes[s] for s in sources], nodes[target])
        return builder.build()


@st.composite
def graph_specs(draw: st.DrawFn) -> GraphSpec:
    size = draw(st.integers(2, 7))
    parents = [draw(st.integers(0, j - 1)) for j in range(1, size)]
    children: dict[int, list[int]] = defaultdict(list)
    for j, parent in enumerate(parents, start=1):
        children[parent].append(j)
    groups = []
    for source in range(size):
        targets = list(children[source])
        later = list(range(source + 1, size))
        if later and draw(st.booleans()):
            targets.append(draw(st.sampled_from(later)))  # a second route to some node
        if not targets:
            continue
        kind = draw(st.sampled_from(["edges", "fan-out", "switch"]))
        conditions = [draw(st.none() | st.integers(0, len(CONDITIONS) - 1)) for _ in targets]
        if kind == "edges":
            # keep the tree edges unconditional often enough that most of the graph runs
            conditions = [c if draw(st.booleans()) else None for c in conditions]
        groups.append(GroupSpec(kind, source, targets, conditions))
    fan_ins = []
    if size >= 3 and draw(st.booleans()):
        target = draw(st.integers(2, size - 1))
        sources = draw(
            st.lists(st.integers(0, target - 1), min_size=2, max_size=target, unique=True)
        )
        fan_ins.append((sources, target))
    has_successor = {g.source for g in groups} | {s for f in fan_ins for s in f[0]}
    extra = [i in has_successor and draw(st.booleans()) for i in range(size)]
    order = draw(st.permutations(list(range(1, size))))
    return GraphSpec(size, [0, *order], groups, fan_ins, extra)


def build_or_skip(spec: GraphSpec) -> Workflow:
    try:
        return spec.build()
    except WorkflowValidationError as exc:
        # only barriers over mutually exclusive switch cases are refused by construction
        assert {issue.code for issue in exc.issues} == {"fan-in-never-fires"}, exc
        assume(False)
        raise


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


def expected_direct_deliveries(workflow: Workflow, source: str, value: Any) -> int:
    count = 0
    for group in workflow.outgoing[source]:
        if isinstance(group, SingleEdge):
            count += group.condition is None or bool(group.condition(value))
        elif isinstance(group, FanOutEdge):
            count += len(group.targets)
        elif isinstance(group, SwitchCaseEdge):
            count += 1
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
                direct += expected_direct_deliveries(workflow, invocation.node_id, sent.value)
                outputs += not workflow.outgoing[invocation.node_id]
                for group in workflow.outgoing[invocation.node_id]:
                    if isinstance(group, FanInEdge):
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
def test_messages_are_conserved_and_barriers_fire_once_per_activation(spec: GraphSpec) -> None:
    """S3, R1-R4, F1-F5: nothing lost or duplicated; a barrier fires once per complete set."""
    drive(build_or_skip(spec))


@SETTINGS
@given(graph_specs(), st.integers(0, 2**32 - 1))
def test_outcome_does_not_depend_on_execution_order(spec: GraphSpec, seed: int) -> None:
    """S5, S6, T1, T2: shuffling the execution order of each superstep changes nothing."""
    workflow = build_or_skip(spec)
    reference = InProcessRunner(workflow).run(Trace(path=["in"]))
    shuffled = ShuffledRunner(workflow, seed).run(Trace(path=["in"]))
    assert reference.status == "completed", reference.error
    assert summary(shuffled) == summary(reference)


@SETTINGS
@given(graph_specs())
def test_plan_hash_is_deterministic(spec: GraphSpec) -> None:
    """B11: building the same graph twice gives the same plan and hash."""
    first = build_or_skip(spec)
    second = spec.build()
    assert first.plan == second.plan
    assert first.graph_hash == second.graph_hash


@SETTINGS
@given(graph_specs())
def test_json_round_trip_of_the_run_state_changes_nothing(spec: GraphSpec) -> None:
    """J5: encoding and decoding the RunState after every superstep gives the same run."""
    workflow = build_or_skip(spec)
    plain = drive(workflow)
    tripped = drive(workflow, round_trip=True)
    assert tripped.outputs == plain.outputs
    assert tripped.shared == plain.shared
    assert tripped.superstep == plain.superstep
    assert tripped.barriers == plain.barriers
