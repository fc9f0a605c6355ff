// C6 agent update on the host page: the host's update state (live: the host JSON's
// `update` arrives with every host event) and, for admins, "Update agent to X" when the
// agent is behind the release the server offers.
import { get, post } from '../api.js';
import { html, nothing } from '../html.js';
import { busy } from '../util.js';
import { relEl } from '../components.js';

const LIVE = ['pending', 'downloading', 'verifying', 'restarting'];
const LABEL = {
  pending: 'update sent', downloading: 'downloading', verifying: 'verifying the signature and digest',
  restarting: 'restarting into the new version', succeeded: 'updated', failed: 'update failed', rolled_back: 'rolled back',
};

export function createAgentUpdate(st, env) {
  let release = null;
  let error = '';
  const load = async () => {
    try {
      const r = await get('/api/fleet/update', { quiet: true });
      release = r.release;
    } catch { release = null; }
  };
  const start = (ev) => busy(ev.currentTarget, async () => {
    error = '';
    try {
      const r = await post(`/api/hosts/${env.enc}/update`);
      if (r.update) st.host.update = { state: r.update.state, target_version: r.update.target_version, error: null, at: r.update.at };
    } catch (e) { if (e.status !== 401) error = e.message; }
    env.update();
  });
  const view = () => {
    const h = st.host;
    const u = h.update;
    const behind = release && h.agent_version && h.agent_version !== release.version;
    const live = u && LIVE.includes(u.state);
    const bad = u && (u.state === 'failed' || u.state === 'rolled_back');
    const state = u ? html`<span class="pill pill-${live ? 'running' : bad ? 'failed' : 'succeeded'}" data-testid="agent-update-state" data-state=${u.state}>${LABEL[u.state] || u.state}</span>
      <span class="small muted">to ${u.target_version} ${relEl(u.at ? new Date(u.at).toISOString() : null)}</span>${u.error ? html` <span class="mono small" data-testid="agent-update-error">${u.error}</span>` : nothing}` : nothing;
    const button = env.admin && behind && !live
      ? html`<button type="button" class="btn btn-sm" data-testid="agent-update-start" @click=${start}>Update agent to ${release.version}</button>` : nothing;
    // a success stays visible for an hour; a failure until the next update
    const recent = u && u.at && Date.now() - u.at < 3600 * 1000;
    const showState = u && (live || bad || (recent && u.target_version === h.agent_version));
    if (!showState && !button) return nothing;
    return html`<div class="agent-update panel${bad ? ' panel-bad' : ''}" data-testid="agent-update">
  <strong>Agent update</strong> ${showState ? state : nothing} ${button}
  ${error ? html`<div class="form-error" role="alert">${error}</div>` : nothing}</div>`;
  };
  return { load, view };
}
