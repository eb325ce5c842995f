"""Running one invocation of a node: shared by the in-process runner and the durable activities."""

from __future__ import annotations

from typing import Any

from ..errors import WorkflowRuntimeError
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import AgentThreadState
from ..model.context import InvocationResult, SentMessage, WorkflowContext
from ..model.executors import Executor


def invoke_executor(
    workflow: Workflow,
    node_id: str,
    message: Any,
    shared: dict[str, Any],
    *,
    run_id: str = "",
    superstep: int = 0,
) -> InvocationResult:
    """Call the executor's matching handler; `shared` is the state at superstep start."""
    node = workflow.nodes[node_id]
    if not isinstance(node, Executor):
        msg = f"{node_id!r} is a {node.kind}, not an executor (a bug in the driver)"
        raise WorkflowRuntimeError(msg)
    ctx: WorkflowContext[Any, Any] = WorkflowContext(
        node_id, dict(shared), run_id=run_id, superstep=superstep
    )
    return node.invoke(message, ctx)


def invoke_agent(
    node: AgentNode, thread: AgentThreadState, message: Any, thread_id: str
) -> tuple[AgentThreadState, InvocationResult]:
    """Run one agent turn; its response is the node's message to its successors."""
    options = {} if node.response_format is None else {"response_format": node.response_format}
    new_thread, response = node.agent.run_turn(thread, message, thread_id=thread_id, **options)
    return new_thread, InvocationResult(sent=[SentMessage(response, None, returned=True)])
