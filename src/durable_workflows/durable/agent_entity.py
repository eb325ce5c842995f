"""Agents as durable entities: one entity instance per conversation thread.

Operations: ``run_turn`` (a whole turn of an agent without tools), ``step`` (one model call of a
tool-using turn, see `make_agent_turn_orchestrator`), ``get_history``, ``delete``, and ``expire``
(signalled to itself after each turn; deletes an idle thread once its time-to-live has passed).

The entity state is the thread (`AgentThreadState`) plus, while a tool-using turn runs, that
turn's progress under ``"turn"``; only a finished turn joins the thread's messages.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import DurableWorkflowsError, WorkflowDefinitionError, WorkflowNotFoundError
from ..model.agent_protocol import (
    DEFAULT_SESSION_TTL,
    AgentInput,
    AgentThreadState,
    ExpiringAgent,
    ToolCall,
    ToolResult,
    ToolUsingAgent,
    TurnDone,
    TurnProgress,
    WorkflowAgent,
    response_type_for,
    uses_tools,
)
from ..values.serialization import TypeRegistry
from .agent_stream import StreamPublisher, StreamSignaller
from .names import AGENT_TURN_ORCHESTRATOR, agent_entity_name, agent_tool_activity
from .response_formats import resolve_format
from .telemetry import step_span


class AgentTurnError(DurableWorkflowsError):
    """A step of a tool-using turn does not fit the thread's state (the turn was abandoned)."""


def make_agent_entity(
    agent: WorkflowAgent,
    registries: Mapping[str, TypeRegistry] | None = None,
    default_ttl: timedelta | None = DEFAULT_SESSION_TTL,
    signaller: StreamSignaller | None = None,
) -> Callable[[Any, Any], Any]:
    """The entity function holding `agent`'s threads.

    `registries` are the type registries of the workflows using the agent, by workflow name
    (the current version) and by ``name@version``: a turn a workflow runs is decoded and
    encoded with the types of that version of the workflow (so a typed `AgentResponse[...]` of
    a previous agent arrives as itself); a direct turn with the agent's (and its per-call
    response format). `default_ttl` is the host's session TTL; `signaller`
    is how streamed turns publish their deltas.
    """
    own = TypeRegistry([AgentInput, agent.response_type])
    by_workflow = dict(registries or {})

    def entity(ctx: Any, payload: Any) -> Any:
        stored = ctx.get_state(None)
        thread = AgentThreadState.model_validate(stored or {})
        operation = ctx.operation
        if operation in ("run_turn", "step"):
            fmt = resolve_format(payload.get("response_format"))
            workflow = payload.get("workflow", "")
            registry = by_workflow.get(f"{workflow}@{payload.get('version')}") or by_workflow.get(
                workflow, own
            )
            if fmt is not None and payload.get("workflow") not in by_workflow:
                registry = TypeRegistry([AgentInput, agent.response_type, response_type_for(fmt)])
            stream = payload.get("stream")
            publishers: list[StreamPublisher] = []

            def publisher(step: int) -> StreamPublisher | None:
                if stream is None:
                    return None
                publishers.append(StreamPublisher(signaller, stream, step))
                return publishers[-1]

            kind = "agent_turn" if operation == "run_turn" else "agent_step"
            try:
                with step_span(kind, agent.name, payload, _span_attributes(agent, payload)):
                    if operation == "run_turn":
                        done = _run_turn(agent, thread, registry, payload, fmt, publisher(0))
                    else:
                        step = _step(agent, thread, stored, registry, payload, fmt, publisher)
                if operation == "step":
                    if not isinstance(step, TurnDone):
                        ctx.set_state({**thread.model_dump(mode="json"), "turn": step[0]})
                        return {"tool_calls": step[1]}
                    done = step
            finally:
                for published in publishers:
                    published.flush()
            ctx.set_state(done.thread.model_dump(mode="json"))
            expires = _expires_at(agent, done.thread, default_ttl)
            if expires is not None:
                fire_at = datetime.fromtimestamp(expires, tz=timezone.utc)
                ctx.signal_entity(ctx.entity_id, "expire", None, signal_time=fire_at)
            encoded = registry.encode(done.response)
            if stream is not None:
                return {"response": encoded, "stream": publishers[-1].summary()}
            return encoded if operation == "run_turn" else {"response": encoded}
        if operation == "get_history":
            return None if stored is None else thread.model_dump(mode="json")
        if operation == "delete":
            ctx.set_state(None)
            return None
        if operation == "expire":
            expires = _expires_at(agent, thread, default_ttl)
            if stored is not None and expires is not None and expires <= time.time():
                ctx.set_state(None)
            return None
        msg = f"agent {agent.name!r} has no operation {operation!r}"
        raise WorkflowDefinitionError(msg)

    return entity


def _span_attributes(agent: WorkflowAgent, payload: dict[str, Any]) -> dict[str, Any]:
    """What an agent turn's span records: the agent, the thread, and the run and node."""
    attributes = {"workflow.agent": agent.name, "workflow.thread_id": payload["thread_id"]}
    for key in ("run_id", "node_id"):
        if key in payload:
            attributes[f"workflow.{key}"] = payload[key]
    return attributes


def _run_turn(
    agent: WorkflowAgent,
    thread: AgentThreadState,
    registry: TypeRegistry,
    payload: dict[str, Any],
    fmt: Any,
    on_delta: StreamPublisher | None,
) -> TurnDone:
    if uses_tools(agent):
        msg = (
            f"agent {agent.name!r} has tools: its turns run as the {AGENT_TURN_ORCHESTRATOR!r} "
            "orchestration (tool calls are activities), not as one entity operation"
        )
        raise WorkflowDefinitionError(msg)
    message = registry.decode(payload["message"])
    options: dict[str, Any] = {} if fmt is None else {"response_format": fmt}
    streams = on_delta is not None and _takes(agent.run_turn, "on_delta")
    if streams:
        options["on_delta"] = on_delta
    new_thread, response = agent.run_turn(
        thread, message, thread_id=payload["thread_id"], **options
    )
    if on_delta is not None and not streams and response.text:
        on_delta(response.text)  # an agent that cannot stream: its reply is one delta
    return TurnDone(thread=new_thread, response=response)


def _step(
    agent: WorkflowAgent,
    thread: AgentThreadState,
    stored: Any,
    registry: TypeRegistry,
    payload: dict[str, Any],
    fmt: Any,
    publisher: Callable[[int], StreamPublisher | None],
) -> TurnDone | tuple[dict[str, Any], list[dict[str, Any]]]:
    """One model call of a tool-using turn: the first (with the message) or a later one."""
    if not isinstance(agent, ToolUsingAgent):
        msg = f"agent {agent.name!r} cannot run tool-using turns (it has no model_step)"
        raise WorkflowDefinitionError(msg)
    thread_id, turn_id = payload["thread_id"], payload["turn_id"]
    if "message" in payload:
        message = registry.decode(payload["message"])
        turn = agent.begin_turn(thread, message, thread_id=thread_id, turn_id=turn_id)
    else:
        pending = (stored or {}).get("turn")
        if not pending or pending.get("turn_id") != turn_id:
            msg = (
                f"agent {agent.name!r}: turn {turn_id!r} is not in progress on thread "
                f"{thread_id!r} (its state was deleted while the turn ran)"
            )
            raise AgentTurnError(msg)
        results = [ToolResult.model_validate(r) for r in payload["tool_results"]]
        turn = TurnProgress.model_validate(pending)
        turn = agent.add_tool_results(turn, results, thread_id=thread_id)
    options: dict[str, Any] = {"response_format": fmt}
    on_delta = publisher(turn.rounds)
    if on_delta is not None:
        options["on_delta"] = on_delta
    step = agent.model_step(thread, turn, thread_id=thread_id, **options)
    if isinstance(step, TurnDone):
        return step
    return step.turn.model_dump(mode="json"), [c.model_dump(mode="json") for c in step.calls]


def _takes(function: Callable[..., Any], parameter: str) -> bool:
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def make_tool_activity(agent: WorkflowAgent) -> Callable[[Any, Any], Any]:
    """The activity running one of `agent`'s tool calls (its result is recorded in history)."""
    if not isinstance(agent, ToolUsingAgent):
        msg = f"agent {agent.name!r} has no tools to run as activities"
        raise WorkflowDefinitionError(msg)
    tools = agent

    def activity(ctx: Any, call: dict[str, Any]) -> dict[str, Any]:
        parsed = ToolCall.model_validate(call)
        attributes = {"workflow.agent": agent.name, "workflow.tool": parsed.name,
                      "workflow.tool_call_id": parsed.id}
        with step_span("tool_call", parsed.name, call, attributes):
            return tools.call_tool(parsed).model_dump(mode="json")

    activity.__name__ = agent_tool_activity(agent.name)
    return activity


def make_agent_turn_orchestrator(
    agents: Mapping[str, WorkflowAgent],
) -> Callable[[Any, Any], Generator[Any, Any, Any]]:
    """The orchestration running one turn for a client, an orchestration or a workflow node.

    Without tools it is one ``run_turn`` entity call. With tools it locks the thread's entity
    and alternates ``step`` calls (the model) with one activity per tool call (in parallel),
    so a crash resumes the turn where it was: recorded tool results are not computed again.
    """

    def agent_turn(ctx: Any, payload: dict[str, Any]) -> Generator[Any, Any, Any]:
        from durabletask import task
        from durabletask.entities import EntityInstanceId

        agent = agents.get(payload["agent"])
        if agent is None:
            msg = f"no agent named {payload['agent']!r} is hosted (hosted: {sorted(agents)})"
            raise WorkflowNotFoundError(msg)
        entity = EntityInstanceId(agent_entity_name(agent.name), payload["key"])
        body: dict[str, Any] = {"message": payload["message"], "thread_id": payload["thread_id"]}
        for optional in (
            "response_format", "stream", "workflow", "version", "trace", "run_id", "node_id"
        ):
            if payload.get(optional) is not None:
                body[optional] = payload[optional]
        if not uses_tools(agent):
            return (yield ctx.call_entity(entity, "run_turn", body))
        activity = agent_tool_activity(agent.name)
        later: dict[str, Any] = {k: v for k, v in body.items() if k != "message"}
        later["turn_id"] = ctx.instance_id
        with (yield ctx.lock_entities([entity])):
            step = yield ctx.call_entity(entity, "step", {**body, "turn_id": ctx.instance_id})
            while "tool_calls" in step:
                trace = {"trace": body["trace"]} if "trace" in body else {}
                calls = [ctx.call_activity(activity, input={**c, **trace}) for c in step["tool_calls"]]
                results = yield task.when_all(calls)
                step = yield ctx.call_entity(entity, "step", {**later, "tool_results": results})
        return step if "stream" in body else step["response"]

    agent_turn.__name__ = AGENT_TURN_ORCHESTRATOR
    return agent_turn


def _expires_at(
    agent: WorkflowAgent, thread: AgentThreadState, default_ttl: timedelta | None
) -> float | None:
    if not isinstance(agent, ExpiringAgent):
        return None
    return agent.expires_at(thread, default_ttl=default_ttl)
