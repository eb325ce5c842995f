// Agents: the hosted agents, their threads, a thread's conversation (tool calls included when
// the messages carry them), and a box to send the next message.

import { api } from "./api.js";
import { h, pretty, replace, when } from "./dom.js";
import { errorBlock, submitting } from "./page-workflows.js";

const enc = encodeURIComponent;

function content(value) {
  if (typeof value === "string") return h("div", { class: "content" }, value);
  return h("pre", { class: "json" }, pretty(value));
}

/** One message: its role, its text, and its tool calls or tool result when it has them. */
function message(m) {
  const calls = m.toolCalls || m.tool_calls || [];
  const role = m.role === "tool" ? `tool result${m.name ? ` (${m.name})` : ""}` : m.role;
  return h("li", { class: `message role-${m.role}`, dataset: { role: m.role } },
    h("div", { class: "role" }, role),
    m.content !== undefined && m.content !== null && m.content !== "" ? content(m.content) : null,
    calls.length ? h("ul", { class: "tool-calls", "aria-label": "Tool calls" }, calls.map((call) => {
      const fn = call.function || call;
      return h("li", {}, h("span", { class: "tool" }, "⚙ ", fn.name || "tool"), " ",
        h("code", {}, typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments || {})));
    })) : null);
}

function sendForm(agent, threadId, onReply) {
  const box = h("textarea", { id: "agent-message", rows: 3, required: true });
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const form = h("form", { class: "send-form", novalidate: true, "aria-label": `Message to ${agent}` },
    h("label", { for: "agent-message" }, threadId ? "Next message" : "First message of a new thread"),
    box,
    h("button", { type: "submit" }, "Send"),
    status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!box.value.trim()) {
      replace(status, h("div", { class: "error", role: "alert" }, "Write a message first."));
      box.focus();
      return;
    }
    submitting(form, status, async () => {
      replace(status, h("p", { class: "muted" }, "Waiting for the reply…"));
      const body = threadId ? { message: box.value, threadId } : { message: box.value };
      const reply = await api(`api/agents/${enc(agent)}/run`, { method: "POST", body });
      box.value = "";
      replace(status);
      onReply(reply);
    });
  });
  return form;
}

export async function agentsPage(page, agentName, threadId) {
  const { agents } = await api("api/agents");
  replace(page, h("h1", {}, "Agents"));
  if (!agents.length) {
    page.append(h("p", {}, "This server hosts no agents. Serve one with `durable-workflows serve module:agent`."));
    return null;
  }
  const agent = agentName || agents[0].name;
  const list = h("nav", { "aria-label": "Agents" }, h("ul", { class: "agents" }, agents.map((a) =>
    h("li", {}, h("a", { href: `#/agents/${enc(a.name)}`, "aria-current": a.name === agent ? "page" : false }, a.name)))));
  const threadsBox = h("div", { class: "threads" }, h("p", { class: "muted" }, "Loading threads…"));
  const conversation = h("section", { class: "card conversation", "aria-labelledby": "thread-title" });
  page.append(h("div", { class: "columns agents-layout" },
    h("div", { class: "side card" }, h("h2", {}, "Agents"), list, h("h2", {}, `Threads of ${agent}`), threadsBox),
    conversation));

  api(`api/agents/${enc(agent)}/threads`).then(({ threads }) => {
    replace(threadsBox,
      h("p", {}, h("a", { href: `#/agents/${enc(agent)}` }, "+ New thread")),
      threads.length
        ? h("ul", { class: "thread-list" }, threads.map((t) => h("li", {},
          h("a", { href: `#/agents/${enc(agent)}/${enc(t.threadId)}`, "aria-current": t.threadId === threadId ? "page" : false }, t.threadId),
          h("span", { class: "muted" }, ` ${when(t.lastModified)}`))))
        : h("p", { class: "muted" }, "No threads yet."));
  }).catch((error) => replace(threadsBox, errorBlock(error)));

  const messages = h("ol", { class: "messages", id: "messages", "aria-live": "polite" });
  const goTo = (reply) => {
    if (!threadId) {
      location.hash = `#/agents/${enc(agent)}/${enc(reply.threadId)}`;
      return;
    }
    loadThread();
  };
  async function loadThread() {
    try {
      const history = await api(`api/agents/${enc(agent)}/threads/${enc(threadId)}`);
      replace(messages, history.messages.map(message));
    } catch (error) {
      replace(messages, h("li", {}, errorBlock(error)));
    }
  }
  replace(conversation,
    h("h2", { id: "thread-title" }, threadId ? ["Thread ", h("code", {}, threadId)] : `New thread with ${agent}`),
    messages,
    sendForm(agent, threadId, goTo));
  if (threadId) await loadThread();
  return null;
}
