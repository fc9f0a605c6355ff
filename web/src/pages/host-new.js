// Add host: mint an enrollment token, then go to the pending page.
import { post } from '../api.js';
import { html, render } from '../html.js';
import { busy, lines } from '../util.js';
import { navigate } from '../router.js';

export const title = 'Add host';
export const navKey = 'add';

const view = (s, onSubmit) => html`<div class="page-head"><h1>Add host</h1></div>
<div class="two-col">
<form class="card form" data-testid="add-host-form" novalidate @submit=${onSubmit}>
  <div class="field"><label for="ah-hostname">Hostname</label>
    <input id="ah-hostname" name="hostname" class="mono" required autocomplete="off" spellcheck="false" placeholder="db-01" data-testid="add-hostname"></div>
  <div class="field"><label for="ah-tags">Tags <span class="muted">(comma separated, optional)</span></label>
    <input id="ah-tags" name="tags" autocomplete="off" placeholder="prod, db" data-testid="add-tags"></div>
  <div class="field"><label for="ah-repo">Repository URL</label>
    <input id="ah-repo" name="repo_url" class="mono" required autocomplete="off" spellcheck="false" placeholder="rest:https://backup.example.com/db-01/ or /srv/restic/db-01" data-testid="add-repo-url"></div>
  <div class="row2">
    <div class="field"><label for="ah-ruser">Repository username <span class="muted">(optional)</span></label>
      <input id="ah-ruser" name="repo_username" autocomplete="off" data-testid="add-repo-username"></div>
    <div class="field"><label for="ah-rpass">Repository password <span class="muted">(blank: generate one)</span></label>
      <input id="ah-rpass" name="repo_password" type="password" autocomplete="new-password" data-testid="add-repo-password"></div>
  </div>
  <div class="field"><label for="ah-paths">Initial backup paths <span class="muted">(one absolute path per line)</span></label>
    <textarea id="ah-paths" name="initial_paths" class="mono" rows="4" spellcheck="false" placeholder="/etc&#10;/home" data-testid="add-paths"></textarea></div>
  <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
  <div class="actions"><button type="submit" class="btn btn-primary" data-testid="add-submit">Create enrollment token</button>
  <a href="/" class="btn btn-ghost">Cancel</a></div>
</form>
<aside class="card side">
  <h2>What happens next</h2>
  <ol class="steps">
    <li>A one-time enrollment token is minted (valid for 1 hour). Repository credentials travel with it, encrypted.</li>
    <li>Run the install command on the host as root. The agent enrolls, then dials out to this server.</li>
    <li>On first connect the agent initialises the repository and the host appears on the dashboard.</li>
  </ol>
  <p class="muted small">restic must already be installed on the host.</p>
  <h2>Or let the host ask</h2>
  <p class="muted small">Without a token, the agent announces itself and prints its key fingerprint; accept it under <a href="/pending-hosts">Pending hosts</a> after comparing the fingerprint:</p>
  <pre class="snippet mono small" data-testid="announce-command">restic-manager-agent enroll --server ${location.origin}</pre>
</aside></div>`;

export async function mount(ctx) {
  const s = { error: '' };
  const update = () => render(view(s, onSubmit), ctx.el);
  async function onSubmit(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const fail = (m, f) => { s.error = m; update(); if (f) f.focus(); };
    fail('');
    const body = {
      hostname: form.hostname.value.trim(),
      tags: form.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
      repo_url: form.repo_url.value.trim(),
      initial_paths: lines(form.initial_paths.value),
    };
    if (form.repo_username.value.trim()) body.repo_username = form.repo_username.value.trim();
    if (form.repo_password.value) body.repo_password = form.repo_password.value;
    if (!body.hostname) return fail('Hostname is required.', form.hostname);
    if (!body.repo_url) return fail('Repository URL is required.', form.repo_url);
    const bad = body.initial_paths.find((p) => !p.startsWith('/'));
    if (bad) return fail(`Paths must be absolute: ${bad}`, form.initial_paths);
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post('/api/enrollment-tokens', body);
        navigate(`/hosts/pending/${encodeURIComponent(r.token)}`);
      } catch (e) {
        if (e.status !== 401) fail(e.message);
      }
    });
  }
  update();
  ctx.el.querySelector('form').hostname.focus();
}
