// Follows one attempt's log (GET …/steps/{step}/logs, docs/API.md "Logs").
//
// It first asks for the last 64 KiB (`?tail=65536`; when the log is longer, again with
// `Range: bytes=-65536`, whose `Content-Range` gives its length: a suffix range of an
// empty log would answer 416), then, while the step is active, asks every second for
// what was appended: `Range: bytes=N-1-` where N is the length it has. Asking one byte
// before the end it knows means the answer is never 416 when nothing was appended (that
// byte is dropped), so an idle log makes no error in the browser's console. Bytes are
// decoded as UTF-8 as a stream, so a character split between two answers is kept whole.

import { request, report } from "../api.mjs";

const TAIL_BYTES = 65536;
const POLL_MS = 1000;
/** Characters kept in the view; older output is dropped from the top. */
const MAX_CHARS = 2_000_000;

export class LogFollower {
  /**
   * @param {string} path the logs URL without query (…/steps/{step}/logs)
   * @param {number|null} attempt null: the latest
   * @param {HTMLPreElement} pre where the text goes
   * @param {() => boolean} isActive whether the step may still write to the log
   * @param {(attempt: number) => void} onAttempt told the attempt the server answered for
   */
  constructor(path, attempt, pre, isActive, onAttempt) {
    this.url = attempt === null ? path : `${path}?attempt=${attempt}`;
    this.pre = pre;
    this.isActive = isActive;
    this.onAttempt = onAttempt;
    this.length = 0;
    this.decoder = new TextDecoder();
    this.stopped = false;
    this.finished = false;
    this.busy = false;
    this.timer = 0;
    this.controller = new AbortController();
  }

  start() {
    this.pre.textContent = "";
    this.pre.dataset.state = "loading";
    this.busy = true;
    this.fetchTail().finally(() => {
      this.busy = false;
      this.schedule();
    });
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller.abort();
  }

  /** Polls every second while the step is active; once it is not, reads one last time
   * (what was written between the last poll and the end) and stops. */
  schedule() {
    if (this.stopped || this.busy) return;
    clearTimeout(this.timer);
    const active = this.isActive();
    this.pre.dataset.state = active ? "following" : "complete";
    if (!active && this.finished) return;
    this.finished = !active;
    this.timer = window.setTimeout(() => {
      this.busy = true;
      this.fetchMore().finally(() => {
        this.busy = false;
        this.schedule();
      });
    }, active ? POLL_MS : 0);
  }

  /** The step's state changed: follow again if it became active after polling stopped. */
  poke() {
    if (!this.stopped && this.finished && this.isActive()) {
      this.finished = false;
      this.schedule();
    }
  }

  async fetchTail() {
    try {
      let response = await request(`${this.url}${this.url.includes("?") ? "&" : "?"}tail=${TAIL_BYTES}`, {
        signal: this.controller.signal,
        accept: [404],
      });
      if (response.status === 404) {
        await response.body?.cancel();
        this.pre.textContent = "";
        this.pre.dataset.empty = "no log yet";
        return;
      }
      let bytes = new Uint8Array(await response.arrayBuffer());
      let range = null;
      if (bytes.length >= TAIL_BYTES) {
        // A longer log: ask again with a suffix range, whose Content-Range gives the length.
        response = await request(this.url, { headers: { Range: `bytes=-${TAIL_BYTES}` }, signal: this.controller.signal });
        bytes = new Uint8Array(await response.arrayBuffer());
        range = parseContentRange(response.headers.get("Content-Range"));
      }
      this.noteAttempt(response);
      this.length = range ? range.length : bytes.length;
      const head = range && range.first > 0 ? `… (${range.first} earlier bytes not shown)\n` : "";
      this.show(head + this.decoder.decode(bytes, { stream: true }), true);
    } catch (e) {
      if (!this.stopped) report(e);
    }
  }

  async fetchMore() {
    try {
      const from = Math.max(0, this.length - 1);
      const response = await request(this.url, {
        headers: this.length > 0 ? { Range: `bytes=${from}-` } : {},
        signal: this.controller.signal,
        accept: [404, 416],
      });
      if (response.status === 404 || response.status === 416) {
        await response.body?.cancel();
        return;
      }
      this.noteAttempt(response);
      let bytes = new Uint8Array(await response.arrayBuffer());
      const range = parseContentRange(response.headers.get("Content-Range"));
      if (response.status === 206 && range && this.length > 0) {
        bytes = bytes.subarray(this.length - range.first);
        this.length = range.length;
      } else {
        // A whole log (200): start over with it.
        this.length = bytes.length;
        this.decoder = new TextDecoder();
        this.pre.textContent = "";
      }
      if (bytes.length > 0) this.show(this.decoder.decode(bytes, { stream: true }), false);
    } catch (e) {
      if (!this.stopped) report(e);
    }
  }

  noteAttempt(response) {
    const attempt = Number(response.headers.get("X-Pipeline-Attempt"));
    if (Number.isInteger(attempt) && attempt > 0) this.onAttempt(attempt);
  }

  show(text, replace) {
    const pre = this.pre;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    delete pre.dataset.empty;
    if (replace) pre.textContent = text;
    else pre.append(text);
    if (pre.textContent.length > MAX_CHARS) pre.textContent = pre.textContent.slice(-MAX_CHARS);
    if (pre.textContent === "") pre.dataset.empty = this.isActive() ? "nothing written yet; following" : "the log is empty";
    if (atBottom || replace) pre.scrollTop = pre.scrollHeight;
  }
}

/** `bytes FIRST-LAST/LENGTH` -> {first, last, length}, or null. */
export function parseContentRange(value) {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value ?? "");
  return match ? { first: Number(match[1]), last: Number(match[2]), length: Number(match[3]) } : null;
}
