// Alerts: open / acknowledged / resolved, with ack and resolve for operators. Live: the
// list reloads when /api/events says the alerts changed.
import { get, post, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { absTime, busy } from '../util.js';
import { relEl } from '../components.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { refreshAlertCount } from '../alertcount.js';

export const title = 'Alerts';
export const navKey = 'alerts';

const STATES = [['active', 'Active'], ['open', 'Open'], ['acked', 'Acknowledged'], ['resolved', 'Resolved'], ['all', 'All']];
const SEV = { critical: 'failed', warning: 'cancelled', info: 'succeeded' };

const sevPill = (s) => html`<span class="pill pill-${SEV[s] || 'cancelled'}" data-testid="alert-severity">${s}</span>`;
const stateText = (a) => {
  if (a.state === 'acked') return html`acknowledged by <span class="mono">${a.acked_by}</span> ${relEl(a.acked_at)}`;
  if (a.state === 'resolved') return html`resolved by <span class="mono">${a.resolved_by}</span> ${relEl(a.resolved_at)}${a.resolution ? html`<div class="muted small">${a.resolution}</div>` : nothing}`;
  return html`open`;
};

function row(a, h) {
  const where = a.host_id ? html`<a class="mono" href="/hosts/${a.host_id}">${a.hostname || a.host_id}</a>${a.group ? html` / <span class="mono">${a.group}</span>` : nothing}` : html`<span class="muted">—</span>`;
  return html`<tr data-testid="alert-row" data-state=${a.state} data-rule=${a.rule} data-id=${a.id}>
<td>${sevPill(a.severity)}</td>
<td><div>${a.title}</div><div class="muted small">${a.message}</div>${a.job_id ? html`<a class="small" href="/jobs/${a.job_id}">job</a>` : nothing}</td>
<td>${where}</td><td class="mono">${a.rule}</td>
<td class="num mono" data-testid="alert-count">${a.count}</td>
<td title=${absTime(a.first_at)}>${relEl(a.first_at)}</td>
<td data-testid="alert-state">${stateText(a)}</td>
<td class="actions-cell">${h.operator && a.state === 'open' ? html`<button type="button" class="btn btn-sm" data-testid="alert-ack" @click=${(ev) => h.act(ev, a, 'ack')}>Acknowledge</button>` : nothing}
${h.operator && a.state !== 'resolved' ? html`<button type="button" class="btn btn-sm btn-ghost" data-testid="alert-resolve" @click=${(ev) => h.act(ev, a, 'resolve')}>Resolve</button>` : nothing}</td></tr>`;
}

const view = (st, h) => html`<div class="page-head"><h1>Alerts</h1>
<div class="tabs" role="tablist">${STATES.map(([k, label]) => html`<a href="/alerts?state=${k}" role="tab" class="tab${st.state === k ? ' active' : ''}" aria-selected=${st.state === k ? 'true' : 'false'} data-testid="alerts-tab-${k}">${label}</a>`)}</div>
${session.user.role === 'admin' ? html`<div class="row-actions"><a class="btn btn-ghost btn-sm" href="/alerts/channels" data-testid="link-channels">Channels</a> <a class="btn btn-ghost btn-sm" href="/alerts/rules" data-testid="link-rules">Rules</a> <a class="btn btn-ghost btn-sm" href="/audit">Audit log</a></div>` : nothing}</div>
<p class="muted" data-testid="alerts-summary">${st.open} open · ${st.acked} acknowledged</p>
${st.alerts.length ? html`<div class="table-wrap"><table class="table" data-testid="alerts-table"><thead><tr><th>Severity</th><th>What</th><th>Where</th><th>Rule</th><th>Count</th><th>Since</th><th>State</th><th></th></tr></thead>
<tbody>${st.alerts.map((a) => row(a, h))}</tbody></table></div>` : html`<div class="empty empty-sm" data-testid="alerts-empty"><p class="muted">No alerts here.</p></div>`}`;

export async function mount(ctx) {
  const state = STATES.some(([k]) => k === ctx.query.get('state')) ? ctx.query.get('state') : 'active';
  const st = { state, alerts: [], open: 0, acked: 0 };
  const h = { operator: session.user && session.user.role !== 'viewer' };
  const load = async () => {
    const r = await get(`/api/alerts?state=${state}&limit=500`, { quiet: true });
    if (!ctx.alive()) return;
    Object.assign(st, { alerts: r.alerts, open: r.open, acked: r.acked });
    render(view(st, h), ctx.el);
  };
  h.act = (ev, a, what) => busy(ev.currentTarget, async () => {
    try { await post(`/api/alerts/${a.id}/${what}`); } catch { /* toast shown */ }
    await load();
    refreshAlertCount();
  });
  await load();
  let pending = null;
  const unsub = subscribe((msg) => {
    if (msg.type !== 'alerts' && msg.type !== 'resync') return;
    clearTimeout(pending);
    pending = setTimeout(() => { load().catch(() => {}); }, 100);
  });
  ctx.onCleanup(() => { unsub(); clearTimeout(pending); });
  if (ctx.query.get('state') && ctx.query.get('state') !== state) navigate('/alerts', { replace: true });
}
