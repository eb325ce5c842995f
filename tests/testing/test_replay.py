"""Replay before deploy: export a run's history, replay it against changed code
(docs/testing.md#replay-before-deploy)."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from durable_workflows import DurableWorkflowHost, DurableWorkflowsError, WorkflowGraphMismatchError
from durable_workflows.cli.main import main
from durable_workflows.graph.workflow import Workflow
from durable_workflows.testing import NondeterminismError, replay

FLOW = '''
from durable_workflows import Case, Default, RequestPort, WorkflowBuilder, executor


@executor
def intake(amount: int) -> int:
    return amount


def large(amount: int) -> bool:
    return amount > LIMIT


@executor
def auto(amount: int) -> str:
    return f"auto {{amount}}"


approval = RequestPort("approval", request_type=int, response_type=bool)


@executor
def decide(ok: bool) -> str:
    return "approved" if ok else "rejected"


workflow = (
    WorkflowBuilder(intake, name="Orders")
    .add_switch_case_edge_group(intake, [Case({condition}, approval), Default(auto)])
    .add_edge(approval, decide)
    .build()
)
'''


def orders(limit: int = 1000, condition: str = "large") -> Workflow:
    """The workflow as a deploy would change it: another limit (the condition's body), another
    condition (its name: the graph changes)."""
    namespace: dict[str, Any] = {"LIMIT": limit}
    source = FLOW.format(condition=condition)
    if condition != "large":
        source = source.replace("def large(", f"def {condition}(")
    exec(compile(source, "<orders>", "exec"), namespace)
    workflow: Workflow = namespace["workflow"]
    return workflow


async def record(amount: int, *, answer: bool | None, stream: bool) -> dict[str, Any]:
    """Run `amount` through version 1 and export its history (answering the approval or not)."""
    flow = orders()
    async with DurableWorkflowHost(workflows=[flow]) as host:
        run = await (host.client.stream if stream else host.client.run)(flow, amount)
        await host.settle()
        if answer is not None:
            await run.send_response("approval:2:0", answer)
            await run.wait_for_completion(30)
        return await host.client.export_history(run.run_id)


@pytest.fixture(scope="module")
def histories() -> dict[str, dict[str, Any]]:
    async def all_of_them() -> dict[str, dict[str, Any]]:
        return {
            "approved": await record(1500, answer=True, stream=True),
            "automatic": await record(300, answer=None, stream=False),
            "waiting": await record(1500, answer=None, stream=False),
        }

    return asyncio.run(all_of_them())


def test_the_same_code_replays_every_history(histories: dict[str, dict[str, Any]]) -> None:
    for name, history in histories.items():
        report = replay(orders(), history)
        assert report.completed == (name != "waiting")
        assert report.events == len(history["events"])
    assert histories["approved"]["plan"] == orders().plan.to_dict()
    assert histories["waiting"]["status"] == "RUNNING"


def test_a_changed_graph_is_named(histories: dict[str, dict[str, Any]]) -> None:
    renamed = orders(condition="above_limit")
    with pytest.raises(WorkflowGraphMismatchError) as caught:
        replay(renamed, histories["approved"])
    message = str(caught.value)
    assert orders().graph_hash in message and renamed.graph_hash in message
    assert "conditions ['large', 'default'] -> ['above_limit', 'default']" in message


def test_a_history_without_a_plan_still_reports_the_hashes(
    histories: dict[str, dict[str, Any]],
) -> None:
    bare = {**histories["approved"], "plan": None}
    with pytest.raises(WorkflowGraphMismatchError, match="carries no plan"):
        replay(orders(condition="above_limit"), bare)


def test_a_changed_condition_diverges_at_the_first_different_step(
    histories: dict[str, dict[str, Any]],
) -> None:
    """Same graph hash, other decision: the 1500 order would now be approved automatically."""
    stricter = orders(limit=2000)
    assert stricter.graph_hash == orders().graph_hash
    with pytest.raises(NondeterminismError) as streamed:
        replay(stricter, histories["approved"])
    assert "the run's event 4 differs: recorded waiting_for_input" in str(streamed.value)
    assert "now executor_invoked" in str(streamed.value)
    with pytest.raises(NondeterminismError) as waiting:
        replay(stricter, histories["waiting"])
    assert waiting.value.position is None  # at the end of the history: the new code goes on
    assert "would also invoke executor 'auto' in superstep 2" in str(waiting.value)
    with pytest.raises(NondeterminismError, match="invoked executor 'auto' in superstep 2, but the current code would not"):
        replay(orders(limit=100), histories["automatic"])


def test_an_unaffected_run_replays_after_a_condition_change(
    histories: dict[str, dict[str, Any]],
) -> None:
    replay(orders(limit=2000), histories["automatic"])  # 300 goes the same way either way


def test_histories_load_from_files_and_text(
    histories: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(histories["approved"]))
    assert replay(orders(), path).completed
    assert replay(orders(), str(path)).completed
    assert replay(orders(), path.read_text()).completed
    with pytest.raises(DurableWorkflowsError, match="not a run history"):
        replay(orders(), {"events": []})


def test_the_cli_exports_and_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "orders_v1.py").write_text(textwrap.dedent(FLOW.format(condition="large")).replace("LIMIT", "1000"))
    (tmp_path / "orders_v2.py").write_text(textwrap.dedent(FLOW.format(condition="large")).replace("LIMIT", "2000"))
    history = tmp_path / "history.json"

    async def run_v1() -> str:
        flow = orders()
        async with DurableWorkflowHost(workflows=[flow]) as host:
            run = await host.client.run(flow, 1500)
            await host.settle()
            code = await asyncio.to_thread(
                main,
                ["history", run.run_id, "--connection-string", host.address, "-o", str(history),
                 "-w", str(tmp_path / "orders_v1.py")],
            )
            assert code == 0
            return run.run_id

    run_id = asyncio.run(run_v1())
    assert json.loads(history.read_text())["run_id"] == run_id
    assert main(["replay", str(tmp_path / "orders_v1.py"), str(history)]) == 0
    assert "no divergence" in capsys.readouterr().out
    assert main(["replay", str(tmp_path / "orders_v2.py"), str(history)]) == 1
    assert "would also invoke executor 'auto'" in capsys.readouterr().err


def test_a_run_replay_approves_finishes_on_the_new_code(tmp_path: Path) -> None:
    """What replay approves, a worker with the new code carries on: the run in flight ends."""
    v1, v2 = orders(), orders(limit=500)  # 1500 still needs an approval under v2
    database = tmp_path / "runs.db"

    async def scenario() -> str:
        async with DurableWorkflowHost(workflows=[v1], database=database) as old:
            run = await old.client.run(v1, 1500)
            await old.settle()
            history = await old.client.export_history(run.run_id)
        replay(v2, history)
        async with DurableWorkflowHost(workflows=[v2], database=database) as new:
            resumed = await new.client.get_run(run.run_id)
            await resumed.send_response("approval:2:0", True)
            result: str = await resumed.wait_for_completion(30)
            return result

    assert asyncio.run(scenario()) == "approved"
