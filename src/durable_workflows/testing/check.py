"""`check_workflow`: property-test a workflow in process over generated inputs and responses.

Each example draws an input, then, every time the run waits, which open requests to answer
now, in which order, and with what. The run must satisfy the built-in checks and the user's
invariant; on failure hypothesis shrinks the example and `WorkflowCheckError` carries a
ready-to-paste test that replays it (`run_scripted`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from ..errors import DurableWorkflowsError, MaxSuperstepsExceededError
from ..graph.workflow import Workflow
from ..runtime.engine import Engine
from ..runtime.events import WaitingForInputEvent, WorkflowCompletedEvent
from .repro import reproduction
from .runner import InProcessResult
from .scripted import Batch, ScriptedRunner
from .strategies import inputs_for, responses_for, values_for

Invariant = Callable[[Any, InProcessResult], Any]
"""``invariant(input, result)``: fails by returning False or raising (e.g. an assert)."""


class WorkflowCheckError(DurableWorkflowsError, AssertionError):
    """`check_workflow` found a failing example; `reproduction` is a test that replays it."""

    def __init__(self, reason: str, reproduction: str, message: Any, answers: list[Any]) -> None:
        self.reason = reason
        self.reproduction = reproduction
        self.input = message
        self.answers = answers
        super().__init__(
            f"{reason}\n\nMinimal reproduction (paste it into a test file):\n\n{reproduction}"
        )


class _Failure(Exception):
    """One example broke a check (raised inside hypothesis, so it shrinks)."""

    def __init__(self, reason: str, assertion: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.assertion = assertion
        self.input: Any = None
        self.answers: list[Any] = []


def check_workflow(
    workflow: Workflow,
    invariant: Invariant | None = None,
    *,
    inputs: st.SearchStrategy[Any] | None = None,
    responses: Mapping[str, st.SearchStrategy[Any]] | None = None,
    max_examples: int = 100,
    allow_failures: bool = False,
    allow_unfired_barriers: bool = False,
    seed: int | None = None,
) -> None:
    """Run `workflow` over generated inputs, responses and response orders; check each run.

    Built-in checks, for every run: it does not exceed ``max_supersteps``; nothing raises
    inside the library; every request it waits on can be answered (its request and a response
    of the port's type cross JSON and are accepted); no fan-in barrier is left holding
    messages (unless `allow_unfired_barriers`); it does not fail (unless `allow_failures`).
    Then ``invariant(input, result)`` (an `InProcessResult`) must not return False or raise.

    `inputs` replaces `inputs_for(workflow)`; `responses` maps port ids to strategies that
    replace `responses_for(port)`. Raises `WorkflowCheckError` with a minimal reproduction.
    """
    message_strategy = inputs if inputs is not None else inputs_for(workflow)
    answer_strategies = _response_strategies(workflow, responses or {})

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        verbosity=Verbosity.quiet,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def example(data: st.DataObject) -> None:
        message = data.draw(message_strategy, label="input")
        runner = ScriptedRunner(workflow, _chooser(workflow, data, answer_strategies))
        try:
            _check(workflow, runner, message, invariant, allow_failures, allow_unfired_barriers)
        except _Failure as failure:
            failure.input, failure.answers = message, runner.answered
            raise

    if seed is not None:
        example = hypothesis_seed(seed)(example)
    try:
        example()
    except _Failure as failure:
        text = reproduction(
            workflow,
            failure.input,
            failure.answers,
            reason=failure.reason,
            assertion=failure.assertion,
            invariant=invariant,
        )
        raise WorkflowCheckError(failure.reason, text, failure.input, failure.answers) from None


def _response_strategies(
    workflow: Workflow, overrides: Mapping[str, st.SearchStrategy[Any]]
) -> dict[str, st.SearchStrategy[Any]]:
    names = workflow.request_names
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        msg = f"responses= names {unknown}, which are not request ports of {workflow.name!r} (ports: {sorted(names)})"
        raise DurableWorkflowsError(msg)
    strategies = {
        port_id: overrides[port_id] if port_id in overrides else responses_for(port)
        for port_id, port in workflow.ports.items()
    }
    for asker in workflow.askers:  # executors that ask with ctx.request_info (P11)
        strategies[asker] = overrides.get(asker) or values_for(workflow.response_type(asker))
    return strategies


def _chooser(
    workflow: Workflow, data: st.DataObject, strategies: dict[str, st.SearchStrategy[Any]]
) -> Callable[[list[WaitingForInputEvent]], Batch]:
    """Draws, each time the run waits, which requests to answer, in which order, with what."""
    engine = Engine(workflow)

    def choose(open_requests: list[WaitingForInputEvent]) -> Batch:
        k = len(open_requests)
        if k == 0:
            return ()
        order = data.draw(st.permutations(range(k)), label="order") if k > 1 else [0]
        count = k - data.draw(st.integers(0, k - 1), label="held back") if k > 1 else 1
        batch = []
        for index in order[:count]:
            request = open_requests[index]
            _check_request(workflow, request)
            if request.port_id not in strategies:  # a sub-workflow's request ("node/port", W4)
                response_type = workflow.response_type(request.port_id)
                strategies[request.port_id] = values_for(response_type)
            value = data.draw(strategies[request.port_id], label=request.request_id)
            batch.append((request.request_id, _deliverable(workflow, engine, request, value)))
        return batch

    return choose


def _check_request(workflow: Workflow, request: WaitingForInputEvent) -> None:
    try:
        hints = workflow.request_hints(request.port_id)
        json.dumps(workflow.registry.encode(request.request, hints))
    except (DurableWorkflowsError, TypeError, ValueError) as exc:
        reason = f"request {request.request_id!r} cannot be sent to whoever answers it: {_first_line(exc)}"
        raise _Failure(reason, _still_open(request)) from exc


def _deliverable(
    workflow: Workflow, engine: Engine, request: WaitingForInputEvent, value: Any
) -> Any:
    """`value` as a client would deliver it (validated, through JSON); a failure if it cannot."""
    try:
        accepted = engine.coerce_response(request.port_id, value)
        hints = (workflow.response_type(request.port_id),)
        wire = json.loads(json.dumps(workflow.registry.encode(accepted, hints)))
        workflow.registry.decode(wire)
    except (DurableWorkflowsError, TypeError, ValueError) as exc:
        reason = (
            f"request {request.request_id!r} of port {request.port_id!r} cannot be answered with "
            f"{value!r:.200}: {_first_line(exc)}"
        )
        raise _Failure(reason, _still_open(request)) from exc
    return accepted


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _still_open(request: WaitingForInputEvent) -> str:
    """The reproduction's check: the run waits on a request nobody can answer."""
    return (
        f"assert {request.request_id!r} not in [r.request_id for r in result.pending_requests], "
        '"the run waits on a request that cannot be answered"'
    )


def _check(
    workflow: Workflow,
    runner: ScriptedRunner,
    message: Any,
    invariant: Invariant | None,
    allow_failures: bool,
    allow_unfired_barriers: bool,
) -> None:
    try:
        result = runner.run(message)
    except (_Failure, HypothesisException):
        raise
    except Exception as exc:  # escaped the runner: a bug in the library
        reason = f"the library raised {type(exc).__name__}: {exc}"
        raise _Failure(reason, "# (the call above raises)") from exc
    completed = "assert result.status == 'completed', result.error"
    if isinstance(result.error, MaxSuperstepsExceededError):
        raise _Failure(f"the run exceeded max_supersteps: {result.error}", completed)
    if result.status == "failed" and not allow_failures:
        error = result.error
        raise _Failure(f"the run failed: {type(error).__name__}: {error}", completed)
    end = result.events[-1] if result.events else None
    if isinstance(end, WorkflowCompletedEvent) and end.unfired_barriers and not allow_unfired_barriers:
        reason = f"fan-in barriers were left holding messages (target: source -> count): {end.unfired_barriers}"
        raise _Failure(reason, "assert not result.events[-1].unfired_barriers")
    if invariant is None:
        return
    try:
        verdict = invariant(message, result)
    except (_Failure, HypothesisException):
        raise
    except Exception as exc:
        name = getattr(invariant, "__name__", "the invariant")
        raise _Failure(f"{name} raised {type(exc).__name__}: {exc}", "assert {invariant}(message, result) is not False") from exc
    if verdict is False:
        name = getattr(invariant, "__name__", "the invariant")
        raise _Failure(f"{name} returned False", "assert {invariant}(message, result) is not False")
