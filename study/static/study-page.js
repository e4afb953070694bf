/* Shared state of the participant page: config, screens, phases, and input handling.
 * ES modules, loaded from files only: the page runs under a strict Content-Security-Policy. */

export const cfg = JSON.parse(document.getElementById("study-config").textContent);
export const $ = (id) => document.getElementById(id);

const SCREENS = [
  "screen-loading", "screen-consent", "screen-resume", "screen-size", "screen-message",
  "screen-trial", "screen-save-error", "screen-done", "screen-error",
];
const TRIAL_PHASES = new Set(["fixation", "stimulus", "mask", "response"]);

export const run = {
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
  run.accepting = false;
  $("error-text").textContent = message;
  show("screen-error");
  setPhase("error");
}

export function updateProgress(answered) {
  $("progress-row").classList.remove("hidden");
  $("progress").max = Math.max(run.total, 1);
  $("progress").value = answered;
  $("progress-text").textContent = `${Math.min(answered + 1, run.total)} / ${run.total}`;
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
      run.onContinue = null;
      if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
      resolve();
    };
    button.addEventListener("click", finish);
    run.onContinue = finish;
  });
}

export function setButtons(enabled) {
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

export function listenForAnswers() {
  document.addEventListener("keydown", onKey);
  $("choose-left").addEventListener("click", (ev) => choose("left", ev.timeStamp));
  $("choose-right").addEventListener("click", (ev) => choose("right", ev.timeStamp));
}
