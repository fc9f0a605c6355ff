// Shared /api/events WebSocket (subprotocol rm-events.v1). One connection while any
// page listens; reconnects with backoff and tells listeners to resync afterwards.
import { wsUrl } from './api.js';

// Closing a socket that is still connecting makes Chromium log an error; wait for open.
export function closeQuietly(s) {
  s.onclose = null;
  s.onmessage = null;
  s.onerror = null;
  if (s.readyState === WebSocket.CONNECTING) s.onopen = () => s.close(1000);
  else { s.onopen = null; if (s.readyState === WebSocket.OPEN) s.close(1000); }
}

const listeners = new Set();
let ws = null;
let retry = 0;
let timer = null;
let everOpened = false;

function connect() {
  clearTimeout(timer);
  timer = null;
  if (!listeners.size || ws) return;
  let sock;
  try {
    sock = new WebSocket(wsUrl('/api/events'), 'rm-events.v1');
  } catch {
    schedule();
    return;
  }
  ws = sock;
  sock.onopen = () => {
    const reopened = everOpened;
    everOpened = true;
    retry = 0;
    if (reopened) emit({ type: 'resync' });
  };
  sock.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg && typeof msg.type === 'string') emit(msg);
  };
  sock.onclose = () => {
    if (ws === sock) ws = null;
    schedule();
  };
  sock.onerror = () => { /* onclose follows */ };
}

function schedule() {
  if (!listeners.size || timer) return;
  const delay = Math.min(15000, 500 * 2 ** retry) * (0.75 + Math.random() * 0.5);
  retry = Math.min(retry + 1, 6);
  timer = setTimeout(connect, delay);
}

function emit(msg) {
  for (const fn of Array.from(listeners)) {
    try { fn(msg); } catch (e) { setTimeout(() => { throw e; }); }
  }
}

export function subscribe(fn) {
  listeners.add(fn);
  connect();
  return () => {
    listeners.delete(fn);
    if (!listeners.size) {
      clearTimeout(timer);
      timer = null;
      if (ws) { const s = ws; ws = null; closeQuietly(s); }
      everOpened = false;
      retry = 0;
    }
  };
}
