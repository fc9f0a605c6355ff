// Small template components shared by pages. Each is a plain function from data to a lit
// template (see html.js); compose them with ${} inside other templates.
import { html } from './html.js';
import { relTime, absTime } from './util.js';

// <time> that the global ticker (util.refreshRelTimes) keeps fresh. The text is a property
// binding, not a child part, so the ticker may overwrite textContent without leaving lit's
// markers dangling.
export const relEl = (ts) => (ts
  ? html`<time class="rel" data-rel=${ts} datetime=${ts} title=${absTime(ts)} .textContent=${relTime(ts)}></time>`
  : html`<span class="muted">never</span>`);

// An intermittent host (laptop, desktop) that is away is asleep, not broken: it catches up
// on its schedules when it returns (C2), so it is shown calmly instead of as offline.
export const isAsleep = (host) => host.status === 'offline' && host.settings && host.settings.mode === 'intermittent';

export function statusDot(host) {
  let cls = isAsleep(host) ? 'asleep' : host.status || 'never';
  let label = cls === 'never' ? 'never seen' : cls === 'asleep' ? 'asleep · will catch up' : cls;
  if (host.running_job) { cls = 'running'; label = `running ${host.running_job.kind || 'job'}`; }
  return html`<span class="dot dot-${cls}" role="img" aria-label=${label} title=${label}></span>`;
}

export const pill = (status) => html`<span class="pill pill-${status}" data-status=${status}>${status}</span>`;

export const tagList = (tags) => (tags || []).map((t) => html`<span class="tag">${t}</span>`);

// A muted em dash for "no value".
export const none = html`<span class="muted">—</span>`;

// Summary tile: label, value (text or template), data-testid, extra classes.
export const tile = (label, value, testid, cls = '') => html`<div class="tile${cls ? ` ${cls}` : ''}" data-testid=${testid}><div class="tile-label">${label}</div><div class="tile-value mono">${value}</div></div>`;
