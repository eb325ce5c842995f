// Calls to the HTTP API (relative URLs, so the dashboard works under any prefix), with the API
// key, when the server wants one, kept in this tab's sessionStorage.

const KEY = "durable_workflows.apiKey";
const listeners = new Set();

/** Called with no argument when the server asks for an API key. */
export function onKeyNeeded(listener) {
  listeners.add(listener);
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...extra, "x-api-key": key } : extra;
}

/** An API error: `status`, and the server's `type`, `message` and `details`. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.type = error.type || "HTTPError";
    this.details = error.details || null;
  }
}

/** fetch `path` (relative to the page) and return its JSON; throws ApiError on 4xx/5xx. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = headers({ "content-type": "application/json" });
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: { message: text } };
  }
  if (response.status === 401) listeners.forEach((listener) => listener());
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/**
 * Follow a Server-Sent Events stream with fetch (EventSource cannot send the API key).
 * `onEvent({id, event, data})` for each event; resumes after `from` and reconnects after a
 * dropped connection with Last-Event-ID. Resolves when the server ends the stream; returns
 * {close()} to stop early.
 */
export function follow(path, { from = 0, onEvent, onError, onEnd }) {
  const controller = new AbortController();
  let last = from;
  let closed = false;

  async function once() {
    const response = await fetch(`${path}?from=${last}`, {
      headers: headers({ accept: "text/event-stream" }),
      signal: controller.signal,
    });
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch { body = null; }
      if (response.status === 401) listeners.forEach((listener) => listener());
      throw new ApiError(response.status, body);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const message = { id: null, event: "message", data: "" };
        for (const line of frame.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") message.id = text;
          else if (field === "event") message.event = text;
          else if (field === "data") message.data += (message.data ? "\n" : "") + text;
        }
        if (!message.data) continue;
        if (message.id !== null && /^\d+$/.test(message.id)) last = Number(message.id);
        onEvent({ ...message, data: JSON.parse(message.data) });
      }
    }
  }

  (async () => {
    let failures = 0;
    while (!closed) {
      try {
        await once();
        break; // the server ended the stream: the run is over
      } catch (error) {
        if (closed || error.name === "AbortError") return;
        if (error instanceof ApiError) {
          if (onError) onError(error);
          return;
        }
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * failures)));
      }
    }
    if (!closed && onEnd) onEnd();
  })();

  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}
