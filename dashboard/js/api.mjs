// The client of pipeline's REST API (docs/API.md): the only way the page learns or
// changes anything. Every request carries `Authorization: Bearer <token>` once the user
// has given one (kept in sessionStorage under `pipeline.token`, never in a URL). A 401
// opens the token dialog (one dialog however many requests were refused at once) and
// retries with the new token. Errors become `ApiError`s carrying the API's code and
// message; callers show them with `report`.

import { askToken } from "./dialogs.mjs";
import { toast } from "./toast.mjs";

const TOKEN_KEY = "pipeline.token";

/** An API error: `status` (HTTP, 0 when the server could not be reached), `code` (the
 * API's error code, e.g. `unknown_run`), `message` (its words), `body` (the parsed JSON). */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** The token of this session, or null. */
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

let tokenPrompt = null;

/**
 * Asks the user for a token after a 401 (one dialog for every refused request at that
 * moment); resolves true when a new token was stored.
 * @returns {Promise<boolean>}
 */
export function renewToken() {
  if (!tokenPrompt) {
    const hadToken = token() !== null;
    tokenPrompt = askToken(hadToken).then((value) => {
      tokenPrompt = null;
      if (!value) return false;
      sessionStorage.setItem(TOKEN_KEY, value);
      return true;
    });
  }
  return tokenPrompt;
}

/** The request headers with the token when there is one. */
export function authHeaders(extra = {}) {
  const headers = new Headers(extra);
  const t = token();
  if (t) headers.set("Authorization", `Bearer ${t}`);
  return headers;
}

/**
 * Sends one request; on 401 asks for the token once and sends it again.
 * Resolves with the Response when its status is 2xx (or in `accept`); else rejects
 * with an ApiError. `init.headers` is a plain object.
 * @param {string} path e.g. "/api/runs"
 * @param {RequestInit & {accept?: number[]}} [init]
 * @returns {Promise<Response>}
 */
export async function request(path, init = {}) {
  const { accept = [], ...rest } = init;
  for (let tries = 0; ; tries++) {
    let response;
    try {
      response = await fetch(path, { ...rest, headers: authHeaders(rest.headers ?? {}) });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(0, "unreachable", "cannot reach the pipeline server (is `pipeline serve` running?)", null);
    }
    if (response.status === 401 && tries < 3 && (await renewToken())) continue;
    if (response.ok || accept.includes(response.status)) return response;
    throw await errorOf(response);
  }
}

/** The ApiError for a non-2xx response (the API's JSON error, or the status text). */
async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  return new ApiError(
    response.status,
    error.code ?? `http_${response.status}`,
    error.message ?? `${response.status} ${response.statusText}`,
    body,
  );
}

/** GET `path` and parse JSON. */
export async function getJson(path, init = {}) {
  const response = await request(path, init);
  return response.json();
}

/** POST `body` as JSON to `path` and parse the JSON answer. */
export async function postJson(path, body = {}) {
  const response = await request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

/** Shows an error in #toast (ignores aborted requests, which are the page's own doing). */
export function report(error) {
  if (error instanceof DOMException && error.name === "AbortError") return;
  const message = error instanceof Error ? error.message : String(error);
  toast(message);
}

/** `/api/runs/{run}` with the run id encoded. */
export function runPath(run) {
  return `/api/runs/${encodeURIComponent(run)}`;
}

/** `/api/runs/{run}/steps/{step}` with the step id's `/` encoded as `%2F` (docs/API.md). */
export function stepPath(run, step) {
  return `${runPath(run)}/steps/${encodeURIComponent(step)}`;
}
