"""InvoiceReminders: durable delays. An invoice is sent; a week later payment is checked; an
unpaid invoice gets a reminder and another week, and after two reminders goes to collections.

SendInvoice -> WaitAWeek (a `Delay` of 7 days) -> CheckPayment -> paid: the result;
unpaid: SendReminder -> WaitAWeek again; still unpaid after two reminders: Collections.

A `Delay` is a durable timer: the run costs nothing while it waits, and the wait survives
restarts. The demo runs the embedded backend on a virtual clock (``clock="virtual"``) and skips
the weeks with ``host.advance``, so three weeks pass in a moment.

    python examples/invoice_reminders.py
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel

from durable_workflows import (
    Case,
    Default,
    Delay,
    DurableWorkflowHost,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)

MAX_REMINDERS = 2


class Invoice(BaseModel):
    number: str
    amount: float
    paid_after_checks: int
    """How many weekly checks find it unpaid (a stand-in for a payment system)."""
    reminders: int = 0


class Checked(BaseModel):
    invoice: Invoice
    paid: bool


@executor(id="SendInvoice")
def send_invoice(invoice: Invoice) -> Invoice:
    return invoice


wait_a_week = Delay("WaitAWeek", timedelta(days=7), message_type=Invoice)


@executor(id="CheckPayment")
def check_payment(invoice: Invoice, ctx: WorkflowContext) -> Checked:
    checks = (ctx.get_state("checks") or 0) + 1
    ctx.set_state("checks", checks)
    return Checked(invoice=invoice, paid=checks > invoice.paid_after_checks)


def paid(checked: Checked) -> bool:
    return checked.paid


def may_remind(checked: Checked) -> bool:
    return checked.invoice.reminders < MAX_REMINDERS


@executor(id="Paid")
def thank(checked: Checked) -> str:
    invoice = checked.invoice
    return f"Invoice {invoice.number} paid after {invoice.reminders} reminder(s)."


@executor(id="SendReminder")
def send_reminder(checked: Checked) -> Invoice:
    invoice = checked.invoice
    return invoice.model_copy(update={"reminders": invoice.reminders + 1})


@executor(id="Collections")
def collections(checked: Checked) -> str:
    invoice = checked.invoice
    return f"Invoice {invoice.number} (${invoice.amount:,.2f}) sent to collections."


workflow = (
    WorkflowBuilder(send_invoice, name="InvoiceReminders")
    .add_chain([send_invoice, wait_a_week, check_payment])
    .add_switch_case_edge_group(
        check_payment,
        [Case(paid, thank), Case(may_remind, send_reminder), Default(collections)],
    )
    .add_edge(send_reminder, wait_a_week)
    .build()
)

INVOICES = [
    Invoice(number="INV-7", amount=120.0, paid_after_checks=1),
    Invoice(number="INV-8", amount=980.5, paid_after_checks=5),
]
"""The demo's invoices: one is paid after one reminder, the other never."""


async def follow(invoice: Invoice) -> str:
    async with DurableWorkflowHost(workflows=[workflow], clock="virtual") as host:
        run = await host.client.stream(workflow, invoice)
        for week in range(1, 4):
            await host.advance(timedelta(days=7))
            status = await run.get_status()
            print(f"  {invoice.number}, week {week}: {status.state}")
            if not status.is_active:
                break
        return str(await run.wait_for_completion(10))


def main() -> None:
    for invoice in INVOICES:
        print(f"Result: {asyncio.run(follow(invoice))}")


if __name__ == "__main__":
    main()
