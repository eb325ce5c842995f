"""Shared state by reference: stored once per change in an entity, read by the activities.

Executors that take a `WorkflowContext` may read shared state. Small state is copied into
their inputs; larger state would be copied into every activity input of a superstep (a fan-out
of 50 times 100 KB is 5 MB of history), so the orchestrator stores it in the
`SHARED_STATE_ENTITY` entity of the run under a content version, and the activities read that
version through a client (`SharedStateReader`), once per worker process.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from ..errors import DurableWorkflowsError
from .names import SHARED_STATE_ENTITY

_CACHED_VERSIONS = 16


def shared_state_entity(ctx: Any, payload: Any) -> None:
    """``put`` stores ``{"version", "state"}``; ``delete`` removes the entity."""
    if ctx.operation == "put":
        ctx.set_state(payload)
    elif ctx.operation == "delete":
        ctx.set_state(None)
    else:
        raise DurableWorkflowsError(f"{SHARED_STATE_ENTITY} has no operation {ctx.operation!r}")


class SharedStateReader:
    """Reads stored shared-state versions through a synchronous durabletask client.

    Versions are immutable, so each is fetched once per process (the last few are cached);
    concurrent activities of one superstep share one fetch.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._fetching: dict[tuple[str, str], threading.Lock] = {}

    def read(self, run_id: str, version: str) -> dict[str, Any]:
        """The encoded shared state `version` of run `run_id`."""
        key = (run_id, version)
        with self._lock:
            fetch_lock = self._fetching.setdefault(key, threading.Lock())
        with fetch_lock:
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    return cached
            try:
                state = self._fetch(run_id, version)
            finally:
                with self._lock:
                    self._fetching.pop(key, None)
            with self._lock:
                self._cache[key] = state
                while len(self._cache) > _CACHED_VERSIONS:
                    self._cache.popitem(last=False)
            return state

    def _fetch(self, run_id: str, version: str) -> dict[str, Any]:
        from durabletask.entities import EntityInstanceId

        metadata = self._client.get_entity(EntityInstanceId(SHARED_STATE_ENTITY, run_id))
        raw = None if metadata is None else metadata.get_state()
        data = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(data, dict) or data.get("version") != version:
            msg = (
                f"the shared state (version {version}) of run {run_id!r} is not stored any "
                "more: the run moved on, ended or was purged"
            )
            raise DurableWorkflowsError(msg)
        state: dict[str, Any] = data["state"]
        return state

    def close(self) -> None:
        """Close the client."""
        self._client.close()
