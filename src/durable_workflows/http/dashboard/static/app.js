// The dashboard's router: the part of the URL after "#" picks the page.
//   #/workflows                 workflows, their graphs and start forms
//   #/runs?workflow=&status=    recent runs
//   #/runs/<workflow>/<run id>  one run, drawn live on its graph
//   #/agents[/<agent>[/<thread>]]

import { onKeyNeeded, setKey } from "./api.js";
import { h, replace } from "./dom.js";
import { agentsPage } from "./page-agents.js";
import { runPage } from "./page-run.js";
import { runsPage } from "./page-runs.js";
import { workflowsPage } from "./page-workflows.js";

const main = document.getElementById("main");
let current = null; // the shown page's {close()}, to stop its streams

function parse() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

async function route() {
  if (current && current.close) current.close();
  current = null;
  const { parts, params } = parse();
  const section = parts[0] || "workflows";
  for (const link of document.querySelectorAll("nav a[data-section]")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const page = h("div", { class: "page" });
  replace(main, page);
  try {
    if (section === "runs" && parts.length >= 3) current = await runPage(page, parts[1], parts.slice(2).join("/"));
    else if (section === "runs") current = await runsPage(page, params);
    else if (section === "agents") current = await agentsPage(page, parts[1], parts[2]);
    else current = await workflowsPage(page, parts[1]);
  } catch (error) {
    replace(page, h("div", { class: "error", role: "alert" }, h("strong", {}, "Could not load this page: "), error.message));
  }
}

function askForKey() {
  const banner = document.getElementById("key-banner");
  if (!banner.hidden) return;
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const form = h("form", {
    class: "key-form",
    onsubmit: (event) => {
      event.preventDefault();
      setKey(input.value.trim());
      banner.hidden = true;
      route();
    },
  },
  h("label", { for: "api-key" }, "This server needs its API key: "), input,
  h("button", { type: "submit" }, "Use key"),
  h("span", { class: "hint" }, " (kept in this tab only)"));
  replace(banner, form);
  banner.hidden = false;
  input.focus();
}

onKeyNeeded(askForKey);
window.addEventListener("hashchange", () => {
  route();
  main.focus({ preventScroll: true });
});
if (!location.hash) history.replaceState(null, "", "#/workflows");
route();
