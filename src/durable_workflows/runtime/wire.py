"""JSON forms of what crosses a process boundary: invocation results and run state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..graph.workflow import Workflow
from ..model.context import InvocationResult, SentMessage
from ..model.requests import InfoRequest, InfoResponse
from ..values.serialization import Envelope
from ..values.typing_utils import type_key
from .state import Delivery, PendingRequest, PendingTimer, RunState

INFO_RESPONSE = "__info_response__"
"""The envelope type of an `InfoResponse` (a response going back to the executor that asked)."""


def encode_result(workflow: Workflow, node_id: str, result: InvocationResult) -> dict[str, Any]:
    """An invocation's result as JSON, typed by the node's declared output types.

    Empty fields are left out (the orchestrator reads this JSON again on every replay);
    `decode_result` reads a missing field as empty.
    """
    encode = workflow.registry.encode
    data: dict[str, Any] = {
        "sent": [
            {
                "value": encode(m.value, workflow.nodes[node_id].output_types),
                "target_id": m.target_id,
                "returned": m.returned,
            }
            for m in result.sent
        ],
    }
    if result.outputs:
        hints = workflow.nodes[node_id].yield_types
        data["outputs"] = [encode(v, hints) for v in result.outputs]
    if result.events:
        data["events"] = [encode(v) for v in result.events]
    if result.state_updates:
        data["state_updates"] = {k: encode(v) for k, v in result.state_updates.items()}
    if result.halt:
        data["halt"] = True
    if result.requests:
        hints = workflow.request_hints(node_id)
        data["requests"] = [
            {"request": encode(r.request, hints), "response_type": type_key(r.response_type)}
            for r in result.requests
        ]
    return data


def decode_result(workflow: Workflow, data: dict[str, Any], node_id: str) -> InvocationResult:
    """Rebuild node `node_id`'s `InvocationResult` from `encode_result` data (missing fields
    are empty)."""
    decode = workflow.registry.decode
    return InvocationResult(
        sent=[SentMessage(decode(m["value"]), m["target_id"], m["returned"]) for m in data["sent"]],
        outputs=[decode(v) for v in data.get("outputs", ())],
        events=[decode(v) for v in data.get("events", ())],
        state_updates={k: decode(v) for k, v in data.get("state_updates", {}).items()},
        halt=bool(data.get("halt", False)),
        requests=[
            InfoRequest(decode(r["request"]), _asked_type(workflow, node_id, r["response_type"]))
            for r in data.get("requests", ())
        ],
    )


def _asked_type(workflow: Workflow, node_id: str, key: str) -> Any:
    try:
        return workflow.response_type(node_id, key)
    except KeyError:  # checked by the executor already, unless the graph changed
        return Any


def encode_message(workflow: Workflow, target: str, value: Any) -> Envelope:
    """A message for `target`, typed by the target's input types (an `InfoResponse` carries
    the original request and the response)."""
    encode = workflow.registry.encode
    if isinstance(value, InfoResponse):
        data = {
            "request": encode(value.request, workflow.request_hints(target)),
            "response": encode(value.response, (value.response_type,)),
            "response_type": type_key(value.response_type),
        }
        return {"type": INFO_RESPONSE, "data": data}
    return encode(value, workflow.nodes[target].input_types)


def decode_message(workflow: Workflow, target: str, envelope: Envelope) -> Any:
    """The message `encode_message` encoded."""
    decode = workflow.registry.decode
    if envelope.get("type") == INFO_RESPONSE:
        data = envelope["data"]
        response_type = _asked_type(workflow, target, data["response_type"])
        return InfoResponse(decode(data["request"]), decode(data["response"]), response_type)
    return decode(envelope)


def encode_state(workflow: Workflow, state: RunState) -> dict[str, Any]:
    """The run state as JSON (what continue-as-new carries)."""
    encode = workflow.registry.encode
    nodes = workflow.nodes
    return {
        "run_id": state.run_id,
        "superstep": state.superstep,
        "pending": [
            {
                "target": d.target,
                "source": d.source,
                "message": encode_message(workflow, d.target, d.message),
            }
            for d in state.pending
        ],
        "barriers": {
            group: {
                src: [encode(v, nodes[src].output_types) for v in queue]
                for src, queue in queues.items()
            }
            for group, queues in state.barriers.items()
        },
        "shared": {k: encode(v) for k, v in state.shared.items()},
        "requests": [
            {
                "request_id": r.request_id,
                "port_id": r.port_id,
                "superstep": r.superstep,
                "request": encode(r.request, workflow.request_hints(r.port_id)),
                **({"deadline": r.deadline.isoformat()} if r.deadline is not None else {}),
                **(
                    {"response_type": type_key(r.response_type)}
                    if r.response_type is not None
                    else {}
                ),
            }
            for r in state.requests.values()
        ],
        "outputs": [encode(v) for v in state.outputs],
        "halted": state.halted,
        **({"timed_out": state.timed_out} if state.timed_out else {}),
        **(
            {
                "timers": [
                    {
                        "timer_id": timer.timer_id,
                        "node_id": timer.node_id,
                        "superstep": timer.superstep,
                        "message": encode_message(workflow, timer.node_id, timer.message),
                        **({"due": timer.due.isoformat()} if timer.due is not None else {}),
                    }
                    for timer in state.timers.values()
                ]
            }
            if state.timers
            else {}
        ),
    }


def decode_state(workflow: Workflow, data: dict[str, Any]) -> RunState:
    """Rebuild a `RunState` from `encode_state` data."""
    decode = workflow.registry.decode
    requests = [
        PendingRequest(
            r["request_id"],
            r["port_id"],
            decode(r["request"]),
            r["superstep"],
            datetime.fromisoformat(r["deadline"]) if "deadline" in r else None,
            _asked_type(workflow, r["port_id"], r["response_type"]) if "response_type" in r else None,
        )
        for r in data["requests"]
    ]
    return RunState(
        run_id=data["run_id"],
        superstep=data["superstep"],
        pending=[
            Delivery(d["target"], decode_message(workflow, d["target"], d["message"]), d["source"])
            for d in data["pending"]
        ],
        barriers={
            group: {src: [decode(v) for v in queue] for src, queue in queues.items()}
            for group, queues in data["barriers"].items()
        },
        shared={k: decode(v) for k, v in data["shared"].items()},
        requests={r.request_id: r for r in requests},
        outputs=[decode(v) for v in data["outputs"]],
        halted=bool(data["halted"]),
        timed_out=dict(data.get("timed_out", {})),
        timers={
            timer["timer_id"]: PendingTimer(
                timer["timer_id"],
                timer["node_id"],
                decode(timer["message"]),
                timer["superstep"],
                datetime.fromisoformat(timer["due"]) if "due" in timer else None,
            )
            for timer in data.get("timers", ())
        },
    )
