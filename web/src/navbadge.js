// A count shown as a badge on a navigation link (open alerts, hosts waiting for approval):
// the shell hands over the badge's container after each render; set() repaints them all.
import { html, render, nothing } from './html.js';

export function navBadge(cls, testid, label) {
  let count = null;
  const slots = new Set();
  const badge = (n) => (n ? html`<span class="badge ${cls}" data-testid=${testid} aria-label="${n} ${label}">${n}</span>`
    : html`<span class="sr-only" data-testid=${testid}>0</span>`);
  const paint = () => {
    for (const el of Array.from(slots)) {
      if (!el.isConnected) { slots.delete(el); continue; }
      render(count === null ? nothing : badge(count), el);
    }
  };
  return {
    add(el) { slots.add(el); paint(); },
    set(n) { count = n; paint(); },
    clear() { count = null; slots.clear(); },
  };
}
