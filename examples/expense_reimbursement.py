"""ExpenseReimbursement: human approvals, first one, then two in parallel.

CreateApprovalRequest -> ManagerApproval (a `RequestPort`) -> PrepareFinanceReview
-> fan-out [BudgetApproval, ComplianceApproval] (two ports, waiting at the same time)
-> fan-in Reimburse.

The run is started with `client.stream()` and driven from its event stream: each
`WaitingForInputEvent` is answered with `run.send_response(event, ...)`. A run can wait for
days; the waiting is durable. When stdin is a terminal you are asked for each approval, and the
run is kept in ``expense_demo.db``: press Ctrl-C at a prompt and resume it later with
``--resume RUN_ID``. Otherwise every request is approved automatically (in memory, unless
``--database`` is given). A manager's denial fails the run.

    python examples/expense_reimbursement.py [--database FILE] [--resume RUN_ID]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import BaseModel

from durable_workflows import (
    DurableWorkflowHost,
    RequestPort,
    StreamingWorkflowRun,
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


async def ask(request: WaitingForInputEvent) -> ApprovalResponse:
    """Ask on the terminal."""
    summary = request.request.summary
    answer = (await read_line(f"    {request.port_id}: approve {summary}? [Y/n] ")).lower()
    comment = await read_line("    comment (optional): ")
    approved = answer in ("", "y", "yes")
    return ApprovalResponse(approved=approved, approver=request.port_id, comment=comment)


async def read_line(prompt: str) -> str:
    """`input(prompt)` without a thread, so that Ctrl-C stops the program at once."""
    if sys.platform == "win32":  # no add_reader on Windows' event loop
        return (await asyncio.to_thread(input, prompt)).strip()
    print(prompt, end="", flush=True)
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()
    stdin = sys.stdin.fileno()

    def readable() -> None:
        if not line.done():
            line.set_result(sys.stdin.readline())

    loop.add_reader(stdin, readable)
    try:
        text = await line
    finally:
        loop.remove_reader(stdin)
    if not text:
        raise EOFError("stdin closed")
    return text.strip()


def describe(event: WorkflowEvent) -> str:
    """One line per event."""
    details = {
        "workflow_started": lambda e: e.workflow_name,
        "executor_invoked": lambda e: e.executor_id,
        "executor_completed": lambda e: e.executor_id,
        "executor_failed": lambda e: f"{e.executor_id}: {e.error}",
        "waiting_for_input": lambda e: f"{e.port_id}: {e.request.summary}",
        "response_received": lambda e: f"{e.port_id}: approved={e.response.approved}",
        "response_refused": lambda e: f"{e.port_id}: {e.error}",
        "workflow_output": lambda e: f"{e.executor_id}: {e.data}",
        "workflow_completed": lambda e: "",
        "workflow_failed": lambda e: e.error,
    }
    detail = details.get(event.type, lambda e: "")(event)
    return f"{event.sequence:>3}  {event.type:<19} {detail}".rstrip()


class Demo:
    """One session of the demo: starts (or resumes) a run and answers its requests."""

    def __init__(self, interactive: bool, database: str | None) -> None:
        self.interactive = interactive
        self.database = database
        self.run_id: str | None = None

    async def run(self, expense: Expense, resume: str | None = None) -> str:
        async with DurableWorkflowHost(workflows=[workflow], database=self.database) as host:
            if resume is None:
                handle = await host.client.stream(workflow, expense)
            else:
                handle = await host.client.get_run(resume)
                assert isinstance(handle, StreamingWorkflowRun)
            self.run_id = handle.run_id
            async for event in handle.watch_stream():
                print(describe(event))
                if isinstance(event, WaitingForInputEvent) and await is_pending(handle, event):
                    if self.interactive:
                        response = await ask(event)
                    else:
                        response = auto_response(event)
                    await handle.send_response(event, response)
            return await handle.wait_for_completion()

    def interrupted(self) -> str:
        """What to tell after Ctrl-C: how to resume, when the run is kept in a file."""
        if self.run_id is None:
            return "\nInterrupted before a run started."
        if self.database is None:
            return f"\nInterrupted. Run {self.run_id} was in memory and is gone (see --database)."
        return (
            f"\nInterrupted. Run {self.run_id} is kept in {self.database}; resume it with:\n"
            f"    python examples/expense_reimbursement.py --database {self.database} "
            f"--resume {self.run_id}"
        )


async def is_pending(handle: StreamingWorkflowRun, event: WaitingForInputEvent) -> bool:
    """Whether the request still waits (a resumed run replays the requests answered before)."""
    return any(r.request_id == event.request_id for r in await handle.pending_requests())


def main() -> None:
    parser = argparse.ArgumentParser(description="The expense-approval demo.")
    parser.add_argument(
        "--database",
        help="keep runs in this file (default when interactive: "
        "expense_demo.db; otherwise in memory)",
    )
    parser.add_argument("--resume", metavar="RUN_ID", help="continue a run kept in --database")
    args = parser.parse_args()
    interactive = sys.stdin.isatty()
    database = args.database or ("expense_demo.db" if interactive else None)
    if not interactive:
        print("stdin is not a terminal: every approval is answered 'approved' automatically.\n")
    demo = Demo(interactive, database)
    try:
        result = asyncio.run(demo.run(EXPENSE, resume=args.resume))
    except KeyboardInterrupt:
        print(demo.interrupted(), file=sys.stderr)
        sys.exit(130)
    except WorkflowFailedError as exc:
        sys.exit(f"\nThe run failed: {exc}")
    print(f"\nResult: {result}")


if __name__ == "__main__":
    main()
