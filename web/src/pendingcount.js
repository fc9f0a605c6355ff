// C6: number of hosts waiting for approval, as a badge on the "Pending" navigation link.
// Polled (every 15 s while signed in as operator or admin); the pending page asks for a
// fresh count after accepting or rejecting.
import { get, session } from './api.js';
import { navBadge } from './navbadge.js';

const POLL_MS = 15000;
const nav = navBadge('badge-pending', 'nav-pending-count', 'hosts waiting for approval');
let timer = null;

async function refresh() {
  try {
    const r = await get('/api/pending-hosts', { quiet: true });
    nav.set(r.pending.length);
  } catch { /* next poll */ }
}

// Called after every shell render with the badge's container (absent for viewers).
export function attachPendingCount(el) {
  if (!el || !session.user || session.user.role === 'viewer') return;
  nav.add(el);
  if (!timer) {
    timer = setInterval(refresh, POLL_MS);
    refresh();
  }
}

export function detachPendingCount() {
  if (timer) { clearInterval(timer); timer = null; }
  nav.clear();
}

export const refreshPendingCount = refresh;
