"""Every workflow route through httpx's ASGI transport, on the embedded backend."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from durable_workflows.rendering.programs import find_renderer

from .conftest import Api

pytestmark = pytest.mark.e2e


def new_id() -> str:
    return f"r-{uuid.uuid4().hex[:12]}"


async def waiting_run(client: httpx.AsyncClient, amount: int = 5) -> dict[str, Any]:
    """Start an Approval run and return its status once it waits for the approval."""
    started = await client.post("/api/workflows/Approval/run?wait=10", json=amount)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "waiting"
    status = await client.get(f"/api/workflows/Approval/status/{started.json()['runId']}")
    return dict(status.json())


def sse_events(text: str) -> list[tuple[int, str, str]]:
    """(id, event, data) of each SSE event in a stream's text (comments and retry skipped)."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "id" in fields:
            found.append((int(fields["id"]), fields["event"], fields["data"]))
    return found


# -- describe -----------------------------------------------------------------------------------


def test_list_workflows_gives_names_descriptions_and_input_schemas(api: Api) -> None:
    response = api(lambda c: c.get("/api/workflows"))
    assert response.status_code == 200
    by_name = {w["name"]: w for w in response.json()["workflows"]}
    assert set(by_name) == {"Echo", "Approval", "Failing", "Parallel"}
    assert by_name["Echo"]["description"] == "Shouts its input."
    assert by_name["Echo"]["inputSchema"] == {"type": "string"}
    (port,) = by_name["Approval"]["ports"]
    assert port["id"] == "approve"
    assert port["responseSchema"]["required"] == ["approved", "approver"]


def test_describe_workflow_gives_its_graph_for_a_live_view(api: Api) -> None:
    body = api(lambda c: c.get("/api/workflows/Approval")).json()
    ids = {n["id"]: n["kind"] for n in body["nodes"]}
    assert ids["ask"] == "executor" and ids["approve"] == "port" and ids["decide"] == "executor"
    edges = {(e["source"], e["target"]) for e in body["edges"]}
    assert {("ask", "approve"), ("approve", "decide")} <= edges
    assert "flowchart" in body["mermaid"]
    assert body["svgUrl"] == "http://test/api/workflows/Approval/graph.svg"


@pytest.mark.skipif(find_renderer() is None, reason="no graphviz program (dot or graphviz-pure)")
def test_graph_svg_is_served(api: Api) -> None:
    response = api(lambda c: c.get("/api/workflows/Approval/graph.svg"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert "<svg" in response.text and "approve" in response.text


def test_unknown_workflow_is_404_on_every_route(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await c.get("/api/workflows/Nope"),
            await c.post("/api/workflows/Nope/run", json=1),
            await c.get("/api/workflows/Nope/status/x"),
            await c.get("/api/workflows/Nope/runs"),
        ]

    for response in api(body):
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "WorkflowNotFoundError"
        assert "Nope" in response.json()["error"]["message"]


# -- run ----------------------------------------------------------------------------------------


def test_run_with_wait_returns_the_result_when_it_finishes_in_time(api: Api) -> None:
    response = api(lambda c: c.post("/api/workflows/Echo/run?wait=20", json="hello"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["result"] == "HELLO" and body["outputs"] == ["HELLO"]
    assert body["workflow"] == "Echo" and body["error"] is None


def test_run_without_wait_is_accepted_with_links(api: Api) -> None:
    response = api(lambda c: c.post("/api/workflows/Echo/run", json="x"))
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"runId", "status", "statusUrl", "respondUrl", "eventsUrl"}
    run_id = body["runId"]
    assert body["statusUrl"] == f"http://test/api/workflows/Echo/status/{run_id}"
    assert body["eventsUrl"] == f"http://test/api/workflows/Echo/events/{run_id}"
    assert response.headers["location"] == body["statusUrl"]


def test_run_with_wait_returns_202_as_soon_as_the_run_waits_for_input(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> tuple[httpx.Response, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await c.post("/api/workflows/Approval/run?wait=60", json=3)
        return response, loop.time() - started

    response, elapsed = api(body)
    assert response.status_code == 202 and response.json()["status"] == "waiting"
    assert elapsed < 30  # did not sit out the whole wait


def test_input_that_does_not_validate_is_400_with_field_errors(api: Api) -> None:
    response = api(lambda c: c.post("/api/workflows/Approval/run", json={"amount": "lots"}))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "SerializationError"
    assert error["details"] and error["details"][0]["type"] == "int_type"


def test_malformed_json_and_bad_parameters_are_400(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await c.post(
                "/api/workflows/Echo/run",
                content=b"{nope",
                headers={"content-type": "application/json"},
            ),
            await c.post("/api/workflows/Echo/run?wait=500", json="x"),
            await c.post("/api/workflows/Echo/run?runId=has%20space", json="x"),
        ]

    bad_json, too_long, bad_id = api(body)
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "BadRequestError"
    assert too_long.status_code == 400
    assert too_long.json()["error"]["type"] == "RequestValidationError"
    assert bad_id.status_code == 400 and "runId" in bad_id.json()["error"]["message"]


def test_run_id_makes_the_start_idempotent(api: Api) -> None:
    run_id = new_id()

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        url = f"/api/workflows/Approval/run?runId={run_id}"
        return [
            await c.post(url, json=7),
            await c.post(url, json=7),
            await c.post(url, json=8),
            await c.post(f"/api/workflows/Echo/run?runId={run_id}", json="7"),
        ]

    first, again, other_input, other_workflow = api(body)
    assert first.status_code == 202 and again.status_code == 202
    assert first.json()["runId"] == again.json()["runId"] == run_id
    assert other_input.status_code == 409
    assert other_input.json()["error"]["type"] == "RunAlreadyExistsError"
    assert "different input" in other_input.json()["error"]["message"]
    assert other_workflow.status_code == 409
    assert "Approval" not in other_workflow.json()["error"]["message"]
    runs = api(lambda c: c.get("/api/workflows/Approval/runs?limit=1000")).json()["runs"]
    assert [r["runId"] for r in runs].count(run_id) == 1


# -- status and respond ------------------------------------------------------------------------


def test_status_shows_the_waiting_request_with_its_schema(api: Api) -> None:
    status = api(waiting_run)
    assert status["status"] == "waiting" and status["workflow"] == "Approval"
    (request,) = status["pendingRequests"]
    assert request["portId"] == "approve" and request["request"] == 5
    assert request["responseType"] == "Decision"
    assert request["responseSchema"]["properties"]["approved"] == {
        "title": "Approved",
        "type": "boolean",
    }
    assert status["createdAt"] and status["updatedAt"]


def test_respond_refuses_wrong_types_unknown_and_answered_requests(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> dict[str, Any]:
        status = await waiting_run(c)
        run_id, request_id = status["runId"], status["pendingRequests"][0]["requestId"]
        url = f"/api/workflows/Approval/respond/{run_id}"
        good = {"requestId": request_id, "response": {"approved": True, "approver": "Ann"}}
        found = {
            "wrong_type": await c.post(
                url, json={"requestId": request_id, "response": {"approved": "maybe"}}
            ),
            "unknown": await c.post(
                url, json={"requestId": "approve:9:9", "response": good["response"]}
            ),
            "missing_field": await c.post(url, json={"response": 1}),
            "accepted": await c.post(url, json=good),
        }
        completed = await c.post(f"/api/workflows/Approval/run?runId={run_id}&wait=20", json=5)
        found["result"] = completed
        found["again"] = await c.post(url, json=good)
        return found

    found = api(body)
    wrong = found["wrong_type"]
    assert wrong.status_code == 400 and wrong.json()["error"]["type"] == "InvalidResponseError"
    assert wrong.json()["error"]["details"][0]["loc"] == ["approved"]
    assert found["unknown"].status_code == 404
    assert "approve:9:9" in found["unknown"].json()["error"]["message"]
    assert found["missing_field"].status_code == 400
    assert found["accepted"].status_code == 202
    assert found["result"].status_code == 200
    assert found["result"].json()["result"] == "approved=True by Ann"
    assert found["again"].status_code == 409
    assert found["again"].json()["error"]["type"] == "ConflictError"


def test_two_racing_answers_to_one_request_one_wins_the_other_is_409(api: Api) -> None:
    """Sent at once, before the run has taken either: exactly one is accepted."""

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        started = await c.post("/api/workflows/Parallel/run?wait=10", json=1)
        run_id = started.json()["runId"]
        pending = (await c.get(f"/api/workflows/Parallel/status/{run_id}")).json()
        first = next(r["requestId"] for r in pending["pendingRequests"] if r["portId"] == "first")
        url = f"/api/workflows/Parallel/respond/{run_id}"
        return list(
            await asyncio.gather(
                *(c.post(url, json={"requestId": first, "response": r}) for r in ("a", "b"))
            )
        )

    codes = sorted(r.status_code for r in api(body))
    assert codes == [202, 409]


def test_an_answered_request_of_a_running_run_is_409(api: Api) -> None:
    """Parallel requests: answering the first one twice is refused while the second waits."""

    async def body(c: httpx.AsyncClient) -> list[Any]:
        started = await c.post("/api/workflows/Parallel/run?wait=10", json=1)
        run_id = started.json()["runId"]
        status_url = f"/api/workflows/Parallel/status/{run_id}"
        url = f"/api/workflows/Parallel/respond/{run_id}"
        pending = (await c.get(status_url)).json()["pendingRequests"]
        first = next(r["requestId"] for r in pending if r["portId"] == "first")
        answered = await c.post(url, json={"requestId": first, "response": "a"})
        for _ in range(250):  # until the run has taken the answer
            pending = (await c.get(status_url)).json()["pendingRequests"]
            if len(pending) == 1:
                break
            await asyncio.sleep(0.02)
        again = await c.post(url, json={"requestId": first, "response": "a"})
        return [answered, pending, again]

    answered, pending, again = api(body)
    assert answered.status_code == 202
    assert [r["portId"] for r in pending] == ["second"]
    assert again.status_code == 409
    assert "already answered" in again.json()["error"]["message"]


def test_a_run_is_unreachable_through_another_workflows_routes(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        status = await waiting_run(c)
        run_id = status["runId"]
        request = {"requestId": status["pendingRequests"][0]["requestId"], "response": {}}
        return [
            await c.get(f"/api/workflows/Echo/status/{run_id}"),
            await c.post(f"/api/workflows/Echo/respond/{run_id}", json=request),
            await c.get(f"/api/workflows/Echo/events/{run_id}"),
            await c.post(f"/api/workflows/Echo/cancel/{run_id}"),
            await c.get("/api/workflows/Echo/status/no-such-run"),
        ]

    for response in api(body):
        assert response.status_code == 404, response.text
        assert "Approval" not in response.text


# -- failure, cancel, listing ------------------------------------------------------------------


def test_failed_run_reports_type_message_and_executor(api: Api) -> None:
    response = api(lambda c: c.post("/api/workflows/Failing/run?wait=20", json=4))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"] == {"type": "ValueError", "message": "kaput 4", "executorId": "boom"}


def test_cancel_a_waiting_run(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[Any]:
        run_id = (await waiting_run(c))["runId"]
        cancelled = await c.post(
            f"/api/workflows/Approval/cancel/{run_id}", json={"reason": "typo"}
        )
        for _ in range(200):
            status = (await c.get(f"/api/workflows/Approval/status/{run_id}")).json()
            if status["status"] == "cancelled":
                break
            await asyncio.sleep(0.02)
        again = await c.post(f"/api/workflows/Approval/cancel/{run_id}")
        return [cancelled, status, again]

    cancelled, status, again = api(body)
    assert cancelled.status_code == 202
    assert status["status"] == "cancelled" and status["error"]["type"] == "RunCancelled"
    assert again.status_code == 409


def test_runs_lists_recent_runs_newest_first_with_filters(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[Any]:
        ids = [new_id() for _ in range(3)]
        for run_id in ids:
            await c.post(f"/api/workflows/Echo/run?runId={run_id}&wait=20", json=run_id)
        waiting = (await waiting_run(c))["runId"]
        return [
            ids,
            waiting,
            (await c.get("/api/workflows/Echo/runs?limit=3")).json()["runs"],
            (await c.get("/api/workflows/Approval/runs?status=waiting")).json()["runs"],
            (await c.get("/api/workflows/Echo/runs?status=waiting")).json()["runs"],
            await c.get("/api/workflows/Echo/runs?status=sleeping"),
        ]

    ids, waiting, latest, approvals, none, bad = api(body)
    assert [r["runId"] for r in latest] == ids[::-1]
    assert all(r["status"] == "completed" and r["workflow"] == "Echo" for r in latest)
    assert waiting in {r["runId"] for r in approvals}
    assert all(r["status"] == "waiting" and r["pendingRequests"] == 1 for r in approvals)
    assert none == []
    assert bad.status_code == 400


# -- events -------------------------------------------------------------------------------------


def test_events_stream_every_event_and_ends_after_the_terminal_one(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[Any]:
        status = await waiting_run(c)
        run_id = status["runId"]
        answer = {
            "requestId": status["pendingRequests"][0]["requestId"],
            "response": {"approved": True, "approver": "Cy"},
        }
        await c.post(f"/api/workflows/Approval/respond/{run_id}", json=answer)
        url = f"/api/workflows/Approval/events/{run_id}"
        full = await c.get(url)
        resumed = await c.get(url, headers={"last-event-id": "4"})
        from_query = await c.get(url + "?from=6")
        return [full, resumed, from_query]

    full, resumed, from_query = api(body)
    assert full.headers["content-type"].startswith("text/event-stream")
    events = sse_events(full.text)
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    kinds = [e[1] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_completed"
    assert "waiting_for_input" in kinds and "response_received" in kinds
    assert '"executorId":"ask"' in events[1][2] and '"superstep":1' in events[1][2]
    waiting = next(e for e in events if e[1] == "waiting_for_input")
    assert '"responseSchema"' in waiting[2]
    assert sse_events(resumed.text) == events[4:]
    assert sse_events(from_query.text) == events[6:]


def test_events_of_a_run_started_without_streaming_are_409(api: Api, host: Any) -> None:
    from .flows import ECHO

    async def body(c: httpx.AsyncClient) -> httpx.Response:
        run = await host.client.run(ECHO, "quiet")
        await run.wait_for_completion(timeout=20)
        return await c.get(f"/api/workflows/Echo/events/{run.run_id}")

    response = api(body)
    assert response.status_code == 409
    assert "without streaming" in response.json()["error"]["message"]
