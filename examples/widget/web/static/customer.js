"use strict";
// The customer's support widget: calls the server over WebRTC, shows
// whether the call is recorded, sends "I object" and the keypad's keys
// (RFC 4733 telephone-events through RTCDTMFSender). Every state the server
// sends is also dispatched on document as a "consentrec:state" event, for
// the host page (and tests) to follow.
(() => {
  const $ = (id) => document.getElementById(id);
  const root = $("widget");
  let pc = null, dc = null, dtmf = null, live = false;

  const say = (s) => { $("status").textContent = s; };

  function show(st) {
    const rec = $("rec");
    rec.className = "indicator" + (st.paused ? " paused" : st.recording ? " on" : "");
    rec.textContent = st.paused ? "Recording paused" : st.recording ? "Recording" : "Not recording";
    let s = st.notice === "playing" ? "Connected. Please listen to the message about recording." : "Connected.";
    if (st.objected) s += " You objected: this call is not recorded.";
    else if (st.announce === "playing") s += " This call is now being recorded.";
    else if (st.paused) s += " Recording is paused: you can give your card details now.";
    else if (st.recording) s += " This call is being recorded; you can object at any time.";
    else if (st.pending.includes("consent")) s += " Press 1 to agree to recording, 9 to refuse.";
    say(s);
    $("object").disabled = !live || st.objected;
    document.dispatchEvent(new CustomEvent("consentrec:state", { detail: st }));
  }

  async function call() {
    $("call").disabled = true;
    say("Calling…");
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    pc = new RTCPeerConnection();
    const sender = pc.addTrack(mic.getAudioTracks()[0], mic);
    dtmf = sender.dtmf;
    pc.ontrack = (e) => { $("remote").srcObject = e.streams[0] || new MediaStream([e.track]); };
    dc = pc.createDataChannel("control");
    dc.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type === "state") show(m); };
    pc.onconnectionstatechange = () => { if (["failed", "closed"].includes(pc.connectionState)) ended(); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => {
      if (pc.iceGatheringState === "complete") r();
      else pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r();
    });
    const res = await fetch("/offer", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, lang: navigator.language || "" }) });
    if (!res.ok) throw new Error(await res.text());
    const ans = await res.json();
    await pc.setRemoteDescription({ type: "answer", sdp: ans.sdp });
    live = true;
    $("hangup").disabled = false;
    $("object").disabled = false;
    for (const b of $("keypad").children) b.disabled = false;
    say("Connecting…");
  }

  function send(m) { if (dc && dc.readyState === "open") dc.send(JSON.stringify(m)); }

  function hangup() {
    send({ type: "hangup" });
    const p = pc;
    setTimeout(() => p && p.close(), 500); // let the message leave first
    ended();
  }

  function ended() {
    if (!live) return;
    live = false;
    $("call").disabled = false;
    $("hangup").disabled = true;
    $("object").disabled = true;
    for (const b of $("keypad").children) b.disabled = true;
    $("rec").className = "indicator";
    $("rec").textContent = "Not recording";
    say("Call ended. Thank you.");
    $("call").focus();
  }

  $("call").addEventListener("click", () => call().catch((e) => { say("The call failed: " + e.message); $("call").disabled = false; }));
  $("hangup").addEventListener("click", hangup);
  $("object").addEventListener("click", () => send({ type: "object" }));
  for (const k of "123456789*0#") {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = k;
    b.disabled = true;
    b.setAttribute("aria-label", k === "*" ? "star" : k === "#" ? "hash" : k);
    b.addEventListener("click", () => dtmf && dtmf.insertDTMF(k, 120, 80));
    $("keypad").append(b);
  }
  root.dataset.ready = "true";
})();
