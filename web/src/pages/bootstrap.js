// First run: create the first admin with the one-time bootstrap token.
import { post, setSession } from '../api.js';
import { html, render } from '../html.js';
import { busy, toast } from '../util.js';
import { navigate } from '../router.js';

export const title = 'First run';
const MIN = 12;

const view = (s, on) => html`<section class="card auth-card" aria-labelledby="bs-h">
  <div class="brand brand-lg"><span class="brand-mark" aria-hidden="true"></span>restic-manager</div>
  <h1 id="bs-h">First run</h1>
  <p class="muted">Create the first administrator. The one-time bootstrap token was printed to the server's log (the line with <span class="mono">bootstrap token</span>).</p>
  <form data-testid="bootstrap-form" novalidate @submit=${on.submit}>
    <div class="field"><label for="bs-token">Bootstrap token</label>
      <input id="bs-token" name="token" class="mono" autocomplete="off" spellcheck="false" required value=${s.token} data-testid="bootstrap-token"></div>
    <div class="field"><label for="bs-user">Username</label>
      <input id="bs-user" name="username" autocomplete="username" required value="admin" data-testid="bootstrap-username"></div>
    <div class="field"><label for="bs-pass">Password</label>
      <input id="bs-pass" name="password" type="password" autocomplete="new-password" required minlength=${MIN} aria-describedby="bs-pass-hint" data-testid="bootstrap-password" @input=${on.passInput}>
      <div id="bs-pass-hint" class="hint${s.passLen >= MIN ? ' ok' : ''}" data-testid="password-hint">At least ${MIN} characters. <span class="mono">${s.passLen}/${MIN}</span></div></div>
    <div class="field"><label for="bs-pass2">Confirm password</label>
      <input id="bs-pass2" name="password2" type="password" autocomplete="new-password" required data-testid="bootstrap-password2"></div>
    <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
    <button type="submit" class="btn btn-primary btn-block" data-testid="bootstrap-submit">Create admin and sign in</button>
  </form>
</section>`;

export async function mount(ctx) {
  const s = { token: ctx.query.get('token') || '', passLen: 0, error: '' };
  const update = () => render(view(s, on), ctx.el);
  const on = {
    passInput(ev) { s.passLen = ev.currentTarget.value.length; update(); },
    async submit(ev) {
      ev.preventDefault();
      const form = ev.currentTarget;
      const showErr = (m, field) => { s.error = m; update(); if (field) field.focus(); };
      showErr('');
      const body = { token: form.token.value.trim(), username: form.username.value.trim(), password: form.password.value };
      if (!body.token) { showErr('Enter the bootstrap token from the server log.', form.token); return; }
      if (!body.username) { showErr('Enter a username.', form.username); return; }
      if (body.password.length < MIN) { showErr(`Password must be at least ${MIN} characters.`, form.password); return; }
      if (body.password !== form.password2.value) { showErr('Passwords do not match.', form.password2); return; }
      await busy(form.querySelector('button[type=submit]'), async () => {
        try {
          const r = await post('/api/bootstrap', body, { auth: false, quiet: true });
          setSession(r);
          toast(`Welcome, ${r.user.username}.`, 'ok', 3000);
          navigate('/', { replace: true });
        } catch (e) {
          showErr(e.message);
          toast(e.message);
          if (e.code === 'bootstrap_closed') setTimeout(() => navigate('/login', { replace: true }), 1200);
        }
      });
    },
  };
  update();
  const form = ctx.el.querySelector('form');
  (s.token ? form.password : form.token).focus();
}
