// The workflow's SVG (drawn by graphviz on the server, with ids dw-n<i> / dw-e<i>), and a run
// drawn on it: each node gets a status class and a badge with an icon, its status in words
// and how often it ran ("✓ completed ×2"); edges that carried messages get the class
// "carried" (thicker).

import { h, STATES } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const DRAWN = new Set(["executor", "agent", "port", "delay", "workflow"]);

/** Put the graph into `container`; returns a view with draw(runState), or null without SVG. */
export function showGraph(container, graph, { caption } = {}) {
  if (!graph.svg) {
    container.replaceChildren(h("p", { class: "notice", role: "note" },
      "The graph cannot be drawn on this server: ", graph.renderError || "no graphviz program."));
    return null;
  }
  const template = document.createElement("template");
  template.innerHTML = graph.svg;
  const svg = template.content.querySelector("svg");
  svg.removeAttribute("height"); // natural width, at most the box's (style.css), height to scale
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", caption || "workflow graph");
  svg.classList.add("graph");
  container.replaceChildren(svg);
  return new GraphView(svg, graph);
}

class GraphView {
  constructor(svg, graph) {
    this.svg = svg;
    this.nodes = graph.nodes.filter((n) => DRAWN.has(n.kind)).map((n) => ({ ...n, el: svg.getElementById(n.domId) }))
      .filter((n) => n.el);
    this.edges = graph.edges.map((e) => ({ ...e, el: svg.getElementById(e.domId) }));
    for (const node of this.nodes) node.el.dataset.node = node.id;
  }

  /** Draw `state` (a RunState) on the graph. */
  draw(state) {
    for (const node of this.nodes) {
      const run = state.node(node.id);
      node.el.setAttribute("class", `node dw-node status-${run.status}`);
      node.el.dataset.status = run.status;
      node.el.dataset.count = String(run.count);
      this._badge(node, run);
    }
    this.edges.forEach((edge, index) => {
      if (!edge.el) return;
      const carried = state.edges.get(index) || 0;
      edge.el.classList.toggle("carried", carried > 0);
      edge.el.dataset.carried = String(carried);
    });
  }

  _badge(node, run) {
    let badge = node.el.querySelector(".badge");
    if (run.status === "not-run") {
      if (badge) badge.remove();
      return;
    }
    const shape = node.el.querySelector("polygon, path, ellipse");
    if (!badge) {
      badge = document.createElementNS(SVG, "g");
      badge.setAttribute("class", "badge");
      badge.append(document.createElementNS(SVG, "rect"), document.createElementNS(SVG, "text"));
      node.el.append(badge);
    }
    const known = STATES[run.status] || { icon: "?", label: run.status };
    const label = `${known.icon} ${known.label}${run.count ? ` ×${run.count}` : ""}`; // as RunOverlay's DOT
    const text = badge.querySelector("text");
    text.textContent = label;
    const box = (shape || node.el).getBBox();
    const right = box.x + box.width;
    text.setAttribute("x", String(right - 4));
    text.setAttribute("y", String(box.y - 3)); // just above the node's top border
    text.setAttribute("text-anchor", "end");
    const size = text.getBBox();
    const rect = badge.querySelector("rect");
    rect.setAttribute("x", String(size.x - 4));
    rect.setAttribute("y", String(size.y - 1));
    rect.setAttribute("width", String(size.width + 8));
    rect.setAttribute("height", String(size.height + 2));
    rect.setAttribute("rx", "6");
    badge.setAttribute("class", `badge badge-${run.status}`);
  }
}
