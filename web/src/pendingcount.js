// C6: number of hosts waiting for approval, as a badge on the "Pending" navigation link.
// Polled (every 15 s while signed in as operator or admin); the pending page asks for a
// fresh count after accepting or rejecting.
import { get, session } from './api.js';
import { html, render, nothing } from './html.js';

const POLL_MS = 15000;
let count = null;
let timer = null;
const slots = new Set();

const badge = (n) => (n ? html`<span class="badge badge-pending" data-testid="nav-pending-count" aria-label="${n} hosts waiting for approval">${n}</span>`
  : html`<span class="sr-only" data-testid="nav-pending-count">0</span>`);

function paint() {
  for (const el of Array.from(slots)) {
    if (!el.isConnected) { slots.delete(el); continue; }
    render(count === null ? nothing : badge(count), el);
  }
}

async function refresh() {
  try {
    const r = await get('/api/pending-hosts', { quiet: true });
    count = r.pending.length;
    paint();
  } catch { /* next poll */ }
}

// Called after every shell render with the badge's container (absent for viewers).
export function attachPendingCount(el) {
  if (!el || !session.user || session.user.role === 'viewer') return;
  slots.add(el);
  paint();
  if (!timer) {
    timer = setInterval(refresh, POLL_MS);
    refresh();
  }
}

export function detachPendingCount() {
  if (timer) { clearInterval(timer); timer = null; }
  count = null;
  slots.clear();
}

export const refreshPendingCount = refresh;
