/* The participant page around the trials: config, screens, phases, the session, input routing.
 * ES modules, loaded from files only: the page runs under a strict Content-Security-Policy.
 *
 * Page-wide state lives in `session` (token, frame duration, progress, queued events). A trial's
 * own state (whether answers are accepted, focus lost, its answer callback) lives in that
 * trial's TrialRun (study-trial.js); the page only routes keys and clicks to the active one.
 */

export const cfg = JSON.parse(document.getElementById("study-config").textContent);
export const $ = (id) => document.getElementById(id);

const SCREENS = [
  "screen-loading", "screen-device", "screen-consent", "screen-resume", "screen-size",
  "screen-message", "screen-trial", "screen-save-error", "screen-questions", "screen-done",
  "screen-error",
];
const TRIAL_PHASES = new Set(["fixation", "stimulus", "mask", "response"]);

export const session = {
  token: null,
  frameMs: 1000 / 60,
  total: 0,
  events: [],
  memory: {},
};

// The trial that keys and clicks go to (null between trials) and the Continue handler.
let activeTrial = null;
let onContinue = null;

export function setActiveTrial(trialRun) {
  activeTrial = trialRun;
}

export function currentTrial() {
  return activeTrial;
}

export class FatalError extends Error {}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const round3 = (x) => Math.round(x * 1000) / 1000;

export function setPhase(phase) {
  document.body.dataset.phase = phase;
}

export function phase() {
  return document.body.dataset.phase;
}

export function inTrial() {
  return TRIAL_PHASES.has(phase());
}

export function show(id) {
  for (const screen of SCREENS) $(screen).classList.toggle("hidden", screen !== id);
}

export function fail(message) {
  if (activeTrial) activeTrial.stop();
  $("error-text").textContent = message;
  show("screen-error");
  setPhase("error");
}

export function updateProgress(answered) {
  $("progress-row").classList.remove("hidden");
  $("progress").max = Math.max(session.total, 1);
  $("progress").value = answered;
  $("progress-text").textContent = `${Math.min(answered + 1, session.total)} / ${session.total}`;
}

// Resolves once on a click of `button` or Space/Enter; focus is dropped so that the key's
// own click (fired on key-up) cannot also press the next screen's button.
export function waitContinue(button) {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      button.removeEventListener("click", finish);
      onContinue = null;
      if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
      resolve();
    };
    button.addEventListener("click", finish);
    onContinue = finish;
  });
}

export function setButtons(enabled) {
  $("choose-left").disabled = !enabled;
  $("choose-right").disabled = !enabled;
}

function choose(side, stamp) {
  // Before the mask is up, or between trials, nothing is listening: the key is ignored.
  if (activeTrial) activeTrial.choose(side, stamp > 0 ? stamp : performance.now());
}

function onKey(ev) {
  if (ev.repeat || ev.altKey || ev.ctrlKey || ev.metaKey) return;
  if (ev.target && ["TEXTAREA", "SELECT", "INPUT"].includes(ev.target.tagName)) return;
  const key = ev.key;
  let side = null;
  if (key === "f" || key === "F" || key === "ArrowLeft") side = "left";
  else if (key === "j" || key === "J" || key === "ArrowRight") side = "right";
  if (side !== null) {
    ev.preventDefault();
    choose(side, ev.timeStamp);
  } else if ((key === " " || key === "Enter") && onContinue) {
    ev.preventDefault();
    onContinue();
  }
}

export function listenForAnswers() {
  document.addEventListener("keydown", onKey);
  $("choose-left").addEventListener("click", (ev) => choose("left", ev.timeStamp));
  $("choose-right").addEventListener("click", (ev) => choose("right", ev.timeStamp));
}

// Phones and tablets (a coarse pointer and no fine one) and screens that can never hold the
// images are refused before consent, with a message saying what is needed.
export function deviceProblem() {
  const d = cfg.display;
  const coarseOnly = window.matchMedia
    && window.matchMedia("(pointer: coarse)").matches
    && !window.matchMedia("(any-pointer: fine)").matches;
  if (!d.allow_mobile && (coarseOnly || /Mobi|Android|iPhone|iPad/i.test(navigator.userAgent))) {
    return "This study needs a computer with a keyboard or mouse; it cannot be done on a phone or tablet.";
  }
  const screenW = window.screen ? window.screen.availWidth : innerWidth;
  const screenH = window.screen ? window.screen.availHeight : innerHeight;
  if (screenW < d.min_window_width || screenH < d.min_window_height) {
    return `This study needs a screen of at least ${d.min_window_width} × ${d.min_window_height} `
      + `pixels; this one has ${screenW} × ${screenH}. Please use a larger screen.`;
  }
  return null;
}
