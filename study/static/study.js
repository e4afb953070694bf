/* crnkit participant page: device check, consent, practice with feedback, timed trials,
 * post-task questions, completion. Entry module; see study-trial.js for timed presentation. */

import {
  $, cfg, currentTrial, deviceProblem, FatalError, fail, inTrial, listenForAnswers, phase,
  round3, session, setActiveTrial, setPhase, show, sleep, updateProgress, waitContinue,
} from "./study-page.js";
import {
  flushEvents, loadToken, recordEvent, requestWithRetry, saveToken, TRIES,
} from "./study-net.js";
import { measureFrameMs, preload, saveAnswer, setupStage, TrialRun } from "./study-trial.js";

function markFocusLost() {
  const run = currentTrial();
  if (run && inTrial()) run.focusLost = true;
}

function watchPage() {
  listenForAnswers();
  window.addEventListener("blur", () => {
    markFocusLost();
    recordEvent("focus_lost", phase());
  });
  window.addEventListener("focus", () => recordEvent("focus_back", phase()));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) return;
    markFocusLost();
    recordEvent("visibility_hidden", phase());
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => recordEvent("resize", `${innerWidth}x${innerHeight}`), 300);
  });
  document.addEventListener("fullscreenchange", () => {
    recordEvent(document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit", phase());
  });
  setInterval(flushEvents, 5000);
}

function enterFullscreen() {
  if (!cfg.display.fullscreen || document.fullscreenElement) return;
  const el = document.documentElement;
  if (el.requestFullscreen) el.requestFullscreen().catch(() => recordEvent("fullscreen_exit", "refused"));
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

function feedbackText(feedback) {
  if (feedback.correct) return "Correct!";
  if (feedback.answer) return `Incorrect: that image was ${feedback.answer}.`;
  return `Incorrect: the more realistic image was on the ${feedback.correct_side}.`;
}

async function showFeedback(feedback) {
  const box = $("feedback");
  box.classList.toggle("correct", feedback.correct);
  box.classList.toggle("incorrect", !feedback.correct);
  $("feedback-text").textContent = feedbackText(feedback);
  box.classList.remove("hidden");
  setPhase("feedback");
  await waitContinue($("feedback-continue"));
  box.classList.add("hidden");
}

async function tooSlow() {
  $("too-slow").classList.remove("hidden");
  setPhase("too-slow");
  await sleep(1200);
  $("too-slow").classList.add("hidden");
}

function postForm(completion) {
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

// The optional questions after the last trial; skipping sends nothing.
async function askQuestions() {
  if (!cfg.questions) return;
  show("screen-questions");
  setPhase("questions");
  const submitted = await new Promise((resolve) => {
    $("questions-submit").addEventListener("click", () => resolve(true), { once: true });
    $("questions-skip").addEventListener("click", () => resolve(false), { once: true });
  });
  if (!submitted) return;
  const body = {};
  for (const name of ["age_band", "vision", "comment"]) {
    const field = $(`q-${name}`);
    if (field && field.value) body[name] = field.value.slice(0, 2000);
  }
  setPhase("saving-questions");
  await requestWithRetry("POST", "api/questions", body, TRIES);
}

// Shown only once the server stored the last answer (it sends the completion with that ack).
async function finish(completion, ask = true) {
  setActiveTrial(null);
  flushEvents();
  if (ask) await askQuestions();
  show("screen-done");
  setPhase("done");
  if (!completion) return;
  if (completion.kind === "code" && completion.code) {
    $("completion-code").textContent = completion.code;
    $("completion-block").classList.remove("hidden");
  } else if (completion.kind === "redirect") {
    $("done-text").textContent = "All your answers are saved. Taking you back to the platform…";
    $("redirect-link").href = completion.url;
    $("redirect-link").classList.remove("hidden");
    setTimeout(() => window.location.assign(completion.url), 1500);
  } else if (completion.kind === "post") {
    postForm(completion);
  }
}

async function runTrials(state) {
  session.total = state.total;
  updateProgress(state.answered);
  if (state.done) {
    await finish(state.completion, false);
    return;
  }
  let trial = state.next;
  let pending = preload(trial);
  pending.catch(() => {});
  while (trial) {
    await beforeTrial(trial);
    show("screen-trial");
    setPhase("preparing");
    const run = new TrialRun(trial, await pending);
    const result = await run.present();
    run.clear();
    setPhase("saving");
    const ack = await saveAnswer(run, result);
    setActiveTrial(null);
    updateProgress(ack.answered);
    flushEvents();
    if (ack.next) {
      pending = preload(ack.next); // the next images load while feedback is on screen
      pending.catch(() => {});
    }
    if (result.choice === "none") await tooSlow();
    if (ack.feedback) await showFeedback(ack.feedback);
    if (ack.done) {
      await finish(ack.completion);
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
  session.token = reply.data.token;
  saveToken(session.token);
  return reply.data.state;
}

async function resumeState() {
  session.token = loadToken();
  if (!session.token) return null;
  const reply = await requestWithRetry("GET", "api/state", undefined, TRIES);
  if (reply.status === 200) return reply.data;
  session.token = null;
  return null;
}

async function main() {
  const problem = deviceProblem();
  if (problem) {
    $("device-text").textContent = problem;
    show("screen-device");
    setPhase("device");
    return;
  }
  setupStage();
  watchPage();
  const frameMs = await measureFrameMs();
  session.frameMs = frameMs > 0 && frameMs <= 1000 ? frameMs : 1000 / 60;
  document.body.dataset.frameMs = String(round3(session.frameMs));
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

