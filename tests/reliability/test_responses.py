"""Responses are never lost and never taken twice (issue 10, defects 2 and 9; P3, P6, P7).

Through the fake seam (the orchestrator alone) and end to end on the embedded backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    InvalidResponseError,
    WorkflowClient,
)
from durable_workflows.durable import orchestrator as orch
from durable_workflows.hosting.factories import create_client
from durable_workflows.sidecar import SqliteSidecar

from ._resp_helpers import (
    LOOP_STEPS,
    approval,
    busy_ports,
    drive,
    drive_generations,
    payload,
    response_event,
    signalled_events,
    wait_for_requests,
)

FAKE_BUSY = busy_ports("RelFakeBusy")
BUSY = busy_ports("RelBusy", step_seconds=0.05)
APPROVAL = approval("RelApproval")
ALL = [BUSY, APPROVAL]


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    running = DurableWorkflowHost(workflows=ALL)
    running.start()
    try:
        yield running
    finally:
        running.stop()


# -- defect 2: a response taken while the run is busy survives continue-as-new ---------------


def test_response_arriving_while_busy_survives_continue_as_new_fake() -> None:
    """P6: `second` is answered while `spin` loops; a generation ends before the run waits
    again. The answer must not be lost with the generation (it was on main)."""
    wf = FAKE_BUSY
    assert orch.SUPERSTEPS_PER_GENERATION < LOOP_STEPS
    answers = {
        # the first answer arrives while the run waits for both requests (after `start` ran)
        1: [("first:2:0", response_event(wf, 1, (int,)))],
        # the second while spin's fifth superstep is scheduled
        6: [("second:2:0", response_event(wf, "two", (str,)))],
    }
    result, seams = drive_generations(wf, payload(wf, 7), answers, fire_timers=False)
    assert len(seams) >= 2  # it did continue as new while the answer was in hand
    outputs = [wf.registry.decode(v) for v in result["outputs"]]
    assert sorted(outputs, key=str) == ["looped 30", "two"]
    received = [e for e in signalled_events(seams) if e["type"] == "response_received"]
    assert [e["request_id"] for e in received] == ["first:2:0", "second:2:0"]


def test_response_arriving_while_busy_is_handled_in_the_next_superstep_fake() -> None:
    """S2, P4: a response accepted while superstep N runs is handled in superstep N+1."""
    wf = FAKE_BUSY
    answers = {
        1: [("first:2:0", response_event(wf, 1, (int,)))],
        3: [("second:2:0", response_event(wf, "two", (str,)))],  # during superstep 4 (spin 2)
    }
    _, seams = drive_generations(wf, payload(wf, 7), answers, fire_timers=False)
    events = signalled_events(seams)
    received = next(
        e
        for e in events
        if e.get("request_id") == "second:2:0" and e["type"] == "response_received"
    )
    output = next(e for e in events if e["type"] == "workflow_output")
    completed_4 = next(
        e for e in events if e["type"] == "executor_completed" and e["superstep"] == 4
    )
    invoked_5 = next(e for e in events if e["type"] == "executor_invoked" and e["superstep"] == 5)
    # accepted after superstep 4 finished, before superstep 5 began; its output is immediate
    # (a port without successors), so it precedes everything of superstep 5
    assert completed_4["sequence"] < received["sequence"] < invoked_5["sequence"]
    assert received["sequence"] < output["sequence"] < invoked_5["sequence"]


def test_response_arriving_while_busy_survives_continue_as_new_e2e(
    host: DurableWorkflowHost,
) -> None:
    """P6 end to end: the issue's repro (it hung RUNNING on main, `second` still pending)."""

    async def body(client: WorkflowClient) -> tuple[Any, list[Any]]:
        run = await client.run(BUSY, 3)
        pending = {r.port_id: r for r in await wait_for_requests(run, 2)}
        await run.send_response(pending["first"], 1)
        while (await run.get_status()).superstep < 5:  # spin is looping
            await asyncio.sleep(0.02)
        await run.send_response(pending["second"], "two")
        status = await run.get_status()
        assert status.superstep < orch.SUPERSTEPS_PER_GENERATION
        return await run.wait_for_completion(timeout=30), run.outputs

    result, outputs = drive(host.address, ALL, body)
    assert sorted(outputs) == ["looped 30", "two"]
    assert result == "looped 30"


# -- defect 9: two senders, one request: exactly one wins --------------------------------------


def test_concurrent_duplicate_responses_exactly_one_wins(host: DurableWorkflowHost) -> None:
    """P7: two clients (two connections) answer one request at the same time: one call
    returns, the other raises InvalidResponseError "already answered", and the run goes on
    with the winner's value. On main both returned and one answer was silently dropped."""

    async def round_(client: WorkflowClient, other: WorkflowClient) -> tuple[list[Any], str]:
        run = await client.run(APPROVAL, 1)
        [request] = await wait_for_requests(run, 1)
        twin = await other.get_run(run.run_id)
        outcomes = await asyncio.gather(
            run.send_response(request, True),
            twin.send_response(request, False),
            return_exceptions=True,
        )
        return outcomes, await run.wait_for_completion(timeout=30)

    async def body(client: WorkflowClient) -> list[tuple[list[Any], str]]:
        other = WorkflowClient(create_client(host.address, asynchronous=True), ALL)
        try:
            return [await round_(client, other) for _ in range(5)]
        finally:
            await other.close()

    for outcomes, result in drive(host.address, ALL, body, timeout=120):
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(errors) == 1, outcomes
        assert isinstance(errors[0], InvalidResponseError)
        assert "already answered" in str(errors[0])
        winner = [True, False][outcomes.index(None)]
        assert result == f"approved={winner}"


def test_answering_an_answered_request_is_refused(host: DurableWorkflowHost) -> None:
    """P7: a second answer after the first was taken is refused, and says why (the run is
    still active: `second` waits)."""

    async def body(client: WorkflowClient) -> tuple[str, Any]:
        run = await client.run(BUSY, 1)
        pending = {r.port_id: r for r in await wait_for_requests(run, 2)}
        await run.send_response(pending["first"], 1)
        with pytest.raises(InvalidResponseError) as info:
            await run.send_response(pending["first"], 2)
        await run.send_response(pending["second"], "two")
        return str(info.value), await run.wait_for_completion(timeout=30)

    error, result = drive(host.address, ALL, body)
    assert "request 'first:2:0'" in error and "already answered" in error
    assert result == "looped 30"


def test_send_response_times_out_while_no_worker_and_resending_is_safe() -> None:
    """P7: with the run's worker down, `send_response(timeout=)` raises TimeoutError and the
    answer stays queued; a second answer sent meanwhile is not taken: when a worker is back,
    the run takes the first and ends with it."""
    with SqliteSidecar() as sidecar:
        worker = DurableWorkflowHost([APPROVAL], connection_string=sidecar.address, mode="worker")
        worker.start()

        async def ask(client: WorkflowClient) -> str:
            run = await client.run(APPROVAL, 1)
            await wait_for_requests(run, 1)
            return run.run_id

        run_id = drive(sidecar.address, ALL, ask)
        worker.stop()

        async def answer_twice(client: WorkflowClient) -> list[str]:
            run = await client.get_run(run_id)
            timeouts = []
            for value in (True, False):
                with pytest.raises(TimeoutError) as info:
                    await run.send_response("approve:2:0", value, timeout=0.5)
                timeouts.append(str(info.value))
            return timeouts

        timeouts = drive(sidecar.address, ALL, answer_twice)
        assert all("stays queued" in t for t in timeouts)
        worker = DurableWorkflowHost([APPROVAL], connection_string=sidecar.address, mode="worker")
        worker.start()
        try:

            async def finish(client: WorkflowClient) -> Any:
                return await (await client.get_run(run_id)).wait_for_completion(timeout=30)

            assert drive(sidecar.address, ALL, finish) == "approved=True"
        finally:
            worker.stop()
