"""The compiled plan and its graph hash (docs/semantics.md B11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from durable_workflows import (
    Case,
    ChatMessage,
    Default,
    RequestPort,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)

# Only builtin and package types, so that type keys do not depend on this module's import name.


@executor
def parse(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


@executor
def route(messages: list[ChatMessage], ctx: WorkflowContext[str]) -> None:
    ctx.send_message(messages[0].content)


@executor
def short(text: str) -> str:
    return text


@executor
def long(text: str) -> str:
    return text


@executor
def combine(texts: list[str]) -> str:
    return "".join(texts)


def is_short(text: str) -> bool:
    return len(text) < 10


def build_workflow(**overrides: Any) -> Workflow:
    """The reference graph; `overrides` swap one ingredient to check that the hash sees it."""
    approve = overrides.get(
        "port", RequestPort("Approve", request_type=str, response_type=str)
    )
    tail = overrides.get("tail", combine)
    builder = (
        WorkflowBuilder(
            parse,
            name=overrides.get("name", "PlanExample"),
            max_supersteps=overrides.get("max_supersteps", 100),
        )
        .add_edge(parse, route)
        .add_switch_case_edge_group(
            route, [Case(overrides.get("condition", is_short), short), Default(long)]
        )
        .add_fan_out_edge(short, [approve])
        .add_edge(long, approve)
    )
    if overrides.get("extra_edge"):
        builder.add_edge(parse, "route")
    return builder.add_fan_in_barrier_edge([approve], tail).build()


def test_plan_is_json_serialisable_and_describes_the_graph() -> None:
    """B11: nodes with kinds and type keys, edge groups with condition names, start, limits."""
    workflow = build_workflow()
    data = json.loads(workflow.plan.to_json())
    assert data["name"] == "PlanExample"
    assert data["start"] == "parse"
    assert data["max_supersteps"] == 100
    assert data["graph_hash"] == workflow.graph_hash
    assert len(workflow.graph_hash) == 16
    nodes = {node["id"]: node for node in data["nodes"]}
    assert list(nodes) == ["parse", "route", "short", "long", "Approve", "combine"]
    assert nodes["Approve"]["kind"] == "port"
    assert nodes["Approve"]["input_types"] == ["str"]
    assert nodes["Approve"]["output_types"] == ["str"]
    assert nodes["parse"]["kind"] == "executor"
    assert nodes["parse"]["output_types"] == ["list[durable_workflows.model.agent_protocol.ChatMessage]"]
    assert [g["kind"] for g in data["edge_groups"]] == [
        "edge",
        "switch-case",
        "fan-out",
        "edge",
        "fan-in",
    ]
    assert data["edge_groups"][1]["conditions"] == ["is_short", "default"]
    round_trip = json.loads(json.dumps(workflow.plan.to_dict()))
    assert round_trip == {k: v for k, v in data.items() if k != "graph_hash"}


def test_plan_is_immutable() -> None:
    """B11: the plan is frozen."""
    plan = build_workflow().plan
    try:
        plan.name = "other"  # type: ignore[misc]
    except AttributeError:
        return
    raise AssertionError("the plan could be modified")


def test_hash_is_stable_across_two_builds() -> None:
    """B11: the same graph built twice has the same hash."""
    assert build_workflow().graph_hash == build_workflow().graph_hash


def _hash_in_subprocess(seed: str) -> str:
    code = (
        "import runpy, sys; "
        f"ns = runpy.run_path({str(Path(__file__))!r}); "
        "print(ns['build_workflow']().graph_hash)"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


def test_hash_is_stable_across_processes() -> None:
    """B11: the hash does not depend on the process (e.g. on string hash randomisation)."""
    here = build_workflow().graph_hash
    assert _hash_in_subprocess("1") == here
    assert _hash_in_subprocess("12345") == here


def test_hash_changes_when_the_graph_changes() -> None:
    """B11: every ingredient of the plan takes part in the hash."""

    @executor(id="combine")
    def combine_ints(texts: list[str]) -> int:  # same id, different output type
        return len(texts)

    @executor(id="combine2")
    def renamed(texts: list[str]) -> str:
        return "".join(texts)

    def is_tiny(text: str) -> bool:
        return len(text) < 3

    base = build_workflow().graph_hash
    variants = {
        "type": build_workflow(tail=combine_ints).graph_hash,
        "node id": build_workflow(tail=renamed).graph_hash,
        "port type": build_workflow(
            port=RequestPort("Approve", request_type=Any, response_type=str)
        ).graph_hash,
        "edge": build_workflow(extra_edge=True).graph_hash,
        "condition name": build_workflow(condition=is_tiny).graph_hash,
        "name": build_workflow(name="Other").graph_hash,
        "limits": build_workflow(max_supersteps=7).graph_hash,
    }
    for what, changed in variants.items():
        assert changed != base, f"the hash did not change with the {what}"
    assert len(set(variants.values())) == len(variants)
