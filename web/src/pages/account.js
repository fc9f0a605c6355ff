// Account (everyone): change password, own sessions, personal API tokens.
import { get, post, del, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, toast } from '../util.js';
import { relEl } from '../components.js';
import { onceBox, roleSelect, PASSWORD_MIN } from './people-common.js';

export const title = 'Account';
export const navKey = 'account';

const pwCard = (s, h) => html`<section class="card" aria-labelledby="pw-h"><h2 id="pw-h">Password</h2>
<form data-testid="password-form" novalidate @submit=${h.password}>
  <div class="field"><label for="pw-cur">Current password</label><input id="pw-cur" name="current" type="password" autocomplete="current-password" required data-testid="password-current"></div>
  <div class="field"><label for="pw-new">New password</label><input id="pw-new" name="next" type="password" autocomplete="new-password" required minlength=${PASSWORD_MIN} aria-describedby="pw-hint" data-testid="password-new">
    <div id="pw-hint" class="hint">At least ${PASSWORD_MIN} characters, not your username, not a common password. Your other sessions end.</div></div>
  <div class="field"><label for="pw-new2">Confirm new password</label><input id="pw-new2" name="next2" type="password" autocomplete="new-password" required data-testid="password-new2"></div>
  <p class="form-error" role="alert" ?hidden=${!s.pwError} data-testid="password-error">${s.pwError}</p>
  <button type="submit" class="btn btn-primary" data-testid="password-submit">Change password</button>
</form></section>`;

const sessRow = (x, h) => html`<tr data-testid="session-row" data-current=${x.current ? '1' : '0'}>
<td>${relEl(x.created_at)}${x.current ? html` <span class="tag">this session</span>` : nothing}</td>
<td class="mono">${x.ip || '—'}</td><td class="mono muted small">${x.user_agent || '—'}</td><td>${relEl(x.expires_at)}</td>
<td class="actions">${x.current ? nothing : html`<button type="button" class="btn btn-sm" data-testid="session-end" @click=${(ev) => h.endSession(x, ev)}>End</button>`}</td></tr>`;

const sessCard = (s, h) => html`<section class="card" aria-labelledby="ss-h"><div class="page-head"><h2 id="ss-h">Sessions</h2>
<button type="button" class="btn btn-sm" data-testid="sessions-end-others" ?disabled=${s.sessions.length < 2} @click=${h.endOthers}>End all other sessions</button></div>
<div class="table-wrap"><table class="table" data-testid="sessions-table"><thead><tr><th>Signed in</th><th>Address</th><th>Browser</th><th>Expires</th><th></th></tr></thead>
<tbody>${s.sessions.map((x) => sessRow(x, h))}</tbody></table></div></section>`;

const tokRow = (t, h) => html`<tr data-testid="token-row" data-name=${t.name}><td>${t.name}</td><td>${t.role || html`<span class="muted">your role</span>`}</td>
<td>${relEl(t.created_at)}</td><td>${relEl(t.expires_at)}</td><td>${relEl(t.last_used_at)}</td>
<td class="actions"><button type="button" class="btn btn-sm btn-danger" data-testid="token-revoke" @click=${(ev) => h.revoke(t, ev)}>Revoke</button></td></tr>`;

const tokCard = (s, h) => html`<section class="card" aria-labelledby="tk-h"><h2 id="tk-h">API tokens</h2>
<p class="muted">For scripts: send <span class="mono">Authorization: Bearer &lt;token&gt;</span>. A token acts as you, never above your current role, and stops working when revoked, expired or when your account is disabled.</p>
<form class="inline-form" data-testid="token-form" novalidate @submit=${h.create}>
  <label for="tk-name">Name</label><input id="tk-name" name="name" maxlength="64" required data-testid="token-name">
  <label for="tk-days">Days</label><input id="tk-days" name="days" type="number" min="1" max="3650" value="90" style="width:6em" data-testid="token-days">
  <label for="tk-role">Role</label>${roleSelect('tk-role', 'role', session.user.role, session.user.role, 'token-role', () => {})}
  <button type="submit" class="btn btn-primary" data-testid="token-create">Create token</button></form>
<p class="form-error" role="alert" ?hidden=${!s.tokError}>${s.tokError}</p>
${s.newToken ? onceBox(`Token ${s.newToken.name}`, s.newToken.token, 'new-token', 'Copy it now: it is stored only as a hash and will not be shown again.', h.dismiss) : nothing}
${s.tokens.length ? html`<div class="table-wrap"><table class="table" data-testid="tokens-table"><thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead>
<tbody>${s.tokens.map((t) => tokRow(t, h))}</tbody></table></div>` : html`<p class="muted" data-testid="tokens-empty">No tokens.</p>`}</section>`;

const view = (s, h) => html`<div class="page-head"><h1>Account <span class="mono muted">${session.user.username} · ${session.user.role}</span></h1></div>
${pwCard(s, h)}${sessCard(s, h)}${tokCard(s, h)}`;

export async function mount(ctx) {
  const s = { sessions: [], tokens: [], pwError: '', tokError: '', newToken: null };
  const update = () => { if (ctx.alive()) render(view(s, h), ctx.el); };
  const reload = async () => {
    const [a, b] = await Promise.all([get('/api/account/sessions'), get('/api/tokens')]);
    s.sessions = a.sessions;
    s.tokens = b.tokens;
    update();
  };
  const act = async (btn, fn) => busy(btn, async () => { try { await fn(); } catch { /* toast shown */ } await reload(); });
  const h = {
    async password(ev) {
      ev.preventDefault();
      const f = ev.currentTarget;
      s.pwError = '';
      if (f.next.value.length < PASSWORD_MIN) s.pwError = `The new password needs at least ${PASSWORD_MIN} characters.`;
      else if (f.next.value !== f.next2.value) s.pwError = 'The new passwords differ.';
      if (s.pwError) { update(); return; }
      await busy(f.querySelector('button[type=submit]'), async () => {
        try {
          await post('/api/account/password', { current_password: f.current.value, new_password: f.next.value }, { quiet: true });
          f.reset();
          toast('Password changed; your other sessions ended', 'ok', 4000);
        } catch (e) { s.pwError = e.message; }
      });
      await reload();
    },
    endSession: (x, ev) => act(ev.currentTarget, () => del(`/api/account/sessions/${encodeURIComponent(x.id)}`)),
    endOthers: (ev) => act(ev.currentTarget, () => del('/api/account/sessions')),
    async create(ev) {
      ev.preventDefault();
      const f = ev.currentTarget;
      s.tokError = '';
      const body = { name: f.name.value.trim(), expires_in_days: Number(f.days.value) || 90, role: f.role.value };
      if (!body.name) { s.tokError = 'Give the token a name.'; update(); return; }
      await busy(f.querySelector('button[type=submit]'), async () => {
        try {
          s.newToken = await post('/api/tokens', body, { quiet: true });
          f.reset();
        } catch (e) { s.tokError = e.message; }
      });
      await reload();
    },
    revoke: (t, ev) => act(ev.currentTarget, () => del(`/api/tokens/${encodeURIComponent(t.id)}`)),
    dismiss: () => { s.newToken = null; update(); },
  };
  await reload();
}
