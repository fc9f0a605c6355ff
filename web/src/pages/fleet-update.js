// C6 rolling fleet update: the signed release the server offers, the agents behind it,
// "Start rolling update" (admin), live per-host progress, Cancel, the halted reason.
// Live: host events (each update step changes its host) reload the runs; a slow poll
// covers runs whose hosts emit nothing for a while.
import { get, post, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy } from '../util.js';
import { relEl, statusDot } from '../components.js';
import { subscribe } from '../events.js';

export const title = 'Agent updates';
export const navKey = 'updates';

const PILL = { queued: 'queued', updating: 'running', succeeded: 'succeeded', failed: 'failed', rolled_back: 'failed', skipped: 'cancelled', not_started: 'cancelled', running: 'running', halted: 'failed', cancelled: 'cancelled' };
const pill = (s) => html`<span class="pill pill-${PILL[s] || s}" data-state=${s}>${s.replace('_', ' ')}</span>`;

function runView(run, h) {
  return html`<section class="card" data-testid="update-run" data-run-id=${run.id} data-state=${run.state}>
<h2>Run to ${run.target_version} ${pill(run.state)} <span class="small muted">started ${relEl(run.created_at)} by ${run.created_by || '—'}</span></h2>
${run.state === 'halted' ? html`<div class="panel panel-bad" role="alert" data-testid="update-run-halted">Halted at <strong>${run.reason}</strong>. The remaining hosts were not touched.</div>` : nothing}
${run.cancel_requested && run.state === 'running' ? html`<p class="muted">Stopping after the current host…</p>` : nothing}
<div class="table-wrap"><table class="table"><thead><tr><th>Host</th><th>From</th><th>State</th><th>Detail</th></tr></thead>
<tbody>${run.hosts.map((x) => html`<tr data-testid="update-run-host" data-host-id=${x.host_id} data-state=${x.state}>
<td><a class="mono" href="/hosts/${encodeURIComponent(x.host_id)}">${x.hostname || x.host_id}</a></td>
<td class="mono">${x.from_version || '—'}</td><td>${pill(x.state)}</td><td class="mono small">${x.error || ''}</td></tr>`)}</tbody></table></div>
${h.admin && run.state === 'running' && !run.cancel_requested ? html`<div class="form-actions"><button type="button" class="btn btn-ghost" data-testid="update-run-cancel" @click=${(ev) => h.cancel(ev, run)}>Cancel after the current host</button></div>` : nothing}
</section>`;
}

const view = (st, h) => {
  const rel = st.release;
  const behind = rel ? st.hosts.filter((x) => x.agent_version !== rel.version) : [];
  const running = st.runs.some((r) => r.state === 'running');
  return html`<div class="page-head"><h1>Agent updates</h1></div>
<section class="card" data-testid="update-release">
${rel ? html`<p>The server offers agent <strong class="mono" data-testid="release-version">${rel.version}</strong> (${rel.os}/${rel.arch}), signed with the release key.</p>`
    : html`<p class="muted" data-testid="release-none">No signed agent release: ${st.problem || 'see docs/deployment.md, "Release signing"'}.</p>`}
${rel ? html`<h2>${behind.length} host${behind.length === 1 ? '' : 's'} behind</h2>
${behind.length ? html`<div class="table-wrap"><table class="table"><thead><tr><th>Host</th><th>Agent</th><th>Status</th><th>Update</th></tr></thead>
<tbody>${behind.map((x) => html`<tr data-testid="behind-host" data-host-id=${x.id}><td>${statusDot(x)} <a class="mono" href="/hosts/${encodeURIComponent(x.id)}">${x.hostname}</a></td>
<td class="mono">${x.agent_version || '—'}</td><td>${x.status}</td><td>${x.update ? pill(x.update.state) : nothing}</td></tr>`)}</tbody></table></div>` : nothing}
${h.admin && behind.length ? html`<div class="form-actions"><button type="button" class="btn" data-testid="update-start" ?disabled=${running} @click=${h.start}>Start rolling update</button></div>
<p class="muted small">Hosts are updated one at a time; the run halts at the first host that fails or rolls back. Offline hosts are skipped.</p>` : nothing}` : nothing}
${st.error ? html`<div class="form-error" role="alert" data-testid="update-error">${st.error}</div>` : nothing}
</section>
${st.runs.map((r) => runView(r, h))}`;
};

export async function mount(ctx) {
  const st = { release: null, problem: '', runs: [], hosts: [], error: '' };
  const h = { admin: session.user && session.user.role === 'admin' };
  const load = async () => {
    const [f, hs] = await Promise.all([get('/api/fleet/update', { quiet: true }), get('/api/hosts', { quiet: true })]);
    if (!ctx.alive()) return;
    Object.assign(st, { release: f.release, problem: f.release_problem || '', runs: f.runs || [], hosts: hs.hosts || [] });
    render(view(st, h), ctx.el);
  };
  h.start = (ev) => busy(ev.currentTarget, async () => {
    st.error = '';
    try { await post('/api/fleet/update', {}); } catch (e) { if (e.status !== 401) st.error = e.message; }
    await load();
  });
  h.cancel = (ev, run) => busy(ev.currentTarget, async () => {
    try { await post(`/api/fleet/update/${encodeURIComponent(run.id)}/cancel`); } catch { /* toast shown */ }
    await load();
  });
  await load();
  let pending = null;
  const soon = () => { clearTimeout(pending); pending = setTimeout(() => { load().catch(() => {}); }, 200); };
  const unsub = subscribe((msg) => { if (msg.type === 'host' || msg.type === 'resync') soon(); });
  const poll = setInterval(() => { if (st.runs.some((r) => r.state === 'running')) soon(); }, 3000);
  ctx.onCleanup(() => { unsub(); clearTimeout(pending); clearInterval(poll); });
}
