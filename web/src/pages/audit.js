// Audit log (admin): filters (user, action, target, time range), sorting by column,
// paging, and the same selection as CSV (GET /api/audit.csv, streamed by the server).
import { get, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { absTime } from '../util.js';
import { relEl } from '../components.js';
import { navigate } from '../router.js';

export const title = 'Audit';
export const navKey = 'audit';

const PAGE = 500; // as before paging existed: one page holds what the old page showed
const ACTIONS = ['bootstrap', 'login', 'logout', 'enrollment_token.create', 'host.enroll', 'job.dispatch', 'job.cancel', 'group.run',
  'user.create', 'user.setup', 'user.setup_link', 'user.role', 'user.disable', 'user.enable', 'user.logout', 'user.delete',
  'account.password', 'account.session_end', 'account.sessions_end', 'token.create', 'token.revoke', 'auth.lockout',
  'host.update', 'host.delete', 'host.repo_credentials.set', 'host.repo_password.rotate', 'host.repo_password.rotated',
  'host.repo_password.rotation_failed', 'host.repo_password.rotation_incomplete', 'alert.ack', 'alert.resolve', 'alert_rules.update', 'channel.create', 'channel.update', 'channel.delete', 'channel.test'];
const FILTERS = ['actor', 'action', 'target', 'from', 'to'];

const detailText = (d) => {
  if (d === null || d === undefined || d === '') return '';
  if (typeof d === 'string') return d;
  try { return JSON.stringify(d); } catch { return String(d); }
};

const row = (e) => html`<tr data-testid="audit-row" data-action=${e.action}><td class="mono" title=${absTime(e.ts)}>${relEl(e.ts)}</td><td class="mono">${e.actor || '—'}</td>
<td><span class="tag">${e.action}</span></td><td class="mono">${e.target || ''}</td><td class="mono muted small detail">${detailText(e.detail)}</td></tr>`;

// datetime-local (browser time) <-> RFC 3339
const toIso = (v) => { if (!v) return ''; const d = new Date(v); return Number.isNaN(d.getTime()) ? '' : d.toISOString(); };
const toLocal = (iso) => { if (!iso) return ''; const d = new Date(iso); if (Number.isNaN(d.getTime())) return ''; const p = (n) => String(n).padStart(2, '0'); return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; };

function qs(q, over = {}) {
  const p = new URLSearchParams();
  const all = { ...q, ...over };
  for (const [k, v] of Object.entries(all)) if (v !== '' && v !== undefined && v !== null) p.set(k, String(v));
  return p.toString();
}

function head(q, key, label, h) {
  const active = (q.sort || 'ts') === key;
  const order = active && q.order !== 'asc' ? 'asc' : 'desc';
  return html`<th aria-sort=${active ? (q.order === 'asc' ? 'ascending' : 'descending') : 'none'}><a href="/audit?${qs(q, { sort: key, order, offset: '' })}" data-testid="audit-sort-${key}" @click=${h.link}>${label}${active ? (q.order === 'asc' ? ' ▲' : ' ▼') : ''}</a></th>`;
}

const view = (q, r, h) => html`<div class="page-head"><h1>Audit log</h1>
<a class="btn btn-ghost btn-sm" href="/api/audit.csv?${qs({ ...q, offset: '', limit: '' })}" download="audit.csv" data-testid="audit-csv">Export CSV</a></div>
<form class="card form inline-form" data-testid="audit-filters" @submit=${h.filter}>
<div class="grid4">
<div class="field"><label for="au-actor">User</label><input id="au-actor" name="actor" class="mono" .value=${q.actor || ''} data-testid="audit-actor"></div>
<div class="field"><label for="au-action">Action</label><select id="au-action" name="action" data-testid="audit-filter"><option value="">all actions</option>${ACTIONS.map((a) => html`<option ?selected=${a === q.action}>${a}</option>`)}</select></div>
<div class="field"><label for="au-target">Target contains</label><input id="au-target" name="target" class="mono" .value=${q.target || ''} data-testid="audit-target"></div>
<div class="field"><label for="au-from">From</label><input id="au-from" name="from" type="datetime-local" .value=${toLocal(q.from)} data-testid="audit-from"></div>
<div class="field"><label for="au-to">To</label><input id="au-to" name="to" type="datetime-local" .value=${toLocal(q.to)} data-testid="audit-to"></div>
</div><div class="actions"><button type="submit" class="btn btn-sm" data-testid="audit-apply">Apply</button> <a class="btn btn-ghost btn-sm" href="/audit" @click=${h.link}>Clear</a></div></form>
<p class="muted" data-testid="audit-total">${r.total} entr${r.total === 1 ? 'y' : 'ies'}${r.total ? ` · ${Number(q.offset || 0) + 1}–${Math.min(r.total, Number(q.offset || 0) + PAGE)}` : ''}</p>
${r.entries.length ? html`<div class="table-wrap"><table class="table" data-testid="audit-table"><thead><tr>${head(q, 'ts', 'Time', h)}${head(q, 'actor', 'Actor', h)}${head(q, 'action', 'Action', h)}${head(q, 'target', 'Target', h)}<th>Detail</th></tr></thead><tbody>
${r.entries.map(row)}
</tbody></table></div>` : html`<div class="empty empty-sm"><p class="muted">No audit entries.</p></div>`}
<div class="actions">${Number(q.offset || 0) > 0 ? html`<a class="btn btn-ghost btn-sm" data-testid="audit-prev" href="/audit?${qs(q, { offset: Math.max(0, Number(q.offset || 0) - PAGE) || '' })}" @click=${h.link}>Newer page</a>` : nothing}
${Number(q.offset || 0) + PAGE < r.total ? html`<a class="btn btn-ghost btn-sm" data-testid="audit-next" href="/audit?${qs(q, { offset: Number(q.offset || 0) + PAGE })}" @click=${h.link}>Next page</a>` : nothing}</div>`;

export async function mount(ctx) {
  if (!session.user || session.user.role !== 'admin') {
    render(html`<div class="empty"><h1>Audit</h1><p class="muted">Only administrators can read the audit log.</p></div>`, ctx.el);
    return;
  }
  const q = {};
  for (const k of [...FILTERS, 'sort', 'order', 'offset']) q[k] = ctx.query.get(k) || '';
  const r = await get(`/api/audit?${qs({ ...q, limit: PAGE })}`);
  if (!ctx.alive()) return;
  const h = {
    link: (ev) => { ev.preventDefault(); navigate(new URL(ev.currentTarget.href).pathname + new URL(ev.currentTarget.href).search, { replace: true }); },
    filter: (ev) => {
      ev.preventDefault();
      const f = ev.currentTarget;
      const nq = { actor: f.elements.actor.value.trim(), action: f.elements.action.value, target: f.elements.target.value.trim(),
        from: toIso(f.elements.from.value), to: toIso(f.elements.to.value), sort: q.sort, order: q.order };
      const s = qs(nq);
      navigate(s ? `/audit?${s}` : '/audit', { replace: true });
    },
  };
  render(view(q, r, h), ctx.el);
}
