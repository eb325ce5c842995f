// Runs: newest first, filtered by workflow and status, a page at a time.

import { api } from "./api.js";
import { duration, h, replace, stateBadge, when } from "./dom.js";

const enc = encodeURIComponent;
const STATUSES = ["pending", "running", "waiting", "completed", "failed", "cancelled"];
const PAGE = 20;

export async function runsPage(page, params) {
  const workflow = params.get("workflow") || "";
  const status = params.get("status") || "";
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const [{ workflows }, listing] = await Promise.all([
    api("api/workflows"),
    api(`api/dashboard/runs?limit=${PAGE}&offset=${offset}` +
      (workflow ? `&workflow=${enc(workflow)}` : "") + (status ? `&status=${enc(status)}` : "")),
  ]);

  const link = (changes) => {
    const next = new URLSearchParams({ workflow, status, offset: String(offset), ...changes });
    for (const [key, value] of [...next.entries()]) if (!value || value === "0") next.delete(key);
    const query = next.toString();
    return `#/runs${query ? `?${query}` : ""}`;
  };

  const wfSelect = h("select", { id: "filter-workflow" }, h("option", { value: "" }, "all workflows"),
    workflows.map((w) => h("option", { value: w.name, selected: w.name === workflow }, w.name)));
  const stSelect = h("select", { id: "filter-status" }, h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter runs",
    onsubmit: (event) => {
      event.preventDefault();
      location.hash = link({ workflow: wfSelect.value, status: stSelect.value, offset: "0" });
    } },
  h("label", { for: "filter-workflow" }, "Workflow"), wfSelect,
  h("label", { for: "filter-status" }, "Status"), stSelect,
  h("button", { type: "submit" }, "Filter"),
  h("button", { type: "button", onclick: () => runsPage(page, params) }, "Refresh"));

  const now = Date.now();
  const rows = listing.runs.map((run) => {
    const start = new Date(run.createdAt).getTime();
    const end = ["completed", "failed", "cancelled"].includes(run.status) ? new Date(run.updatedAt).getTime() : now;
    return h("tr", { dataset: { run: run.runId } },
      h("td", {}, h("a", { href: `#/runs/${enc(run.workflow)}/${enc(run.runId)}` }, run.runId)),
      h("td", {}, run.workflow),
      h("td", {}, stateBadge(run.status)),
      h("td", {}, when(run.createdAt)),
      h("td", {}, duration(end - start)),
      h("td", { class: "num" }, String(run.superstep)),
      h("td", { class: "num" }, String(run.pendingRequests)));
  });
  const table = rows.length
    ? h("table", { class: "runs" },
      h("caption", {}, `Runs ${offset + 1}–${offset + rows.length}, newest first`),
      h("thead", {}, h("tr", {}, ["Run", "Workflow", "Status", "Started", "Duration", "Superstep", "Waiting requests"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))
    : h("p", {}, "No runs match.");
  const pager = h("nav", { class: "pager", "aria-label": "Pages of runs" },
    offset > 0 ? h("a", { href: link({ offset: String(Math.max(0, offset - PAGE)) }) }, "← Newer") : null,
    listing.more ? h("a", { href: link({ offset: String(offset + PAGE) }) }, "Older →") : null);
  replace(page, h("h1", {}, "Runs"), filters, table, pager);
  return null;
}
