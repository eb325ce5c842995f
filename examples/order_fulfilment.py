"""OrderFulfilment: workflows made of workflows (sub-workflows), three levels deep.

Fulfilment: Validate -> Payment -> Shipping -> Notify, where

- Payment is a workflow of its own: large orders wait for a person's fraud check (a request
  port) before the card is charged;
- Shipping is a workflow that runs the Packing workflow, then prints a label.

Each sub-workflow run is a child of the order's run (durably, a sub-orchestration). Its events
show in the order's stream with their path (``Payment/Charge``, ``Shipping/Packing/Pick``),
and its request is the order's: it is listed by the order's run and answered through it
(``Payment:2:0/FraudCheck:2:0``).

    python examples/order_fulfilment.py
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from durable_workflows import (
    Case,
    Default,
    DurableWorkflowHost,
    RequestPort,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowEvent,
    executor,
)


class Order(BaseModel):
    order_id: str
    amount: float
    items: list[str]


class Paid(BaseModel):
    order: Order
    receipt: str


class Parcel(BaseModel):
    order_id: str
    items: list[str]


class Shipped(BaseModel):
    paid: Paid
    parcels: int
    label: str


# -- Payment: a fraud check by a person for large orders, then the charge ----------------


@executor(id="Assess")
def assess(order: Order, ctx: WorkflowContext) -> Order:
    ctx.set_state("order", order)
    return order


def is_large(order: Order) -> bool:
    return order.amount > 500


fraud_check = RequestPort("FraudCheck", request_type=Order, response_type=bool)


@executor(id="Cleared")
def cleared(ok: bool, ctx: WorkflowContext) -> Order:
    if not ok:
        raise ValueError("the fraud check rejected the order")
    order: Order = ctx.get_state("order")
    return order


@executor(id="Charge")
def charge(order: Order) -> Paid:
    return Paid(order=order, receipt=f"R-{order.order_id}")


payment = (
    WorkflowBuilder(assess, name="Payment")
    .add_switch_case_edge_group(assess, [Case(is_large, fraud_check), Default(charge)])
    .add_chain([fraud_check, cleared, charge])
    .build()
)


# -- Packing (inside Shipping): pick, then pack ----------------------------------------------


@executor(id="Pick")
def pick(paid: Paid) -> Parcel:
    return Parcel(order_id=paid.order.order_id, items=sorted(paid.order.items))


@executor(id="Pack")
def pack(parcel: Parcel) -> Parcel:
    return parcel


packing = WorkflowBuilder(pick, name="Packing").add_chain([pick, pack]).build()


@executor(id="Label")
def label(parcel: Parcel) -> str:
    return f"L-{parcel.order_id}"


shipping = WorkflowBuilder(packing, name="Shipping").add_chain([packing, label]).build()


# -- Fulfilment ------------------------------------------------------------------------------


@executor(id="Validate")
def validate(order: Order) -> Order:
    if not order.items:
        raise ValueError(f"order {order.order_id} has no items")
    return order


@executor(id="Notify")
def notify(label: str) -> str:
    return f"Order {label.removeprefix('L-')}: paid and shipped with label {label}."


workflow = (
    WorkflowBuilder(validate, name="OrderFulfilment")
    .add_chain([validate, payment])
    .add_chain([payment, shipping, notify])
    .build()
)

ORDERS = [
    Order(order_id="A-1", amount=120.0, items=["kettle"]),
    Order(order_id="B-2", amount=900.0, items=["sofa", "cushion"]),
]


def fraud_desk(request: WaitingForInputEvent) -> bool:
    """The person at the fraud desk clears every order in the demo."""
    return True


def describe(event: WorkflowEvent) -> str | None:
    """A line for the events worth showing: invocations (with their path) and requests."""
    if event.type == "executor_invoked":
        return f"  runs {event.executor_id}"
    if isinstance(event, WaitingForInputEvent):
        return f"  waits at {event.port_id} ({event.request_id})"
    return None


async def fulfil(order: Order) -> str:
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        run = await host.client.stream(workflow, order)
        async for event in run.watch_stream():
            line = describe(event)
            if line:
                print(line)
            if isinstance(event, WaitingForInputEvent):
                await run.send_response(event, fraud_desk(event))
        return str(await run.wait_for_completion())


def main() -> None:
    for order in ORDERS:
        print(f"Order {order.order_id} (${order.amount:,.2f}):")
        print(f"Result: {asyncio.run(fulfil(order))}")


if __name__ == "__main__":
    main()
