// Retention preview inside the group editor (host-sources.js): while the operator edits a
// saved group's retention, the agent runs `restic forget --dry-run` with the proposed
// rules (POST /api/hosts/{id}/groups/{gid}/retention-preview) and this lists, for the
// group's current snapshots, which would be kept and why, and which removed. Runs on the
// Preview button and, debounced, after each change of a retention field.
import { post } from '../api.js';
import { html, nothing } from '../html.js';
import { absTime, fmtNum } from '../util.js';

const KEEP_FIELDS = ['keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly'];
export const isRetentionField = (n) => n === 'keep_within' || KEEP_FIELDS.includes(n);

function proposed(form) {
  const r = { keep_within: form.elements.keep_within.value.trim() };
  for (const k of KEEP_FIELDS) {
    const t = form.elements[k].value.trim();
    r[k] = t ? Number(t) : 0;
  }
  return r;
}

const byTimeDesc = (a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0);

function table(res) {
  const rows = [...res.keep.map((x) => ({ ...x, action: 'keep' })), ...res.remove.map((x) => ({ ...x, action: 'remove' }))].sort(byTimeDesc);
  if (!rows.length) return html`<p class="muted" data-testid="rp-empty">The group has no snapshots yet.</p>`;
  return html`<div class="table-wrap"><table class="table" data-testid="rp-table"><thead><tr><th>Would be</th><th>Snapshot</th><th>Time</th><th>Why kept</th></tr></thead><tbody>
${rows.map((x) => html`<tr class="rp-${x.action}" data-testid="rp-row" data-action=${x.action} data-snapshot-id=${x.id}><td><b>${x.action === 'keep' ? 'kept' : 'removed'}</b></td><td class="mono" title=${x.id}>${x.short_id}</td><td class="mono">${absTime(x.time)}</td><td class="small">${x.reasons && x.reasons.length ? x.reasons.join(', ') : html`<span class="muted">no rule keeps it</span>`}</td></tr>`)}
</tbody></table></div>`;
}

// s: the page state (owns s.rprev = { key, busy, error, res }); env: { enc, update }.
export function createPreview(s, env) {
  const { enc, update } = env;
  let timer = null;
  let seq = 0;
  const run = async (form, ed) => {
    clearTimeout(timer);
    if (!ed || !ed.id) return;
    const my = ++seq;
    s.rprev = { ...(s.rprev && s.rprev.key === ed.key ? s.rprev : {}), key: ed.key, busy: true, error: '' };
    update();
    try {
      const res = await post(`/api/hosts/${enc}/groups/${encodeURIComponent(ed.id)}/retention-preview`, { retention: proposed(form) }, { quiet: true });
      if (my !== seq) return;
      s.rprev = { key: ed.key, busy: false, error: '', res };
    } catch (e) {
      if (my !== seq) return;
      const msg = e.code === 'host_offline' ? 'The host is offline: the preview needs its agent.' : e.message;
      s.rprev = { key: ed.key, busy: false, error: msg, res: null };
    }
    update();
  };
  const online = () => !s.host || s.host.status === 'online';
  const schedule = (form, ed) => {
    clearTimeout(timer);
    if (!online()) return; // the button still asks, and says why it cannot
    timer = setTimeout(() => { if (s.gedit === ed && form.isConnected) run(form, ed); }, 800);
  };
  const view = (ed) => {
    if (!ed.id) return html`<p class="muted small">Save the group to preview its retention against its snapshots.</p>`;
    const p = s.rprev && s.rprev.key === ed.key ? s.rprev : null;
    const res = p && p.res;
    return html`<div class="rp" data-testid="retention-preview" aria-live="polite" aria-busy=${p && p.busy ? 'true' : 'false'}>
<div class="card-head"><span class="small">${res ? html`<b data-testid="rp-summary">${fmtNum(res.keep.length)} kept · ${fmtNum(res.remove.length)} removed</b>${res.truncated ? ' (newest snapshots only)' : ''}` : html`<span class="muted">${online() ? 'Which snapshots would this retention keep?' : 'The preview needs the host online.'}</span>`}${p && p.busy ? html` <span class="muted">checking…</span>` : nothing}</span>
<button type="button" class="btn btn-sm" data-testid="rp-run" @click=${(ev) => run(ev.currentTarget.form, ed)}>Preview</button></div>
${p && p.error ? html`<p class="form-error" role="alert" data-testid="rp-error">${p.error}</p>` : nothing}
${res ? table(res) : nothing}</div>`;
  };
  const cleanup = () => clearTimeout(timer);
  return { run, schedule, view, cleanup };
}
