// Setup link: /setup#token=... (the secret stays in the fragment, out of request lines and
// server logs). Shows whose link it is, sets the password, signs in.
import { post, setSession } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy } from '../util.js';
import { navigate } from '../router.js';
import { PASSWORD_MIN } from './people-common.js';

export const title = 'Set your password';

const view = (s, onSubmit) => html`<section class="card auth-card" aria-labelledby="su-h">
  <div class="brand brand-lg"><span class="brand-mark" aria-hidden="true"></span>restic-manager</div>
  <h1 id="su-h">Set your password</h1>
  ${s.bad ? html`<p class="form-error" role="alert" data-testid="setup-invalid">${s.bad}</p><p class="muted">Ask an administrator for a new setup link.</p>`
    : s.user ? html`<p class="muted">Welcome, <b class="mono" data-testid="setup-username">${s.user.username}</b> (${s.user.role}). Choose a password to finish setting up your account.</p>
  <form data-testid="setup-form" novalidate @submit=${onSubmit}>
    <input type="text" name="username" autocomplete="username" value=${s.user.username} hidden>
    <div class="field"><label for="su-pass">Password</label>
      <input id="su-pass" name="password" type="password" autocomplete="new-password" required minlength=${PASSWORD_MIN} aria-describedby="su-hint" data-testid="setup-password">
      <div id="su-hint" class="hint">At least ${PASSWORD_MIN} characters, not your username, not a common password.</div></div>
    <div class="field"><label for="su-pass2">Confirm password</label>
      <input id="su-pass2" name="password2" type="password" autocomplete="new-password" required data-testid="setup-password2"></div>
    <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
    <button type="submit" class="btn btn-primary btn-block" data-testid="setup-submit">Set password and sign in</button>
  </form>` : html`<p class="muted">Checking the link…</p>`}
</section>`;

export async function mount(ctx) {
  const token = new URLSearchParams(location.hash.replace(/^#/, '')).get('token') || '';
  const s = { user: null, bad: '', error: '' };
  const update = () => { if (ctx.alive()) render(view(s, onSubmit), ctx.el); };
  async function onSubmit(ev) {
    ev.preventDefault();
    const f = ev.currentTarget;
    s.error = '';
    if (f.password.value.length < PASSWORD_MIN) s.error = `At least ${PASSWORD_MIN} characters.`;
    else if (f.password.value !== f.password2.value) s.error = 'The passwords differ.';
    if (s.error) { update(); return; }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        setSession(await post('/api/setup', { token, password: f.password.value }, { auth: false, quiet: true }));
        history.replaceState(null, '', '/setup'); // the used secret leaves the address bar
        navigate('/', { replace: true });
      } catch (e) { s.error = e.message; update(); }
    });
  }
  update();
  if (!token) { s.bad = 'This link has no token.'; update(); return; }
  try {
    s.user = await post('/api/setup/check', { token }, { auth: false, quiet: true });
  } catch (e) {
    s.bad = e.status === 401 ? 'This setup link is invalid, already used or expired.' : e.message;
  }
  update();
}
