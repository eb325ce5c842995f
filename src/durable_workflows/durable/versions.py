"""The versions of each workflow a worker or client knows: the current one and previous ones.

A run is pinned to the version it started with (``version`` in the orchestrator input); replay
looks that version up here, so a deploy that changes a graph leaves in-flight runs on the
definition they started with as long as it stays registered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import WorkflowDefinitionError, WorkflowGraphMismatchError
from ..graph.subworkflow import SubWorkflow
from ..graph.workflow import Workflow


def with_children(workflows: Iterable[Workflow]) -> list[Workflow]:
    """The workflows and, recursively, those their sub-workflow nodes run (each once)."""
    found: dict[int, Workflow] = {}

    def visit(workflow: Workflow) -> None:
        if id(workflow) in found:
            return
        found[id(workflow)] = workflow
        for node in workflow.nodes.values():
            if isinstance(node, SubWorkflow):
                visit(node.workflow)

    for workflow in workflows:
        visit(workflow)
    return list(found.values())


class WorkflowVersions:
    """Workflows by name and version; `current[name]` is the version new runs start on."""

    def __init__(self, workflows: Iterable[Workflow], previous: Iterable[Workflow] = ()) -> None:
        """`workflows` and `previous` include, recursively, the workflows their sub-workflow
        nodes run (a child runs as a workflow of its own, W2)."""
        self.current: dict[str, Workflow] = {}
        self.by_name: dict[str, dict[str, Workflow]] = {}
        workflows = with_children(workflows)
        previous = [w for w in with_children(previous) if w not in workflows]
        for workflow in workflows:
            if workflow.name in self.current:
                msg = f"two workflows are named {workflow.name!r}; workflow names must be unique"
                raise WorkflowDefinitionError(msg)
            self.current[workflow.name] = workflow
            self.by_name[workflow.name] = {workflow.version: workflow}
        for old in previous:
            versions = self.by_name.get(old.name)
            if versions is None:
                msg = (
                    f"previous version {old.version!r} of workflow {old.name!r} has no current "
                    f"version: pass the current definition of {old.name!r} in workflows="
                )
                raise WorkflowDefinitionError(msg)
            other = versions.get(old.version)
            if other is old:
                continue
            if other is not None:
                msg = (
                    f"workflow {old.name!r} has two definitions with version {old.version!r}; "
                    "give the changed one a new version= (WorkflowBuilder(..., version=...))"
                )
                raise WorkflowDefinitionError(msg)
            versions[old.version] = old

    def __iter__(self) -> Iterator[Workflow]:
        """Every registered workflow version."""
        for versions in self.by_name.values():
            yield from versions.values()

    def get(self, name: str, version: str | None) -> Workflow | None:
        """The given version of workflow `name` (its current one when `version` is None)."""
        if version is None:
            return self.current.get(name)
        return self.by_name.get(name, {}).get(version)

    def for_run(self, name: str, payload: Mapping[str, Any], run_id: str) -> Workflow:
        """The version a run was started with (from its orchestrator input), or raise
        `WorkflowGraphMismatchError` naming the version it needs."""
        versions = self.by_name[name]
        wanted = payload.get("version")
        found = versions.get(wanted) if isinstance(wanted, str) else None
        if wanted is None:  # started before runs recorded a version: match the graph
            found = next(
                (w for w in versions.values() if w.graph_hash == payload.get("graph_hash")), None
            )
            wanted = payload.get("graph_hash")
        if found is None:
            have = ", ".join(repr(v) for v in versions)
            msg = (
                f"run {run_id!r} of workflow {name!r} needs version {wanted!r} (graph hash "
                f"{payload.get('graph_hash')}), which this worker does not register (it has "
                f"{have}). Keep that definition registered with "
                "DurableWorkflowHost(previous_versions=[...]) until its runs finish, or terminate "
                "them (docs/versioning.md)."
            )
            raise WorkflowGraphMismatchError(msg)
        return found
