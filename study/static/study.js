/* crnkit participant page: consent, practice with feedback, timed trials, completion.
 *
 * Timing: both images are preloaded and decoded before a trial; after a fixation mark they are
 * made visible in one requestAnimationFrame callback (the "show frame"), hidden on the first
 * frame at which elapsed >= target - frame/2 (the "hide frame") and replaced by a noise mask in
 * the same callback. Measured exposure = hide-frame timestamp - show-frame timestamp. Answers
 * are accepted only from the frame after the mask went up (unlimited: after the images did).
 * No inline script or handlers anywhere: the page runs under a strict Content-Security-Policy.
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("study-config").textContent);
  const $ = (id) => document.getElementById(id);
  const SCREENS = [
    "screen-loading", "screen-consent", "screen-resume", "screen-size", "screen-message",
    "screen-trial", "screen-save-error", "screen-done", "screen-error",
  ];
  const TRIAL_PHASES = new Set(["fixation", "stimulus", "mask", "response"]);
  const FRAME_SAMPLES = 30;
  const TRIES = 6; // 0.5 + 1 + 2 + 4 + 8 s of backoff before the person is asked to retry
  const MAX_EVENTS = 50;

  const run = {
    token: null,
    frameMs: 1000 / 60,
    total: 0,
    trial: null,
    accepting: false,
    focusLost: false,
    onChoice: null,
    onContinue: null,
    events: [],
    memory: {},
  };

  class FatalError extends Error {}

  // ------------------------------------------------------------------ page state

  function setPhase(phase) {
    document.body.dataset.phase = phase;
  }

  function show(id) {
    for (const screen of SCREENS) $(screen).classList.toggle("hidden", screen !== id);
  }

  function fail(message) {
    run.accepting = false;
    $("error-text").textContent = message;
    show("screen-error");
    setPhase("error");
  }

  function updateProgress(answered) {
    $("progress-row").classList.remove("hidden");
    $("progress").max = Math.max(run.total, 1);
    $("progress").value = answered;
    $("progress-text").textContent = `${Math.min(answered + 1, run.total)} / ${run.total}`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const round3 = (x) => Math.round(x * 1000) / 1000;

  // ------------------------------------------------------------------ token storage

  function storageKey() {
    const who = Object.keys(cfg.params).sort().map((k) => `${k}=${cfg.params[k]}`).join("&");
    return `crnkit:${cfg.study_id}:${cfg.platform}:${who}`;
  }

  function loadToken() {
    try {
      return window.localStorage.getItem(storageKey());
    } catch (err) {
      // Storage can be blocked in a third-party iframe (MTurk); keep the token in memory.
      return run.memory[storageKey()] || null;
    }
  }

  function saveToken(token) {
    run.memory[storageKey()] = token;
    try {
      window.localStorage.setItem(storageKey(), token);
    } catch (err) {
      /* memory only */
    }
  }

  // ------------------------------------------------------------------ server calls

  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (run.token) headers.Authorization = `Bearer ${run.token}`;
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    });
    let data;
    try {
      data = await res.json();
    } catch (err) {
      data = { error: `unreadable reply from the server (HTTP ${res.status})` };
    }
    return { status: res.status, data };
  }

  // Network failures, 5xx and 429 are retried with exponential backoff; other replies are final.
  async function requestWithRetry(method, path, body, tries) {
    let delay = 500;
    for (let attempt = 1; ; attempt += 1) {
      let reply = null;
      try {
        reply = await request(method, path, body);
      } catch (err) {
        reply = null;
      }
      if (reply && reply.status < 500 && reply.status !== 429) return reply;
      if (attempt >= tries) {
        return reply || { status: 0, data: { error: "no connection to the server" } };
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }

  function recordEvent(type, detail) {
    run.events.push({
      type,
      trial_id: run.trial ? run.trial.id : null,
      detail: detail === undefined || detail === null ? null : String(detail).slice(0, 500),
    });
    if (run.events.length >= MAX_EVENTS) flushEvents();
  }

  function flushEvents() {
    if (!run.token || run.events.length === 0) return;
    const batch = run.events.splice(0, MAX_EVENTS);
    request("POST", "api/events", { events: batch }).catch(() => {
      /* events are best effort; answers carry focus_lost themselves */
    });
  }

  // ------------------------------------------------------------------ input

  function waitContinue(button) {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        button.removeEventListener("click", finish);
        run.onContinue = null;
        if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
        resolve();
      };
      button.addEventListener("click", finish);
      run.onContinue = finish;
    });
  }

  function setButtons(enabled) {
    $("choose-left").disabled = !enabled;
    $("choose-right").disabled = !enabled;
  }

  function choose(side, stamp) {
    if (!run.accepting) return; // before the mask is up, or between trials: ignored
    run.accepting = false;
    setButtons(false);
    const callback = run.onChoice;
    run.onChoice = null;
    callback(side, stamp > 0 ? stamp : performance.now());
  }

  function onKey(ev) {
    if (ev.repeat || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const key = ev.key;
    let side = null;
    if (key === "f" || key === "F" || key === "ArrowLeft") side = "left";
    else if (key === "j" || key === "J" || key === "ArrowRight") side = "right";
    if (side !== null) {
      ev.preventDefault();
      choose(side, ev.timeStamp);
    } else if ((key === " " || key === "Enter") && run.onContinue) {
      ev.preventDefault();
      run.onContinue();
    }
  }

  function inTrial() {
    return TRIAL_PHASES.has(document.body.dataset.phase);
  }

  function watchPage() {
    document.addEventListener("keydown", onKey);
    $("choose-left").addEventListener("click", (ev) => choose("left", ev.timeStamp));
    $("choose-right").addEventListener("click", (ev) => choose("right", ev.timeStamp));
    window.addEventListener("blur", () => {
      if (inTrial()) run.focusLost = true;
      recordEvent("focus_lost", document.body.dataset.phase);
    });
    window.addEventListener("focus", () => recordEvent("focus_back", document.body.dataset.phase));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) return;
      if (inTrial()) run.focusLost = true;
      recordEvent("visibility_hidden", document.body.dataset.phase);
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => recordEvent("resize", `${innerWidth}x${innerHeight}`), 300);
    });
    document.addEventListener("fullscreenchange", () => {
      const type = document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit";
      recordEvent(type, document.body.dataset.phase);
    });
    setInterval(flushEvents, 5000);
  }

  function enterFullscreen() {
    if (!cfg.display.fullscreen || document.fullscreenElement) return;
    const el = document.documentElement;
    if (el.requestFullscreen) el.requestFullscreen().catch(() => recordEvent("fullscreen_exit", "refused"));
  }

  // ------------------------------------------------------------------ display

  function measureFrameMs() {
    return new Promise((resolve) => {
      const stamps = [];
      const tick = (t) => {
        stamps.push(t);
        if (stamps.length <= FRAME_SAMPLES) {
          requestAnimationFrame(tick);
          return;
        }
        const deltas = stamps.slice(1).map((v, i) => v - stamps[i]).sort((a, b) => a - b);
        resolve(deltas[Math.floor(deltas.length / 2)]);
      };
      requestAnimationFrame(tick);
    });
  }

  function drawMask(canvas) {
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(cfg.display.width * dpr);
    canvas.height = Math.round(cfg.display.height * dpr);
    const ctx = canvas.getContext("2d");
    const cell = Math.max(4, Math.round(8 * dpr));
    for (let y = 0; y < canvas.height; y += cell) {
      for (let x = 0; x < canvas.width; x += cell) {
        const r = Math.floor(Math.random() * 256);
        const g = Math.floor(Math.random() * 256);
        const b = Math.floor(Math.random() * 256);
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        ctx.fillRect(x, y, cell, cell);
      }
    }
  }

  function setupStage() {
    for (const id of ["slot-left", "slot-right"]) {
      $(id).style.width = `${cfg.display.width}px`;
      $(id).style.height = `${cfg.display.height}px`;
    }
    drawMask($("mask-left"));
    drawMask($("mask-right"));
  }

  function windowBigEnough() {
    return innerWidth >= cfg.display.min_window_width && innerHeight >= cfg.display.min_window_height;
  }

  async function ensureWindowSize() {
    if (windowBigEnough()) return;
    const describe = () => {
      $("size-needed").textContent = `${cfg.display.min_window_width} × ${cfg.display.min_window_height}`;
      $("size-now").textContent = `${innerWidth} × ${innerHeight}`;
    };
    describe();
    show("screen-size");
    setPhase("size");
    await new Promise((resolve) => {
      const check = () => {
        describe();
        if (!windowBigEnough()) return;
        window.removeEventListener("resize", check);
        resolve();
      };
      window.addEventListener("resize", check);
    });
  }

  async function message(title, text) {
    $("message-title").textContent = title;
    $("message-text").textContent = text;
    show("screen-message");
    setPhase("message");
    await waitContinue($("message-continue"));
  }

  // ------------------------------------------------------------------ one trial

  function loadImage(src) {
    const img = new Image();
    img.alt = "";
    img.decoding = "sync";
    img.src = src;
    return img.decode().then(() => img);
  }

  async function preload(trial) {
    let delay = 500;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const [left, right] = await Promise.all([loadImage(trial.left), loadImage(trial.right)]);
        return { left, right };
      } catch (err) {
        if (attempt >= TRIES) throw new FatalError("the images of the next trial could not be loaded");
        await sleep(delay);
        delay = Math.min(delay * 2, 8000);
      }
    }
  }

  function placeImages(imgs) {
    for (const [slotId, img] of [["slot-left", imgs.left], ["slot-right", imgs.right]]) {
      const slot = $(slotId);
      const old = slot.querySelector("img");
      if (old) old.remove();
      img.classList.remove("shown");
      slot.insertBefore(img, slot.firstChild);
    }
    $("mask-left").classList.remove("shown");
    $("mask-right").classList.remove("shown");
  }

  function clearStage(imgs) {
    imgs.left.classList.remove("shown");
    imgs.right.classList.remove("shown");
    $("mask-left").classList.remove("shown");
    $("mask-right").classList.remove("shown");
    $("fixation").classList.remove("shown");
  }

  function present(trial, imgs) {
    return new Promise((resolve) => {
      placeImages(imgs);
      setButtons(false);
      run.accepting = false;
      run.focusLost = false;
      run.trial = trial;
      $("stage").dataset.index = String(trial.index);
      $("fixation").classList.add("shown");
      setPhase("fixation");
      const half = run.frameMs / 2;
      let fixStart = null;
      let shownAt = null;
      let measured = null;
      const openResponse = () => {
        run.onChoice = (side, stamp) => resolve({ side, responseMs: stamp - shownAt, measured });
        run.accepting = true;
        setButtons(true);
        setPhase("response");
      };
      const frame = (t) => {
        if (fixStart === null) fixStart = t;
        if (shownAt === null) {
          if (t - fixStart < cfg.fixation_ms - half) {
            requestAnimationFrame(frame);
            return;
          }
          $("fixation").classList.remove("shown");
          imgs.left.classList.add("shown");
          imgs.right.classList.add("shown");
          shownAt = t;
          setPhase("stimulus");
          requestAnimationFrame(trial.exposure_ms === null ? openResponse : frame);
          return;
        }
        const elapsed = t - shownAt;
        if (elapsed < trial.exposure_ms - half) {
          requestAnimationFrame(frame);
          return;
        }
        imgs.left.classList.remove("shown");
        imgs.right.classList.remove("shown");
        $("mask-left").classList.add("shown");
        $("mask-right").classList.add("shown");
        measured = elapsed;
        setPhase("mask");
        requestAnimationFrame(openResponse);
      };
      requestAnimationFrame(frame);
    });
  }

  async function saveAnswer(trial, result) {
    const body = {
      choice: result.side,
      response_ms: Math.max(round3(result.responseMs), 0.001),
      exposure_ms_measured: result.measured === null ? null : round3(result.measured),
      frame_ms: round3(run.frameMs),
      dpr: window.devicePixelRatio || 1,
      window_w: Math.round(innerWidth),
      window_h: Math.round(innerHeight),
      focus_lost: run.focusLost,
    };
    const path = `api/trials/${trial.id}/answer`;
    for (;;) {
      const reply = await requestWithRetry("POST", path, body, TRIES);
      if (reply.status === 200) return reply.data;
      if (reply.status !== 0 && reply.status < 500 && reply.status !== 429) {
        throw new FatalError(reply.data.error || `the server refused the answer (${reply.status})`);
      }
      $("save-error-text").textContent =
        `${reply.data.error || "The server did not answer"}. Check your connection and try again.`;
      show("screen-save-error");
      setPhase("save-error");
      await waitContinue($("retry"));
      show("screen-trial");
      setPhase("saving");
    }
  }

  async function showFeedback(feedback) {
    const box = $("feedback");
    box.classList.toggle("correct", feedback.correct);
    box.classList.toggle("incorrect", !feedback.correct);
    $("feedback-text").textContent = feedback.correct
      ? "Correct!"
      : `Incorrect: the more realistic image was on the ${feedback.correct_side}.`;
    box.classList.remove("hidden");
    setPhase("feedback");
    await waitContinue($("feedback-continue"));
    box.classList.add("hidden");
  }

  // ------------------------------------------------------------------ the study

  async function beforeTrial(trial) {
    const practice = cfg.practice_trials;
    if (practice > 0 && trial.index === practice) {
      await message("Practice over", "From now on there is no feedback. Answer as well as you can.");
    }
    const every = cfg.display.break_every;
    const done = trial.index - practice;
    if (every > 0 && done > 0 && !trial.practice && done % every === 0) {
      await message("Short break", "Rest your eyes for a moment, then continue when you are ready.");
    }
    await ensureWindowSize();
  }

  function finish(completion) {
    run.accepting = false;
    flushEvents();
    show("screen-done");
    setPhase("done");
    if (!completion) return;
    if (completion.code && completion.kind === "code") {
      $("completion-code").textContent = completion.code;
      $("completion-block").classList.remove("hidden");
    }
    if (completion.kind === "redirect") {
      $("done-text").textContent = "All your answers are saved. Taking you back to the platform…";
      $("redirect-link").href = completion.url;
      $("redirect-link").classList.remove("hidden");
      setTimeout(() => window.location.assign(completion.url), 1500);
    } else if (completion.kind === "post") {
      const form = $("submit-form");
      form.action = completion.url;
      for (const [name, value] of Object.entries(completion.fields)) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      $("done-text").textContent = "All your answers are saved. Submitting the HIT…";
      $("submit-button").classList.remove("hidden");
      $("submit-button").addEventListener("click", () => form.submit());
      setTimeout(() => form.submit(), 1000);
    }
  }

  async function runTrials(state) {
    run.total = state.total;
    updateProgress(state.answered);
    if (state.done) {
      finish(state.completion);
      return;
    }
    let trial = state.next;
    let pending = preload(trial);
    pending.catch(() => {});
    while (trial) {
      await beforeTrial(trial);
      show("screen-trial");
      setPhase("preparing");
      const imgs = await pending;
      const result = await present(trial, imgs);
      clearStage(imgs);
      setPhase("saving");
      const ack = await saveAnswer(trial, result);
      run.trial = null;
      updateProgress(ack.answered);
      flushEvents();
      if (ack.next) {
        pending = preload(ack.next);
        pending.catch(() => {});
      }
      if (ack.feedback) await showFeedback(ack.feedback);
      if (ack.done) {
        finish(ack.completion);
        return;
      }
      trial = ack.next;
    }
  }

  async function enrol() {
    setPhase("enrolling");
    const body = { params: cfg.params, window_w: Math.round(innerWidth), window_h: Math.round(innerHeight) };
    const reply = await requestWithRetry("POST", "api/enrol", body, TRIES);
    if (reply.status === 200 && reply.data.preview) {
      throw new FatalError("This is a preview: accept the HIT to start.");
    }
    if (reply.status !== 200 && reply.status !== 201) {
      throw new FatalError(reply.data.error || `enrolment failed (HTTP ${reply.status})`);
    }
    run.token = reply.data.token;
    saveToken(run.token);
    return reply.data.state;
  }

  async function resumeState() {
    run.token = loadToken();
    if (!run.token) return null;
    const reply = await requestWithRetry("GET", "api/state", undefined, TRIES);
    if (reply.status === 200) return reply.data;
    run.token = null;
    return null;
  }

  async function main() {
    setupStage();
    watchPage();
    const frameMs = await measureFrameMs();
    run.frameMs = frameMs > 0 && frameMs <= 1000 ? frameMs : 1000 / 60;
    document.body.dataset.frameMs = String(round3(run.frameMs));
    let state = await resumeState();
    if (state && !state.done) {
      show("screen-resume");
      setPhase("resume");
      await waitContinue($("resume"));
      enterFullscreen();
    } else if (!state) {
      show("screen-consent");
      setPhase("consent");
      await waitContinue($("start"));
      enterFullscreen();
      state = await enrol();
    }
    await runTrials(state);
  }

  main().catch((err) => {
    fail(err instanceof FatalError ? err.message : `Unexpected error: ${err && err.message}`);
  });
})();
