// One run: its graph with the run drawn on it, live from the event stream; the requests waiting
// for an answer, each with a form made from its response schema; the result or the error; the
// event timeline; a cancel button.

import { ApiError, api, follow } from "./api.js";
import { duration, h, pretty, replace, stateBadge, STATES, when } from "./dom.js";
import { schemaFields } from "./forms.js";
import { showGraph } from "./graph.js";
import { errorBlock, submitting } from "./page-workflows.js";
import { RunState } from "./runstate.js";

const enc = encodeURIComponent;
const POLL_MS = 2000;

function short(value, limit = 160) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text && text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/** "ValueError" for "builtins.ValueError". */
function bare(type) {
  return String(type || "Error").replace(/^builtins\./, "");
}

function describe(event) {
  switch (event.type) {
    case "workflow_started": return event.workflowName || "";
    case "executor_invoked":
    case "executor_completed": return `${event.executorId} (superstep ${event.superstep})`;
    case "executor_failed": return `${event.executorId}: ${bare(event.errorType)}: ${event.error}`;
    case "waiting_for_input": return `${event.portId} asks: ${short(event.request)}`;
    case "response_received": return `${event.portId} got: ${short(event.response)}`;
    case "workflow_output":
    case "custom": return `${event.executorId}: ${short(event.data)}`;
    case "workflow_completed": return `result: ${short(event.result)}`;
    case "workflow_failed": return `${bare(event.errorType)}: ${event.error}`;
    default: return "";
  }
}

function legend() {
  return h("ul", { class: "legend", "aria-label": "Legend" },
    ["running", "waiting", "completed", "failed", "not-run"].map((s) =>
      h("li", {}, h("span", { class: `swatch status-${s}`, "aria-hidden": "true" }), `${STATES[s].icon} ${STATES[s].label}`)),
    h("li", {}, h("span", { class: "swatch edge-carried", "aria-hidden": "true" }), "thick edge: carried a message"));
}

export async function runPage(page, workflowName, runId) {
  const base = `api/workflows/${enc(workflowName)}`;
  const [graph, initial] = await Promise.all([
    api(`api/dashboard/workflows/${enc(workflowName)}/graph`),
    api(`${base}/status/${enc(runId)}`),
  ]);
  const state = new RunState(graph);
  state.status = initial.status;
  let status = initial;
  let stream = null;
  let poller = null;
  let ticker = null;

  const statusBox = h("dd", { id: "run-status", "aria-live": "polite" });
  const superstepBox = h("dd", { id: "run-superstep" });
  const durationBox = h("dd", { id: "run-duration" });
  const cancelStatus = h("span", { class: "form-status", "aria-live": "polite" });
  const cancelButton = h("button", { type: "button", class: "danger", id: "cancel-run" }, "Cancel run");
  const graphBox = h("div", { class: "graph-box" });
  const pendingBox = h("div", { class: "pending", id: "pending-requests" });
  const outcomeBox = h("div", { class: "outcome", id: "run-outcome", "aria-live": "polite" });
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const streamNote = h("p", { class: "muted", id: "stream-note" });

  replace(page,
    h("h1", {}, "Run ", h("code", {}, runId)),
    h("dl", { class: "run-header" },
      h("dt", {}, "Workflow"), h("dd", {}, h("a", { href: `#/workflows/${enc(workflowName)}` }, workflowName)),
      h("dt", {}, "Status"), statusBox,
      h("dt", {}, "Superstep"), superstepBox,
      h("dt", {}, "Started"), h("dd", {}, when(initial.createdAt)),
      h("dt", {}, "Duration"), durationBox),
    h("p", {}, cancelButton, " ", cancelStatus),
    h("div", { class: "columns" },
      h("section", { "aria-labelledby": "graph-title", class: "card" },
        h("h2", { id: "graph-title" }, "Graph"), graphBox, legend(), streamNote),
      h("div", { class: "side" },
        h("section", { "aria-labelledby": "pending-title", class: "card" },
          h("h2", { id: "pending-title" }, "Waiting for input"), pendingBox),
        h("section", { "aria-labelledby": "outcome-title", class: "card" },
          h("h2", { id: "outcome-title" }, "Outcome"), outcomeBox))),
    h("section", { "aria-labelledby": "events-title", class: "card" },
      h("h2", { id: "events-title" }, "Events"), timeline));

  const view = showGraph(graphBox, graph, { caption: `graph of ${workflowName} with run ${runId}` });
  const forms = new Map(); // request id -> form element

  function renderHeader() {
    replace(statusBox, stateBadge(state.status));
    statusBox.dataset.state = state.status;
    superstepBox.textContent = String(Math.max(state.superstep, status.superstep || 0));
    const start = new Date(status.createdAt).getTime();
    const end = state.active ? Date.now() : new Date(status.updatedAt).getTime();
    durationBox.textContent = start ? duration(Math.max(0, end - start)) : "";
    cancelButton.disabled = !state.active;
    if (!state.active && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function requestForm(request) {
    const fields = schemaFields(request.responseSchema || {}, { label: "Response" });
    const formStatus = h("div", { class: "form-status", "aria-live": "polite" });
    const title = `Answer ${request.portId}`;
    const form = h("form", { class: "request-form", novalidate: true, "aria-label": title, dataset: { request: request.requestId, port: request.portId } },
      h("h3", {}, request.portId, " ", h("span", { class: "muted" }, `(request ${request.requestId})`)),
      h("p", { class: "muted" }, "The request:"),
      h("pre", { class: "json request" }, pretty(request.request)),
      fields.el,
      h("button", { type: "submit" }, "Send response"),
      formStatus);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitting(form, formStatus, async () => {
        const response = fields.read();
        await api(`${base}/respond/${enc(runId)}`, { method: "POST", body: { requestId: request.requestId, response } });
        form.classList.add("sent");
        replace(formStatus, h("p", { class: "ok" }, "Sent; waiting for the run to take it."));
        form.querySelector("button[type=submit]").hidden = true;
      });
    });
    return form;
  }

  function renderPending(requests) {
    const wanted = new Map(requests.map((r) => [r.requestId, r]));
    for (const [id, form] of forms) {
      if (!wanted.has(id)) {
        form.remove();
        forms.delete(id);
      }
    }
    for (const [id, request] of wanted) {
      if (!forms.has(id)) {
        const form = requestForm(request);
        forms.set(id, form);
        pendingBox.append(form);
      }
    }
    const empty = pendingBox.querySelector(".empty");
    if (forms.size && empty) empty.remove();
    if (!forms.size && !empty) pendingBox.append(h("p", { class: "empty muted" }, "Nothing is waiting."));
  }

  function renderOutcome() {
    if (state.status === "completed") {
      const outputs = status.outputs && status.outputs.length > 1
        ? h("details", {}, h("summary", {}, `All ${status.outputs.length} outputs`), h("pre", { class: "json" }, pretty(status.outputs)))
        : null;
      const result = status.result !== undefined && status.result !== null ? status.result : state.result;
      replace(outcomeBox, h("p", {}, stateBadge("completed")), h("h3", {}, "Result"),
        h("pre", { class: "json", id: "run-result" }, pretty(result)), outputs);
    } else if (state.status === "failed") {
      const error = status.error || state.error || {};
      const where = error.executorId || (state.error && state.error.executorId);
      replace(outcomeBox, h("div", { class: "error", role: "alert", id: "run-error" },
        h("p", {}, stateBadge("failed"), where ? [" in executor ", h("code", { class: "failing" }, where), " (marked on the graph)"] : ""),
        h("p", {}, h("strong", {}, `${error.type || "Error"}: `), error.message || "")));
    } else if (state.status === "cancelled") {
      replace(outcomeBox, h("p", {}, stateBadge("cancelled"), " ", (status.error && status.error.message) || ""));
    } else {
      replace(outcomeBox, h("p", { class: "muted" }, "The run has not finished."));
    }
  }

  function draw() {
    if (view) view.draw(state);
    renderHeader();
    renderOutcome();
  }

  async function refreshStatus() {
    try {
      status = await api(`${base}/status/${enc(runId)}`);
    } catch (error) {
      replace(streamNote, errorBlock(error));
      return;
    }
    if (["completed", "failed", "cancelled"].includes(status.status) || !stream) state.status = status.status;
    if (!stream) renderPending(status.pendingRequests || []);
    if (status.error && status.error.executorId && !stream) state.nodes.set(status.error.executorId, { status: "failed", count: 1 });
    draw();
  }

  function onEvent({ event, data }) {
    if (event === "error") {
      replace(streamNote, `The event stream stopped: ${data.type}: ${data.message}`);
      return;
    }
    state.apply(data);
    timeline.append(h("li", { dataset: { type: data.type } },
      h("span", { class: "seq" }, `#${data.sequence}`), " ", h("span", { class: "type" }, data.type), " ", describe(data)));
    renderPending([...state.pending.values()]);
    draw();
    if (data.type === "workflow_completed" || data.type === "workflow_failed") refreshStatus();
  }

  cancelButton.addEventListener("click", async () => {
    if (!window.confirm(`Cancel run ${runId}?`)) return;
    cancelButton.disabled = true;
    try {
      await api(`${base}/cancel/${enc(runId)}`, { method: "POST", body: { reason: "cancelled from the dashboard" } });
      replace(cancelStatus, "Cancelling…");
      for (let i = 0; i < 20 && state.active; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await refreshStatus();
      }
      replace(cancelStatus, "");
    } catch (error) {
      replace(cancelStatus, errorBlock(error));
      cancelButton.disabled = !state.active;
    }
  });

  renderPending(initial.pendingRequests || []);
  draw();
  if (state.active) ticker = setInterval(renderHeader, 1000);
  stream = follow(`${base}/events/${enc(runId)}`, {
    from: 0,
    onEvent,
    onEnd: () => {
      streamNote.textContent = "The event stream has ended.";
      refreshStatus();
    },
    onError: (error) => {
      stream = null;
      if (error instanceof ApiError && error.status === 409) {
        streamNote.textContent = "This run was started without streaming, so it has no events to draw; its status is polled.";
        poller = setInterval(() => (state.active ? refreshStatus() : clearInterval(poller)), POLL_MS);
        refreshStatus();
      } else {
        replace(streamNote, errorBlock(error));
      }
    },
  });
  return {
    close() {
      if (stream) stream.close();
      if (poller) clearInterval(poller);
      if (ticker) clearInterval(ticker);
    },
  };
}
