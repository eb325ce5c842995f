"""Named events (P10) in process: an event named after a port answers its one open request."""

from __future__ import annotations

import pytest

from durable_workflows import InvalidResponseError, ResponseRefusedEvent
from durable_workflows.testing import InProcessRunner

from .workflows import Approval, approval_flow, two_open


def refusals(runner: InProcessRunner) -> list[ResponseRefusedEvent]:
    return [e for e in runner.events if isinstance(e, ResponseRefusedEvent)]


def test_named_event_answers_the_one_open_request_with_plain_json() -> None:
    """P10: plain JSON named after the port is validated as the response and taken."""
    runner = InProcessRunner(approval_flow())
    assert runner.run("hi").status == "waiting"
    result = runner.raise_event("Approval", {"approved": False, "feedback": "shorter"})
    assert result.status == "waiting"
    assert [r.port_id for r in result.pending_requests] == ["Second"]
    received = [e for e in result.events if e.type == "response_received"]
    assert received[0].response == Approval(approved=False, feedback="shorter")
    done = runner.raise_event("Second", "ok")
    assert done.status == "completed"
    assert done.outputs == ["ok"]


def test_named_event_for_a_port_without_an_open_request_is_refused_and_recorded() -> None:
    """P10: no request open at the port -> refused, recorded naming the event; the run waits."""
    runner = InProcessRunner(approval_flow())
    runner.run("hi")
    with pytest.raises(InvalidResponseError, match="no request is open at port 'Second'"):
        runner.raise_event("Second", "early")
    [refused] = refusals(runner)
    assert (refused.event_name, refused.port_id, refused.request_id) == ("Second", "Second", "")
    assert "no request is open" in refused.error
    assert runner.raise_event("Approval", {"approved": True}).pending_requests[0].port_id == (
        "Second"
    )


def test_named_event_with_two_open_requests_is_refused() -> None:
    """P10: several requests open at the port -> refused, naming them."""
    runner = InProcessRunner(two_open())
    result = runner.run("x")
    assert [r.request_id for r in result.pending_requests] == ["ask:3:0", "ask:3:1"]
    with pytest.raises(InvalidResponseError, match=r"2 requests are open at port 'ask'"):
        runner.raise_event("ask", 1)
    [refused] = refusals(runner)
    assert "ask:3:0, ask:3:1" in refused.error
    assert runner.submit_response("ask:3:0", 1).status == "waiting"
    assert runner.raise_event("ask", 2).status == "completed"


def test_named_event_of_the_wrong_type_is_refused_naming_the_request() -> None:
    """P10/P3: a payload that does not fit is refused; the request stays open."""
    runner = InProcessRunner(approval_flow())
    runner.run("hi")
    with pytest.raises(InvalidResponseError, match="'Approval' refused"):
        runner.raise_event("Approval", {"approved": "maybe"})
    [refused] = refusals(runner)
    assert refused.request_id == "Approval:2:0"
    assert refused.event_name == "Approval"
    assert runner.state is not None and list(runner.state.requests) == ["Approval:2:0"]


def test_named_event_for_an_unknown_name_is_refused() -> None:
    """P10: a name that is no port of the workflow is refused, listing the ports."""
    runner = InProcessRunner(approval_flow())
    runner.run("hi")
    with pytest.raises(InvalidResponseError, match=r"names no port .*Approval, Second"):
        runner.raise_event("HumanApproval", {"approved": True})
    assert refusals(runner)[0].event_name == "HumanApproval"


def test_only_a_waiting_run_takes_events() -> None:
    """A completed in-process run refuses input."""
    runner = InProcessRunner(
        approval_flow(), lambda e: {"approved": True} if e.port_id == "Approval" else "x"
    )
    assert runner.run("hi").status == "completed"
    with pytest.raises(InvalidResponseError, match="is completed"):
        runner.raise_event("Approval", {"approved": True})
