"""Taking responses into a durable run: a wait on every open request, a verdict per arrival.

The orchestrator keeps one wait on each open request and one on each port's name (named
events, P10), also while a superstep runs, and judges what arrives as soon as it arrives
(docs/semantics.md P6, P7): an acceptable response is
*accepted* (queued, and routed at the next superstep boundary, which always comes before the
run could continue as new), anything else is *refused* (a `ResponseRefusedEvent`; the request
stays open). A request takes one response: once one is accepted the request has no wait, so a
later one stays unread. Verdicts are published in the run's custom status, keyed by the
sender's token, so that `WorkflowRun.send_response` learns whether its response was taken.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from ..errors import DurableWorkflowsError, InvalidResponseError
from ..graph.workflow import Workflow
from ..runtime.engine import Engine
from ..runtime.events import ResponseRefusedEvent, WorkflowEvent
from ..runtime.state import PendingRequest, RunState
from .seam import OrchestrationSeam

VERDICT_TTL = timedelta(minutes=10)
"""How long (orchestration time) a verdict stays readable in the run's status..."""

VERDICT_LIMIT = 256
"""...and how many of each kind (answered requests, refused tokens) are kept at most."""


class ResponseIntake:
    """The responses of one run, for one orchestrator episode (rebuilt on every replay)."""

    def __init__(
        self,
        workflow: Workflow,
        engine: Engine,
        seam: OrchestrationSeam,
        verdicts: dict[str, Any] | None = None,
    ) -> None:
        self.workflow = workflow
        self.engine = engine
        self.seam = seam
        self.waits: dict[str, Any] = {}
        """The wait on each open request, by request id."""
        self.named: dict[str, Any] = {}
        """The wait on each port's named events, by port id."""
        self.accepted: dict[str, Any] = {}
        """Responses accepted but not routed yet, by request id, in acceptance order."""
        verdicts = verdicts or {}
        self.answered: dict[str, list[Any]] = dict(verdicts.get("answered", {}))
        """request id -> [token of the accepted response, when]."""
        self.refused: dict[str, list[Any]] = dict(verdicts.get("refused", {}))
        """token -> [why its response was refused, when]."""

    def watch(self, state: RunState) -> list[Any]:
        """The waits on every open request that has no accepted response, and on every port's
        named events (made as needed)."""
        for request_id in state.requests:
            if request_id not in self.accepted and request_id not in self.waits:
                self.waits[request_id] = self.seam.wait_for_event(request_id)
        for port_id in self.workflow.request_names:
            if port_id not in self.named:
                self.named[port_id] = self.seam.wait_for_event(port_id)
        waits = [self.waits[r] for r in state.requests if r in self.waits]
        return waits + list(self.named.values())

    def take(self, state: RunState) -> list[WorkflowEvent]:
        """Judge everything that arrived; returns the refusals' events."""
        events: list[WorkflowEvent] = []
        for request_id, wait in list(self.waits.items()):
            if not self.seam.is_complete(wait):
                continue
            del self.waits[request_id]
            request = state.requests.get(request_id)
            if request is not None:
                refusal = self._judge(request, self.seam.result(wait))
                events += [] if refusal is None else [refusal]
        for port_id, wait in list(self.named.items()):
            if self.seam.is_complete(wait):
                del self.named[port_id]
                refusal = self._judge_named(state, port_id, self.seam.result(wait))
                events += [] if refusal is None else [refusal]
        return events

    def route(self, state: RunState) -> list[WorkflowEvent]:
        """Route the accepted responses in acceptance order (a halted run drops them, H1)."""
        accepted, self.accepted = self.accepted, {}
        if state.halted:
            return []
        events: list[WorkflowEvent] = []
        for request_id, response in accepted.items():
            events += self.engine.submit_response(state, request_id, response)
        return events

    def open_requests(self, state: RunState) -> list[PendingRequest]:
        """The requests still waiting for a response."""
        return [r for r in state.requests.values() if r.request_id not in self.accepted]

    def verdicts(self) -> dict[str, Any]:
        """The recent verdicts, as JSON (published in the status, carried across generations)."""
        oldest = (self.seam.now - VERDICT_TTL).timestamp()
        for records in (self.answered, self.refused):
            for key in [k for k, (_, at) in records.items() if at < oldest]:
                del records[key]
            for key in list(records)[: max(0, len(records) - VERDICT_LIMIT)]:
                del records[key]
        return {"answered": self.answered, "refused": self.refused}

    def _judge(self, request: PendingRequest, raw: Any) -> ResponseRefusedEvent | None:
        now = self.seam.now.timestamp()
        token = ""
        try:
            data = _response_data(raw)
            token = data["token"] if isinstance(data.get("token"), str) else ""
            value = self._decode(data["response"])
            value = self.engine.check_response(request, value)
        except DurableWorkflowsError as exc:
            if token:
                self.refused[token] = [str(exc), now]
            return ResponseRefusedEvent(
                request_id=request.request_id,
                port_id=request.port_id,
                error=str(exc),
                event_name=request.request_id,
            )
        self.accepted[request.request_id] = value
        self.answered[request.request_id] = [token, now]
        return None

    def _judge_named(self, state: RunState, name: str, raw: Any) -> ResponseRefusedEvent | None:
        """A named event (P10): plain JSON answering the one request open at port `name`."""
        request: PendingRequest | None = None
        try:
            request = self.engine.event_request(state, name, self.accepted)
            value = self.engine.check_response(request, _plain_json(raw))
        except DurableWorkflowsError as exc:
            return ResponseRefusedEvent(
                request_id="" if request is None else request.request_id,
                port_id=name,
                error=str(exc),
                event_name=name,
            )
        self.accepted[request.request_id] = value
        self.answered[request.request_id] = ["", self.seam.now.timestamp()]
        return None

    def _decode(self, envelope: Any) -> Any:
        try:
            return self.workflow.registry.decode(envelope)
        except DurableWorkflowsError:
            raise
        except Exception as exc:  # foreign data: whatever decoding it raises is a refusal
            msg = f"its response is not a typed envelope ({type(exc).__name__}: {exc})"
            raise InvalidResponseError(msg) from exc


def _plain_json(raw: Any) -> Any:
    """A named event's payload: JSON text (from this library's workers) or decoded JSON."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError as exc:
        msg = f"the event is not JSON ({exc}): {raw[:100]!r}"
        raise InvalidResponseError(msg) from exc


def _response_data(raw: Any) -> dict[str, Any]:
    """The JSON object `WorkflowRun.send_response` sends, from an event's payload."""
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            msg = f"the event is not JSON ({exc}): {raw[:100]!r}"
            raise InvalidResponseError(msg) from exc
    if not isinstance(data, dict) or "response" not in data:
        msg = (
            "the event was not sent with WorkflowRun.send_response (expected a JSON object "
            f"with a 'response' envelope, got {data!r:.100})"
        )
        raise InvalidResponseError(msg)
    return data
