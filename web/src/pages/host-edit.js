// Host page, Manage tab (C6): the operator's name, tags and availability mode (PATCH, the
// server's 400 field next to the field); for admins the repository credentials (replace:
// pushed to the agent, the repository probed again) with the password rotation and its live
// state, and deleting the host (type its name to confirm; keep or delete its history).
import { api, get, post, put, del } from '../api.js';
import { navigate } from '../router.js';
import { html, nothing, keyed } from '../html.js';
import { busy, toast, absTime } from '../util.js';
import { pill } from '../components.js';

const NAME_RE = /^[A-Za-z0-9._-]{1,253}$/;
const ROT_LABEL = { pending: 'adding the new key', added: 'new key added', switched: 'switched to the new password', old_removed: 'done: old key removed', failed: 'failed' };
const tagsOf = (t) => String(t || '').split(',').map((x) => x.trim()).filter(Boolean);

function nameForm(st, h, on) {
  const err = (n) => st.errors[n] || '';
  return html`<form class="card form" data-testid="host-edit-form" novalidate aria-labelledby="he-h" @submit=${on.save}>
<h2 id="he-h">Name, tags and availability</h2>
<fieldset class="fs-plain" ?disabled=${!on.operator}>
<div class="grid3">
<div class="field"><label for="he-hostname">Name <span class="muted">(the host's name everywhere)</span></label>
<input id="he-hostname" name="hostname" class="mono" autocomplete="off" spellcheck="false" .value=${h.hostname} aria-invalid=${err('hostname') ? 'true' : 'false'} aria-describedby="he-hostname-err" data-testid="he-hostname">
<p class="field-err" id="he-hostname-err" data-testid="he-hostname-err">${err('hostname')}</p>
${h.reported_hostname ? html`<p class="muted small">The agent reports <span class="mono" data-testid="he-reported">${h.reported_hostname}</span>${h.hostname_mismatch ? html` <span class="pill pill-warn">differs</span>` : nothing}; restic records backups under that machine name.</p>` : nothing}</div>
<div class="field"><label for="he-tags">Tags <span class="muted">(comma-separated)</span></label>
<input id="he-tags" name="tags" autocomplete="off" .value=${(h.tags || []).join(', ')} aria-invalid=${err('tags') ? 'true' : 'false'} aria-describedby="he-tags-err" data-testid="he-tags">
<p class="field-err" id="he-tags-err" data-testid="he-tags-err">${err('tags')}</p></div>
<div class="field"><label for="he-mode">Availability <span class="muted">(intermittent: no offline alert, catches up)</span></label>
<select id="he-mode" name="mode" data-testid="he-mode"><option value="always_on" ?selected=${h.mode !== 'intermittent'}>always on</option><option value="intermittent" ?selected=${h.mode === 'intermittent'}>intermittent (laptop)</option></select></div>
</div>
<p class="form-error" role="alert" data-testid="he-error">${st.error}</p>
${on.operator ? html`<div class="actions"><button type="submit" class="btn" data-testid="he-save">Save</button></div>` : nothing}
</fieldset></form>`;
}

function rotation(rot) {
  if (!rot) return html`<p class="muted small" data-testid="rot-state" data-state="none">The repository password was never rotated.</p>`;
  return html`<div data-testid="rot-state" data-state=${rot.state} data-active=${rot.active ? '1' : '0'}>
<p>Rotation ${pill(rot.state)} <span class="muted small">${ROT_LABEL[rot.state] || ''}${rot.active ? ' · running…' : ''} · started ${absTime(rot.started_at)}${rot.started_by ? ` by ${rot.started_by}` : ''}</span></p>
${rot.old_key_id ? html`<p class="muted small mono">old key ${rot.old_key_id} → new key ${rot.new_key_id || '…'}</p>` : nothing}
${rot.error ? html`<p class="panel panel-bad small" role="alert" data-testid="rot-error">${rot.error}</p>` : nothing}</div>`;
}

function credsCard(st, c, on) {
  const busyRot = c && c.rotation && c.rotation.active;
  return html`<section class="card" aria-labelledby="rc-h" data-testid="repo-creds">
<h2 id="rc-h">Repository credentials <span class="muted small">(admins only)</span></h2>
${c ? html`<p class="small">Now: <span class="mono" data-testid="rc-url">${c.repo_url || '—'}</span>${c.repo_username ? html` as <span class="mono">${c.repo_username}</span>` : nothing} · password ${c.password_set ? 'set' : 'not set'} · repository ${pill(c.repo_status)}</p>
${c.repo_error ? html`<p class="panel panel-bad small mono">${c.repo_error}</p>` : nothing}` : html`<p class="muted">Loading…</p>`}
<form class="form" novalidate data-testid="rc-form" @submit=${on.putCreds}>
<div class="grid3">
<div class="field"><label for="rc-url">Repository URL</label><input id="rc-url" name="repo_url" class="mono" autocomplete="off" spellcheck="false" data-testid="rc-url-input" placeholder="rest:https://… / s3:… / /srv/restic"></div>
<div class="field"><label for="rc-user">rest-server user <span class="muted">(optional)</span></label><input id="rc-user" name="repo_username" class="mono" autocomplete="off" data-testid="rc-user-input"></div>
<div class="field"><label for="rc-pw">Password <span class="muted">(empty = keep)</span></label><input id="rc-pw" name="repo_password" type="password" autocomplete="new-password" data-testid="rc-pw-input"></div>
</div>
<p class="form-error" role="alert" data-testid="rc-error">${st.credsError}</p>
<div class="actions"><button type="submit" class="btn" data-testid="rc-save" ?disabled=${busyRot}>Replace credentials</button>
<span class="muted small">Pushed to the agent; the repository is checked (or initialised when empty) again.</span></div></form>
<h3>Rotate the repository password</h3>
<p class="muted small">Adds a new key with a generated password, switches the agent to it, proves it works, then removes the old key. The old password keeps working until then.</p>
${rotation(c && c.rotation)}
<div class="actions"><button type="button" class="btn" data-testid="rot-start" ?disabled=${busyRot || !c || c.repo_status !== 'ready'} @click=${on.rotate}>Rotate password</button></div>
</section>`;
}

function deleteCard(st, h, on) {
  return html`<section class="card card-danger" aria-labelledby="hd-h" data-testid="host-delete">
<h2 id="hd-h">Delete this host <span class="muted small">(admins only)</span></h2>
<p class="small">Revokes the agent's token at once and closes its connection; queued and running jobs are cancelled. The backups in the repository are not touched.</p>
<form class="form" novalidate @submit=${on.remove} @input=${on.typed}>
<fieldset class="fs-plain"><legend class="small">History</legend>
<label class="radio"><input type="radio" name="history" value="keep" checked data-testid="hd-keep"> keep jobs, logs and snapshots (shown as deleted)</label>
<label class="radio"><input type="radio" name="history" value="delete" data-testid="hd-drop"> delete them too</label></fieldset>
<div class="field"><label for="hd-confirm">Type <span class="mono">${h.hostname}</span> to confirm</label>
<input id="hd-confirm" name="confirm" class="mono" autocomplete="off" spellcheck="false" data-testid="hd-confirm"></div>
<p class="form-error" role="alert" data-testid="hd-error">${st.delError}</p>
<div class="actions"><button type="submit" class="btn btn-danger" data-testid="hd-submit" ?disabled=${st.confirm !== h.hostname}>Delete host</button></div>
</form></section>`;
}

// s: the host page state (s.host); env: { enc, update, admin, operator }.
export function createHostEdit(s, env) {
  const { enc, update } = env;
  s.hedit = { key: 1, errors: {}, error: '', creds: null, credsError: '', delError: '', confirm: '' };
  const st = s.hedit;
  const load = async () => {
    if (!env.admin) return;
    try { st.creds = await get(`/api/hosts/${enc}/repo-credentials`, { quiet: true }); } catch { /* shown as loading */ }
    update();
  };
  const on = { operator: env.operator };
  on.save = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const name = f.elements.hostname.value.trim();
    st.errors = {};
    if (!NAME_RE.test(name)) st.errors.hostname = '1–253 of A–Z, a–z, 0–9, “.”, “_”, “-”.';
    st.error = st.errors.hostname ? 'Fix the highlighted field.' : '';
    update();
    if (st.error) return;
    const body = { hostname: name, tags: tagsOf(f.elements.tags.value), mode: f.elements.mode.value };
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        s.host = await api('PATCH', `/api/hosts/${enc}`, body, { quiet: true });
        st.key++;
        toast('Host saved', 'ok', 3000);
      } catch (e) {
        if (e.status === 401) return;
        if (e.field) st.errors = { [e.field]: e.message };
        st.error = e.message;
      }
      update();
    });
  };
  on.putCreds = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const body = { repo_url: f.elements.repo_url.value.trim(), repo_username: f.elements.repo_username.value.trim() };
    if (f.elements.repo_password.value) body.repo_password = f.elements.repo_password.value;
    st.credsError = body.repo_url ? '' : 'The repository URL is required.';
    update();
    if (st.credsError) return;
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        await put(`/api/hosts/${enc}/repo-credentials`, body, { quiet: true });
        f.reset();
        toast('Credentials replaced; checking the repository…', 'ok', 4000);
        await load();
      } catch (e) { if (e.status !== 401) { st.credsError = e.message; update(); } }
    });
  };
  on.rotate = async (ev) => {
    await busy(ev.currentTarget, async () => {
      try { await post(`/api/hosts/${enc}/repo-credentials/rotate`, {}, { quiet: true }); await load(); } catch (e) { if (e.status !== 401) toast(e.message); }
    });
  };
  on.typed = (ev) => { if (ev.target.name === 'confirm') { st.confirm = ev.target.value; update(); } };
  on.remove = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    if (st.confirm !== s.host.hostname) return;
    const history = f.elements.history.value;
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        await del(`/api/hosts/${enc}?history=${encodeURIComponent(history)}`, { quiet: true });
        toast(`Host ${s.host.hostname} deleted`, 'ok', 4000);
        navigate('/');
      } catch (e) { if (e.status !== 401) { st.delError = e.message; update(); } }
    });
  };
  const view = () => {
    if (s.host.deleted_at) return html`<div class="panel" data-testid="host-deleted">This host was deleted ${absTime(s.host.deleted_at)}; its history is kept read-only.</div>`;
    return html`${keyed(st.key, nameForm(st, s.host, on))}${env.admin ? html`${credsCard(st, st.creds, on)}${deleteCard(st, s.host, on)}` : nothing}`;
  };
  // host and job events: the rotation and repo_status move on their own
  const refresh = () => { if (env.admin && st.creds) load(); };
  return { view, load, refresh };
}
