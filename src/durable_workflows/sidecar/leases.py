"""Work-item leases, worker streams and ready queues (bookkeeping only, no I/O)."""

from __future__ import annotations

import heapq
import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

Kind = Literal["orchestration", "activity", "entity"]
K = TypeVar("K", str, int)

FilterMap = dict[str, frozenset[str]]
"""Accepted task names mapped to accepted versions (empty set: any version)."""


@dataclass
class Stream:
    """One worker's ``GetWorkItems`` stream."""

    stream_id: int
    limits: dict[Kind, int]
    filters: dict[Kind, FilterMap | None]
    inflight: dict[Kind, int] = field(
        default_factory=lambda: {"orchestration": 0, "activity": 0, "entity": 0}
    )
    closed: bool = False
    draining: bool = False
    """Takes no new work items, while those in flight may still complete."""
    last_sent: float = field(default_factory=time.monotonic)

    def has_room(self, kind: Kind) -> bool:
        """Whether the worker may take another item of ``kind``."""
        return self.inflight[kind] < self.limits[kind]

    def accepts(self, kind: Kind, name: str, version: str | None) -> bool:
        """Whether the worker's work-item filters accept this item."""
        filt = self.filters[kind]
        if filt is None:
            return True
        versions = filt.get(name)
        if versions is None:
            return False
        return not versions or (version or "") in versions


@dataclass
class Lease:
    """A work item handed to a stream; valid until completed, released or expired."""

    token: str
    kind: Kind
    key: str | int
    stream: Stream
    expires_at: float
    rowids: list[int] = field(default_factory=list)
    """Inbox row ids of the messages included in the work item."""
    extra: list[Any] = field(default_factory=list)
    """Events synthesized at dispatch (an ``orchestratorStarted``) that join the history."""
    size: int = 0
    """Bytes of the work item."""


class LeaseTable:
    """All live leases, by token and by item, with an expiry heap."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self._boot = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self._by_token: dict[str, Lease] = {}
        self._by_item: dict[tuple[Kind, str | int], Lease] = {}
        self._expiry: list[tuple[float, str]] = []
        self._failures: dict[tuple[Kind, str | int], int] = {}

    def grant(self, kind: Kind, key: str | int, stream: Stream, token: str | None = None) -> Lease:
        """Lease ``key`` to ``stream``."""
        token = token or f"{self._boot}-{next(self._counter)}"
        lease = Lease(token, kind, key, stream, time.monotonic() + self.duration)
        self._by_token[token] = lease
        self._by_item[(kind, key)] = lease
        stream.inflight[kind] += 1
        heapq.heappush(self._expiry, (lease.expires_at, token))
        return lease

    def get(self, token: str) -> Lease | None:
        """The live lease with this token."""
        return self._by_token.get(token)

    def failures(self, kind: Kind, key: str | int) -> int:
        """Deliveries of the item that failed (see `failed`) since a worker last answered it."""
        return self._failures.get((kind, key), 0)

    def failed(self, lease: Lease) -> None:
        """A delivery came to nothing: the worker abandoned the item, let its lease expire,
        or broke its stream while this was the largest item it held."""
        item = (lease.kind, lease.key)
        self._failures[item] = self._failures.get(item, 0) + 1

    def delivered(self, kind: Kind, key: str | int) -> None:
        """A worker answered the item (or it is gone): forget its failed deliveries."""
        self._failures.pop((kind, key), None)

    def holder(self, kind: Kind, key: str | int) -> Lease | None:
        """The live lease on an item."""
        return self._by_item.get((kind, key))

    def drop(self, lease: Lease) -> None:
        """End a lease (completed, abandoned, expired or its stream closed)."""
        if self._by_token.pop(lease.token, None) is not None:
            del self._by_item[(lease.kind, lease.key)]
            lease.stream.inflight[lease.kind] -= 1

    def expire_in(self, lease: Lease, seconds: float) -> None:
        """Move a lease's expiry to ``seconds`` from now."""
        lease.expires_at = time.monotonic() + seconds
        heapq.heappush(self._expiry, (lease.expires_at, lease.token))

    def of_stream(self, stream: Stream) -> list[Lease]:
        """Leases held by ``stream``."""
        return [lease for lease in self._by_token.values() if lease.stream is stream]

    def clear(self) -> None:
        """Forget every lease (after a reload from the database)."""
        for lease in list(self._by_token.values()):
            self.drop(lease)
        self._expiry.clear()
        self._failures.clear()

    def next_expiry(self) -> float | None:
        """Monotonic time of the earliest live lease expiry."""
        while self._expiry and self._expiry[0][1] not in self._by_token:
            heapq.heappop(self._expiry)
        return self._expiry[0][0] if self._expiry else None

    def pop_expired(self, now: float) -> list[Lease]:
        """Leases whose time is up (still registered; the caller drops them)."""
        expired: list[Lease] = []
        while self._expiry and self._expiry[0][0] <= now:
            _, token = heapq.heappop(self._expiry)
            lease = self._by_token.get(token)
            if lease is not None and lease.expires_at <= now:
                expired.append(lease)
        return expired


class ReadyQueue(Generic[K]):
    """An insertion-ordered set of items ready for dispatch."""

    def __init__(self) -> None:
        self._items: dict[K, None] = {}

    def add(self, key: K) -> None:
        """Queue ``key`` (no-op when already queued)."""
        self._items[key] = None

    def discard(self, key: K) -> None:
        """Remove ``key`` if queued."""
        self._items.pop(key, None)

    def __iter__(self) -> Iterator[K]:
        """The queued items, oldest first (do not modify the queue while iterating)."""
        return iter(self._items)

    def clear(self) -> None:
        """Empty the queue."""
        self._items.clear()
