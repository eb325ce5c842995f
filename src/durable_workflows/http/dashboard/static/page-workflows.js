// Workflows: each with its graph, description, input schema and a form that starts a run.

import { api } from "./api.js";
import { h, pretty, replace, uid } from "./dom.js";
import { FormError, schemaFields } from "./forms.js";
import { showGraph } from "./graph.js";

const enc = encodeURIComponent;

/** Error text for an ApiError, with pydantic's field errors when there are some. */
export function errorBlock(error) {
  const details = (error.details || []).map((d) =>
    h("li", {}, `${(d.loc || []).join(".") || "value"}: ${d.msg || JSON.stringify(d)}`));
  return h("div", { class: "error", role: "alert" },
    h("strong", {}, `${error.type || "Error"}: `), error.message,
    details.length ? h("ul", {}, details) : null);
}

/** Run `action` for a submitted form, showing a FormError or ApiError in `status`. */
export async function submitting(form, status, action) {
  const button = form.querySelector("button[type=submit]");
  status.replaceChildren();
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    if (error instanceof FormError) {
      status.replaceChildren(h("div", { class: "error", role: "alert" }, error.message));
      if (error.input) error.input.focus();
    } else {
      status.replaceChildren(errorBlock(error));
    }
  } finally {
    button.disabled = false;
  }
}

function startForm(workflow) {
  const fields = schemaFields(workflow.inputSchema, { label: "Input" });
  const runIdId = uid("run-id");
  const runId = h("input", { id: runIdId, type: "text", pattern: "[A-Za-z0-9][A-Za-z0-9._:\\-]{0,127}", autocomplete: "off" });
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const form = h("form", { class: "start-form", novalidate: true, "aria-label": `Start ${workflow.name}` },
    h("h3", {}, "Start a run"),
    fields.el,
    h("div", { class: "field" }, h("label", { for: runIdId }, "Run id (optional; the same id returns the same run)"), runId),
    h("button", { type: "submit" }, "Start run"),
    status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, status, async () => {
      const value = fields.read();
      const query = runId.value.trim() ? `?runId=${enc(runId.value.trim())}` : "";
      const started = await api(`api/workflows/${enc(workflow.name)}/run${query}`, { method: "POST", body: value });
      location.hash = `#/runs/${enc(workflow.name)}/${enc(started.runId)}`;
    });
  });
  return form;
}

export async function workflowsPage(page, only) {
  const { workflows } = await api("api/workflows");
  const shown = only ? workflows.filter((w) => w.name === only) : workflows;
  replace(page, h("h1", {}, "Workflows"));
  if (!shown.length) {
    page.append(h("p", {}, only ? `No workflow named ${only} is served.` : "This server serves no workflows."));
    return null;
  }
  if (shown.length > 1) {
    page.append(h("nav", { "aria-label": "Workflows on this page" }, h("ul", { class: "toc" },
      shown.map((w) => h("li", {}, h("a", { href: `#/workflows/${enc(w.name)}` }, w.name))))));
  }
  for (const workflow of shown) {
    const graphBox = h("div", { class: "graph-box" }, h("p", { class: "muted" }, "Drawing the graph…"));
    const section = h("section", { class: "workflow card", "aria-labelledby": `wf-${workflow.name}` },
      h("h2", { id: `wf-${workflow.name}` }, workflow.name),
      workflow.description ? h("p", { class: "description" }, workflow.description) : null,
      h("div", { class: "columns" },
        graphBox,
        h("div", { class: "side" },
          startForm(workflow),
          h("details", {}, h("summary", {}, "Input schema"), h("pre", { class: "json" }, pretty(workflow.inputSchema))),
          h("p", {}, h("a", { href: `#/runs?workflow=${enc(workflow.name)}` }, `Runs of ${workflow.name}`)))));
    page.append(section);
    api(`api/dashboard/workflows/${enc(workflow.name)}/graph`)
      .then((graph) => showGraph(graphBox, graph, { caption: `graph of ${workflow.name}` }))
      .catch((error) => replace(graphBox, errorBlock(error)));
  }
  return null;
}
