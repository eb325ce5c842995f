"""Payload sizes: how much one run may put through the backend at once (docs/hosting.md, Limits).

A payload is one JSON value that crosses the backend: a run's input, the message to one node
(with the shared state it reads), one invocation's result, a response, the shared state.
Each is refused at the boundary when over `max_payload_bytes`, with an error naming it, and a
generation continues-as-new once its history holds `GENERATION_BYTES` of payloads.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import PayloadTooLargeError

MIB = 1024 * 1024

DEFAULT_MAX_PAYLOAD_BYTES = 16 * MIB
"""The payload limit on the embedded backend and plain sidecars."""

SCHEDULER_MAX_PAYLOAD_BYTES = 1 * MIB
"""The payload limit on the Durable Task Scheduler, which caps messages at about 1 MB."""

GENERATION_BYTES = 4 * MIB
"""Continue-as-new once a generation's history holds this many payload bytes."""

SHARED_INLINE_BYTES = 32 * 1024
"""Shared state up to this size is copied into the executors' inputs; larger state is stored
once per change and passed by reference (when the worker can read references)."""


def payload_size(value: Any) -> int:
    """Bytes of `value` as durabletask encodes it (ASCII JSON)."""
    return len(json.dumps(value))


def check_payload(size: int, limit: int, what: str) -> None:
    """Raise `PayloadTooLargeError` naming `what` if `size` is over `limit`."""
    if size > limit:
        raise PayloadTooLargeError(what, size, limit)


def default_max_payload_bytes(scheduler: bool) -> int:
    """The payload limit for a backend: smaller on the Durable Task Scheduler."""
    return SCHEDULER_MAX_PAYLOAD_BYTES if scheduler else DEFAULT_MAX_PAYLOAD_BYTES
