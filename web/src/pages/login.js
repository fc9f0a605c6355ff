// Sign in; returns to ?next= afterwards. Offers single sign-on when the server has it
// (GET /api/auth/config) and hides the password form when local login is off. After the
// provider, the server lands the browser on /login?sso=1&next=… with the session cookie
// set: the page then only loads /api/me and moves on.
import { get, post, setSession } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, toast } from '../util.js';
import { navigate, safeNext } from '../router.js';

export const title = 'Sign in';

const ssoButton = (s) => html`<a class="btn ${s.cfg.local_login ? '' : 'btn-primary '}btn-block" data-testid="login-sso"
    data-external href=${`/api/auth/oidc/login?next=${encodeURIComponent(s.next)}`}>${s.cfg.sso_label || 'Sign in with SSO'}</a>`;

const form = (s, onSubmit) => html`<form data-testid="login-form" novalidate @submit=${onSubmit}>
    <div class="field"><label for="li-user">Username</label>
      <input id="li-user" name="username" autocomplete="username" required data-testid="login-username"></div>
    <div class="field"><label for="li-pass">Password</label>
      <input id="li-pass" name="password" type="password" autocomplete="current-password" required data-testid="login-password"></div>
    <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
    <button type="submit" class="btn btn-primary btn-block" data-testid="login-submit">Sign in</button>
  </form>`;

const view = (s, onSubmit) => html`<section class="card auth-card" aria-labelledby="login-h">
  <div class="brand brand-lg"><span class="brand-mark" aria-hidden="true"></span>restic-manager</div>
  <h1 id="login-h">Sign in</h1>
  ${s.expired ? html`<p class="muted" data-testid="login-expired">Your session ended — sign in to continue.</p>` : nothing}
  ${s.cfg.sso ? ssoButton(s) : nothing}
  ${s.cfg.sso && s.cfg.local_login ? html`<p class="muted login-or" aria-hidden="true">or</p>` : nothing}
  ${s.cfg.local_login ? form(s, onSubmit) : nothing}
  ${!s.cfg.local_login && s.error ? html`<p class="form-error" role="alert">${s.error}</p>` : nothing}
</section>`;

export async function mount(ctx) {
  const next = safeNext(ctx.query.get('next'));
  const s = { expired: next !== '/' && ctx.query.get('sso') !== '1', error: '', next, cfg: { sso: false, local_login: true } };
  if (ctx.query.get('sso') === '1') {
    // back from the identity provider: the session cookie is set
    try {
      setSession(await get('/api/me', { quiet: true, auth: false }));
      navigate(next, { replace: true });
      return;
    } catch {
      s.error = 'Single sign-on did not complete; try again.';
    }
  }
  try { s.cfg = await get('/api/auth/config', { quiet: true, auth: false }); } catch { /* keep the form */ }
  if (!ctx.alive()) return;
  const update = () => render(view(s, onSubmit), ctx.el);
  async function onSubmit(ev) {
    ev.preventDefault();
    const f = ev.currentTarget;
    s.error = '';
    update();
    const body = { username: f.username.value.trim(), password: f.password.value };
    if (!body.username || !body.password) {
      s.error = 'Enter your username and password.';
      update();
      return;
    }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post('/api/auth/login', body, { auth: false, quiet: true });
        setSession(r);
        navigate(next, { replace: true });
      } catch (e) {
        s.error = e.message;
        update();
        toast(e.message);
        f.password.select();
      }
    });
  }
  update();
  const f = ctx.el.querySelector('form');
  if (f) f.username.focus();
}
