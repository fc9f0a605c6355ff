// Pending enrollment: install command, generated credentials, and an "awaiting agent"
// panel polling the token every 2 s until the host connects.
import { get, post } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, copyText, toast } from '../util.js';
import { navigate } from '../router.js';
import { relEl, statusDot } from '../components.js';

export const title = 'Awaiting agent';
export const navKey = 'add';

async function copy(ev, text) {
  const b = ev.currentTarget;
  const ok = await copyText(text);
  toast(ok ? 'Copied to clipboard' : 'Copy failed — select the text and copy it by hand', ok ? 'ok' : 'error', 2500);
  if (ok) { b.textContent = 'Copied'; setTimeout(() => { b.textContent = 'Copy'; }, 1500); }
}

// A labelled <pre> with a Copy button; the button's text is static (no binding) so copy()
// may flip it by hand.
const snippet = (label, text, key) => html`<div class="snippet-block">
  <div class="snippet-head"><span class="snippet-label" id="lbl-${key}">${label}</span>
  <button type="button" class="btn btn-sm" data-testid="copy-${key}" aria-describedby="lbl-${key}" @click=${(ev) => copy(ev, text)}>Copy</button></div>
  <pre class="snippet mono" data-testid=${key} tabindex="0">${text}</pre></div>`;

// C6: an expired (unused) token can be given a new secret and hour in place
async function regenerate(ev, t) {
  await busy(ev.currentTarget, async () => {
    try {
      const r = await post(`/api/enrollment-tokens/${encodeURIComponent(t.id)}/regenerate`);
      navigate(`/hosts/pending/${encodeURIComponent(r.token)}`);
    } catch { /* toast shown */ }
  });
}

function awaiting(t) {
  if (t.status === 'expired') {
    return html`<div class="await await-expired" data-testid="pending-expired"><span class="dot dot-offline"></span>
      <div><strong>Token expired.</strong> <span class="muted">${t.id ? 'Issue a new token for this host (same repository settings), or create one from' : 'Create a new one from'}</span> <a href="/hosts/new">Add host</a>.</div>
      ${t.id ? html`<button type="button" class="btn btn-primary" data-testid="token-regenerate" @click=${(ev) => regenerate(ev, t)}>New token</button>` : nothing}</div>`;
  }
  if (t.host_id) {
    const online = t.host_status === 'online';
    return html`<div class="await await-ok" data-testid="pending-connected" data-host-status=${t.host_status || ''}>
      ${statusDot({ status: t.host_status || 'never' })}
      <div><strong>${online ? 'Connected' : 'Enrolled'}</strong> <span class="muted">— ${t.hostname} ${online ? 'is online.' : 'enrolled; waiting for its first connection…'}</span></div>
      <a class="btn btn-primary" href="/hosts/${encodeURIComponent(t.host_id)}" data-testid="open-host">Open host →</a></div>`;
  }
  return html`<div class="await" data-testid="pending-awaiting"><span class="spinner" aria-hidden="true"></span>
    <div><strong>Awaiting agent…</strong> <span class="muted">run the command above on <span class="mono">${t.hostname}</span>. This page updates by itself. Token expires ${relEl(t.expires_at)}.</span></div></div>`;
}

// t0: the token as first loaded (install commands, generated secrets); t: its latest state.
const view = (t0, t) => html`<div class="page-head"><h1>Add host <span class="mono">${t0.hostname}</span></h1></div>
<section class="card" aria-labelledby="inst-h">
  <h2 id="inst-h">Install</h2>
  <p class="muted">Run on the host as root. The token is single-use and expires <span class="mono" title=${t0.expires_at}>${relEl(t0.expires_at)}</span>.</p>
  ${snippet('Install command', t0.install_command, 'install-command')}
  ${t0.enroll_command ? snippet('Or, with the agent already installed', t0.enroll_command, 'enroll-command') : nothing}
</section>
${t0.generated_password ? html`<section class="card" aria-labelledby="pw-h"><h2 id="pw-h">Generated repository password</h2>
  <p class="muted">No password was given, so one was generated. Keep it: it is needed to restore without this server. For rest-server, add the htpasswd line below.</p>
  ${snippet('Repository password', t0.generated_password, 'generated-password')}
  ${t0.htpasswd_snippet ? snippet('htpasswd snippet', t0.htpasswd_snippet, 'htpasswd-snippet') : nothing}</section>` : nothing}
<section class="card" aria-live="polite">${awaiting(t)}</section>
<p><a href="/">← Back to dashboard</a> · <a href="/hosts/new">Add another host</a></p>`;

export async function mount(ctx) {
  const token = ctx.params[0];
  const t0 = await get(`/api/enrollment-tokens/${encodeURIComponent(token)}`);
  if (!ctx.alive()) return;
  let t = t0;
  ctx.title = `Add ${t.hostname}`;
  const update = () => render(view(t0, t), ctx.el);
  update();

  let timer = null;
  const done = (x) => x.status === 'expired' || (x.host_id && x.host_status === 'online');
  const poll = async () => {
    timer = null;
    try {
      const n = await get(`/api/enrollment-tokens/${encodeURIComponent(token)}`, { quiet: true });
      if (!ctx.alive()) return;
      if (n.status !== t.status || n.host_id !== t.host_id || n.host_status !== t.host_status) {
        t = n;
        update();
      }
    } catch (e) {
      if (e.status === 401 || !ctx.alive()) return;
    }
    if (ctx.alive() && !done(t)) timer = setTimeout(poll, 2000);
  };
  if (!done(t)) timer = setTimeout(poll, 2000);
  ctx.onCleanup(() => clearTimeout(timer));
}
