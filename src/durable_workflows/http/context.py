"""What the routes share: the host, its workflows and agents by name, small caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from ..errors import WorkflowNotFoundError
from ..graph.workflow import Workflow
from ..hosting.agent_client import AgentClient, DurableAgent
from ..hosting.client import WorkflowClient

if TYPE_CHECKING:
    from ..hosting.host import DurableWorkflowHost


@dataclass
class ApiContext:
    """The state of one app (``app.state.api``)."""

    host: DurableWorkflowHost
    workflows: dict[str, Workflow]
    svg_cache: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> WorkflowClient:
        """The host's client for the running event loop."""
        return self.host.client

    def workflow(self, name: str) -> Workflow:
        """The workflow `name` (404 when the host does not serve it)."""
        workflow = self.workflows.get(name)
        if workflow is None:
            msg = f"no workflow named {name!r} is served (served: {sorted(self.workflows)})"
            raise WorkflowNotFoundError(msg)
        return workflow

    @property
    def agents(self) -> AgentClient:
        """The hosted agents (for the running event loop)."""
        return self.host.agents

    def agent(self, name: str) -> DurableAgent:
        """The hosted agent `name` (404 when the host does not host it)."""
        return self.agents.get(name)

    @staticmethod
    def base(request: Request) -> str:
        """The absolute URL the API is served under (for links in responses)."""
        return str(request.base_url).rstrip("/")


def api_context(request: Request) -> ApiContext:
    """The `ApiContext` of the app serving `request`."""
    context: ApiContext = request.app.state.api
    return context
