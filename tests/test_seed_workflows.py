"""The four seed workflows, expressed in the DSL and run in-process with their expected results."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from durable_workflows import (
    AgentResponse,
    Case,
    ChatMessage,
    Default,
    Executor,
    RequestPort,
    WaitingForInputEvent,
    Workflow,
    WorkflowAgent,
    WorkflowBuilder,
    WorkflowContext,
    executor,
    handler,
)
from durable_workflows.model.agent_protocol import AgentInput, AgentThreadState
from durable_workflows.testing import run_in_process


class CannedAgent:
    """A deterministic stand-in for a model-backed agent (implements `WorkflowAgent`).

    It replies `reply(text)` and, with a `response_format`, parses `value(text)` into it.
    """

    def __init__(
        self,
        name: str,
        reply: Any,
        response_format: type[BaseModel] | None = None,
        value: Any = None,
    ) -> None:
        self._name = name
        self._reply = reply
        self._value = value
        self._response_type: type[AgentResponse[Any]] = (
            AgentResponse[response_format]  # type: ignore[valid-type]
            if response_format
            else AgentResponse[Any]
        )
        self.turns: list[tuple[str, str]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def response_type(self) -> type[AgentResponse[Any]]:
        return self._response_type

    def run_turn(
        self, thread: AgentThreadState, message: AgentInput, *, thread_id: str
    ) -> tuple[AgentThreadState, AgentResponse[Any]]:
        text = message if isinstance(message, str) else repr(message)
        self.turns.append((thread_id, text))
        reply = self._reply(text)
        messages = [
            *thread.messages,
            ChatMessage(role="user", content=text),
            ChatMessage(role="assistant", content=reply),
        ]
        value = self._value(text) if self._value else None
        response = self._response_type(
            text=reply, value=value, thread_id=thread_id, agent_name=self._name
        )
        return AgentThreadState(messages=messages), response


def test_stand_in_agent_implements_the_protocol() -> None:
    """D6: the stand-in is a `WorkflowAgent`, so agents-as-nodes are really exercised."""
    assert isinstance(CannedAgent("A", str.upper), WorkflowAgent)


# -- CancelOrder: OrderLookup -> OrderCancel -> SendEmail -------------------------------------


class Order(BaseModel):
    id: str
    customer: str
    email: str
    status: str = "open"


class OrderLookup(Executor):
    """A class executor over a tiny in-memory order table."""

    def __init__(self) -> None:
        super().__init__()
        self.orders = {"42": Order(id="42", customer="Ada", email="ada@example.com")}

    @handler
    def lookup(self, order_id: str, ctx: WorkflowContext[Order]) -> None:
        ctx.set_state("requested", order_id)
        ctx.send_message(self.orders[order_id].model_copy())


@executor(id="OrderCancel")
def order_cancel(order: Order, ctx: WorkflowContext[Order, str]) -> Order:
    ctx.add_event({"cancelled": order.id})
    return order.model_copy(update={"status": "cancelled"})


@executor(id="SendEmail")
async def send_email(order: Order) -> str:
    return f"To {order.email}: Dear {order.customer}, order {order.id} is {order.status}."


def cancel_order_workflow() -> Workflow:
    lookup = OrderLookup()
    return (
        WorkflowBuilder(lookup, name="CancelOrder")
        .add_chain([lookup, order_cancel, send_email])
        .build()
    )


def test_cancel_order() -> None:
    """S2, M1, M2: a three-step chain; the last return value is the result."""
    result = run_in_process(cancel_order_workflow(), "42")
    assert result.status == "completed", result.error
    assert result.result == "To ada@example.com: Dear Ada, order 42 is cancelled."
    assert result.outputs == [result.result]
    assert [e.data for e in result.events if e.type == "custom"] == [{"cancelled": "42"}]  # type: ignore[attr-defined]
    invoked = [e.executor_id for e in result.events if e.type == "executor_invoked"]  # type: ignore[attr-defined]
    assert invoked == ["OrderLookup", "OrderCancel", "SendEmail"]


def test_cancel_order_unknown_order_fails_in_lookup() -> None:
    """E1: the failing executor is named."""
    result = run_in_process(cancel_order_workflow(), "404")
    assert result.status == "failed"
    assert result.events[-1].executor_id == "OrderLookup"  # type: ignore[attr-defined]


# -- ExpertReview: ParseQuestion -> fan-out [Physicist, Chemist] -> fan-in Aggregator ---------


@executor(id="ParseQuestion")
def parse_question(text: str) -> str:
    return text.strip().rstrip("?") + "?"


@executor(id="Aggregator")
def aggregate(answers: list[AgentResponse[Any]]) -> str:
    return "\n".join(f"{a.agent_name}: {a.text}" for a in answers)


def expert_review_workflow() -> tuple[Workflow, CannedAgent, CannedAgent]:
    physicist = CannedAgent("Physicist", lambda q: f"energy view of '{q}'")
    chemist = CannedAgent("Chemist", lambda q: f"bonding view of '{q}'")
    workflow = (
        WorkflowBuilder(parse_question, name="ExpertReview")
        .add_fan_out_edge(parse_question, [physicist, chemist])
        .add_fan_in_barrier_edge([physicist, chemist], aggregate)
        .build()
    )
    return workflow, physicist, chemist


def test_expert_review() -> None:
    """R3, F2, D6: agents as nodes; the aggregator gets one list in source order."""
    workflow, physicist, chemist = expert_review_workflow()
    assert workflow.nodes["Physicist"].kind == "agent"
    result = run_in_process(workflow, "  Why does ice float  ")
    assert result.status == "completed", result.error
    assert result.result == (
        "Physicist: energy view of 'Why does ice float?'\n"
        "Chemist: bonding view of 'Why does ice float?'"
    )
    assert [text for _, text in physicist.turns] == ["Why does ice float?"]
    assert [text for _, text in chemist.turns] == ["Why does ice float?"]
    invoked = [(e.executor_id, e.superstep) for e in result.events if e.type == "executor_invoked"]  # type: ignore[attr-defined]
    assert invoked == [("ParseQuestion", 1), ("Physicist", 2), ("Chemist", 2), ("Aggregator", 3)]


# -- EmailClassification: switch-case spam / default ------------------------------------------


class Classification(BaseModel):
    is_spam: bool
    reason: str


@executor(id="ReceiveEmail")
def receive_email(email: str, ctx: WorkflowContext[str]) -> None:
    ctx.set_state("email", email)
    ctx.send_message(email)


@executor(id="HandleSpam")
def handle_spam(response: AgentResponse[Classification]) -> str:
    assert response.value is not None
    return f"moved to spam ({response.value.reason})"


@executor(id="SendReply")
def send_reply(response: AgentResponse[Classification], ctx: WorkflowContext) -> str:
    return f"Thanks for your email: {ctx.get_state('email')!r}"


def is_spam(response: AgentResponse[Classification]) -> bool:
    return response.value is not None and response.value.is_spam


def email_workflow() -> Workflow:
    classifier = CannedAgent(
        "Classifier",
        lambda text: "classified",
        response_format=Classification,
        value=lambda text: Classification(
            is_spam="win money" in text.lower(),
            reason="prize scam" if "win" in text.lower() else "ok",
        ),
    )
    return (
        WorkflowBuilder(receive_email, name="EmailClassification")
        .add_edge(receive_email, classifier)
        .add_switch_case_edge_group(
            classifier, [Case(is_spam, handle_spam, label="spam"), Default(send_reply)]
        )
        .build()
    )


def test_email_classification_spam() -> None:
    """R4, D6: a structured agent response drives a switch-case; only the spam branch runs."""
    result = run_in_process(email_workflow(), "WIN MONEY now, click here")
    assert result.status == "completed", result.error
    assert result.outputs == ["moved to spam (prize scam)"]
    invoked = [e.executor_id for e in result.events if e.type == "executor_invoked"]  # type: ignore[attr-defined]
    assert invoked == ["ReceiveEmail", "Classifier", "HandleSpam"]


def test_email_classification_default() -> None:
    """R4, T2: the default branch replies, reading the email from shared state."""
    result = run_in_process(email_workflow(), "Lunch on Friday?")
    assert result.status == "completed", result.error
    assert result.outputs == ["Thanks for your email: 'Lunch on Friday?'"]
    invoked = [e.executor_id for e in result.events if e.type == "executor_invoked"]  # type: ignore[attr-defined]
    assert invoked == ["ReceiveEmail", "Classifier", "SendReply"]


# -- ExpenseReimbursement: ports, fan-out to two ports, fan-in --------------------------------


class Expense(BaseModel):
    employee: str
    amount: int


class ManagerDecision(BaseModel):
    expense: Expense
    approved: bool


class FinanceReview(BaseModel):
    expense: Expense


class Approval(BaseModel):
    approver: str
    approved: bool


@executor(id="PrepareFinanceReview")
def prepare_finance_review(
    decision: ManagerDecision, ctx: WorkflowContext[FinanceReview, str]
) -> FinanceReview | None:
    if not decision.approved:
        ctx.yield_output(f"rejected by the manager: {decision.expense.employee}")
        return None
    ctx.set_state("expense", decision.expense.model_dump())
    return FinanceReview(expense=decision.expense)


@executor(id="Reimburse")
def reimburse(approvals: list[Approval], ctx: WorkflowContext) -> str:
    expense = Expense.model_validate(ctx.get_state("expense"))
    refused = [a.approver for a in approvals if not a.approved]
    if refused:
        return f"not reimbursed: refused by {', '.join(refused)}"
    return f"reimbursed {expense.amount} to {expense.employee}"


def expense_workflow() -> Workflow:
    manager = RequestPort("ManagerApproval", request_type=Expense, response_type=ManagerDecision)
    budget = RequestPort("BudgetApproval", request_type=FinanceReview, response_type=Approval)
    compliance = RequestPort(
        "ComplianceApproval", request_type=FinanceReview, response_type=Approval
    )
    return (
        WorkflowBuilder(manager, name="ExpenseReimbursement")
        .add_edge(manager, prepare_finance_review)
        .add_fan_out_edge(prepare_finance_review, [budget, compliance])
        .add_fan_in_barrier_edge([budget, compliance], reimburse)
        .build()
    )


class Approvers:
    """Answers each request by port; remembers what it was asked."""

    def __init__(self, manager: bool = True, budget: bool = True, compliance: bool = True) -> None:
        self.answers = {"BudgetApproval": budget, "ComplianceApproval": compliance}
        self.manager = manager
        self.asked: list[str] = []

    def __call__(self, event: WaitingForInputEvent) -> Any:
        self.asked.append(event.request_id)
        if event.port_id == "ManagerApproval":
            return ManagerDecision(expense=event.request, approved=self.manager)
        approver = event.port_id.removesuffix("Approval")
        # a plain dict is accepted too: it is validated into the port's response type (P3)
        return {"approver": approver, "approved": self.answers[event.port_id]}


EXPENSE = {"employee": "alice", "amount": 120}


def test_expense_reimbursement_approved() -> None:
    """P1, P4, F2: three requests with deterministic ids; the barrier joins the two approvals."""
    approvers = Approvers()
    result = run_in_process(expense_workflow(), EXPENSE, responses=approvers)
    assert result.status == "completed", result.error
    assert result.outputs == ["reimbursed 120 to alice"]
    assert approvers.asked == [
        "ManagerApproval:1:0",
        "BudgetApproval:3:0",
        "ComplianceApproval:3:0",
    ]


def test_expense_reimbursement_refused_by_compliance() -> None:
    """F2: the list is in source order, whichever answer arrives."""
    result = run_in_process(expense_workflow(), EXPENSE, responses=Approvers(compliance=False))
    assert result.outputs == ["not reimbursed: refused by Compliance"]


def test_expense_reimbursement_rejected_by_the_manager() -> None:
    """M1: returning None sends nothing, so no finance requests are made."""
    approvers = Approvers(manager=False)
    result = run_in_process(expense_workflow(), EXPENSE, responses=approvers)
    assert result.status == "completed", result.error
    assert result.outputs == ["rejected by the manager: alice"]
    assert approvers.asked == ["ManagerApproval:1:0"]


def test_expense_reimbursement_waits_without_answers() -> None:
    """P5: without a responder the run stops, waiting for the manager."""
    result = run_in_process(expense_workflow(), EXPENSE)
    assert result.status == "waiting"
    assert [e.request_id for e in result.pending_requests] == ["ManagerApproval:1:0"]
    assert result.pending_requests[0].request == Expense(employee="alice", amount=120)
