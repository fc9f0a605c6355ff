// Sign in; returns to ?next= afterwards.
import { post, setSession } from '../api.js';
import { busy, toast } from '../util.js';
import { navigate, safeNext } from '../router.js';

export const title = 'Sign in';

export async function render(ctx) {
  const next = safeNext(ctx.query.get('next'));
  ctx.el.innerHTML = `<section class="card auth-card" aria-labelledby="login-h">
  <div class="brand brand-lg"><span class="brand-mark" aria-hidden="true"></span>restic-manager</div>
  <h1 id="login-h">Sign in</h1>
  ${next !== '/' ? '<p class="muted" data-testid="login-expired">Your session ended — sign in to continue.</p>' : ''}
  <form data-testid="login-form" novalidate>
    <div class="field"><label for="li-user">Username</label>
      <input id="li-user" name="username" autocomplete="username" required data-testid="login-username"></div>
    <div class="field"><label for="li-pass">Password</label>
      <input id="li-pass" name="password" type="password" autocomplete="current-password" required data-testid="login-password"></div>
    <p class="form-error" role="alert" data-error hidden></p>
    <button type="submit" class="btn btn-primary btn-block" data-testid="login-submit">Sign in</button>
  </form>
</section>`;
  const form = ctx.el.querySelector('form');
  const errEl = form.querySelector('[data-error]');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errEl.hidden = true;
    const body = { username: form.username.value.trim(), password: form.password.value };
    if (!body.username || !body.password) {
      errEl.textContent = 'Enter your username and password.';
      errEl.hidden = false;
      return;
    }
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post('/api/auth/login', body, { auth: false, quiet: true });
        setSession(r);
        navigate(next, { replace: true });
      } catch (e) {
        errEl.textContent = e.message;
        errEl.hidden = false;
        toast(e.message);
        form.password.select();
      }
    });
  });
  form.username.focus();
}
