// The dashboard's filter bar: search box, status and last-backup chips with counts, tag
// chips, live toggle with the "N changes — refresh" hint, and the sortable column head.
// Templates only; the page (dashboard.js) owns the state and passes callbacks.
import { html, nothing } from '../html.js';
import { fmtNum } from '../util.js';

const STATUS_CHIPS = [['online', 'Online'], ['offline', 'Offline'], ['never', 'Never seen'], ['running', 'Running']];
const BACKUP_CHIPS = [['ok', 'Backup ok'], ['failed', 'Backup failed'], ['warning', 'Backup warning'], ['none', 'No backup']];
const MAX_TAG_CHIPS = 24;

let busy = false; // the whole list is still loading: chips wait for it
const chip = (label, n, on, testid, onClick, cls = '') => html`<button type="button" class="fchip${on ? ' on' : ''}${cls ? ` ${cls}` : ''}" aria-pressed=${on ? 'true' : 'false'} ?disabled=${busy} data-testid=${testid} @click=${onClick}>${label} <span class="fchip-n mono">${busy ? '…' : fmtNum(n)}</span></button>`;

function tagChips(s, tags, cb) {
  // most used first; the selected ones always shown (even when no host carries them now)
  const used = Array.from(tags.entries()).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = used.slice(0, MAX_TAG_CHIPS).map(([t]) => t);
  for (const t of s.tags) if (!shown.includes(t)) shown.push(t);
  if (!shown.length) return nothing;
  return html`<div class="fgroup" role="group" aria-label="tags" data-testid="dash-tags"><span class="fgroup-label muted small">Tags</span>
${shown.map((t) => chip(t, tags.get(t) || 0, s.tags.includes(t), 'dash-tag', () => cb.toggleTag(t), 'fchip-tag'))}${used.length > MAX_TAG_CHIPS ? html`<span class="muted small">+${used.length - MAX_TAG_CHIPS} more: search finds tags too</span>` : nothing}</div>`;
}

// v: { s, loading, counts, tags, pending, filtered }; cb: callbacks from the page.
export function toolbar(v, cb) {
  const { s, counts } = v;
  busy = v.loading;
  return html`<div class="dash-filters" role="search" aria-label="filter hosts" data-testid="dash-filters" aria-busy=${v.loading ? 'true' : 'false'}>
<div class="frow">
  <label for="dash-q" class="sr-only">Search hosts</label>
  <input id="dash-q" type="search" class="fsearch" autocomplete="off" spellcheck="false" placeholder="Search name, hostname, tag, version, OS" data-testid="dash-search" ?disabled=${v.loading} @input=${cb.onSearch} @keydown=${cb.onSearchKey} @blur=${cb.onSearchBlur}>
  <div class="fgroup" role="group" aria-label="connection status">
    ${chip('All', counts.all, !v.s.status, 'dash-status-all', () => cb.setStatus(''))}
    ${STATUS_CHIPS.map(([k, label]) => chip(label, counts[k], s.status === k, `dash-status-${k}`, () => cb.setStatus(s.status === k ? '' : k), `fchip-${k}`))}
  </div>
  <label class="live-toggle" title="Off: the view stays as it is; changes are counted until you refresh">
    <input type="checkbox" data-testid="dash-live" .checked=${s.live} @change=${cb.onLive}> Live</label>
  ${!s.live && v.pending ? html`<button type="button" class="btn btn-sm" data-testid="dash-pending" @click=${cb.refresh}>${fmtNum(v.pending)} change${v.pending === 1 ? '' : 's'} — refresh</button>` : nothing}
</div>
<div class="frow">
  <div class="fgroup" role="group" aria-label="last backup">
    ${BACKUP_CHIPS.map(([k, label]) => chip(label, counts[k], s.backup === k, `dash-backup-${k}`, () => cb.setBackup(s.backup === k ? '' : k), `fchip-b${k}`))}
  </div>
  ${v.filtered ? html`<button type="button" class="btn btn-ghost btn-sm" data-testid="dash-clear" @click=${cb.clear}>Clear filters</button>` : nothing}
</div>
${tagChips(s, v.tags, cb)}
${healthStrip(v, cb)}
</div>`;
}

// Fleet health: when the last backup finished, as a bar (its parts as wide as their
// share) with a clickable legend (the same filter as the URL's age=).
const AGE_PARTS = [['1d', 'within 24 h'], ['7d', '1–7 days'], ['old', 'older'], ['never', 'never']];
export function healthStrip(v, cb) {
  const c = v.counts;
  const total = AGE_PARTS.reduce((n, [k]) => n + (c[`a${k}`] || 0), 0);
  return html`<div class="health" data-testid="dash-health"><span class="fgroup-label muted small" id="dash-health-l">Last backup</span>
<div class="health-bar" aria-hidden="true">${AGE_PARTS.map(([k]) => html`<span class="hseg hseg-${k}" style="flex-grow:${c[`a${k}`] || 0}"></span>`)}${total ? nothing : html`<span class="hseg hseg-empty"></span>`}</div>
<div class="fgroup" role="group" aria-labelledby="dash-health-l">${AGE_PARTS.map(([k, label]) => chip(html`<span class="hkey hseg-${k}" aria-hidden="true"></span>${label}`, c[`a${k}`] || 0, v.s.age === k, `dash-age-${k}`, () => cb.setAge(v.s.age === k ? '' : k)))}</div></div>`;
}

const COLS = [
  ['status', html`<span class="sr-only">status</span>`, 'c-dot'],
  ['name', 'Host'],
  ['os', 'OS · arch'],
  ['last_backup', 'Last backup'],
  ['next_run', 'Next run'],
  ['repo_size', 'Repo size', 'num'],
  ['snapshots', 'Snapshots', 'num'],
  ['restorable', 'Restorable', '', 'last proven restorable (restore drill)'],
  ['agent', 'Agent'],
  ['restic', 'restic'],
  ['repo', 'Repo'],
];

export function headRow(s, onSort, loading) {
  return html`<div class="host-row hgrid-head" role="row">${COLS.map(([key, label, cls, title]) => {
    const on = s.sort === key;
    const sort = on ? (s.dir === 'asc' ? 'ascending' : 'descending') : 'none';
    return html`<div role="columnheader" class=${cls || nothing} aria-sort=${sort} title=${title || nothing}><button type="button" class="sort-btn${on ? ' on' : ''}" data-testid=${`dash-sort-${key}`} data-sort=${key} ?disabled=${loading} @click=${() => onSort(key)}>${label}${key === 'status' ? html`<span class="sr-only"> sort</span>` : nothing}<span class="sort-ind" aria-hidden="true">${on ? (s.dir === 'asc' ? '▲' : '▼') : ''}</span></button></div>`;
  })}</div>`;
}
