// First run: create the first admin with the one-time bootstrap token.
import { post, setSession } from '../api.js';
import { busy, toast, esc } from '../util.js';
import { navigate } from '../router.js';

export const title = 'First run';
const MIN = 12;

export async function render(ctx) {
  const token = ctx.query.get('token') || '';
  ctx.el.innerHTML = `<section class="card auth-card" aria-labelledby="bs-h">
  <div class="brand brand-lg"><span class="brand-mark" aria-hidden="true"></span>restic-manager</div>
  <h1 id="bs-h">First run</h1>
  <p class="muted">Create the first administrator. The one-time bootstrap token was printed to the server's log (the line with <span class="mono">bootstrap token</span>).</p>
  <form data-testid="bootstrap-form" novalidate>
    <div class="field"><label for="bs-token">Bootstrap token</label>
      <input id="bs-token" name="token" class="mono" autocomplete="off" spellcheck="false" required value="${esc(token)}" data-testid="bootstrap-token"></div>
    <div class="field"><label for="bs-user">Username</label>
      <input id="bs-user" name="username" autocomplete="username" required value="admin" data-testid="bootstrap-username"></div>
    <div class="field"><label for="bs-pass">Password</label>
      <input id="bs-pass" name="password" type="password" autocomplete="new-password" required minlength="${MIN}" aria-describedby="bs-pass-hint" data-testid="bootstrap-password">
      <div id="bs-pass-hint" class="hint" data-testid="password-hint">At least ${MIN} characters. <span class="mono" data-count>0/${MIN}</span></div></div>
    <div class="field"><label for="bs-pass2">Confirm password</label>
      <input id="bs-pass2" name="password2" type="password" autocomplete="new-password" required data-testid="bootstrap-password2"></div>
    <p class="form-error" role="alert" data-error hidden></p>
    <button type="submit" class="btn btn-primary btn-block" data-testid="bootstrap-submit">Create admin and sign in</button>
  </form>
</section>`;
  const form = ctx.el.querySelector('form');
  const pass = form.password;
  const count = form.querySelector('[data-count]');
  const errEl = form.querySelector('[data-error]');
  const hint = form.querySelector('#bs-pass-hint');
  pass.addEventListener('input', () => {
    const n = pass.value.length;
    count.textContent = `${n}/${MIN}`;
    hint.classList.toggle('ok', n >= MIN);
  });
  const showErr = (m) => { errEl.textContent = m; errEl.hidden = !m; };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showErr('');
    const body = { token: form.token.value.trim(), username: form.username.value.trim(), password: pass.value };
    if (!body.token) { showErr('Enter the bootstrap token from the server log.'); form.token.focus(); return; }
    if (!body.username) { showErr('Enter a username.'); form.username.focus(); return; }
    if (body.password.length < MIN) { showErr(`Password must be at least ${MIN} characters.`); pass.focus(); return; }
    if (body.password !== form.password2.value) { showErr('Passwords do not match.'); form.password2.focus(); return; }
    const btn = form.querySelector('button[type=submit]');
    await busy(btn, async () => {
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
  });
  (token ? form.password : form.token).focus();
}
