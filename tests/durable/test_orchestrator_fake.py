"""OrchestratorDriver driven through a fake OrchestrationSeam (no backend)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from durable_workflows import (
    Case,
    Default,
    RequestPort,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowGraphMismatchError,
    executor,
)
from durable_workflows.durable import orchestrator as orch
from durable_workflows.durable.orchestrator import (
    DurableRunFailed,
    OrchestratorDriver,
    start_payload,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.runtime.engine import Engine
from durable_workflows.testing import run_in_process

from .fake_seam import FakeSeam
from .workflows import loop, parallel_ports


def _payload(workflow: Workflow, value: Any) -> dict[str, Any]:
    message = Engine(workflow).coerce_input(value)
    return start_payload(
        workflow, workflow.registry.encode(message, workflow.input_types), stream=True
    )


def run_fake(
    workflow: Workflow, value: Any, **seam_kwargs: Any
) -> tuple[list[Any], list[FakeSeam]]:
    """Drive generation after generation until the run ends; returns (outputs, seams)."""
    payload = _payload(workflow, value)
    seams: list[FakeSeam] = []
    for _ in range(1000):
        seam = FakeSeam(workflow, **seam_kwargs)
        seams.append(seam)
        result = seam.drive(OrchestratorDriver(workflow, seam, payload).run())
        if seam.continued:
            assert result is None
            assert len(seam.continued) == 1
            payload = seam.continued[0]
            continue
        outputs = [workflow.registry.decode(v) for v in result["outputs"]]
        return outputs, seams
    raise AssertionError("never finished")


def _chain() -> Workflow:
    @executor(id="double")
    def double(x: int) -> int:
        return x * 2

    @executor(id="inc")
    def inc(x: int) -> int:
        return x + 1

    @executor(id="fmt")
    def fmt(x: int) -> str:
        return f"v={x}"

    return WorkflowBuilder(double, name="FakeChain").add_chain([double, inc, fmt]).build()


def test_chain() -> None:
    wf = _chain()
    outputs, seams = run_fake(wf, 5)
    assert outputs == ["v=11"] == run_in_process(wf, 5).outputs
    assert seams[0].activity_calls == [
        f"dw.FakeChain@{wf.version}.double",
        f"dw.FakeChain@{wf.version}.inc",
        f"dw.FakeChain@{wf.version}.fmt",
    ]
    assert len(seams) == 1


def test_fan_out_fan_in() -> None:
    @executor(id="src")
    def src(x: int) -> int:
        return x

    @executor(id="a")
    def a(x: int) -> int:
        return x + 1

    @executor(id="b")
    def b(x: int) -> int:
        return x + 10

    @executor(id="join")
    def join(xs: list[int]) -> int:
        return sum(xs)

    wf = (
        WorkflowBuilder(src, name="FakeFan")
        .add_fan_out_edge(src, [a, b])
        .add_fan_in_barrier_edge([a, b], join)
        .build()
    )
    outputs, seams = run_fake(wf, 1)
    assert outputs == run_in_process(wf, 1).outputs == [13]
    assert sorted(seams[0].activity_calls[1:3]) == [f"dw.FakeFan@{wf.version}.{n}" for n in "ab"]


def test_switch() -> None:
    @executor(id="classify")
    def classify(x: int) -> int:
        return x

    @executor(id="small")
    def small(x: int) -> str:
        return "small"

    @executor(id="big")
    def big(x: int) -> str:
        return "big"

    wf = (
        WorkflowBuilder(classify, name="FakeSwitch")
        .add_switch_case_edge_group(classify, [Case(lambda x: x < 10, small), Default(big)])
        .build()
    )
    assert run_fake(wf, 3)[0] == ["small"]
    assert run_fake(wf, 30)[0] == ["big"]


def test_empty_superstep_never_hangs() -> None:
    # a conditional edge that drops every message: the next superstep has nothing to run
    @executor(id="start")
    def start(x: int, ctx: WorkflowContext[int, int]) -> None:
        ctx.yield_output(x)
        ctx.send_message(x)

    @executor(id="never")
    def never(x: int) -> int:
        return -1

    wf = WorkflowBuilder(start, name="FakeEmpty").add_edge(start, never, lambda x: x > 100).build()
    outputs, _ = run_fake(wf, 1)
    assert outputs == run_in_process(wf, 1).outputs == [1]


def test_graph_hash_mismatch() -> None:
    wf = _chain()
    payload = _payload(wf, 1)
    payload["graph_hash"] = "deadbeef"
    seam = FakeSeam(wf)
    with pytest.raises(WorkflowGraphMismatchError, match="workflow definition changed"):
        seam.drive(OrchestratorDriver(wf, seam, payload).run())


def test_continue_as_new_carries_state() -> None:
    n = orch.SUPERSTEPS_PER_GENERATION * 3 + 7
    wf = loop("FakeLoop", n)
    outputs, seams = run_fake(wf, 1)
    assert outputs == run_in_process(wf, 1).outputs
    assert outputs[-1] == n * (n + 1) // 2
    assert len(seams) == 4
    generations = [s.continued[0]["generation"] for s in seams[:-1]]
    assert generations == [1, 2, 3]
    # sequences continue across generations
    seqs = [e["sequence"] for s in seams for (_, _, _, batch) in s.signals for e in batch]
    assert seqs == list(range(1, len(seqs) + 1))


def test_executor_failure_names_executor() -> None:
    @executor(id="ok")
    def ok(x: int) -> int:
        return x

    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError("kaput")

    wf = WorkflowBuilder(ok, name="FakeFail").add_edge(ok, boom).build()
    seam = FakeSeam(wf)
    with pytest.raises(DurableRunFailed, match=r"executor 'boom' failed.*kaput"):
        seam.drive(OrchestratorDriver(wf, seam, _payload(wf, 1)).run())
    events = [e for (_, _, _, batch) in seam.signals for e in batch]
    types = [e["type"] for e in events]
    assert types[-2:] == ["executor_failed", "workflow_failed"]
    assert events[-1]["executor_id"] == "boom"


def test_port_timeout_names_port_and_request() -> None:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve", request_type=int, response_type=bool, timeout=timedelta(hours=1))

    @executor(id="done")
    def done(ok: bool) -> str:
        return str(ok)

    wf = WorkflowBuilder(ask, name="FakeTimeout").add_chain([ask, port, done]).build()
    seam = FakeSeam(wf)  # no responder: the timer fires
    with pytest.raises(DurableRunFailed) as info:
        seam.drive(OrchestratorDriver(wf, seam, _payload(wf, 1)).run())
    request_ids = [r["request_id"] for r in seam.statuses[-2]["requests"]]
    assert request_ids
    assert "approve" in str(info.value)
    assert request_ids[0] in str(info.value)


def test_port_answered() -> None:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="done")
    def done(ok: bool) -> str:
        return f"approved={ok}"

    wf = WorkflowBuilder(ask, name="FakePort").add_chain([ask, port, done]).build()

    def responder(status: dict[str, Any]) -> dict[str, Any]:
        return {
            r["request_id"]: {"response": wf.registry.encode(True, (bool,))}
            for r in status["requests"]
        }

    outputs, _ = run_fake(wf, 1, responder=responder)
    assert outputs == ["approved=True"]


def test_executor_timeout_names_executor() -> None:
    @executor(id="slow", timeout=timedelta(seconds=5))
    def slow(x: int) -> int:
        return x

    wf = WorkflowBuilder(slow, name="FakeSlow").build()
    seam = FakeSeam(wf, hang=frozenset({"slow"}))
    with pytest.raises(DurableRunFailed, match=r"executor 'slow' failed.*timed out"):
        seam.drive(OrchestratorDriver(wf, seam, _payload(wf, 1)).run())


def _approval_workflow(name: str) -> Workflow:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="done")
    def done(ok: bool) -> str:
        return f"approved={ok}"

    return WorkflowBuilder(ask, name=name).add_chain([ask, port, done]).build()


def _refusals(wf: Workflow, bad: list[Any]) -> list[int]:
    answers = iter([*bad, {"response": wf.registry.encode(True, (bool,))}])
    calls: list[int] = []

    def responder(status: dict[str, Any]) -> dict[str, Any]:
        calls.append(len(status["requests"]))
        return {r["request_id"]: next(answers) for r in status["requests"]}

    outputs, _ = run_fake(wf, 1, responder=responder, fire_timers=False)
    assert outputs == ["approved=True"]
    return calls


def test_invalid_response_is_refused_and_run_keeps_waiting() -> None:
    wf = _approval_workflow("FakeBadResponse")
    bad = ["garbage", {"response": {"not": "an envelope"}}]
    # still waiting on the same request after each refusal
    assert _refusals(wf, bad) == [1, 1, 1]


def test_dict_without_response_key_is_refused() -> None:
    wf = _approval_workflow("FakeNoResponseKey")
    assert _refusals(wf, [{"no": "envelope"}]) == [1, 1]


def test_replay_is_deterministic() -> None:
    wf = loop("FakeReplay", 30)
    payload = _payload(wf, 1)
    runs = []
    for _ in range(2):
        seam = FakeSeam(wf)
        seam.drive(OrchestratorDriver(wf, seam, payload).run())
        runs.append((seam.activity_calls, seam.statuses, seam.signals, seam.continued))
    assert runs[0] == runs[1]


def test_request_ids_are_deterministic_and_distinct_per_port() -> None:
    wf = parallel_ports("FakeTwoPorts")
    seen: list[list[str]] = []

    def responder(status: dict[str, Any]) -> dict[str, Any]:
        ids = sorted(r["request_id"] for r in status["requests"])
        seen.append(ids)
        # answer only the last one this round: the other stays pending
        last = status["requests"][-1]
        return {last["request_id"]: {"response": wf.registry.encode(last["port_id"], (str,))}}

    outputs, _ = run_fake(wf, 1, responder=responder, fire_timers=False)
    again: list[list[str]] = []
    seen_first = list(seen)
    seen.clear()
    run_fake(wf, 1, responder=responder, fire_timers=False)
    again = list(seen)
    assert seen_first == again
    assert len(seen_first[0]) == 2 and len(set(seen_first[0])) == 2
    assert sorted(outputs[0].split("+")) == ["first", "second"]
