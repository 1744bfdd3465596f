"use strict";
// The agent console: follows the calls in progress (Server-Sent Events from
// /agent/events) and drives the selected one: record, stop, pause for card
// data, resume (POST /agent/calls/ID/ACTION).
(() => {
  const $ = (id) => document.getElementById(id);
  let calls = [], selected = "";

  const noticeText = { none: "not needed", playing: "playing", done: "heard to the end", interrupted: "interrupted" };
  const mmss = (ms) => `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, "0")}`;

  function render() {
    const sel = $("calls");
    if (!calls.some((c) => c.callId === selected)) selected = calls.length ? calls[calls.length - 1].callId : "";
    sel.replaceChildren(...(calls.length ? calls.map((c) => new Option(`${c.callId} (${c.lang || "?"})`, c.callId, false, c.callId === selected))
      : [new Option("No call in progress", "")]));
    const st = calls.find((c) => c.callId === selected);
    const rec = $("rec");
    rec.className = "indicator" + (st && st.paused ? " paused" : st && st.recording ? " on" : "");
    rec.textContent = !st ? "No call" : st.paused ? "Paused for card data" : st.recording ? "Recording"
      : st.announce === "playing" || st.announce === "requested" ? "Announcing the recording…" : "Not recording";
    $("lang").textContent = st ? st.lang || "unknown" : "–";
    $("notice").textContent = st ? noticeText[st.notice] || st.notice : "–";
    $("policy").textContent = st ? `${st.reason}${st.purpose ? " (" + st.purpose + ")" : ""}${st.pending ? ", waiting for " + st.pending : ""}${st.objected ? ", the customer objected" : ""}` : "–";
    $("recorded").textContent = st ? mmss(st.recordedMs) : "0:00";
    $("record").disabled = !st || st.recording || st.paused || st.objected || st.announce === "playing" || st.announce === "requested" || !(st.candidate || st.purpose);
    $("stop").disabled = !st || !st.recording;
    $("pause").disabled = !st || st.paused;
    $("resume").disabled = !st || !st.paused;
    $("message").textContent = st && st.error ? st.error : "";
    document.body.dataset.selected = selected;
    document.dispatchEvent(new CustomEvent("consentrec:calls", { detail: calls }));
  }

  async function act(action) {
    if (!selected) return;
    const res = await fetch(`/agent/calls/${encodeURIComponent(selected)}/${action}`, { method: "POST" });
    if (!res.ok) $("message").textContent = await res.text();
  }

  $("calls").addEventListener("change", (e) => { selected = e.target.value; render(); });
  for (const a of ["record", "stop", "pause", "resume"]) $(a).addEventListener("click", () => act(a));

  const es = new EventSource("/agent/events");
  es.onopen = () => { $("conn").textContent = "Connected: calls in progress appear below."; };
  es.onerror = () => { $("conn").textContent = "Connection lost; retrying…"; };
  es.onmessage = (e) => { calls = JSON.parse(e.data); render(); };
  render();
})();
