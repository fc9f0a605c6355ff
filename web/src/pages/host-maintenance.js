// Host page, Maintenance tab (C2 repository care): run forget / prune / check / unlock now,
// the cadences (cron, enabled, next and last run; check's read-data subset), the admin
// credential slot (admins only; write-only fields, never shown back) and the repository's
// locks with owner and age.
import { get, post, put, del } from '../api.js';
import { navigate } from '../router.js';
import { html, nothing, keyed } from '../html.js';
import { busy, toast, fmtBytes, fmtDuration, absTime } from '../util.js';
import { relEl, none, pill } from '../components.js';

const KINDS = [
  ['forget', 'Forget', 'Apply each source group\'s retention (restic forget --group-by host,tags).'],
  ['prune', 'Prune', 'Remove data no snapshot needs any more.'],
  ['check', 'Check', 'Verify the repository (reads the subset below).'],
  ['unlock', 'Unlock', 'Remove stale locks whose owner is provably gone.'],
];
const CADENCES = ['forget', 'prune', 'check'];
const SUBSET_RE = /^(?:(?:100|[1-9]\d?|0?\.\d*[1-9]\d*|[1-9]\d?\.\d+)%|[1-9]\d*\/[1-9]\d*)$/;

function lastRun(lr) {
  if (!lr) return html`<span class="muted">never</span>`;
  const st = lr.stats || {};
  const extra = lr.status === 'succeeded' && st.freed_bytes !== undefined ? ` · freed ${fmtBytes(st.freed_bytes)}`
    : st.removed !== undefined ? ` · removed ${st.removed}` : st.errors ? ` · ${st.errors} error(s)` : '';
  return html`<a href="/jobs/${encodeURIComponent(lr.job_id)}" data-testid="last-run">${pill(lr.status)}</a>${extra} ${lr.finished_at ? relEl(lr.finished_at) : nothing}`;
}

function cadenceRow(k, c, st, operator) {
  const e = st.errors[k] || '';
  return html`<tr data-testid="cadence-${k}">
<th scope="row">${k}</th>
<td><input name="${k}-cron" class="mono" size="14" autocomplete="off" spellcheck="false" .value=${c.cron} ?disabled=${!operator} aria-label="${k} cron" aria-invalid=${e ? 'true' : 'false'} data-testid="cron-${k}"></td>
<td><input type="checkbox" name="${k}-enabled" .checked=${c.enabled} ?disabled=${!operator} aria-label="${k} enabled" data-testid="enabled-${k}"></td>
<td>${k === 'check' ? html`<input name="check-subset" class="mono" size="6" .value=${c.read_data_subset || ''} ?disabled=${!operator} aria-label="check read-data subset" data-testid="subset-check">` : nothing}</td>
<td>${c.next_run ? html`<span title=${absTime(c.next_run)}>${relEl(c.next_run)}</span>` : none}</td>
<td>${lastRun(c.last_run)}</td>
<td class="muted small">${c.runs_on === 'server' ? 'server (admin slot)' : 'agent'}</td>
</tr>${e ? html`<tr><td colspan="7" class="field-err" data-testid="cadence-err-${k}">${e}</td></tr>` : nothing}`;
}

function locksTable(l) {
  if (!l) return none;
  const locks = l.locks || [];
  if (!locks.length) return html`<p class="muted" data-testid="locks-empty">No locks ${l.reported_at ? html`(as of ${relEl(l.reported_at)})` : '(none reported yet; run Unlock to read them)'}.</p>`;
  return html`<div class="table-wrap"><table class="table" data-testid="locks-table"><thead><tr><th>Lock</th><th>Owner</th><th>User</th><th>Kind</th><th class="num">Age</th></tr></thead><tbody>
${locks.map((x) => html`<tr><td class="mono">${String(x.id || '').slice(0, 8)}</td><td class="mono">${x.owner || `${x.hostname} (pid ${x.pid})`}</td><td>${x.username || ''}</td><td>${x.exclusive ? 'exclusive' : 'shared'}</td><td class="num">${x.age_s !== undefined ? fmtDuration(x.age_s) : '?'}</td></tr>`)}
</tbody></table></div><p class="muted small">As of ${relEl(l.reported_at)}.</p>`;
}

export function createMaintenance(s, env) {
  const { enc, update } = env;
  s.mt = { data: null, locks: null, error: '', errors: {}, key: 1, loading: false, adminError: '' };
  const load = async () => {
    if (s.mt.loading) return;
    s.mt.loading = true;
    try {
      const [m, l] = await Promise.all([
        get(`/api/hosts/${enc}/maintenance`, { quiet: true }),
        get(`/api/hosts/${enc}/locks`, { quiet: true }).catch(() => null),
      ]);
      s.mt.data = m; s.mt.locks = l; s.mt.error = '';
    } catch (e) {
      s.mt.error = e.status === 404 ? 'Not available on this server.' : `Could not load: ${e.message}`;
    }
    s.mt.loading = false;
    update();
  };
  const runNow = async (ev, kind) => {
    const body = { kind };
    if (kind === 'check') {
      const sub = (s.mt.data && s.mt.data.check.read_data_subset) || '';
      if (sub) body.read_data_subset = sub;
    }
    await busy(ev.currentTarget, async () => {
      try {
        const r = await post(`/api/hosts/${enc}/jobs`, body);
        navigate(`/jobs/${encodeURIComponent(r.job_id)}`);
      } catch { /* toasted */ }
    });
  };
  const onSave = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const st = s.mt;
    st.errors = {};
    const b = {};
    for (const k of CADENCES) {
      b[k] = { cron: f.elements[`${k}-cron`].value.trim(), enabled: f.elements[`${k}-enabled`].checked };
      if (!b[k].cron) st.errors[k] = 'A cron expression is required.';
    }
    const sub = f.elements['check-subset'].value.trim();
    if (!SUBSET_RE.test(sub)) st.errors.check = 'Read-data subset: N% (0 < N ≤ 100) or n/m.';
    else b.check.read_data_subset = sub;
    if (Object.keys(st.errors).length) { update(); return; }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        st.data = await put(`/api/hosts/${enc}/maintenance`, b, { quiet: true });
        st.key++;
        toast('Maintenance cadences saved', 'ok', 3000);
      } catch (e) {
        if (e.status === 401) return;
        const k = CADENCES.find((x) => e.message.startsWith(x));
        st.errors = { [k || 'forget']: e.message };
      }
      update();
    });
  };
  const onAdmin = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const b = { repo_url: f.elements.repo_url.value.trim(), repo_username: f.elements.repo_username.value.trim(), repo_password: f.elements.repo_password.value };
    if (!b.repo_url || !b.repo_password) { s.mt.adminError = 'Repository URL and password are required.'; update(); return; }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        await put(`/api/hosts/${enc}/admin-credentials`, b, { quiet: true });
        f.reset();
        s.mt.adminError = '';
        toast('Admin credentials saved (never shown again)', 'ok', 3000);
        await load();
      } catch (e) { if (e.status !== 401) { s.mt.adminError = e.message; update(); } }
    });
  };
  const onAdminDelete = async (ev) => {
    await busy(ev.currentTarget, async () => {
      try { await del(`/api/hosts/${enc}/admin-credentials`); toast('Admin credentials removed', 'ok', 3000); await load(); } catch { /* toasted */ }
    });
  };
  const view = () => {
    const m = s.mt;
    if (!m.data && !m.error) { load(); return html`<p class="muted">Loading…</p>`; }
    if (m.error) return html`<p class="form-error" role="alert">${m.error}</p>`;
    const d = m.data;
    return html`<section class="card" aria-labelledby="mt-run-h" data-testid="maintenance-run"><h2 id="mt-run-h">Run now</h2>
<div class="actions">${KINDS.map(([k, label, tip]) => html`<button type="button" class="btn" title=${tip} ?disabled=${!env.operator} data-testid="run-${k}" @click=${(ev) => runNow(ev, k)}>${label}</button>`)}</div>
<p class="muted small">Forget and prune wait for a running job of this host to finish (one job at a time on the agent).</p></section>
${keyed(m.key, html`<form class="card form" data-testid="cadences-form" novalidate aria-labelledby="mt-cad-h" @submit=${onSave}>
<h2 id="mt-cad-h">Cadences <span class="muted small">(host-local time)</span></h2>
<div class="table-wrap"><table class="table"><thead><tr><th>Kind</th><th>Cron</th><th>On</th><th>Subset</th><th>Next run</th><th>Last run</th><th>Runs on</th></tr></thead><tbody>
${CADENCES.map((k) => cadenceRow(k, d[k], m, env.operator))}</tbody></table></div>
${env.operator ? html`<div class="actions"><button type="submit" class="btn" data-testid="cadences-save">Save cadences</button></div>` : nothing}
</form>`)}
${env.admin ? html`<form class="card form" data-testid="admin-creds-form" novalidate aria-labelledby="mt-adm-h" @submit=${onAdmin} autocomplete="off">
<h2 id="mt-adm-h">Admin credential slot</h2>
<p class="muted small">A second repository URL / user / password with delete rights, for an append-only everyday credential. Forget and prune then run through the server with it, sent to the agent just in time and never stored on the host. ${d.admin_credentials_set ? html`<b data-testid="admin-set">Set.</b>` : html`<span data-testid="admin-unset">Not set.</span>`}</p>
<div class="grid4"><div class="field"><label for="adm-url">Repository URL</label><input id="adm-url" name="repo_url" class="mono" autocomplete="off" spellcheck="false" data-testid="adm-url"></div>
<div class="field"><label for="adm-user">User</label><input id="adm-user" name="repo_username" autocomplete="off" data-testid="adm-user"></div>
<div class="field"><label for="adm-pw">Password</label><input id="adm-pw" name="repo_password" type="password" autocomplete="new-password" data-testid="adm-pw"></div></div>
<p class="form-error" role="alert">${m.adminError}</p>
<div class="actions"><button type="submit" class="btn" data-testid="adm-save">Save admin credentials</button>${d.admin_credentials_set ? html` <button type="button" class="btn btn-danger" data-testid="adm-delete" @click=${onAdminDelete}>Remove</button>` : nothing}</div>
</form>` : nothing}
<section class="card" aria-labelledby="mt-locks-h" data-testid="locks"><h2 id="mt-locks-h">Repository locks</h2>${locksTable(m.locks)}</section>`;
  };
  // a finished job of this host may have changed last runs and locks
  const refresh = () => { if (s.mt.data) load(); };
  return { view, refresh };
}
