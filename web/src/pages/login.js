// Sign in; returns to ?next= afterwards.
import { post, setSession } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, toast } from '../util.js';
import { navigate, safeNext } from '../router.js';

export const title = 'Sign in';

const view = (s, onSubmit) => html`<section class="card auth-card" aria-labelledby="login-h">
  <div class="brand brand-lg"><span class="brand-mark" aria-hidden="true"></span>restic-manager</div>
  <h1 id="login-h">Sign in</h1>
  ${s.expired ? html`<p class="muted" data-testid="login-expired">Your session ended — sign in to continue.</p>` : nothing}
  <form data-testid="login-form" novalidate @submit=${onSubmit}>
    <div class="field"><label for="li-user">Username</label>
      <input id="li-user" name="username" autocomplete="username" required data-testid="login-username"></div>
    <div class="field"><label for="li-pass">Password</label>
      <input id="li-pass" name="password" type="password" autocomplete="current-password" required data-testid="login-password"></div>
    <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
    <button type="submit" class="btn btn-primary btn-block" data-testid="login-submit">Sign in</button>
  </form>
</section>`;

export async function mount(ctx) {
  const next = safeNext(ctx.query.get('next'));
  const s = { expired: next !== '/', error: '' };
  const update = () => render(view(s, onSubmit), ctx.el);
  async function onSubmit(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    s.error = '';
    update();
    const body = { username: form.username.value.trim(), password: form.password.value };
    if (!body.username || !body.password) {
      s.error = 'Enter your username and password.';
      update();
      return;
    }
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post('/api/auth/login', body, { auth: false, quiet: true });
        setSession(r);
        navigate(next, { replace: true });
      } catch (e) {
        s.error = e.message;
        update();
        toast(e.message);
        form.password.select();
      }
    });
  }
  update();
  ctx.el.querySelector('form').username.focus();
}
