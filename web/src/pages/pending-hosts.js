// C6 Pending hosts: agents that announced themselves (enroll without a token) wait here
// for an administrator, who compares the key fingerprint with the one the agent printed
// and accepts (name, tags, repository) or rejects. Below: outstanding enrollment tokens,
// with Regenerate (new secret, old one dead) and Revoke.
import { get, post, del, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, lines, toast } from '../util.js';
import { navigate } from '../router.js';
import { relEl, tagList, none } from '../components.js';
import { refreshPendingCount } from '../pendingcount.js';

export const title = 'Pending hosts';
export const navKey = 'pending';

const POLL_MS = 5000;

const acceptForm = (p, s, onSubmit, onCancel) => html`<form class="card form pending-accept" data-testid="accept-form" novalidate @submit=${onSubmit}>
  <h3>Accept <span class="mono">${p.hostname}</span></h3>
  <p class="muted small">Only accept if the fingerprint above is exactly what the agent printed on the host.</p>
  <div class="row2">
    <div class="field"><label for="pa-hostname">Name</label>
      <input id="pa-hostname" name="hostname" class="mono" required autocomplete="off" spellcheck="false" .value=${p.hostname} data-testid="accept-hostname"></div>
    <div class="field"><label for="pa-tags">Tags <span class="muted">(comma separated)</span></label>
      <input id="pa-tags" name="tags" autocomplete="off" data-testid="accept-tags"></div>
  </div>
  <div class="field"><label for="pa-repo">Repository URL</label>
    <input id="pa-repo" name="repo_url" class="mono" required autocomplete="off" spellcheck="false" placeholder="rest:https://backup.example.com/host/ or /srv/restic/host" data-testid="accept-repo-url"></div>
  <div class="row2">
    <div class="field"><label for="pa-ruser">Repository username <span class="muted">(optional)</span></label>
      <input id="pa-ruser" name="repo_username" autocomplete="off" data-testid="accept-repo-username"></div>
    <div class="field"><label for="pa-rpass">Repository password <span class="muted">(blank: generate one)</span></label>
      <input id="pa-rpass" name="repo_password" type="password" autocomplete="new-password" data-testid="accept-repo-password"></div>
  </div>
  <div class="field"><label for="pa-paths">Initial backup paths <span class="muted">(one absolute path per line)</span></label>
    <textarea id="pa-paths" name="initial_paths" class="mono" rows="3" spellcheck="false" data-testid="accept-paths"></textarea></div>
  <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
  <div class="actions"><button type="submit" class="btn btn-primary" data-testid="accept-submit">Accept host</button>
    <button type="button" class="btn btn-ghost" @click=${onCancel}>Cancel</button></div>
</form>`;

const pendingCard = (p, s, h) => html`<li class="card pending-host" data-testid="pending-host" data-id=${p.id}>
  <div class="pending-host-head">
    <div><strong class="mono" data-testid="pending-hostname">${p.hostname}</strong>
      <span class="muted small">${p.os || '?'}/${p.arch || '?'} · agent ${p.agent_version || '?'} · restic ${p.restic_version || '?'} · from <span class="mono">${p.address || '?'}</span></span></div>
    <div class="muted small">announced ${relEl(p.announced_at)} · expires ${relEl(p.expires_at)}</div>
  </div>
  <div class="fingerprint-block"><span class="muted small" id="fp-${p.id}">Key fingerprint</span>
    <code class="fingerprint mono" aria-describedby="fp-${p.id}" data-testid="pending-fingerprint">${p.fingerprint}</code></div>
  ${s.admin ? (s.accepting === p.id ? acceptForm(p, s, h.submit, h.cancel)
    : html`<div class="actions"><button type="button" class="btn btn-primary" data-testid="pending-accept" @click=${() => h.open(p)}>Accept…</button>
      <button type="button" class="btn btn-danger" data-testid="pending-reject" @click=${(ev) => h.reject(ev, p)}>Reject</button></div>`)
    : html`<p class="muted small">An administrator decides.</p>`}
</li>`;

const tokenRow = (t, h) => html`<tr data-testid="token-row" data-id=${t.id}>
  <td class="mono">${t.hostname}</td><td>${t.tags && t.tags.length ? tagList(t.tags) : none}</td>
  <td>${t.created_by || none}</td><td>${relEl(t.created_at)}</td><td>${relEl(t.expires_at)}</td>
  <td class="actions-cell"><button type="button" class="btn btn-sm" data-testid="token-regenerate" @click=${(ev) => h.regenerate(ev, t)}>Regenerate</button>
    <button type="button" class="btn btn-sm btn-danger" data-testid="token-revoke" @click=${(ev) => h.revoke(ev, t)}>Revoke</button></td></tr>`;

const view = (s, h) => html`<div class="page-head"><h1>Pending hosts</h1></div>
<section aria-labelledby="ph-h">
  <h2 id="ph-h">Hosts asking to join</h2>
  <p class="muted">An agent started with <span class="mono">restic-manager-agent enroll --server ${location.origin}</span> (no token) prints its key fingerprint and waits here.
    Compare the fingerprint with what the agent printed before accepting: it is what proves the request comes from that host.</p>
  ${s.pending === null ? html`<p class="muted">Loading…</p>`
    : s.pending.length === 0 ? html`<p class="muted" data-testid="pending-empty">No host is waiting.</p>`
      : html`<ul class="pending-list">${s.pending.map((p) => pendingCard(p, s, h))}</ul>`}
</section>
<section class="card" aria-labelledby="tok-h">
  <h2 id="tok-h">Outstanding enrollment tokens</h2>
  <p class="muted small">Unused tokens that have not expired. Secrets are stored hashed, so a lost token cannot be shown again: Regenerate issues a new one (the old one stops working).</p>
  ${s.tokens === null ? html`<p class="muted">Loading…</p>`
    : s.tokens.length === 0 ? html`<p class="muted" data-testid="tokens-empty">No outstanding tokens.</p>`
      : html`<div class="table-wrap"><table class="table" data-testid="tokens-table"><thead><tr><th>Host</th><th>Tags</th><th>Created by</th><th>Created</th><th>Expires</th><th></th></tr></thead>
        <tbody>${s.tokens.map((t) => tokenRow(t, h))}</tbody></table></div>`}
</section>`;

export async function mount(ctx) {
  const s = { pending: null, tokens: null, accepting: null, error: '', admin: session.user && session.user.role === 'admin' };
  const update = () => { if (ctx.alive()) render(view(s, h), ctx.el); };
  async function load() {
    try {
      const [p, t] = await Promise.all([get('/api/pending-hosts', { quiet: true }), get('/api/enrollment-tokens', { quiet: true })]);
      s.pending = p.pending;
      s.tokens = t.tokens;
      if (s.accepting && !s.pending.some((x) => x.id === s.accepting)) s.accepting = null;
      update();
    } catch (e) { if (e.status !== 401 && s.pending === null) throw e; }
  }
  const h = {
    open(p) { s.accepting = p.id; s.error = ''; update(); const f = ctx.el.querySelector('[data-testid=accept-form]'); if (f) f.repo_url.focus(); },
    cancel() { s.accepting = null; update(); },
    async submit(ev) {
      ev.preventDefault();
      const form = ev.currentTarget;
      const fail = (m, f) => { s.error = m; update(); if (f) f.focus(); };
      const repo = { repo_url: form.repo_url.value.trim() };
      if (form.repo_username.value.trim()) repo.repo_username = form.repo_username.value.trim();
      if (form.repo_password.value) repo.repo_password = form.repo_password.value;
      const body = {
        hostname: form.hostname.value.trim(),
        tags: form.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
        initial_paths: lines(form.initial_paths.value),
        repo,
      };
      if (!body.hostname) return fail('Name is required.', form.hostname);
      if (!repo.repo_url) return fail('Repository URL is required.', form.repo_url);
      const bad = body.initial_paths.find((p) => !p.startsWith('/'));
      if (bad) return fail(`Paths must be absolute: ${bad}`, form.initial_paths);
      await busy(form.querySelector('button[type=submit]'), async () => {
        try {
          const r = await post(`/api/pending-hosts/${encodeURIComponent(s.accepting)}/accept`, body);
          s.accepting = null;
          refreshPendingCount();
          if (r.generated_password) toast(`Accepted. Generated repository password: ${r.generated_password} (shown once; keep it)`, 'ok', 60000);
          else toast('Accepted: the host enrolls at its next poll.', 'ok');
          navigate(`/hosts/${encodeURIComponent(r.host_id)}`);
        } catch (e) { if (e.status !== 401) fail(e.message); }
      });
    },
    async reject(ev, p) {
      if (!window.confirm(`Reject ${p.hostname} (${p.fingerprint})? The agent is told and stops asking.`)) return;
      await busy(ev.currentTarget, async () => {
        try { await post(`/api/pending-hosts/${encodeURIComponent(p.id)}/reject`); toast('Rejected.', 'ok'); } catch { /* toast shown */ }
        refreshPendingCount();
        await load();
      });
    },
    async regenerate(ev, t) {
      if (!window.confirm(`Issue a new token for ${t.hostname}? The current one stops working.`)) return;
      await busy(ev.currentTarget, async () => {
        try {
          const r = await post(`/api/enrollment-tokens/${encodeURIComponent(t.id)}/regenerate`);
          navigate(`/hosts/pending/${encodeURIComponent(r.token)}`);
        } catch { /* toast shown */ }
      });
    },
    async revoke(ev, t) {
      if (!window.confirm(`Revoke the enrollment token for ${t.hostname}?`)) return;
      await busy(ev.currentTarget, async () => {
        try { await del(`/api/enrollment-tokens/${encodeURIComponent(t.id)}`); toast('Token revoked.', 'ok'); } catch { /* toast shown */ }
        await load();
      });
    },
  };
  await load();
  // keep the queue fresh, but never under an open accept form (it would reset typing)
  const timer = setInterval(() => { if (!s.accepting) load(); }, POLL_MS);
  ctx.onCleanup(() => clearInterval(timer));
}
