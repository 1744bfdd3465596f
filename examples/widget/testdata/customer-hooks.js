// Test hooks for the customer's page, injected by the end-to-end test
// through the DevTools protocol (never shipped): the browser's language,
// what the caller hears, the states the page received, and waits on them.
(() => {
  "use strict";
  const lang = LANG; // set by the test
  if (lang) Object.defineProperty(Navigator.prototype, "language", { get: () => lang, configurable: true });
  const T = window.__test = {
    state: {}, states: [], sawRecording: false, waiters: [], sender: null,
    heard: { maxRms: 0, audibleMs: 0, noticeAudibleMs: 0, announceAudibleMs: 0, samples: 0 },
  };
  document.addEventListener("consentrec:state", (e) => {
    const st = e.detail;
    T.state = st;
    T.states.push(st);
    if (st.recording) T.sawRecording = true;
    T.check();
  });
  T.check = () => { for (const w of T.waiters.splice(0)) if (!w()) T.waiters.push(w); };
  // waitFor resolves once pred(state, states) holds, checked at every state.
  T.waitFor = (pred) => new Promise((resolve) => {
    const w = () => { if (pred(T.state, T.states)) { resolve(T.state); return true; } return false; };
    if (!w()) T.waiters.push(w);
  });
  const el = (id) => document.getElementById(id);
  T.click = (id) => { el(id).click(); };
  // press sends keys on the keypad one at a time, each after the last tone
  // has left (RTCDTMFSender's tonechange with an empty tone).
  T.press = async (keys) => {
    for (const k of keys) {
      const done = new Promise((r) => {
        const f = (e) => { if (e.tone === "") { T.sender.dtmf.removeEventListener("tonechange", f); r(); } };
        T.sender.dtmf.addEventListener("tonechange", f);
      });
      [...el("keypad").children].find((b) => b.textContent === k).click();
      await done;
    }
  };
  // What the caller hears: the remote track through an analyser. Time is
  // counted from the clock between samples (capped), not from the timer's
  // nominal period, so a busy machine does not shrink it.
  function measure(stream) {
    const ctx = new AudioContext();
    const an = ctx.createAnalyser();
    an.fftSize = 2048;
    ctx.createMediaStreamSource(stream).connect(an);
    const buf = new Float32Array(an.fftSize);
    let last = performance.now();
    setInterval(() => {
      const now = performance.now(), dt = Math.min(now - last, 100);
      last = now;
      an.getFloatTimeDomainData(buf);
      let e = 0;
      for (const v of buf) e += v * v;
      const rms = Math.sqrt(e / buf.length);
      const h = T.heard;
      h.samples++;
      h.maxRms = Math.max(h.maxRms, rms);
      if (rms > 0.01) {
        h.audibleMs += dt;
        if (T.state.notice === "playing") h.noticeAudibleMs += dt;
        if (T.state.announce === "playing") h.announceAudibleMs += dt;
      }
      T.check();
    }, 40);
  }
  const Orig = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Orig {
    constructor(...a) {
      super(...a);
      this.addEventListener("track", (e) => measure(e.streams[0] || new MediaStream([e.track])));
    }
    addTrack(...a) { const s = super.addTrack(...a); T.sender = s; return s; }
  };
})();
