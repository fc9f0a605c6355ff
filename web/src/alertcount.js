// Open-alert count in the navigation bar, live: the first value from GET /api/alerts,
// then the "alerts" messages of /api/events (sent whenever the set of alerts changes).
import { get, session } from './api.js';
import { subscribe } from './events.js';
import { navBadge } from './navbadge.js';

const nav = navBadge('badge-alert', 'nav-alerts-count', 'open alerts');
let unsub = null;

async function refresh() {
  try {
    const r = await get('/api/alerts?state=open&limit=1', { quiet: true });
    nav.set(r.open);
  } catch { /* shown on the next event */ }
}

// Called after every shell render with the badge's container.
export function attachAlertCount(el) {
  if (!el || !session.user) return;
  nav.add(el);
  if (!unsub) {
    unsub = subscribe((msg) => {
      if (msg.type === 'alerts' && typeof msg.open === 'number') nav.set(msg.open);
      else if (msg.type === 'resync') refresh();
    });
    refresh();
  }
}

// On sign-out.
export function detachAlertCount() {
  if (unsub) { unsub(); unsub = null; }
  nav.clear();
}

// A page that changed alerts itself may ask for a fresh count.
export const refreshAlertCount = refresh;
