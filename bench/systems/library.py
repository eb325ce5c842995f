"""System (a), this library: the benchmark graphs compiled onto its generic orchestrator.

`DurableWorkflowHost` connects to the harness's backend (given as a plain sidecar address),
so it runs on the same backend as the floor and the peer, with `max_concurrency` set to the
shared thread-pool size. The variants with ``embedded`` in their settings (lib-mem, lib-file,
...) use the host's own embedded backend instead, the SQLite sidecar on ``:memory:`` or on a
file, as users get it; ``transport`` picks how the host's worker and client reach it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from contextlib import AsyncExitStack
from typing import Any

from _worker import HITL_IDLE_GAP_S, System, main

try:
    import _graphs

    from durable_workflows import Workflow
    from durable_workflows.hosting.host import DurableWorkflowHost
except ImportError as error:
    IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    IMPORT_ERROR = None


class Library(System):
    """A `DurableWorkflowHost` serving prebuilt graphs; runs go through its `WorkflowClient`."""

    async def start(self, cases: list[tuple[str, int]]) -> None:
        self.workflows: dict[tuple[str, int], Workflow] = {}
        by_name: dict[str, Workflow] = {}
        for case in cases:
            workflow = _graphs.workflow(*case)
            self.workflows[case] = by_name.setdefault(workflow.name, workflow)
        self.stack = AsyncExitStack()
        host = DurableWorkflowHost(
            workflows=by_name.values(),
            max_concurrency=self.spec.thread_pool_workers,
            **self._backend_arguments(),
        )
        self.host = await self.stack.enter_async_context(host)
        self.client = self.host.client
        self.details["worker"] = {
            "max_concurrency": self.spec.thread_pool_workers,
            "note": "the library's create_worker: ConcurrencyOptions(maximum_thread_pool_workers="
            "max_concurrency), other limits at durabletask's defaults, no idle detector",
        }

    def _backend_arguments(self) -> dict[str, Any]:
        """The host's backend: the harness's by address, or its own embedded one."""
        embedded = self.spec.variant.get("embedded")
        if embedded is None:
            return {"connection_string": self.address}
        arguments: dict[str, Any] = {}
        if embedded == "file":
            tmp = self.stack.enter_context(
                tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")))
            arguments["database"] = os.path.join(tmp, "runs.db")
        transport = self.spec.variant.get("transport")
        if transport is not None:
            arguments["transport"] = transport
        self.details["backend"] = {
            "kind": f"embedded-{embedded}",
            "class": "durable_workflows.sidecar.SqliteSidecar (WAL, synchronous=NORMAL)",
            "transport": transport or "host default",
        }
        return arguments

    async def stop(self) -> None:
        await self.stack.aclose()

    async def _run(self, workflow: Workflow, message: Any, expected: int) -> None:
        run = await self.client.run(workflow, message)
        await self._check(run, expected)

    @staticmethod
    async def _check(run: Any, expected: int) -> None:
        result = await run.wait_for_completion()
        if result != expected:
            raise RuntimeError(f"run {run.run_id} returned {result!r}, expected {expected}")

    async def chain(self, n: int) -> None:
        await self._run(self.workflows["chain", n], 0, n)

    async def fanout(self, width: int) -> None:
        await self._run(self.workflows["fanout", width], 0, 2 * width)

    async def hitl(self) -> float:
        workflow = next(w for (s, _), w in self.workflows.items() if s == "hitl")
        run = await self.client.run(workflow, 0)
        while not (pending := await run.pending_requests()):
            await asyncio.sleep(0.001)
        await asyncio.sleep(HITL_IDLE_GAP_S)
        t0 = time.perf_counter()
        await run.send_response(pending[0], 1)
        await self._check(run, 2)
        return time.perf_counter() - t0

    async def throughput(self, runs: int) -> None:
        workflow = self.workflows["throughput", runs]
        started = [await self.client.run(workflow, i) for i in range(runs)]
        # One blocking wait at a time: the stock backend's 10 server threads starve at 9.
        for i, run in enumerate(started):
            await self._check(run, i + 1)

    def build(self, n: int) -> None:
        _graphs.chain(n)


if __name__ == "__main__":
    main("library", Library if IMPORT_ERROR is None else None, IMPORT_ERROR)
