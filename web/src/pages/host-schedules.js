// Host page, Schedules tab: the host's cron schedules (enabled toggle, groups, next run in
// host and browser time, last run), an editor whose cron field is checked as you type by
// POST /api/cron/preview (debounced: the error next to the field, else the next 5 runs),
// and the agent's sync state ("agent in sync" / "agent at vN (server vM)").
import { post, put, del } from '../api.js';
import { html, nothing, keyed } from '../html.js';
import { busy, toast, zonedTime, localTime, browserZone, utcOffset } from '../util.js';
import { relEl, pill } from '../components.js';

const PRESETS = ['@hourly', '@daily', '@weekly', '@monthly'];
const PREVIEW_MS = 250;

// "agent in sync" / "agent at vN (server vM)"; null when the server does not say.
export function syncText(version, acked, inSync) {
  if (version === undefined || version === null) return null;
  const ok = inSync !== undefined && inSync !== null ? !!inSync : acked === version;
  return { ok, text: ok ? 'agent in sync' : `agent at v${acked ?? 0} (server v${version})` };
}

export const syncBadge = (version, acked, inSync, testid = 'sync-state') => {
  const s = syncText(version, acked, inSync);
  if (!s) return nothing;
  return html`<span class="sync ${s.ok ? 'sync-ok' : 'sync-behind'}" data-testid=${testid} data-in-sync=${s.ok ? 'true' : 'false'} title=${`schedule version ${version}, acknowledged ${acked ?? 'none'}`}>${s.text}</span>`;
};

// earliest next run over the enabled schedules
export function nextRun(sched) {
  let best = null;
  for (const x of (sched && sched.schedules) || []) {
    if (!x.enabled || !x.next_runs || !x.next_runs.length) continue;
    if (!best || Date.parse(x.next_runs[0]) < Date.parse(best)) best = x.next_runs[0];
  }
  return best;
}

export function cronMessage(e) {
  const msg = String(e.message || 'invalid cron expression');
  const f = e.field && e.field !== 'expression' ? String(e.field).replace(/_/g, ' ') : '';
  if (!f || msg.startsWith(f) || msg.startsWith(e.field)) return msg;
  return `${f}: ${msg}`;
}

// ---- templates (s: the page state, h: the handlers from createSchedules) ----

// zone: { tz, off } of the host. "2026-12-04 03:15 host · 2026-12-04 08:15 here (in 23h)"
export function when(ts, zone, testid) {
  const hostT = zonedTime(ts, zone.tz, zone.off);
  const here = localTime(ts);
  return html`<span class="when" data-testid=${testid || nothing}><span class="mono">${hostT}</span> <span class="muted small">host</span>${hostT !== here ? html` · <span class="mono">${here}</span> <span class="muted small">here</span>` : html`<span class="muted small"> = here</span>`} <span class="muted small">(${relEl(ts)})</span></span>`;
}

function groupNames(s, ids) {
  const by = new Map((s.groups || []).map((g) => [g.id, g.name]));
  const names = (ids || []).map((id) => by.get(id) || '(deleted)');
  return names.length ? names.map((n) => html`<span class="tag">${n}</span>`) : html`<span class="muted">no groups</span>`;
}

function scheduleActions(s, x, h) {
  if (s.sconfirm === x.id) {
    return html`<span class="confirm" role="group" aria-label="confirm delete"><span>Delete this schedule?</span>
<button type="button" class="btn btn-danger btn-sm" data-testid="schedule-delete-confirm" @click=${(ev) => h.remove(x, ev.currentTarget)}>Delete</button>
<button type="button" class="btn btn-ghost btn-sm" @click=${() => h.set({ sconfirm: null })}>Cancel</button></span>`;
  }
  return html`<span class="row-actions"><button type="button" class="btn btn-sm" data-testid="schedule-edit" aria-label="Edit: ${x.cron}" @click=${() => h.open(x)}>Edit</button>
<button type="button" class="btn btn-danger btn-sm" data-testid="schedule-delete" aria-label="Delete: ${x.cron}" @click=${() => h.askDelete(x)}>Delete</button></span>`;
}

function scheduleRow(s, x, h) {
  const lr = x.last_run;
  const next = x.enabled && x.next_runs && x.next_runs.length ? when(x.next_runs[0], h.zone()) : html`<span class="muted">${x.enabled ? '—' : 'disabled'}</span>`;
  return html`<tr data-testid="schedule-row" data-schedule-id=${x.id} data-enabled=${x.enabled ? 'true' : 'false'}>
<td class="mono"><b>${x.cron}</b></td>
<td><input type="checkbox" class="toggle" .checked=${!!x.enabled} ?disabled=${!h.operator} aria-label="Enabled: ${x.cron}" data-testid="schedule-enabled" @change=${(ev) => h.toggle(x, ev)}></td>
<td>${groupNames(s, x.group_ids)}</td>
<td data-testid="schedule-next">${next}</td>
<td data-testid="schedule-last">${lr ? html`${lr.job_id ? html`<a href="/jobs/${encodeURIComponent(lr.job_id)}">${pill(lr.status)}</a>` : pill(lr.status)} ${relEl(lr.at)}` : html`<span class="muted">never</span>`}</td>
<td class="actions-cell">${h.operator ? scheduleActions(s, x, h) : nothing}</td></tr>`;
}

function zones(zone) {
  return html`<p class="muted small" data-testid="tz-info">Host time zone <b class="mono">${zone.tz || 'unknown'}</b>${zone.off !== undefined ? html` <span class="mono">(${utcOffset(zone.off)})</span>` : nothing}
 · this browser <b class="mono">${browserZone()}</b> <span class="mono">(${utcOffset(-new Date().getTimezoneOffset() * 60)})</span> · cron runs in host time</p>`;
}

function scheduleList(s, h) {
  if (!s.sched) return html`<p class="muted" data-testid="schedules-unavailable">${s.schedError || 'Loading…'}</p>`;
  const xs = s.sched.schedules || [];
  if (!xs.length) return html`<div class="empty empty-sm" data-testid="schedules-empty"><p class="muted">No schedules: backups run only when started by hand.</p></div>`;
  return html`<div class="table-wrap"><table class="table" data-testid="schedules-table"><thead><tr><th>Cron</th><th>Enabled</th><th>Groups</th><th>Next run</th><th>Last run</th><th><span class="sr-only">actions</span></th></tr></thead>
<tbody>${xs.map((x) => scheduleRow(s, x, h))}</tbody></table></div>`;
}

function previewPanel(ed, zone) {
  const runs = ed.preview && ed.preview.length ? html`<ol class="runs">${ed.preview.map((t) => html`<li data-testid="preview-run">${when(t, zone)}</li>`)}</ol>`
    : html`<p class="muted small">${ed.errors.cron ? 'fix the expression to see its runs' : 'type an expression or pick a preset'}</p>`;
  return html`<div class="preview" id="sf-preview" aria-live="polite" data-testid="cron-preview"><h3 class="small muted">Next runs</h3>
${ed.note ? html`<p class="muted small">${ed.note}</p>` : nothing}${runs}</div>`;
}

function groupChecks(s, ed) {
  const groups = s.groups || [];
  const ids = ed.sched.group_ids || [];
  return html`<fieldset class="fs" aria-describedby="sf-groups-err"><legend>Source groups</legend>
${groups.length ? groups.map((g) => html`<div class="check"><input type="checkbox" id="sf-g-${g.id}" name="group" value=${g.id} .checked=${ids.includes(g.id)} data-testid="schedule-group" data-group-name=${g.name}><label for="sf-g-${g.id}" class="mono">${g.name}</label></div>`)
    : html`<p class="muted small">No source groups yet: add one on the Sources tab.</p>`}
<p class="field-err" id="sf-groups-err" data-testid="groups-error">${ed.errors.groups || ''}</p></fieldset>`;
}

function scheduleEditor(s, ed, h) {
  const cronErr = ed.errors.cron || '';
  return html`<form class="card form schedule-form" data-testid="schedule-form" novalidate @submit=${h.onSubmit} @input=${h.onInput} aria-labelledby="sf-h">
<h2 id="sf-h">${ed.id ? 'Edit schedule' : 'New schedule'}</h2>
<div class="two-col"><div>
<div class="field"><label for="sf-cron">Cron expression <span class="muted">(minute hour day-of-month month day-of-week, host time)</span></label>
<input id="sf-cron" name="cron" class="mono" autocomplete="off" spellcheck="false" placeholder="30 2 * * *" .value=${ed.sched.cron || ''} aria-invalid=${cronErr ? 'true' : 'false'} aria-describedby="sf-cron-err sf-preview" data-testid="schedule-cron">
<p class="field-err" id="sf-cron-err" data-testid="cron-error">${cronErr}</p></div>
<div class="presets" role="group" aria-label="presets">${PRESETS.map((p) => html`<button type="button" class="btn btn-sm btn-ghost mono" data-testid="preset" @click=${() => h.preset(p)}>${p}</button>`)}</div>
<div class="check"><input type="checkbox" id="sf-enabled" name="enabled" .checked=${ed.sched.enabled !== false} data-testid="schedule-enabled-input"><label for="sf-enabled">Enabled</label></div>
${groupChecks(s, ed)}
</div>${previewPanel(ed, h.zone())}</div>
<p class="form-error" role="alert" data-testid="schedule-form-error">${ed.error}</p>
<div class="actions"><button type="submit" class="btn btn-primary" data-testid="schedule-save">${ed.id ? 'Save schedule' : 'Create schedule'}</button>
<button type="button" class="btn btn-ghost" data-testid="schedule-cancel" @click=${h.close}>Cancel</button></div>
</form>`;
}

// ---- behaviour ----

// The cron field asks the server as you type (debounced); answers to older keystrokes are
// dropped. ed: the editor state it writes to (preview, errors.cron, note).
function cronPreviewer(s, h) {
  let timer = null;
  let seq = 0;
  const run = (cron) => {
    clearTimeout(timer);
    const ed = s.sedit;
    const my = ++seq;
    if (!ed) return;
    if (!cron.trim()) { ed.preview = null; ed.errors = { ...ed.errors, cron: '' }; h.update(); return; }
    timer = setTimeout(async () => {
      const body = { cron: cron.trim() };
      const { tz } = h.zone();
      if (tz) body.timezone = tz;
      try {
        const r = await post('/api/cron/preview', body, { quiet: true });
        if (my !== seq || s.sedit !== ed) return;
        Object.assign(ed, { preview: r.next_runs || [], note: '' });
        ed.errors = { ...ed.errors, cron: '' };
      } catch (e) {
        if (my !== seq || s.sedit !== ed || e.status === 401) return;
        ed.preview = null;
        if (e.status === 422 || e.status === 400) { ed.errors = { ...ed.errors, cron: cronMessage(e) }; ed.note = ''; } else ed.note = `preview unavailable: ${e.message}`;
      }
      h.update();
    }, PREVIEW_MS);
  };
  return { run, stop: () => { clearTimeout(timer); seq++; } };
}

// s: page state; this module owns s.sedit ({ key, id, sched (initial values), errors, error,
// preview, note }) and s.sconfirm. s.sched is GET .../schedules, s.groups the host's groups.
export function createSchedules(s, env) {
  const { enc, update, afterChange } = env;
  let keySeq = 0;
  const focus = (sel) => { const el = document.querySelector(sel); if (el) el.focus(); };
  const h = { operator: env.operator, update };
  h.zone = () => ({ tz: (s.sched && s.sched.timezone) || s.host.timezone || null, off: s.sched && typeof s.sched.utc_offset_s === 'number' ? s.sched.utc_offset_s : undefined });
  const preview = cronPreviewer(s, h);
  h.set = (o) => { Object.assign(s, o); update(); };
  h.open = (x) => {
    preview.stop();
    const fresh = { cron: '', enabled: true, group_ids: (s.groups || []).length === 1 ? [s.groups[0].id] : [] };
    h.set({ sedit: { key: ++keySeq, id: x ? x.id : null, sched: x || fresh, errors: {}, error: '', preview: x ? x.next_runs || null : null, note: '' }, sconfirm: null });
    focus('[data-testid="schedule-form"] [name="cron"]');
  };
  h.close = () => { preview.stop(); h.set({ sedit: null }); };
  h.askDelete = (x) => { h.set({ sconfirm: x.id }); focus('[data-testid="schedule-delete-confirm"]'); };
  h.onInput = (ev) => {
    const ed = s.sedit;
    if (!ed) return;
    if (ev.target.name === 'cron') preview.run(ev.target.value);
    else if (ev.target.name === 'group' && ed.errors.groups) { ed.errors = { ...ed.errors, groups: '' }; update(); }
  };
  h.preset = (p) => {
    const f = document.querySelector('[data-testid="schedule-form"]');
    if (!f) return;
    f.elements.cron.value = p;
    f.elements.cron.focus();
    preview.run(p);
  };
  const fail = (ed, form, key, msg) => {
    ed.errors = { ...ed.errors, [key]: msg };
    if (key === 'cron') ed.preview = null;
    update();
    const el = key === 'cron' ? form.elements.cron : form.querySelector('input[name="group"]');
    if (el) el.focus();
  };
  h.onSubmit = async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const ed = s.sedit;
    if (!ed) return;
    const cron = form.elements.cron.value.trim();
    const ids = Array.from(form.querySelectorAll('input[name="group"]:checked')).map((c) => c.value);
    ed.error = '';
    if (!cron) return fail(ed, form, 'cron', 'Enter a cron expression or pick a preset.');
    if ((s.groups || []).length && !ids.length) return fail(ed, form, 'groups', 'Pick at least one source group: a schedule backs up its groups.');
    update();
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const b = { cron, enabled: form.elements.enabled.checked, group_ids: ids };
        if (ed.id) await put(`/api/hosts/${enc}/schedules/${encodeURIComponent(ed.id)}`, b, { quiet: true });
        else await post(`/api/hosts/${enc}/schedules`, b, { quiet: true });
        preview.stop();
        s.sedit = null;
        toast('Schedule saved', 'ok', 3000);
        await afterChange();
      } catch (e) {
        if (e.status === 401 || s.sedit !== ed) return;
        if (e.field === 'group_ids') fail(ed, form, 'groups', e.message);
        else if (e.code === 'invalid_cron' || e.status === 422) fail(ed, form, 'cron', cronMessage(e));
        else { ed.error = e.message; update(); }
      }
    });
  };
  h.toggle = async (x, ev) => {
    const box = ev.currentTarget;
    box.disabled = true;
    try {
      await put(`/api/hosts/${enc}/schedules/${encodeURIComponent(x.id)}`, { cron: x.cron, enabled: box.checked, group_ids: x.group_ids || [] });
      await afterChange();
    } catch {
      box.checked = x.enabled; // toast shown; lit would not reset a value it did not change
    } finally {
      box.disabled = false;
    }
  };
  h.remove = (x, btn) => busy(btn, async () => {
    try {
      await del(`/api/hosts/${enc}/schedules/${encodeURIComponent(x.id)}`);
      s.sconfirm = null;
      if (s.sedit && s.sedit.id === x.id) s.sedit = null;
      toast('Schedule deleted', 'ok', 3000);
      await afterChange();
    } catch { /* toast shown */ }
  });

  const view = () => {
    const sc = s.sched;
    return html`<section class="card" aria-labelledby="sch-h">
<div class="card-head"><h2 id="sch-h">Schedules ${sc ? syncBadge(sc.schedule_version, sc.schedule_acked_version, sc.in_sync) : nothing}</h2>
${h.operator && !s.sedit ? html`<button type="button" class="btn btn-sm" data-testid="schedule-new" @click=${() => h.open(null)}>+ New schedule</button>` : nothing}</div>
${zones(h.zone())}
${scheduleList(s, h)}</section>
${s.sedit ? keyed(s.sedit.key, scheduleEditor(s, s.sedit, h)) : nothing}`;
  };

  return { view, cleanup: () => preview.stop() };
}
