// Users (admin): add a user (one-time setup link), change role, disable / enable, force
// logout, new setup link, delete. The server keeps the last enabled admin and refuses
// everything here to non-admins; this page only shows what it can do.
import { get, post, del, api, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, toast } from '../util.js';
import { relEl } from '../components.js';
import { onceBox, roleSelect } from './people-common.js';

export const title = 'Users';
export const navKey = 'users';

const row = (u, s, h) => html`<tr data-testid="user-row" data-username=${u.username}>
<td class="mono">${u.username}${u.id === session.user.id ? html` <span class="tag">you</span>` : nothing}</td>
<td>${roleSelect(`role-${u.id}`, 'role', u.role, 'admin', 'user-role', (ev) => h.role(u, ev), `Role of ${u.username}`)}</td>
<td>${u.disabled ? html`<span class="pill pill-failed" data-testid="user-status">disabled</span>`
    : u.setup_pending ? html`<span class="pill pill-queued" data-testid="user-status">setup pending</span>`
      : html`<span class="pill pill-succeeded" data-testid="user-status">active</span>`}
  ${u.source !== 'local' ? html`<span class="tag">${u.source}</span>` : nothing}</td>
<td class="num">${u.sessions}</td><td class="num">${u.tokens}</td><td>${relEl(u.created_at)}</td>
<td class="actions">${s.confirming === u.id ? html`<span class="confirm" role="group" aria-label="confirm delete"><span>Delete <b>${u.username}</b>?</span>
  <button type="button" class="btn btn-sm btn-danger" data-testid="user-delete-confirm" @click=${(ev) => h.remove(u, ev)}>Delete</button>
  <button type="button" class="btn btn-sm btn-ghost" @click=${() => h.confirm(null)}>Cancel</button></span>`
    : html`<button type="button" class="btn btn-sm" data-testid="user-toggle" @click=${(ev) => h.toggle(u, ev)}>${u.disabled ? 'Enable' : 'Disable'}</button>
  <button type="button" class="btn btn-sm" data-testid="user-logout" ?disabled=${!u.sessions} @click=${(ev) => h.logout(u, ev)}>Sign out</button>
  ${u.source === 'local' ? html`<button type="button" class="btn btn-sm" data-testid="user-setup-link" @click=${(ev) => h.link(u, ev)}>${u.setup_pending ? 'New setup link' : 'Reset link'}</button>` : nothing}
  <button type="button" class="btn btn-sm btn-danger" data-testid="user-delete" @click=${() => h.confirm(u.id)}>Delete</button>`}</td></tr>`;

const view = (s, h) => html`<div class="page-head"><h1>Users</h1></div>
<section class="card" aria-labelledby="nu-h"><h2 id="nu-h">Add a user</h2>
  <p class="muted">They get a one-time setup link (valid 1 hour) to choose their password. Send it to them privately.</p>
  <form class="inline-form" data-testid="user-add-form" novalidate @submit=${h.add}>
    <label for="nu-name">Username</label><input id="nu-name" name="username" class="mono" autocomplete="off" spellcheck="false" required pattern="[a-z0-9._\\-]{1,64}" data-testid="user-add-username">
    <label for="nu-role">Role</label>${roleSelect('nu-role', 'role', 'viewer', 'admin', 'user-add-role', () => {})}
    <button type="submit" class="btn btn-primary" data-testid="user-add-submit">Add user</button>
  </form>
  <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
  ${s.link ? onceBox(`Setup link for ${s.link.username}`, s.link.url, 'setup-link',
    html`Expires ${relEl(s.link.expires)}. It works once; this page will not show it again.`, h.dismiss) : nothing}
</section>
<div class="table-wrap"><table class="table" data-testid="users-table"><thead><tr><th>User</th><th>Role</th><th>Status</th><th class="num">Sessions</th><th class="num">Tokens</th><th>Added</th><th></th></tr></thead>
<tbody>${s.users.map((u) => row(u, s, h))}</tbody></table></div>
<p class="muted small">Roles: <b>viewer</b> reads everything but the audit log; <b>operator</b> also runs backups and edits hosts; <b>admin</b> also manages users and reads the audit log. Disabling a user ends their sessions and API tokens at once. The last enabled admin cannot be disabled, demoted or deleted.</p>`;

export async function mount(ctx) {
  if (!session.user || session.user.role !== 'admin') {
    render(html`<div class="empty"><h1>Users</h1><p class="muted">Only administrators can manage users.</p></div>`, ctx.el);
    return;
  }
  const s = { users: [], error: '', link: null, confirming: null };
  const update = () => { if (ctx.alive()) render(view(s, h), ctx.el); };
  const reload = async () => { s.users = (await get('/api/users')).users; update(); };
  const act = async (btn, fn) => busy(btn, async () => { try { await fn(); } catch { /* toast shown */ } await reload(); });
  const showLink = (username, r) => { s.link = { username, url: r.setup_url, expires: r.setup_expires_at }; };
  const h = {
    async add(ev) {
      ev.preventDefault();
      const f = ev.currentTarget;
      const body = { username: f.username.value.trim(), role: f.role.value };
      s.error = '';
      if (!/^[a-z0-9._-]{1,64}$/.test(body.username)) { s.error = 'Username: 1–64 of a–z, 0–9, . _ -'; update(); return; }
      await busy(f.querySelector('button[type=submit]'), async () => {
        try {
          const r = await post('/api/users', body, { quiet: true });
          showLink(body.username, r);
          f.reset();
        } catch (e) { s.error = e.message; }
      });
      await reload();
    },
    role: (u, ev) => {
      const sel = ev.currentTarget;
      return act(sel, async () => {
        try {
          await api('PATCH', `/api/users/${encodeURIComponent(u.id)}`, { role: sel.value });
          toast(`${u.username} is now ${sel.value}`, 'ok', 2500);
        } catch (e) { sel.value = u.role; throw e; } // refused (e.g. the last admin)
      });
    },
    toggle: (u, ev) => act(ev.currentTarget, () => api('PATCH', `/api/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled })),
    logout: (u, ev) => act(ev.currentTarget, () => post(`/api/users/${encodeURIComponent(u.id)}/logout`, {})),
    link: (u, ev) => act(ev.currentTarget, async () => showLink(u.username, await post(`/api/users/${encodeURIComponent(u.id)}/setup-link`, {}))),
    confirm: (id) => { s.confirming = id; update(); },
    remove: (u, ev) => { s.confirming = null; return act(ev.currentTarget, () => del(`/api/users/${encodeURIComponent(u.id)}`)); },
    dismiss: () => { s.link = null; update(); },
  };
  await reload();
}
