// Small DOM helpers: every text goes in through textContent, never as HTML.

let counter = 0;

/** A fresh element id with the given prefix. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** h("button", {type: "button", onclick: f}, "Send"): an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (strings become text nodes; arrays are flattened; null is skipped). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** JSON, indented, for <pre> blocks. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** "2026-11-27 12:09:30" in local time, or "" for nothing. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration in words: "350 ms", "12 s", "4 min 3 s", "2 h 5 min", "3 d 4 h". */
export function duration(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Run and node states with an icon, so that no state is told by colour alone. */
export const STATES = {
  pending: { icon: "…", label: "pending" },
  running: { icon: "▶", label: "running" },
  waiting: { icon: "✎", label: "waiting for input" },
  completed: { icon: "✓", label: "completed" },
  failed: { icon: "✗", label: "failed" },
  cancelled: { icon: "■", label: "cancelled" },
  "not-run": { icon: "○", label: "not run" },
};

/** <span class="state state-completed">✓ completed</span> */
export function stateBadge(state, extra = "") {
  const known = STATES[state] || { icon: "?", label: state };
  return h("span", { class: `state state-${state}`, dataset: { state } },
    h("span", { "aria-hidden": "true" }, known.icon), ` ${known.label}${extra}`);
}
