// Audit log (admin): newest first, who / action / target / when.
import { get, session } from '../api.js';
import { html, render } from '../html.js';
import { absTime } from '../util.js';
import { relEl } from '../components.js';
import { navigate } from '../router.js';

export const title = 'Audit';
export const navKey = 'audit';

const ACTIONS = ['bootstrap', 'login', 'logout', 'enrollment_token.create', 'host.enroll', 'job.dispatch', 'job.cancel',
  'user.create', 'user.setup', 'user.setup_link', 'user.role', 'user.disable', 'user.enable', 'user.logout', 'user.delete',
  'account.password', 'account.session_end', 'account.sessions_end', 'token.create', 'token.revoke', 'auth.lockout'];

const detailText = (d) => {
  if (d === null || d === undefined || d === '') return '';
  if (typeof d === 'string') return d;
  try { return JSON.stringify(d); } catch { return String(d); }
};

const row = (e) => html`<tr data-testid="audit-row" data-action=${e.action}><td class="mono" title=${absTime(e.ts)}>${relEl(e.ts)}</td><td class="mono">${e.actor || '—'}</td>
<td><span class="tag">${e.action}</span></td><td class="mono">${e.target || ''}</td><td class="mono muted small detail">${detailText(e.detail)}</td></tr>`;

const view = (entries, action, onFilter) => html`<div class="page-head"><h1>Audit log</h1>
<form class="inline-form"><label for="au-action">Action</label>
<select id="au-action" name="action" data-testid="audit-filter" @change=${onFilter}><option value="">all actions</option>${ACTIONS.map((a) => html`<option ?selected=${a === action}>${a}</option>`)}</select></form></div>
${entries.length ? html`<div class="table-wrap"><table class="table" data-testid="audit-table"><thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead><tbody>
${entries.map(row)}
</tbody></table></div>` : html`<div class="empty empty-sm"><p class="muted">No audit entries.</p></div>`}`;

export async function mount(ctx) {
  if (!session.user || session.user.role !== 'admin') {
    render(html`<div class="empty"><h1>Audit</h1><p class="muted">Only administrators can read the audit log.</p></div>`, ctx.el);
    return;
  }
  const action = ctx.query.get('action') || '';
  const r = await get(`/api/audit?limit=500${action ? `&action=${encodeURIComponent(action)}` : ''}`);
  if (!ctx.alive()) return;
  const onFilter = (ev) => {
    const v = ev.currentTarget.value;
    navigate(v ? `/audit?action=${encodeURIComponent(v)}` : '/audit', { replace: true });
  };
  render(view(r.entries || [], action, onFilter), ctx.el);
}
