"""The dashboard's routes through httpx's ASGI transport: the page and its files (public even
with an API key, with a strict content security policy), the graph with SVG element ids (and
the reason when nothing can draw it), and runs of every workflow, newest first, paged."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from durable_workflows import DurableWorkflowHost, RequestPort, WorkflowBuilder, executor
from durable_workflows.http import create_app
from durable_workflows.http.dashboard.routes import STATIC
from durable_workflows.rendering import programs

KEY = "dashboard-test-key"


@executor(id="shout")
def shout(text: str) -> str:
    return text.upper()


SHOUT = WorkflowBuilder(shout, name="Shout").build()


@executor(id="ask")
def ask(amount: int) -> int:
    return amount


approve = RequestPort("approve", request_type=int, response_type=bool)


@executor(id="decide")
def decide(approved: bool) -> str:
    return "yes" if approved else "no"


APPROVE = WorkflowBuilder(ask, name="Approve").add_chain([ask, approve, decide]).build()


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    running = DurableWorkflowHost(workflows=[SHOUT, APPROVE])
    running.start()
    try:
        yield running
    finally:
        running.stop()


def call(app: Any, body: Callable[[httpx.AsyncClient], Awaitable[Any]], **headers: str) -> Any:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
            return await asyncio.wait_for(body(c), 60)

    return asyncio.run(main())


def test_the_page_and_its_files_are_public_and_the_data_is_not(host: DurableWorkflowHost) -> None:
    app = create_app(host, api_key=KEY)

    async def body(client: httpx.AsyncClient) -> None:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        for asset in re.findall(r'(?:src|href)="(dashboard/[^"]+)"', page.text):
            served = await client.get(f"/{asset}")
            assert served.status_code == 200, asset
        script = await client.get("/dashboard/app.js")
        assert "javascript" in script.headers["content-type"]
        for path in ("/api/dashboard/runs", "/api/dashboard/workflows/Shout/graph"):
            assert (await client.get(path)).status_code == 401
            assert (await client.get(path, headers={"x-api-key": KEY})).status_code == 200

    call(app, body)


def test_every_file_the_page_loads_ships_in_the_package() -> None:
    """index.html's files and every module app.js imports (transitively) are in static/, which
    pyproject's package-data ships whole (``http/dashboard/static/*``: no subfolders)."""
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"http/dashboard/static/*"' in pyproject
    assert all(path.is_file() for path in STATIC.iterdir())
    html = (STATIC / "index.html").read_text()
    wanted = {Path(p).name for p in re.findall(r'(?:src|href)="dashboard/([^"]+)"', html)}
    seen: set[str] = set()
    while wanted - seen:
        name = (wanted - seen).pop()
        seen.add(name)
        assert (STATIC / name).is_file(), f"{name} is loaded but not shipped"
        if name.endswith(".js"):
            wanted |= set(re.findall(r'from "\./([\w-]+\.js)"', (STATIC / name).read_text()))
    assert {"app.js", "page-run.js", "forms.js", "graph.js", "runstate.js"} <= seen
    assert "http://" not in html and "https://" not in html  # nothing from a CDN


def test_the_graph_has_an_svg_id_for_every_node_and_edge(host: DurableWorkflowHost) -> None:
    app = create_app(host)

    async def body(client: httpx.AsyncClient) -> tuple[Any, int]:
        graph = (await client.get("/api/dashboard/workflows/Approve/graph")).json()
        missing = await client.get("/api/dashboard/workflows/Nope/graph")
        return graph, missing.status_code

    graph, missing = call(app, body)
    assert missing == 404
    assert graph["renderError"] is None and graph["svg"].startswith("<svg")
    svg = ET.fromstring(graph["svg"])
    ns = "{http://www.w3.org/2000/svg}"
    titles = {g.get("id"): g.findtext(f"{ns}title") for g in svg.iter(f"{ns}g")}
    assert [(n["id"], n["kind"]) for n in graph["nodes"]] == [
        ("start:", "start"), ("ask", "executor"), ("approve", "port"), ("decide", "executor")
    ]
    for node in graph["nodes"]:
        assert titles[node["domId"]] == node["id"]
    for edge in graph["edges"]:
        assert titles[edge["domId"]] == f"{edge['source']}->{edge['target']}"


def test_without_graphviz_the_graph_says_what_to_install(
    host: DurableWorkflowHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(host)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(programs, "_script_dirs", list)

    async def body(client: httpx.AsyncClient) -> Any:
        return (await client.get("/api/dashboard/workflows/Shout/graph")).json()

    graph = call(app, body)
    assert graph["svg"] is None
    assert "pip install -e '.[render]'" in graph["renderError"]
    assert [n["id"] for n in graph["nodes"]] == ["start:", "shout"]
    monkeypatch.undo()
    assert call(app, body)["svg"].startswith("<svg")  # the failure was not cached


def test_runs_of_every_workflow_newest_first_paged(host: DurableWorkflowHost) -> None:
    app = create_app(host)

    async def body(client: httpx.AsyncClient) -> None:
        ids = []
        for index, name in enumerate(["Shout", "Approve", "Shout", "Approve"]):
            value = "hi" if name == "Shout" else 5
            run_id = f"page-{index}"
            started = await client.post(f"/api/workflows/{name}/run?runId={run_id}&wait=30", json=value)
            assert started.status_code in (200, 202), started.text
            ids.append(run_id)
            await asyncio.sleep(0.01)
        first = (await client.get("/api/dashboard/runs?limit=3")).json()
        assert [r["runId"] for r in first["runs"]] == ids[::-1][:3] and first["more"] is True
        second = (await client.get("/api/dashboard/runs?limit=3&offset=3")).json()
        assert [r["runId"] for r in second["runs"]][:1] == [ids[0]]
        waiting = (await client.get("/api/dashboard/runs?status=waiting&workflow=Approve")).json()
        assert [r["runId"] for r in waiting["runs"]] == ["page-3", "page-1"]
        assert all(r["pendingRequests"] == 1 for r in waiting["runs"])
        assert (await client.get("/api/dashboard/runs?workflow=Nope")).status_code == 404
        assert (await client.get("/api/dashboard/runs?status=lost")).status_code == 400

    call(app, body)
