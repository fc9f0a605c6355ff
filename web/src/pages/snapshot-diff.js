// Snapshot diff: what changed between two snapshots of a host (GET .../snapshots/diff),
// with filters by change type.
import { get } from '../api.js';
import { html, render, nothing } from '../html.js';
import { absTime, fmtBytes, fmtNum } from '../util.js';

export const title = 'Snapshot diff';
export const navKey = 'hosts';

const KINDS = [['added', '+', 'Added'], ['removed', '−', 'Removed'], ['changed', 'M', 'Changed']];

function view(st) {
  const d = st.diff;
  const enc = encodeURIComponent(st.hostId);
  const label = (s) => (s ? html`<a class="mono" href="/hosts/${enc}/snapshots/${encodeURIComponent(s.id)}">${s.short_id || s.id.slice(0, 8)}</a> <span class="muted small">${absTime(s.time)}</span>` : html`<span class="mono">?</span>`);
  const head = html`<div class="page-head"><h1>Diff <span class="muted small">of <a href="/hosts/${enc}?tab=snapshots">${st.host.hostname}</a></span></h1></div>
<section class="card"><p>From ${label(st.from)} to ${label(st.to)}</p></section>`;
  if (st.error) return html`${head}<section class="card"><p class="error" data-testid="diff-error">${st.error}</p></section>`;
  if (!d) return html`${head}<section class="card"><p class="muted" data-testid="diff-loading"><span class="spinner" aria-hidden="true"></span> comparing… (restic diff runs on the host)</p></section>`;
  const rows = [];
  for (const [k, sign] of KINDS) if (st.show[k]) for (const p of d[k] || []) rows.push({ k, sign, p });
  rows.sort((a, b) => a.p.localeCompare(b.p));
  const s = d.stats || {};
  return html`${head}
<section class="card" data-testid="diff-stats"><p>
  <span class="diff-added">${fmtNum(s.added ? s.added.files : 0)} files added</span> ·
  <span class="diff-removed">${fmtNum(s.removed ? s.removed.files : 0)} removed</span> ·
  <span class="diff-changed">${fmtNum(s.changed_files || 0)} changed</span>
  <span class="muted small">· data added ${fmtBytes(s.added ? s.added.bytes : 0)}, removed ${fmtBytes(s.removed ? s.removed.bytes : 0)}</span></p>
  ${d.truncated ? html`<p class="muted small" data-testid="diff-truncated">Only the first ${fmtNum((d.added || []).length + (d.removed || []).length + (d.changed || []).length)} paths are listed.</p>` : nothing}</section>
<section class="card" aria-labelledby="chg-h"><h2 id="chg-h">Changes</h2>
  <div class="filters" role="group" aria-label="Change types">${KINDS.map(([k, , name]) => html`<label class="check"><input type="checkbox" data-testid=${`filter-${k}`} .checked=${st.show[k]} @change=${(ev) => { st.show[k] = ev.target.checked; st.rerender(); }}> ${name} (${fmtNum((d[k] || []).length)})</label> `)}</div>
  ${rows.length ? html`<ul class="diff-list mono" data-testid="diff-list">${rows.map((r) => html`<li class=${`diff-${r.k}`} data-testid="diff-row" data-kind=${r.k}>${r.sign} ${r.p}</li>`)}</ul>`
    : html`<p class="muted" data-testid="diff-empty">No changes of the selected types.</p>`}</section>`;
}

export async function mount(ctx) {
  const hostId = ctx.params[0];
  const enc = encodeURIComponent(hostId);
  const from = ctx.query.get('from') || '';
  const to = ctx.query.get('to') || '';
  const [host, list] = await Promise.all([get(`/api/hosts/${enc}`), get(`/api/hosts/${enc}/snapshots`)]);
  if (!ctx.alive()) return;
  const find = (id) => (list.snapshots || []).find((s) => s.id === id || s.short_id === id) || null;
  const st = { hostId, host, from: find(from), to: find(to), diff: null, error: null, show: { added: true, removed: true, changed: true } };
  st.rerender = () => { if (ctx.alive()) render(view(st), ctx.el); };
  st.rerender();
  try {
    st.diff = await get(`/api/hosts/${enc}/snapshots/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, { quiet: true });
  } catch (e) {
    st.error = e.code === 'host_offline' ? 'The host is offline: the diff runs restic on it.' : e.message;
  }
  st.rerender();
}
