"""Types survive every boundary a run crosses, and both drivers agree on them (issue 10: 5-7).

Each workflow runs durably on the embedded backend and in-process; `assert_same` compares
status, result, outputs and every event with their exact types (docs/semantics.md J1, J2, J6,
D2, D2a, E1, E3, B12).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from durable_workflows import (
    AgentResponse,
    Case,
    Default,
    DurableWorkflowHost,
    Executor,
    ExecutorFailedError,
    RequestPort,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowValidationError,
    executor,
    handler,
)
from durable_workflows.agents import Agent, ChatClientError, ChatMessage, DeterministicChatClient
from durable_workflows.testing import run_in_process

from ._types_helpers import assert_same, typed

# -- defect 5: bare dict / list annotations --------------------------------------------------


@executor(id="keys")
def keys(x: dict) -> list:  # type: ignore[type-arg]
    return sorted(x)


@executor(id="wrap")
def wrap(items: list) -> dict:  # type: ignore[type-arg]
    return {"items": items, "count": len(items), "pair": (len(items), "items")}


BARE = WorkflowBuilder(keys, name="TypesBare").add_edge(keys, wrap).build()


@dataclass
class Positive:
    n: int

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise RuntimeError(f"n must be positive, got {self.n}")


@executor(id="spoil")
def spoil(n: int) -> Positive:
    made = Positive(n)
    made.n = -n  # valid when sent, refused when the receiving side rebuilds it
    return made


SPOILED = WorkflowBuilder(spoil, name="TypesSpoiled").build()

# -- defect 6: a typed agent response fed into another agent ---------------------------------


class DetectionResult(BaseModel):
    is_spam: bool
    reason: str


class EmailResponse(BaseModel):
    response: str


def _detect(messages: list[ChatMessage], _: Any) -> DetectionResult:
    email = messages[-1].content
    spam = "WINNER" in email
    return DetectionResult(is_spam=spam, reason="prize scam" if spam else f"{len(email)} chars")


def _assist(messages: list[ChatMessage], _: Any) -> EmailResponse:
    return EmailResponse(response=f"Thanks! ({messages[-1].content})")


spam_detector = Agent(
    "TypesSpamDetector",
    "Decide whether the email is spam.",
    DeterministicChatClient(_detect),
    response_format=DetectionResult,
)
email_assistant = Agent(
    "TypesEmailAssistant",
    "Draft a reply to the email.",
    DeterministicChatClient(_assist),
    response_format=EmailResponse,
)


@executor(id="handle_spam")
def handle_spam(detection: AgentResponse[DetectionResult], ctx: WorkflowContext[None, str]) -> None:
    assert detection.value is not None
    ctx.yield_output(f"spam: {detection.value.reason}")


@executor(id="send_email")
def send_email(
    reply: AgentResponse[EmailResponse], ctx: WorkflowContext[None, EmailResponse]
) -> None:
    assert reply.value is not None
    ctx.yield_output(reply.value)


def is_spam(detection: AgentResponse[DetectionResult]) -> bool:
    return detection.value is not None and detection.value.is_spam


EMAIL = (
    WorkflowBuilder(spam_detector, name="TypesEmailClassification")
    .add_switch_case_edge_group(
        spam_detector, [Case(is_spam, handle_spam), Default(email_assistant)]
    )
    .add_edge(email_assistant, send_email)
    .build()
)

# -- defect 7: tuples, sets, int-keyed dicts; across continue-as-new -------------------------


@executor(id="pair")
def pair(n: int, ctx: WorkflowContext[tuple[int, str], set[int]]) -> None:
    ctx.yield_output({n, n + 1})
    ctx.add_event((n, "event", frozenset({"e"})))
    ctx.set_state("seen", frozenset({n}))
    ctx.send_message((n, "x"))


@executor(id="last")
def last(p: tuple[int, str], ctx: WorkflowContext[None, dict[int, str]]) -> tuple[int, str]:
    assert type(p) is tuple and type(ctx.get_state("seen")) is frozenset
    ctx.yield_output({p[0]: p[1]})
    return (p[0] * 2, p[1])


TUPLES = WorkflowBuilder(pair, name="TypesTuples").add_edge(pair, last).build()

Step = tuple[int, frozenset[str]]
WALK_STEPS = 60
"""More than two generations of 25 supersteps: the state continues-as-new twice."""


@executor(id="walk")
def walk(
    step: Step, ctx: WorkflowContext[Step, tuple[int, ...] | dict[int, tuple[int, int]]]
) -> None:
    n, tags = step
    assert type(step) is tuple and type(tags) is frozenset
    squares: dict[int, tuple[int, int]] = ctx.get_state("squares", {})
    assert all(type(k) is int and type(v) is tuple for k, v in squares.items())
    ctx.set_state("squares", {**squares, n: (n, n * n)})
    ctx.set_state("residues", ctx.get_state("residues", set()) | {n % 7})
    if n % 20 == 0:
        ctx.yield_output(tuple(sorted(ctx.get_state("residues", set()))))
    if n < WALK_STEPS:
        ctx.send_message((n + 1, tags | {f"t{n % 4}"}))
    else:
        ctx.yield_output({k: v for k, v in squares.items() if k % 10 == 0})


WALK = (
    WorkflowBuilder(walk, name="TypesWalk", max_supersteps=WALK_STEPS + 5)
    .add_edge(walk, walk)
    .build()
)

# -- error types ---------------------------------------------------------------------------


class PaymentDeclinedError(Exception):
    pass


@executor(id="pay")
def pay(n: int, ctx: WorkflowContext[int]) -> None:
    if n == 1:
        raise ValueError("bad amount")
    if n == 2:
        raise PaymentDeclinedError("card declined")
    ctx.send_message(n, target_id="nowhere")  # a rule violation (M4)


@executor(id="paid")
def paid(n: int) -> int:
    return n


PAY = WorkflowBuilder(pay, name="TypesPay").add_edge(pay, paid).build()


def _unreachable_model(messages: list[ChatMessage], _: Any) -> str:
    raise ChatClientError("connection refused", retryable=True)


broken_agent = Agent("TypesBroken", "Never answers.", DeterministicChatClient(_unreachable_model))
BROKEN = WorkflowBuilder(broken_agent, name="TypesBrokenAgent").build()

# -- handler overrides and Literal handlers (D2, D2a) ----------------------------------------


class Greeter(Executor):
    @handler
    def greet(self, name: str, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(f"hello {name}")


class LoudGreeter(Greeter):
    def greet(self, name: str, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(f"HELLO {name.upper()}")


LOUD = WorkflowBuilder(LoudGreeter(), name="TypesLoud").build()


class Units(Executor):
    @handler
    def one(self, x: Literal[1], ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output("the literal one")

    @handler
    def other(self, x: int | float | bool, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(f"other {type(x).__name__}")


UNITS = WorkflowBuilder(Units(), name="TypesUnits").build()

WORKFLOWS = [BARE, SPOILED, EMAIL, TUPLES, WALK, PAY, BROKEN, LOUD, UNITS]


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    with DurableWorkflowHost(workflows=WORKFLOWS) as running:
        yield running


# -- defect 5 --------------------------------------------------------------------------------


def test_bare_dict_and_list_annotations_in_process() -> None:
    """J1: bare `dict` / `list` annotations do not collide with the structural envelopes."""
    result = run_in_process(BARE, {"b": 2, "a": {"c": [1]}})
    assert result.status == "completed", result.error
    assert typed(result.result) == typed({"items": ["a", "b"], "count": 2, "pair": (2, "items")})


def test_bare_dict_and_list_annotations_durably(host: DurableWorkflowHost) -> None:
    """J1, J6: the same run durably; the tuple inside the bare dict stays a tuple."""
    outcome = assert_same(host, BARE, {"b": 2, "a": {"c": [1]}})
    assert outcome.status == "completed"
    assert type(outcome.result["pair"]) is tuple


def test_run_in_process_returns_a_failed_result_when_a_result_cannot_be_rebuilt() -> None:
    """E1: a result that cannot be rebuilt fails its node; run_in_process does not raise."""
    result = run_in_process(SPOILED, 3)
    assert result.status == "failed"
    failure = result.events[-1]
    assert failure.type == "workflow_failed"
    assert (failure.executor_id, failure.error_type) == (
        "spoil",
        "durable_workflows.errors.SerializationError",
    )
    assert "n must be positive, got -3" in failure.error


def test_a_result_that_cannot_be_rebuilt_fails_its_node_durably(host: DurableWorkflowHost) -> None:
    """E1, E3: durably too, naming the node, with the same error as in-process."""
    outcome = assert_same(host, SPOILED, 3)
    assert outcome.failure is not None and outcome.failure.executor_id == "spoil"


# -- defect 6 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "Hi, could you review the report before Friday? Sam",
        "You are a WINNER, click to claim your prize",
    ],
)
def test_typed_agent_response_feeds_another_agent_durably(
    host: DurableWorkflowHost, email: str
) -> None:
    """J6: the EmailClassification sample with a typed detector: the detector's
    `AgentResponse[DetectionResult]` reaches the assistant agent durably as in-process."""
    outcome = assert_same(host, EMAIL, email)
    assert outcome.status == "completed"
    if "WINNER" in email:
        assert outcome.result == "spam: prize scam"
    else:
        reply = f'Thanks! ({{"is_spam":false,"reason":"{len(email)} chars"}})'
        assert outcome.result == EmailResponse(response=reply)


# -- defect 7 --------------------------------------------------------------------------------


def test_declared_tuples_sets_and_int_keyed_dicts_durably(host: DurableWorkflowHost) -> None:
    """J6: a declared set yield, a tuple result, an int-keyed dict, a tuple event and a
    frozenset in state are what they were, in the result, the outputs and the event stream."""
    outcome = assert_same(host, TUPLES, 4)
    assert outcome.status == "completed"
    assert typed(outcome.result) == typed((8, "x"))
    assert typed(outcome.outputs) == typed([{4, 5}, {4: "x"}, (8, "x")])
    custom = [e for e in outcome.events if e.type == "custom"]
    assert typed(custom[0].data) == typed((4, "event", frozenset({"e"})))  # type: ignore[attr-defined]


def test_tuple_set_and_dict_state_survive_continue_as_new(host: DurableWorkflowHost) -> None:
    """J5, J6: messages and shared state holding tuples, sets, frozensets and int-keyed dicts
    cross two continue-as-new boundaries unchanged."""
    outcome = assert_same(host, WALK, (1, frozenset()))
    assert outcome.status == "completed"
    assert typed(outcome.outputs[0]) == typed((0, 1, 2, 3, 4, 5, 6))
    assert typed(outcome.result) == typed({k: (k, k * k) for k in (10, 20, 30, 40, 50)})


# -- error types (E3) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error_type"),
    [
        (1, "ValueError"),
        (2, f"{__name__}.PaymentDeclinedError"),
        (3, "durable_workflows.errors.WorkflowRuntimeError"),
    ],
)
def test_error_type_is_the_same_in_process_and_durably(
    host: DurableWorkflowHost, value: int, error_type: str
) -> None:
    """E3: `error_type` names the class as a traceback does, identically in both drivers."""
    outcome = assert_same(host, PAY, value)
    assert outcome.failure is not None
    assert outcome.failure.error_type == error_type  # type: ignore[attr-defined]


def test_an_agent_failure_reports_the_agents_own_error_durably(host: DurableWorkflowHost) -> None:
    """E3: durably an agent node's failure is the agent's error, not the entity call's."""
    outcome = assert_same(host, BROKEN, "hello")
    assert outcome.failure is not None
    assert outcome.failure.error_type.endswith("AgentModelCallError")  # type: ignore[attr-defined]
    assert "connection refused" in outcome.failure.error  # type: ignore[attr-defined]


# -- handler overrides and Literal handlers ---------------------------------------------------


def test_an_undecorated_override_of_a_handler_runs(host: DurableWorkflowHost) -> None:
    """D2a: the subclass's override runs, inheriting the handler registration."""
    assert run_in_process(LOUD, "ada").outputs == ["HELLO ADA"]
    assert assert_same(host, LOUD, "ada").outputs == ["HELLO ADA"]


def test_override_annotations_declare_the_types_and_none_removes_a_handler() -> None:
    """D2a: the override's own annotations count; overriding with None removes the handler."""

    class Counter(Greeter):
        def greet(self, name: int, ctx: WorkflowContext[None, str]) -> None:  # type: ignore[override]
            ctx.yield_output(f"#{name}")

        @handler
        def other(self, value: bytes, ctx: WorkflowContext[None, str]) -> None:
            ctx.yield_output("bytes")

    class Silent(Counter):
        greet = None  # type: ignore[assignment]

    assert Counter().input_types == (bytes, int)  # the inherited one keeps its base's place
    assert run_in_process(WorkflowBuilder(Counter(), name="Counter").build(), 7).outputs == ["#7"]
    assert Silent().input_types == (bytes,)


@pytest.mark.parametrize(
    ("value", "output"),
    [(1, "the literal one"), (True, "other bool"), (1.0, "other float"), (2, "other int")],
)
def test_a_literal_handler_takes_only_values_of_its_own_type(
    host: DurableWorkflowHost, value: Any, output: str
) -> None:
    """D2: `Literal[1]` matches `1`, not `True` or `1.0`, in-process and durably."""
    assert run_in_process(UNITS, value).outputs == [output]
    assert assert_same(host, UNITS, value).outputs == [output]


@executor(id="only_one")
def only_one(x: Literal[1], ctx: WorkflowContext[None, str]) -> None:
    ctx.yield_output("one")


@executor(id="sender")
def sender(kind: str, ctx: WorkflowContext[Any]) -> None:
    ctx.send_message({"int": 1, "bool": True, "float": 1.0}[kind])


ONLY_ONE = WorkflowBuilder(sender, name="TypesOnlyOne").add_edge(sender, only_one).build()


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_a_lone_literal_handler_does_not_convert_other_types(kind: str) -> None:
    """D2: a lone `Literal[1]` handler does not convert `True` or `1.0` to `1` either."""
    assert run_in_process(ONLY_ONE, "int").outputs == ["one"]
    result = run_in_process(ONLY_ONE, kind)
    assert result.status == "failed"
    assert isinstance(result.error, ExecutorFailedError)
    assert result.error.executor_id == "only_one"
    assert "cannot handle the message" in result.error.error


# -- types that cannot travel as JSON (B12) ---------------------------------------------------


class Opaque:
    """A plain class pydantic knows nothing about."""


@dataclass
class Holder:
    item: Opaque


def test_types_that_cannot_be_serialised_are_a_build_error() -> None:
    """B12: `build()` names every node and type that cannot travel as JSON, and the fix."""

    @executor(id="make")
    def make(n: int) -> Opaque:
        return Opaque()

    @executor(id="hold")
    def hold(x: Opaque) -> Holder:
        return Holder(x)

    port = RequestPort("ask", request_type=Holder, response_type=int)
    builder = WorkflowBuilder(make, name="Opaque").add_chain([make, hold, port])
    with pytest.raises(WorkflowValidationError) as caught:
        builder.build()
    issues = [i for i in caught.value.issues if i.code == "unserializable-type"]
    assert [(i.ids, i.message.split(" declares ")[1].split(",")[0]) for i in issues] == [
        (("make",), "Opaque"),
        (("hold",), "Opaque"),
        (("hold",), "Holder"),
        (("ask",), "Holder"),
    ]
    for issue in issues:
        assert "use a pydantic model, dataclass or JSON type" in issue.message
        assert f"{__name__}.Opaque" in issue.message  # the class at fault, even inside Holder


class Later(BaseModel):
    part: Missing  # type: ignore[name-defined]  # noqa: F821 (never defined, on purpose)


def test_an_undefined_forward_reference_is_a_build_error() -> None:
    """B12: an annotation naming a class that does not exist is caught at build time too."""

    @executor(id="uses_later")
    def uses_later(x: int) -> Later:
        raise AssertionError("never runs")

    with pytest.raises(WorkflowValidationError, match=r"uses_later.*declares Later"):
        WorkflowBuilder(uses_later, name="Later").build()


def test_serialisable_types_are_not_flagged() -> None:
    """B12: models, dataclasses, JSON types and containers of them pass."""

    @executor(id="fine")
    def fine(x: dict[str, Positive] | tuple[int, ...] | set[str] | None) -> list[DetectionResult]:
        return []

    workflow: Workflow = WorkflowBuilder(fine, name="Fine").build()
    assert workflow.name == "Fine"
