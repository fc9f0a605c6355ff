// Host page, Overview side: restore drills — "last proven restorable", the last drill's
// outcome, the cadence (operators edit it) and "Run drill now".
import { get, put, post } from '../api.js';
import { navigate } from '../router.js';
import { html, nothing, keyed } from '../html.js';
import { busy, toast, fmtBytes } from '../util.js';
import { relEl, pill } from '../components.js';

const DAY = 86400;

function cadence(d) {
  if (!d.enabled) return 'off';
  const s = d.interval_s;
  if (s % DAY === 0) return s === DAY ? 'daily' : s === 7 * DAY ? 'weekly' : `every ${s / DAY} days`;
  return s % 3600 === 0 ? `every ${s / 3600} h` : `every ${s} s`;
}

// s.drill: GET .../drill (null when unavailable); s.host carries last_drill_ok_at / last_drill.
export function createDrill(s, env) {
  const { enc, update } = env;
  s.dset = { key: 1, error: '' };
  const load = async () => {
    try { s.drill = await get(`/api/hosts/${enc}/drill`, { quiet: true }); } catch { s.drill = null; }
  };
  const onSubmit = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const days = Number(f.elements.days.value.trim());
    const files = Number(f.elements.files.value.trim());
    const mib = Number(f.elements.mib.value.trim());
    const bad = !Number.isFinite(days) || days <= 0 || days > 365 ? ['days', 'Days between drills: 0.01 to 365.']
      : !Number.isInteger(files) || files < 1 || files > 1000 ? ['files', 'Files per drill: 1 to 1000.']
        : !Number.isFinite(mib) || mib < 1 || mib > 65536 ? ['mib', 'Size cap: 1 to 65,536 MiB.'] : null;
    if (bad) { s.dset.error = bad[1]; update(); f.elements[bad[0]].focus(); return; }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        s.drill = await put(`/api/hosts/${enc}/drill`, { enabled: f.elements.enabled.checked, interval_s: Math.max(5, Math.round(days * DAY)), sample_files: files, max_bytes: Math.round(mib * 1048576) }, { quiet: true });
        s.dset = { key: s.dset.key + 1, error: '' };
        toast('Drill settings saved', 'ok', 3000);
        update();
      } catch (e) {
        if (e.status !== 401) { s.dset.error = e.message; update(); }
      }
    });
  };
  const runNow = (ev) => busy(ev.currentTarget, async () => {
    try {
      const r = await post(`/api/hosts/${enc}/drill/run`, {}, { quiet: true });
      navigate(`/jobs/${encodeURIComponent(r.job_id)}`);
    } catch (e) {
      if (e.status !== 401) { s.dset.error = e.message; update(); }
    }
  });
  const view = () => {
    const h = s.host;
    const d = s.drill;
    const last = h.last_drill;
    return html`<section class="card drill-card" aria-labelledby="drill-h" data-testid="drill-card"><h2 id="drill-h">Restore drills</h2>
<dl class="summary"><div><dt>last proven restorable</dt><dd data-testid="last-proven">${relEl(h.last_drill_ok_at)}</dd></div>
<div><dt>last drill</dt><dd data-testid="last-drill">${last ? html`${pill(last.status)} ${relEl(last.finished_at)}` : html`<span class="muted">none yet</span>`}</dd></div>
${d ? html`<div><dt>cadence</dt><dd data-testid="drill-cadence">${cadence(d)} · ${d.sample_files} files · ≤ ${fmtBytes(d.max_bytes)}</dd></div>` : nothing}</dl>
${d && env.operator ? keyed(s.dset.key, html`<form class="form" novalidate data-testid="drill-form" @submit=${onSubmit}>
<label class="check"><input type="checkbox" name="enabled" id="dr-enabled" .checked=${d.enabled} data-testid="drill-enabled"> <span>Run drills on a cadence</span></label>
<div class="field"><label for="dr-days">Every <span class="muted">(days)</span></label><input id="dr-days" name="days" class="mono" inputmode="decimal" autocomplete="off" .value=${String(+(d.interval_s / DAY).toFixed(4))} data-testid="drill-days"></div>
<div class="field"><label for="dr-files">Files per drill</label><input id="dr-files" name="files" class="mono" inputmode="numeric" autocomplete="off" .value=${String(d.sample_files)} data-testid="drill-files"></div>
<div class="field"><label for="dr-mib">At most <span class="muted">(MiB)</span></label><input id="dr-mib" name="mib" class="mono" inputmode="numeric" autocomplete="off" .value=${String(Math.round(d.max_bytes / 1048576))} data-testid="drill-mib"></div>
<p class="form-error" role="alert" data-testid="drill-error">${s.dset.error}</p>
<div class="form-actions"><button type="button" class="btn" @click=${runNow} ?disabled=${h.status !== 'online'} data-testid="drill-run">Run drill now</button><button type="submit" class="btn btn-primary" data-testid="drill-save">Save</button></div></form>`) : nothing}
</section>`;
  };
  return { view, load };
}
