// Test hooks for the agent console, injected by the end-to-end test
// through the DevTools protocol (never shipped).
(() => {
  "use strict";
  const A = window.__agent = { calls: [], waiters: [] };
  document.addEventListener("consentrec:calls", (e) => {
    A.calls = e.detail;
    for (const w of A.waiters.splice(0)) if (!w()) A.waiters.push(w);
  });
  A.waitFor = (pred) => new Promise((resolve) => {
    const w = () => { if (pred(A.calls)) { resolve(true); return true; } return false; };
    if (!w()) A.waiters.push(w);
  });
  // enabled waits for a button to be enabled (the console renders after
  // every change), then focuses it.
  A.enabled = async (id) => {
    const b = document.getElementById(id);
    await A.waitFor(() => !b.disabled);
    b.focus();
    return document.activeElement === b;
  };
  A.selected = () => document.body.dataset.selected || "";
})();
