"""Running a workflow in process with responses given as a script: which requests are answered,
with what, and in what order, each time the run waits.

`run_in_process(..., responses=f)` answers every open request, in creation order, whenever the
run waits (P5). A script also says *when*: its n-th batch is submitted, in order, the n-th time
the run waits, and the requests it leaves open stay open for later batches; a response given as
`NO_RESPONSE` leaves its request open and lets time pass (C1). This is what `check_workflow`
explores and what its reproductions replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..graph.workflow import Workflow
from ..runtime.events import WaitingForInputEvent
from ..runtime.state import RunState
from ..runtime.subruns import qualified
from .runner import NO_RESPONSE, InProcessResult, InProcessRunner

Batch = Sequence[tuple[str, Any]]
"""``(request_id, response)`` pairs submitted, in order, at one wait."""

Chooser = Callable[[list[WaitingForInputEvent]], Batch]
"""Given the open requests (in creation order), the batch to submit now (empty: stop)."""


class ScriptedRunner(InProcessRunner):
    """An `InProcessRunner` that asks `choose` what to answer each time the run waits."""

    def __init__(self, workflow: Workflow, choose: Chooser) -> None:
        super().__init__(workflow)
        self.choose = choose
        self.answered: list[list[tuple[str, Any]]] = []
        """The batches submitted so far."""

    def _answer(self, state: RunState) -> bool:
        announced = {e.request_id: e for e in self.events if isinstance(e, WaitingForInputEvent)}
        chosen = list(self.choose([announced[r] for r in state.requests]))
        batch = [(request_id, value) for request_id, value in chosen if value is not NO_RESPONSE]
        self.declined = len(batch) < len(chosen)
        if not batch:
            return False
        self.answered.append(batch)
        for request_id, response in batch:
            self._emit(self.engine.submit_response(state, request_id, response))
            self.trail.append(("answer", (self.qualify(request_id), response)))
        return True

    def _child_runner(self, workflow: Workflow, key: str) -> InProcessRunner:
        """A child run asks the same `choose`, about its requests with prefixed ids (W4)."""
        node_id, prefix = key.split(":", 1)[0], f"{key}/"

        def choose(open_requests: list[WaitingForInputEvent]) -> Batch:
            shown = [qualified(r, node_id, key) for r in open_requests]
            batch = self.choose([r for r in shown if isinstance(r, WaitingForInputEvent)])
            return [(request_id.removeprefix(prefix), value) for request_id, value in batch]

        child = ScriptedRunner(workflow, choose)
        child.answered = self.answered
        return child


def run_scripted(
    workflow: Workflow, input: Any, answers: Sequence[Batch] = ()
) -> InProcessResult:
    """Run `workflow` on `input`; the n-th time it waits, submit ``answers[n]`` in order.

    ```python
    run_scripted(flow, order, [[("approve:2:0", True)], [("ship:4:0", "DHL")]])
    ```
    When the script runs out the run stops with status ``waiting``; a response the engine
    refuses (an unknown request id, a wrong type) fails the run with `InvalidResponseError`.
    """
    batches = iter(answers)
    return ScriptedRunner(workflow, lambda _open: next(batches, ())).run(input)


def one_at_a_time(respond: Callable[[WaitingForInputEvent], Any]) -> Chooser:
    """A chooser that answers only the oldest open request each time, with `respond`."""

    def choose(open_requests: list[WaitingForInputEvent]) -> Batch:
        if not open_requests:
            return ()
        first = open_requests[0]
        return [(first.request_id, respond(first))]

    return choose
