"""AuditOrder: conditional edges route an order by its content.

OrderIdParser -> EnrichOrder, then one of:

* NotifyFraud          if the customer is blocked (order ids containing "B");
* AuditOrder -> PaymentProcessor  if the total is over `AUDIT_THRESHOLD`;
* PaymentProcessor     otherwise.

Each branch is an `add_edge(source, target, condition)`: the message goes along every edge
whose condition is true (here exactly one), and the other branches never run.

    python examples/audit_order.py [order-id ...]
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import BaseModel

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor

AUDIT_THRESHOLD = 1000.0


class Order(BaseModel):
    order_id: str
    total: float
    customer_blocked: bool
    audited: bool = False


@executor(id="OrderIdParser")
def parse_order_id(text: str) -> str:
    return text.strip().upper()


@executor(id="EnrichOrder")
def enrich_order(order_id: str) -> Order:
    """Look the order up (the total is derived from the id to keep the example self-contained)."""
    total = float(sum(int(c) for c in order_id if c.isdigit()) * 100)
    return Order(order_id=order_id, total=total, customer_blocked="B" in order_id)


@executor(id="NotifyFraud")
def notify_fraud(order: Order) -> str:
    return f"Order {order.order_id} flagged as fraudulent: the customer is blocked."


@executor(id="AuditOrder")
def audit_order(order: Order) -> Order:
    return order.model_copy(update={"audited": True})


@executor(id="PaymentProcessor")
def process_payment(order: Order) -> str:
    audited = " (audited)" if order.audited else ""
    return f"Order {order.order_id} paid{audited}: ${order.total:,.2f}, reference PAY-{order.order_id}."


def is_blocked(order: Order) -> bool:
    return order.customer_blocked


def needs_audit(order: Order) -> bool:
    return not order.customer_blocked and order.total > AUDIT_THRESHOLD


def is_routine(order: Order) -> bool:
    return not order.customer_blocked and order.total <= AUDIT_THRESHOLD


workflow = (
    WorkflowBuilder(parse_order_id, name="AuditOrder")
    .add_edge(parse_order_id, enrich_order)
    .add_edge(enrich_order, notify_fraud, is_blocked)
    .add_edge(enrich_order, audit_order, needs_audit)
    .add_edge(enrich_order, process_payment, is_routine)
    .add_edge(audit_order, process_payment)
    .build()
)

ORDER_IDS = ["1201", "9909", "B1234"]
"""A routine order, one over the audit threshold, and one from a blocked customer."""


async def run(order_ids: list[str]) -> list[str]:
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        runs = [await host.client.run(workflow, order_id) for order_id in order_ids]
        return [await r.wait_for_completion() for r in runs]


def main() -> None:
    order_ids = sys.argv[1:] or ORDER_IDS
    for order_id, result in zip(order_ids, asyncio.run(run(order_ids)), strict=True):
        print(f"{order_id}: {result}")


if __name__ == "__main__":
    main()
