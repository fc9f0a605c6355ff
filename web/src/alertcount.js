// Open-alert count in the navigation bar, live: the first value from GET /api/alerts,
// then the "alerts" messages of /api/events (sent whenever the set of alerts changes).
import { get, session } from './api.js';
import { html, render, nothing } from './html.js';
import { subscribe } from './events.js';

let count = null;
let unsub = null;
const slots = new Set();

const badge = (n) => (n ? html`<span class="badge badge-alert" data-testid="nav-alerts-count" aria-label="${n} open alerts">${n}</span>`
  : html`<span class="sr-only" data-testid="nav-alerts-count">0</span>`);

function paint() {
  for (const el of Array.from(slots)) {
    if (!el.isConnected) { slots.delete(el); continue; }
    render(count === null ? nothing : badge(count), el);
  }
}

async function refresh() {
  try {
    const r = await get('/api/alerts?state=open&limit=1', { quiet: true });
    count = r.open;
    paint();
  } catch { /* shown on the next event */ }
}

// Called after every shell render with the badge's container.
export function attachAlertCount(el) {
  if (!el || !session.user) return;
  slots.add(el);
  paint();
  if (!unsub) {
    unsub = subscribe((msg) => {
      if (msg.type === 'alerts' && typeof msg.open === 'number') { count = msg.open; paint(); }
      else if (msg.type === 'resync') refresh();
    });
    refresh();
  }
}

// On sign-out.
export function detachAlertCount() {
  if (unsub) { unsub(); unsub = null; }
  count = null;
  slots.clear();
}

// A page that changed alerts itself may ask for a fresh count.
export const refreshAlertCount = refresh;
