// A run's state rebuilt from its events, as the graph, the header and the forms show it.
// Node states follow RunOverlay.from_events (rendering/overlay.py). An edge is taken to have
// carried a message when its target started in the superstep right after its source finished
// (a request port "finishes" when its response arrives); fan-in edges when their barrier fired.

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export class RunState {
  /** `graph`: {nodes, edges} of the dashboard graph endpoint. */
  constructor(graph) {
    this.graph = graph;
    this.nodes = new Map(); // node id -> {status, count}
    this.edges = new Map(); // edge index -> messages carried
    this.pending = new Map(); // request id -> waiting_for_input event
    this.status = "pending";
    this.superstep = 0;
    this.lastSequence = 0;
    this.error = null;
    this.result = undefined;
    this.finishedAt = new Map(); // node id -> supersteps its outputs left in
    this.incoming = new Map(); // node id -> [[edge indices of one path], source id, via barrier]
    const kinds = new Map(graph.nodes.map((n) => [n.id, n.kind]));
    const helper = (id) => ["fork", "switch", "barrier", "start"].includes(kinds.get(id));
    graph.edges.forEach((edge, index) => {
      if (helper(edge.target)) return;
      if (helper(edge.source) && kinds.get(edge.source) !== "start") {
        graph.edges.forEach((first, firstIndex) => {
          if (first.target !== edge.source) return;
          this._path(edge.target, [firstIndex, index], first.source, kinds.get(edge.source) === "barrier");
        });
      } else {
        this._path(edge.target, [index], edge.source, false);
      }
    });
  }

  _path(target, edges, source, barrier) {
    if (!this.incoming.has(target)) this.incoming.set(target, []);
    this.incoming.get(target).push({ edges, source, barrier });
  }

  get active() {
    return !TERMINAL.has(this.status);
  }

  node(id) {
    return this.nodes.get(id) || { status: "not-run", count: 0 };
  }

  _set(id, status, bump = false) {
    const run = this.node(id);
    this.nodes.set(id, { status, count: run.count + (bump ? 1 : 0) });
  }

  _activated(id, superstep) {
    for (const path of this.incoming.get(id) || []) {
      const finished = this.finishedAt.get(path.source) || [];
      const carried = path.source === "start:" ? superstep === 1
        : path.barrier ? finished.some((s) => s < superstep) : finished.includes(superstep - 1);
      if (carried) path.edges.forEach((e) => this.edges.set(e, (this.edges.get(e) || 0) + 1));
    }
  }

  _finished(id, superstep) {
    if (!this.finishedAt.has(id)) this.finishedAt.set(id, []);
    this.finishedAt.get(id).push(superstep);
  }

  /** Apply one event (the JSON of the SSE stream); returns this. */
  apply(event) {
    if (typeof event.sequence === "number") this.lastSequence = Math.max(this.lastSequence, event.sequence);
    const nodeId = event.executorId || event.portId || event.delayId;
    switch (event.type) {
      case "workflow_started":
        if (this.status === "pending") this.status = "running";
        break;
      case "executor_invoked":
        this.superstep = Math.max(this.superstep, event.superstep || 0);
        this._set(nodeId, "running", true);
        this._activated(nodeId, event.superstep || 0);
        if (this.status === "pending") this.status = "running";
        break;
      case "executor_completed":
        this._set(nodeId, "completed");
        this._finished(nodeId, event.superstep || 0);
        break;
      case "executor_failed":
        this._set(nodeId, "failed");
        break;
      case "waiting_for_input": {
        const superstep = Number(String(event.requestId).split(":")[1]) || this.superstep;
        this.superstep = Math.max(this.superstep, superstep);
        this.pending.set(event.requestId, event);
        this._set(nodeId, "waiting", true);
        this._activated(nodeId, superstep);
        this.status = "waiting";
        break;
      }
      case "delay_started": {
        const superstep = Number(String(event.timerId).split(":")[1]) || this.superstep;
        this.superstep = Math.max(this.superstep, superstep);
        this._set(nodeId, "waiting", true);
        this._activated(nodeId, superstep);
        break;
      }
      case "delay_elapsed":
        this._set(nodeId, "completed");
        this._finished(nodeId, this.superstep);
        break;
      case "response_received":
      case "request_timed_out":
        this.pending.delete(event.requestId);
        if (![...this.pending.values()].some((p) => p.portId === nodeId)) this._set(nodeId, "completed");
        this._finished(nodeId, this.superstep);
        if (this.pending.size === 0 && this.active) this.status = "running";
        break;
      case "workflow_completed":
        this.status = "completed";
        this.result = event.result;
        this.pending.clear();
        break;
      case "workflow_failed":
        this.status = "failed";
        this.error = { type: event.errorType, message: event.error, executorId: event.executorId };
        if (event.executorId) this._set(event.executorId, "failed");
        this.pending.clear();
        break;
      default:
        break;
    }
    return this;
  }
}
