// Server-sent events read with fetch (docs/API.md, "The event stream").
//
// EventSource cannot send an Authorization header, so the stream is read from a fetch
// response body: lines are split on CR, LF or CRLF; `id:`, `event:` and `data:` fields
// accumulate until a blank line dispatches the event; `:` lines (the server's 15 s
// keep-alive comments) and unknown fields are ignored, as the HTML standard says.
// When the stream ends or fails (server restart, network), it reconnects after a backoff
// of 0.5 s doubling to 5 s with ±25 % jitter, sending `Last-Event-ID` with the id of the
// last event seen, so the server resumes right after it: nothing lost, nothing repeated.
// A 401 asks for the token (api.renewToken) and reconnects at once.

import { authHeaders, renewToken } from "./api.mjs";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5000;
/** Failed connection attempts in a row after which the state reads `offline`. */
const OFFLINE_AFTER = 5;

/**
 * One followed stream.
 * - `onEvent({id, event, data})`: `data` is the parsed JSON journal entry
 *   (docs/EVENTS.md); entries that are not JSON are skipped.
 * - `onState(state)`: `connecting` | `live` | `reconnecting` | `offline` | `closed`.
 * - `onOpen()`: each time a connection is established (after a reconnect, too).
 */
export class EventStream {
  /**
   * @param {string} path e.g. "/api/events" or "/api/runs/R/events"
   * @param {{onEvent: (e: {id: string, event: string, data: any}) => void,
   *          onState?: (state: string) => void, onOpen?: () => void}} handlers
   */
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.lastEventId = "";
    this.state = "connecting";
    this.controller = null;
    this.stopped = false;
    this.failures = 0;
    this.wake = null;
    this.onOnline = () => this.wake?.();
  }

  /** Starts following (returns at once; the loop runs until `stop`). */
  start() {
    window.addEventListener("online", this.onOnline);
    this.loop();
    return this;
  }

  /** Stops following and closes the connection. */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    this.controller?.abort();
    this.wake?.();
    this.setState("closed");
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.handlers.onState?.(state);
  }

  async loop() {
    let delay = FIRST_DELAY_MS;
    while (!this.stopped) {
      let connected = false;
      try {
        connected = await this.connectOnce();
      } catch {
        connected = false;
      }
      if (this.stopped) break;
      if (connected) {
        this.failures = 0;
        delay = FIRST_DELAY_MS;
      } else {
        this.failures += 1;
      }
      this.setState(this.failures >= OFFLINE_AFTER || !navigator.onLine ? "offline" : "reconnecting");
      const jittered = delay * (0.75 + Math.random() * 0.5);
      await new Promise((resolve) => {
        const timer = window.setTimeout(resolve, jittered);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  /** One connection: resolves true when it was established (then ended), false when not. */
  async connectOnce() {
    this.controller = new AbortController();
    const headers = { Accept: "text/event-stream" };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    const response = await fetch(this.path, {
      headers: authHeaders(headers),
      signal: this.controller.signal,
      cache: "no-store",
    });
    if (response.status === 401) {
      await response.body?.cancel();
      if (await renewToken()) return this.connectOnce();
      return false;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      return false;
    }
    this.setState("live");
    this.handlers.onOpen?.();
    await this.read(response.body);
    return true;
  }

  /** Reads the body to its end, dispatching each complete event. */
  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let id = null;
    let event = "";
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.stopped) break;
      buffer += value;
      let cut;
      while ((cut = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A lone CR at the very end may be the first half of CRLF: wait for more.
        if (buffer[cut] === "\r" && cut === buffer.length - 1) break;
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + (buffer.startsWith("\r\n", cut) ? 2 : 1));
        if (line === "") {
          if (id !== null) this.lastEventId = id;
          if (data.length > 0) this.dispatch(this.lastEventId, event || "message", data.join("\n"));
          id = null;
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "id" && !text.includes("\0")) id = text;
        else if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
    }
  }

  dispatch(id, event, text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    this.handlers.onEvent({ id, event, data });
  }
}
