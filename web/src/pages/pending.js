// Pending enrollment: install command, generated credentials, and an "awaiting agent"
// panel polling the token every 2 s until the host connects.
import { get } from '../api.js';
import { esc, copyText, toast, relEl, statusDot } from '../util.js';

export const title = 'Awaiting agent';
export const navKey = 'add';

const snippet = (label, text, key) => `<div class="snippet-block">
  <div class="snippet-head"><span class="snippet-label" id="lbl-${key}">${label}</span>
  <button type="button" class="btn btn-sm" data-copy="${key}" data-testid="copy-${key}" aria-describedby="lbl-${key}">Copy</button></div>
  <pre class="snippet mono" data-testid="${key}" data-snippet="${key}" tabindex="0">${esc(text)}</pre></div>`;

function awaitingHtml(t) {
  if (t.status === 'expired') {
    return `<div class="await await-expired" data-testid="pending-expired"><span class="dot dot-offline"></span>
      <div><strong>Token expired.</strong> <span class="muted">Create a new one from</span> <a href="/hosts/new">Add host</a>.</div></div>`;
  }
  if (t.host_id) {
    const online = t.host_status === 'online';
    return `<div class="await await-ok" data-testid="pending-connected" data-host-status="${esc(t.host_status || '')}">
      ${statusDot({ status: t.host_status || 'never' })}
      <div><strong>${online ? 'Connected' : 'Enrolled'}</strong> <span class="muted">— ${esc(t.hostname)} ${online ? 'is online.' : 'enrolled; waiting for its first connection…'}</span></div>
      <a class="btn btn-primary" href="/hosts/${encodeURIComponent(t.host_id)}" data-testid="open-host">Open host →</a></div>`;
  }
  return `<div class="await" data-testid="pending-awaiting"><span class="spinner" aria-hidden="true"></span>
    <div><strong>Awaiting agent…</strong> <span class="muted">run the command above on <span class="mono">${esc(t.hostname)}</span>. This page updates by itself. Token expires ${relEl(t.expires_at)}.</span></div></div>`;
}

export async function render(ctx) {
  const token = ctx.params[0];
  let t = await get(`/api/enrollment-tokens/${encodeURIComponent(token)}`);
  if (!ctx.alive()) return;
  ctx.title = `Add ${t.hostname}`;
  ctx.el.innerHTML = `<div class="page-head"><h1>Add host <span class="mono">${esc(t.hostname)}</span></h1></div>
<section class="card" aria-labelledby="inst-h">
  <h2 id="inst-h">Install</h2>
  <p class="muted">Run on the host as root. The token is single-use and expires <span class="mono" title="${esc(t.expires_at)}">${relEl(t.expires_at)}</span>.</p>
  ${snippet('Install command', t.install_command, 'install-command')}
  ${t.enroll_command ? snippet('Or, with the agent already installed', t.enroll_command, 'enroll-command') : ''}
</section>
${t.generated_password ? `<section class="card" aria-labelledby="pw-h"><h2 id="pw-h">Generated repository password</h2>
  <p class="muted">No password was given, so one was generated. Keep it: it is needed to restore without this server. For rest-server, add the htpasswd line below.</p>
  ${snippet('Repository password', t.generated_password, 'generated-password')}
  ${t.htpasswd_snippet ? snippet('htpasswd snippet', t.htpasswd_snippet, 'htpasswd-snippet') : ''}</section>` : ''}
<section class="card" aria-live="polite" data-await-box>${awaitingHtml(t)}</section>
<p><a href="/">← Back to dashboard</a> · <a href="/hosts/new">Add another host</a></p>`;

  ctx.el.addEventListener('click', async (ev) => {
    const b = ev.target.closest('[data-copy]');
    if (!b) return;
    const pre = ctx.el.querySelector(`[data-snippet="${b.dataset.copy}"]`);
    const ok = await copyText(pre.textContent);
    toast(ok ? 'Copied to clipboard' : 'Copy failed — select the text and copy it by hand', ok ? 'ok' : 'error', 2500);
    if (ok) { b.textContent = 'Copied'; setTimeout(() => { b.textContent = 'Copy'; }, 1500); }
  });

  const box = ctx.el.querySelector('[data-await-box]');
  let timer = null;
  const done = (x) => x.status === 'expired' || (x.host_id && x.host_status === 'online');
  const poll = async () => {
    timer = null;
    try {
      const n = await get(`/api/enrollment-tokens/${encodeURIComponent(token)}`, { quiet: true });
      if (!ctx.alive()) return;
      if (n.status !== t.status || n.host_id !== t.host_id || n.host_status !== t.host_status) {
        t = n;
        box.innerHTML = awaitingHtml(t);
      }
    } catch (e) {
      if (e.status === 401 || !ctx.alive()) return;
    }
    if (ctx.alive() && !done(t)) timer = setTimeout(poll, 2000);
  };
  if (!done(t)) timer = setTimeout(poll, 2000);
  ctx.onCleanup(() => clearTimeout(timer));
}
