// `#connection`: whether the page receives live events. Every open event stream reports
// its state here; the indicator shows the worst: `offline` (the server has not answered
// for several attempts, or the browser is offline), `reconnecting` (a stream is being
// re-established, or still connecting), else `live`.

const LABELS = { live: "live", reconnecting: "reconnecting…", offline: "offline" };
const streams = new Map();
let nextKey = 1;

/** Registers a stream; returns the `onState` callback for it and a function removing it. */
export function track() {
  const key = nextKey++;
  streams.set(key, "reconnecting");
  render();
  return {
    onState: (state) => {
      if (state === "closed") streams.delete(key);
      else streams.set(key, state === "connecting" ? "reconnecting" : state);
      render();
    },
    untrack: () => {
      streams.delete(key);
      render();
    },
  };
}

function render() {
  const el = document.getElementById("connection");
  if (!el) return;
  const states = [...streams.values()];
  const state = states.includes("offline")
    ? "offline"
    : states.includes("reconnecting")
      ? "reconnecting"
      : "live";
  if (el.dataset.state === state) return;
  el.dataset.state = state;
  el.querySelector(".connection-label").textContent = LABELS[state];
  el.title = state === "live" ? "Receiving live events" : "Not receiving live events; retrying";
}
