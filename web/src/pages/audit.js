// Audit log (admin): newest first, who / action / target / when.
import { get, session } from '../api.js';
import { esc, relEl, absTime } from '../util.js';
import { navigate } from '../router.js';

export const title = 'Audit';
export const navKey = 'audit';

const ACTIONS = ['bootstrap', 'login', 'logout', 'enrollment_token.create', 'host.enroll', 'job.dispatch', 'job.cancel'];

const detailText = (d) => {
  if (d === null || d === undefined || d === '') return '';
  if (typeof d === 'string') return d;
  try { return JSON.stringify(d); } catch { return String(d); }
};

export async function render(ctx) {
  if (!session.user || session.user.role !== 'admin') {
    ctx.el.innerHTML = '<div class="empty"><h1>Audit</h1><p class="muted">Only administrators can read the audit log.</p></div>';
    return;
  }
  const action = ctx.query.get('action') || '';
  const r = await get(`/api/audit?limit=500${action ? `&action=${encodeURIComponent(action)}` : ''}`);
  if (!ctx.alive()) return;
  const entries = r.entries || [];
  ctx.el.innerHTML = `<div class="page-head"><h1>Audit log</h1>
<form class="inline-form" data-filter><label for="au-action">Action</label>
<select id="au-action" name="action" data-testid="audit-filter"><option value="">all actions</option>${ACTIONS.map((a) => `<option${a === action ? ' selected' : ''}>${esc(a)}</option>`).join('')}</select></form></div>
${entries.length ? `<div class="table-wrap"><table class="table" data-testid="audit-table"><thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead><tbody>
${entries.map((e) => `<tr data-testid="audit-row" data-action="${esc(e.action)}"><td class="mono" title="${esc(absTime(e.ts))}">${relEl(e.ts)}</td><td class="mono">${esc(e.actor || '—')}</td>
<td><span class="tag">${esc(e.action)}</span></td><td class="mono">${esc(e.target || '')}</td><td class="mono muted small detail">${esc(detailText(e.detail))}</td></tr>`).join('')}
</tbody></table></div>` : '<div class="empty empty-sm"><p class="muted">No audit entries.</p></div>'}`;
  ctx.el.querySelector('select').addEventListener('change', (ev) => {
    const v = ev.target.value;
    navigate(v ? `/audit?action=${encodeURIComponent(v)}` : '/audit', { replace: true });
  });
}
