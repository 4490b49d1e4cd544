// Modal dialogs of index.html: `dialog#confirm` for destructive actions and
// `dialog#token-dialog` asking for the server's token. Both are native <dialog>s opened
// with showModal(), so focus is trapped inside and Escape closes them.

/**
 * Asks the user to confirm `message`; resolves true only on `#confirm-ok`.
 * @param {string} title
 * @param {string} message
 * @param {string} okLabel the confirming button's text ("Cancel run", "Reject", ...)
 * @returns {Promise<boolean>}
 */
export function confirmAction(title, message, okLabel) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("confirm"));
  const ok = /** @type {HTMLButtonElement} */ (document.getElementById("confirm-ok"));
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-message").textContent = message;
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

/**
 * Asks for the API token; resolves with it (trimmed), or null when the user closes
 * the dialog without one. `retry` says a token was sent and refused.
 * @param {boolean} retry
 * @returns {Promise<string|null>}
 */
export function askToken(retry) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("token-dialog"));
  const input = /** @type {HTMLInputElement} */ (document.getElementById("token-input"));
  const note = document.getElementById("token-note");
  note.textContent = retry
    ? "The server refused this token. Enter the token of `pipeline serve`."
    : "This server needs a token (the one given to `pipeline serve` with --token-file or PIPELINE_SERVE_TOKEN).";
  input.value = "";
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" && input.value.trim() ? input.value.trim() : null),
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}

/** Wires the dialogs' buttons once (index.html holds the dialogs themselves). */
export function setUpDialogs() {
  const confirm = /** @type {HTMLDialogElement} */ (document.getElementById("confirm"));
  document.getElementById("confirm-ok").addEventListener("click", () => confirm.close("ok"));
  document.getElementById("confirm-cancel").addEventListener("click", () => confirm.close("cancel"));
  const tokenDialog = /** @type {HTMLDialogElement} */ (document.getElementById("token-dialog"));
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    tokenDialog.close("ok");
  });
}
