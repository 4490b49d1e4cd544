// The one place errors reach the user: `#toast` (role=alert, so screen readers announce
// it). It shows the newest message until it is closed or 10 s have passed.

const SHOW_MS = 10_000;
let timer = 0;

/**
 * Shows `message` in `#toast`. `kind` is `error` (default) or `info`.
 * @param {string} message
 * @param {"error"|"info"} [kind]
 */
export function toast(message, kind = "error") {
  const box = document.getElementById("toast");
  const text = document.getElementById("toast-text");
  if (!box || !text) return;
  text.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(timer);
  timer = window.setTimeout(hideToast, SHOW_MS);
}

/** Hides `#toast`. */
export function hideToast() {
  const box = document.getElementById("toast");
  if (box) box.hidden = true;
}
