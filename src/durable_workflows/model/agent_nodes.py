"""`AgentNode`: an agent used as a workflow node (its conversation lives in a durable entity)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from ..errors import WorkflowDefinitionError
from .agent_protocol import AgentInput, WorkflowAgent, response_type_for
from .nodes import Node, NodeKind, check_id

SessionScope = Literal["run", "node", "call"]
"""Which invocations share a conversation thread: the whole run, one node, or none."""


class AgentNode(Node):
    """Wraps a `WorkflowAgent`; builders wrap agents automatically (`session="run"`).

    Use it directly to choose the node id or the session scope:
    ``AgentNode(reviewer, id="second-review", session="node")`` or
    ``AgentNode(reviewer, session_key="team-review")`` to share one thread across runs, or
    the structured output of this node: ``AgentNode(reviewer, response_format=Verdict)``.
    """

    kind: ClassVar[NodeKind] = "agent"

    def __init__(
        self,
        agent: WorkflowAgent,
        *,
        id: str | None = None,
        session: SessionScope = "run",
        session_key: str | None = None,
        response_format: type[BaseModel] | None = None,
    ) -> None:
        if not isinstance(agent, WorkflowAgent):
            msg = f"{agent!r} is not an agent: it needs `name`, `response_type` and `run_turn`"
            raise WorkflowDefinitionError(msg)
        if session not in ("run", "node", "call"):
            msg = f"Agent node {agent.name!r}: session must be 'run', 'node' or 'call'"
            raise WorkflowDefinitionError(msg)
        if response_format is not None and not (
            isinstance(response_format, type) and issubclass(response_format, BaseModel)
        ):
            msg = f"Agent node {agent.name!r}: response_format must be a pydantic model class"
            raise WorkflowDefinitionError(msg)
        self.agent = agent
        self._id = check_id(id if id is not None else agent.name, "Agent node id")
        self.session = session
        self.session_key = session_key
        self.response_format = response_format

    @property
    def id(self) -> str:
        return self._id

    @property
    def input_types(self) -> tuple[Any, ...]:
        return (AgentInput,)

    @property
    def output_types(self) -> tuple[Any, ...]:
        if self.response_format is not None:
            return (response_type_for(self.response_format),)
        return (self.agent.response_type,)

    def thread_key(self, run_id: str, superstep: int, branch: int) -> str:
        """The entity key of the thread an invocation uses, per the session scope."""
        if self.session_key is not None:
            return self.session_key
        if self.session == "run":
            return run_id
        if self.session == "node":
            return f"{run_id}.{self._id}"
        return f"{run_id}.{self._id}.{superstep}.{branch}"
