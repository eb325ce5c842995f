"""How a sender learns whether the run took its response (docs/semantics.md P7).

The orchestrator publishes its verdicts in the run's custom status (`ResponseIntake`):
``answered`` maps a request id to ``[token, time]`` of the response it took, ``refused`` a
token to ``[reason, time]``. A sender tags its response with a fresh token and reads them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from ..errors import InvalidResponseError, RequestAlreadyAnsweredError

ACTIVE = ("RUNNING", "PENDING", "SUSPENDED", "CONTINUED_AS_NEW")
"""Runtime statuses of a run that may still make progress."""


def custom_status(state: Any) -> dict[str, Any]:
    """The orchestrator's custom status of a run (see `OrchestratorDriver._publish`)."""
    raw = state.serialized_custom_status
    data = json.loads(raw) if raw else {}
    return data if isinstance(data, dict) else {}


def already_answered(state: Any, run_id: str, request_id: str) -> InvalidResponseError | None:
    """The error for an answer to `request_id`, if the run has taken one already or the
    request timed out (P9)."""
    custom = custom_status(state)
    if request_id in custom.get("answered", {}):
        return RequestAlreadyAnsweredError(run_id, request_id)
    return _timed_out(custom, run_id, request_id)


def _timed_out(custom: dict[str, Any], run_id: str, request_id: str) -> InvalidResponseError | None:
    waited = custom.get("timed_out", {}).get(request_id)
    if waited is None:
        return None
    msg = (
        f"request {request_id!r} of run {run_id!r} timed out after {timedelta(seconds=waited)}; "
        "it no longer takes a response"
    )
    return InvalidResponseError(msg)


def verdict(state: Any, run_id: str, request_id: str, token: str) -> bool:
    """True once the run took the response sent with `token`, False while it has not decided;
    raises `InvalidResponseError` when it took another or refused this one, or cannot any more."""
    custom = custom_status(state)
    answered = custom.get("answered", {}).get(request_id)
    if answered is not None:
        if answered[0] == token:
            return True
        raise RequestAlreadyAnsweredError(run_id, request_id)
    refused = custom.get("refused", {}).get(token)
    if refused is not None:
        raise InvalidResponseError(
            f"run {run_id!r} refused the response to {request_id!r}: {refused[0]}"
        )
    status = state.runtime_status.name
    if status not in ACTIVE:
        msg = f"run {run_id!r} ended ({status}) before it took the response to {request_id!r}"
        raise InvalidResponseError(msg)
    late = _timed_out(custom, run_id, request_id)
    if late is not None:
        raise late
    requests = custom.get("requests")  # (absent until the run's first status)
    if requests is not None and all(r["request_id"] != request_id for r in requests):
        msg = (
            f"request {request_id!r} of run {run_id!r} is no longer pending and the run holds "
            "no record of this response: it was answered by another sender"
        )
        raise InvalidResponseError(msg)
    return False
