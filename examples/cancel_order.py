"""CancelOrder: a sequential workflow, OrderLookup -> OrderCancel -> SendEmail.

Each step is an `@executor` function; its return value is the message to the next step, and the
last step's return value is the workflow's result. Messages are pydantic models, so they are
checked at build time (each step's output type against the next step's input) and serialised
durably between steps.

    python examples/cancel_order.py
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor


class OrderCancelRequest(BaseModel):
    order_id: str
    reason: str


class Customer(BaseModel):
    name: str
    email: str


class Order(BaseModel):
    order_id: str
    customer: Customer
    cancelled: bool = False
    cancel_reason: str | None = None


@executor(id="OrderLookup")
def order_lookup(request: OrderCancelRequest) -> Order:
    """Find the order (a real system would query a database)."""
    customer = Customer(name="Jerry", email="jerry@example.com")
    return Order(order_id=request.order_id, customer=customer, cancel_reason=request.reason)


@executor(id="OrderCancel")
def order_cancel(order: Order) -> Order:
    """Mark the order cancelled."""
    return order.model_copy(update={"cancelled": True})


@executor(id="SendEmail")
def send_email(order: Order) -> str:
    """Notify the customer; the returned text is the workflow's result."""
    return f"Cancellation email sent for order {order.order_id} to {order.customer.email}."


workflow = (
    WorkflowBuilder(order_lookup, name="CancelOrder")
    .add_chain([order_lookup, order_cancel, send_email])
    .build()
)

INPUT = OrderCancelRequest(order_id="12345", reason="Customer changed their mind")


async def run() -> str:
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        handle = await host.client.run(workflow, INPUT)
        return await handle.wait_for_completion()


def main() -> None:
    print(asyncio.run(run()))


if __name__ == "__main__":
    main()
