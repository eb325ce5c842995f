"""What a newcomer gets wrong first: host arguments, unserved workflows, malformed input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows import (
    DurableWorkflowHost,
    DurableWorkflowsError,
    SerializationError,
    WorkflowBuilder,
    WorkflowNotFoundError,
    executor,
)
from durable_workflows.testing import run_in_process
from durable_workflows.values.typing_utils import a_type


class OrderCancelRequest(BaseModel):
    order_id: str
    reason: str
    quantity: int = 1


@executor
def cancel(request: OrderCancelRequest) -> str:
    return f"{request.order_id} cancelled: {request.reason}"


@executor
def shout(text: str) -> str:
    return text.upper()


@executor
def cancel_text(text: str) -> str:
    return text


CANCEL = WorkflowBuilder(cancel, name="CancelOrder").build()
SHOUT = WorkflowBuilder(shout, name="Shout").build()


def test_a_host_takes_one_workflow_without_a_list() -> None:
    async def main() -> Any:
        async with DurableWorkflowHost(SHOUT) as host:
            run = await host.client.run(SHOUT, "hi")
            return await asyncio.wait_for(run.wait_for_completion(), 30)

    assert DurableWorkflowHost(SHOUT).workflows == [SHOUT]
    assert asyncio.run(main()) == "HI"


def test_a_host_refuses_builders_and_other_objects_with_the_fix() -> None:
    builder = WorkflowBuilder(shout, name="Shout")
    with pytest.raises(DurableWorkflowsError, match=r"WorkflowBuilder \('Shout'\); build it first"):
        DurableWorkflowHost(builder)
    with pytest.raises(DurableWorkflowsError, match="takes Workflow objects, not an int"):
        DurableWorkflowHost([SHOUT, 3])  # type: ignore[list-item]
    with pytest.raises(DurableWorkflowsError, match="a Workflow or a list of them, not an int"):
        DurableWorkflowHost(7)  # type: ignore[arg-type]


def test_running_a_workflow_the_host_was_not_given_fails_before_the_run_starts() -> None:
    changed = WorkflowBuilder(shout, name="Shout").add_edge(shout, cancel_text).build()

    async def main() -> list[str]:
        messages = []
        async with DurableWorkflowHost(workflows=[SHOUT]) as host:
            for workflow in (CANCEL, changed):
                with pytest.raises(WorkflowNotFoundError) as caught:
                    await host.client.run(workflow, "x", run_id=f"never-{workflow.name}")
                messages.append(str(caught.value))
                state = await host.client.durable_client.get_orchestration_state(
                    f"never-{workflow.name}"
                )
                assert state is None  # nothing was scheduled
        return messages

    unknown, different = asyncio.run(main())
    assert "workflow 'CancelOrder' is not one of the host's workflows ('Shout')" in unknown
    assert "DurableWorkflowHost(workflows=[...])" in unknown
    assert "workflow 'Shout' differs from the one the host was given" in different


def test_a_bad_input_names_pydantics_field_errors_in_process() -> None:
    result = run_in_process(CANCEL, {"order_id": "A-1", "quantity": "many"})
    assert result.status == "failed"
    message = str(result.error)
    assert "accepts OrderCancelRequest, but the input is a dict" in message
    assert "reason: Field required" in message
    assert "quantity: Input should be a valid integer" in message and "'many'" in message


def test_a_bad_input_names_pydantics_field_errors_durably() -> None:
    async def main() -> str:
        async with DurableWorkflowHost(CANCEL) as host:
            with pytest.raises(SerializationError) as caught:
                await host.client.run(CANCEL, {"order_id": "A-1"})
            return str(caught.value)

    message = asyncio.run(main())
    assert "accepts OrderCancelRequest, but the input is a dict" in message
    assert "reason: Field required" in message


def test_an_input_of_the_wrong_kind_reads_as_english() -> None:
    message = str(run_in_process(SHOUT, 5).error)
    assert "accepts str, but the input is an int: 5" in message
    assert a_type([]) == "a list" and a_type(object()) == "an object"
