/* Talking to the study server: token storage, requests with retry, browser events. */

import { cfg, currentTrial, session, sleep } from "./study-page.js";

const MAX_EVENTS = 50;
export const TRIES = 6; // 0.5 + 1 + 2 + 4 + 8 s of backoff before the person is asked to retry

function storageKey() {
  const who = Object.keys(cfg.params).sort().map((k) => `${k}=${cfg.params[k]}`).join("&");
  return `crnkit:${cfg.study_id}:${cfg.platform}:${who}`;
}

export function loadToken() {
  try {
    return window.localStorage.getItem(storageKey());
  } catch (err) {
    // Storage can be blocked in a third-party iframe (MTurk); the token then lives in memory.
    return session.memory[storageKey()] || null;
  }
}

export function saveToken(token) {
  session.memory[storageKey()] = token;
  try {
    window.localStorage.setItem(storageKey(), token);
  } catch (err) {
    /* memory only */
  }
}

// Paths are relative ("api/…"), so the page also works behind a proxy under a URL prefix.
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
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
// Retrying an answer is safe: the server acknowledges an identical answer again.
export async function requestWithRetry(method, path, body, tries) {
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

export function flushEvents() {
  if (!session.token || session.events.length === 0) return;
  const batch = session.events.splice(0, MAX_EVENTS);
  request("POST", "api/events", { events: batch }).catch(() => {
    /* events are best effort; each answer carries its own focus_lost */
  });
}

export function recordEvent(type, detail) {
  session.events.push({
    type,
    trial_id: currentTrial() ? currentTrial().trial.id : null,
    detail: detail === undefined || detail === null ? null : String(detail).slice(0, 500),
  });
  if (session.events.length >= MAX_EVENTS) flushEvents();
}
