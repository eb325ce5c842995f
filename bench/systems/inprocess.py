"""System (d), the in-process runner: this library's graphs on `run_in_process`, no backend.

The same engine as the durable runtime without Durable Task, so the gap between (a) and (d) is
what durability costs. Runs are synchronous: the throughput scenario runs them one after
another in one thread.
"""

from __future__ import annotations

import time
from typing import Any

from _worker import System, main

try:
    import _graphs

    from durable_workflows import Workflow
    from durable_workflows.testing import run_in_process
except ImportError as error:
    IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    IMPORT_ERROR = None


class InProcess(System):
    """`run_in_process` on prebuilt graphs."""

    uses_backend = False

    async def start(self, cases: list[tuple[str, int]]) -> None:
        self.workflows: dict[tuple[str, int], Workflow] = {
            case: _graphs.workflow(*case) for case in cases
        }
        self.details["backend"] = {"kind": "none", "class": "in-process engine, no durability"}
        self.details["worker"] = None

    def _run(self, workflow: Workflow, message: Any, expected: int, **kwargs: Any) -> None:
        result = run_in_process(workflow, message, **kwargs)
        if result.status != "completed" or result.outputs[-1:] != [expected]:
            raise RuntimeError(f"{workflow.name} ended {result.status} with {result.outputs!r}")

    async def chain(self, n: int) -> None:
        self._run(self.workflows["chain", n], 0, n)

    async def fanout(self, width: int) -> None:
        self._run(self.workflows["fanout", width], 0, 2 * width)

    async def hitl(self) -> float:
        sent = 0.0

        def respond(_: Any) -> int:
            nonlocal sent
            sent = time.perf_counter()
            return 1

        workflow = next(w for (s, _), w in self.workflows.items() if s == "hitl")
        self._run(workflow, 0, 2, responses=respond)
        return time.perf_counter() - sent

    async def throughput(self, runs: int) -> None:
        workflow = self.workflows["throughput", runs]
        for i in range(runs):
            self._run(workflow, i, i + 1)

    def build(self, n: int) -> None:
        _graphs.chain(n)


if __name__ == "__main__":
    main("inprocess", InProcess if IMPORT_ERROR is None else None, IMPORT_ERROR)
