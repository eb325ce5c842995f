"""Agents inside hand-written durabletask orchestrations: ``get_agent(ctx, "Writer").run(...)``.

```python
def publish(ctx, topic: str):
    writer = get_agent(ctx, "Writer")
    session = writer.new_session()
    draft = yield writer.run(f"Write about {topic}", session=session, response_format=Doc)
    return draft.value.title
```

A call is a durable task: yield it, or combine several with durabletask's ``when_all``. A turn
of an agent without tools is one call to the thread's entity; with tools it runs as the
``dw._agent_turn`` sub-orchestration (tool calls are activities).
"""

from __future__ import annotations

from typing import Any

from durabletask import task
from pydantic import BaseModel

from ..durable.names import AGENT_TURN_ORCHESTRATOR, AgentSession, agent_entity_name
from ..durable.names import thread_id as thread_id_of
from ..durable.response_formats import format_ref
from ..durable.user_orchestrations import hosted_agents
from ..errors import WorkflowNotFoundError
from ..model.agent_protocol import (
    AgentInput,
    AgentResponse,
    WorkflowAgent,
    response_type_for,
    uses_tools,
)
from ..values.serialization import TypeRegistry
from ._names import check_agent_name, parse_thread_id


class AgentTask(task.CompositeTask[AgentResponse[Any]]):
    """The durable task of one agent turn; its result is the decoded `AgentResponse`."""

    def __init__(self, inner: task.Task[Any], response_type: type[AgentResponse[Any]]) -> None:
        self._registry = TypeRegistry([response_type])
        super().__init__([inner])

    def on_child_completed(self, child: task.Task[Any]) -> None:
        if self.is_complete:
            return
        if child.is_failed:
            self._exception = child.get_exception()
        else:
            try:
                self._result = self._registry.decode(child.get_result())
            except Exception as exc:  # a response this worker cannot decode
                self._exception = task.TaskFailedError(str(exc), exc)
        self._is_complete = True
        self._notify_parent()


class OrchestrationAgent:
    """A hosted agent as seen from inside an orchestration (`get_agent`)."""

    def __init__(self, ctx: Any, name: str, agent: WorkflowAgent | None) -> None:
        self._ctx = ctx
        self.name = name
        self._agent = agent

    def new_session(self) -> AgentSession:
        """A new conversation (its key is deterministic, so replays get the same one)."""
        return AgentSession(self.name, str(self._ctx.new_uuid()).replace("-", ""))

    def new_thread(self) -> AgentSession:
        """The same as `new_session` (the Agent Framework's older name)."""
        return self.new_session()

    def run(
        self,
        message: AgentInput,
        *,
        session: AgentSession | str | None = None,
        response_format: type[BaseModel] | None = None,
    ) -> AgentTask:
        """Schedule one turn; ``yield`` the task for the `AgentResponse` (``.value`` is parsed
        into `response_format`, which overrides the agent's for this call).

        Without `session` the turn starts a new conversation. A session is an `AgentSession`
        or a thread id string.
        """
        key = self._key(session)
        payload: dict[str, Any] = {
            "message": TypeRegistry([AgentInput]).encode(message, (AgentInput,)),
            "thread_id": thread_id_of(self.name, key),
        }
        if response_format is not None:
            payload["response_format"] = format_ref(response_format)
        if self._agent is not None and not uses_tools(self._agent):
            from durabletask.entities import EntityInstanceId

            entity = EntityInstanceId(agent_entity_name(self.name), key)
            inner = self._ctx.call_entity(entity, "run_turn", payload)
        else:
            payload.update(agent=self.name, key=key)
            inner = self._ctx.call_sub_orchestrator(AGENT_TURN_ORCHESTRATOR, input=payload)
        if response_format is not None:
            response_type = response_type_for(response_format)
        else:
            response_type = self._agent.response_type if self._agent else AgentResponse[Any]
        return AgentTask(inner, response_type)

    def _key(self, session: AgentSession | str | None) -> str:
        if session is None:
            return self.new_session().key
        return parse_thread_id(str(session), agent_name=self.name).key

    def __repr__(self) -> str:
        return f"OrchestrationAgent(name={self.name!r})"


def get_agent(ctx: Any, name: str) -> OrchestrationAgent:
    """The hosted agent `name`, for use inside an orchestration running on the host.

    Raises `WorkflowNotFoundError` if the host has no such agent.
    """
    check_agent_name(name)
    agents = hosted_agents(ctx)
    if agents is None:  # an orchestration registered outside a host: the turn checks the name
        return OrchestrationAgent(ctx, name, None)
    agent = agents.get(name)
    if agent is None:
        msg = f"no agent named {name!r} is hosted (hosted: {sorted(agents)})"
        raise WorkflowNotFoundError(msg)
    return OrchestrationAgent(ctx, name, agent)
