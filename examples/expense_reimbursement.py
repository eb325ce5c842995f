"""ExpenseReimbursement: human approvals, first one, then two in parallel.

CreateApprovalRequest -> ManagerApproval (a `RequestPort`) -> PrepareFinanceReview
-> fan-out [BudgetApproval, ComplianceApproval] (two ports, waiting at the same time)
-> fan-in Reimburse.

The run is started with `client.stream()` and driven from its event stream: each
`WaitingForInputEvent` is answered with `run.send_response(event, ...)`. A run can wait for
days; the waiting is durable. When stdin is a terminal you are asked for each approval;
otherwise every request is approved automatically. A manager's denial fails the run.

    python examples/expense_reimbursement.py
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import BaseModel

from durable_workflows import (
    DurableWorkflowHost,
    RequestPort,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowEvent,
    WorkflowFailedError,
    executor,
)


class Expense(BaseModel):
    expense_id: str
    employee: str
    amount: float
    description: str


class ApprovalRequest(BaseModel):
    expense_id: str
    summary: str


class ApprovalResponse(BaseModel):
    approved: bool
    approver: str
    comment: str = ""


@executor(id="CreateApprovalRequest")
def create_approval_request(expense: Expense, ctx: WorkflowContext) -> ApprovalRequest:
    ctx.set_state("expense", expense)
    summary = f"{expense.employee}: ${expense.amount:,.2f} for {expense.description}"
    return ApprovalRequest(expense_id=expense.expense_id, summary=summary)


manager_approval = RequestPort(
    "ManagerApproval", request_type=ApprovalRequest, response_type=ApprovalResponse
)


@executor(id="PrepareFinanceReview")
def prepare_finance_review(decision: ApprovalResponse, ctx: WorkflowContext) -> ApprovalRequest:
    expense: Expense = ctx.get_state("expense")
    if not decision.approved:
        msg = f"Expense {expense.expense_id} denied by {decision.approver}: {decision.comment}"
        raise ValueError(msg)
    summary = f"{expense.employee}: ${expense.amount:,.2f} (manager: {decision.approver})"
    return ApprovalRequest(expense_id=expense.expense_id, summary=summary)


budget_approval = RequestPort(
    "BudgetApproval", request_type=ApprovalRequest, response_type=ApprovalResponse
)
compliance_approval = RequestPort(
    "ComplianceApproval", request_type=ApprovalRequest, response_type=ApprovalResponse
)


@executor(id="Reimburse")
def reimburse(decisions: list[ApprovalResponse], ctx: WorkflowContext) -> str:
    expense: Expense = ctx.get_state("expense")
    denied = [d.approver for d in decisions if not d.approved]
    if denied:
        return f"Expense {expense.expense_id} rejected by {', '.join(denied)}."
    return f"Expense {expense.expense_id} reimbursed: ${expense.amount:,.2f} to {expense.employee}."


workflow = (
    WorkflowBuilder(create_approval_request, name="ExpenseReimbursement")
    .add_chain([create_approval_request, manager_approval, prepare_finance_review])
    .add_fan_out_edge(prepare_finance_review, [budget_approval, compliance_approval])
    .add_fan_in_barrier_edge([budget_approval, compliance_approval], reimburse)
    .build()
)

EXPENSE = Expense(
    expense_id="EXP-001", employee="Alice", amount=1250.0, description="conference travel"
)


def auto_response(request: WaitingForInputEvent) -> ApprovalResponse:
    """What an unattended run answers: approve."""
    return ApprovalResponse(approved=True, approver=request.port_id, comment="auto-approved")


def ask(request: WaitingForInputEvent) -> ApprovalResponse:
    """Ask on the terminal."""
    summary = request.request.summary
    answer = input(f"    {request.port_id}: approve {summary}? [Y/n] ").strip().lower()
    comment = input("    comment (optional): ").strip()
    approved = answer in ("", "y", "yes")
    return ApprovalResponse(approved=approved, approver=request.port_id, comment=comment)


def describe(event: WorkflowEvent) -> str:
    """One line per event."""
    details = {
        "workflow_started": lambda e: e.workflow_name,
        "executor_invoked": lambda e: e.executor_id,
        "executor_completed": lambda e: e.executor_id,
        "executor_failed": lambda e: f"{e.executor_id}: {e.error}",
        "waiting_for_input": lambda e: f"{e.port_id}: {e.request.summary}",
        "response_received": lambda e: f"{e.port_id}: approved={e.response.approved}",
        "workflow_output": lambda e: f"{e.executor_id}: {e.data}",
        "workflow_completed": lambda e: "",
        "workflow_failed": lambda e: e.error,
    }
    detail = details.get(event.type, lambda e: "")(event)
    return f"{event.sequence:>3}  {event.type:<19} {detail}".rstrip()


async def run(expense: Expense, interactive: bool) -> str:
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        handle = await host.client.stream(workflow, expense)
        async for event in handle.watch_stream():
            print(describe(event))
            if isinstance(event, WaitingForInputEvent):
                if interactive:
                    response = await asyncio.to_thread(ask, event)
                else:
                    response = auto_response(event)
                await handle.send_response(event, response)
        return await handle.wait_for_completion()


def main() -> None:
    interactive = sys.stdin.isatty()
    if not interactive:
        print("stdin is not a terminal: every approval is answered 'approved' automatically.\n")
    try:
        result = asyncio.run(run(EXPENSE, interactive))
    except WorkflowFailedError as exc:
        sys.exit(f"\nThe run failed: {exc}")
    print(f"\nResult: {result}")


if __name__ == "__main__":
    main()
