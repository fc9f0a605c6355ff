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

// s: page state; this module owns s.sedit ({ key, id, sched, errors, error, preview, note }) and
// s.sconfirm. s.sched is GET .../schedules, s.groups the groups (names for the checkboxes).
export function createSchedules(s, env) {
  const { enc, update, operator, afterChange } = env;
  let keySeq = 0;
  let timer = null;
  let seq = 0;
  const tz = () => (s.sched && s.sched.timezone) || s.host.timezone || null;
  const off = () => (s.sched && typeof s.sched.utc_offset_s === 'number' ? s.sched.utc_offset_s : undefined);

  const when = (ts, testid) => {
    const h = zonedTime(ts, tz(), off());
    const l = localTime(ts);
    return html`<span class="when" data-testid=${testid || nothing}><span class="mono">${h}</span> <span class="muted small">host</span>${h !== l ? html` · <span class="mono">${l}</span> <span class="muted small">here</span>` : html`<span class="muted small"> = here</span>`} <span class="muted small">(${relEl(ts)})</span></span>`;
  };

  const preview = (cron) => {
    clearTimeout(timer);
    const ed = s.sedit;
    if (!ed) return;
    const my = ++seq;
    if (!cron.trim()) { ed.preview = null; ed.errors = { ...ed.errors, cron: '' }; update(); return; }
    timer = setTimeout(async () => {
      ed.note = 'checking…';
      update();
      try {
        const body = { cron: cron.trim() };
        if (tz()) body.timezone = tz();
        const r = await post('/api/cron/preview', body, { quiet: true });
        if (my !== seq || s.sedit !== ed) return;
        ed.preview = r.next_runs || [];
        ed.errors = { ...ed.errors, cron: '' };
        ed.note = '';
      } catch (e) {
        if (my !== seq || s.sedit !== ed || e.status === 401) return;
        ed.preview = null;
        if (e.status === 422 || e.status === 400) { ed.errors = { ...ed.errors, cron: cronMessage(e) }; ed.note = ''; } else ed.note = `preview unavailable: ${e.message}`;
      }
      update();
    }, PREVIEW_MS);
  };

  const open = (x) => {
    s.sedit = { key: ++keySeq, id: x ? x.id : null, sched: x || { cron: '', enabled: true, group_ids: (s.groups || []).length === 1 ? [s.groups[0].id] : [] }, errors: {}, error: '', preview: x ? x.next_runs || null : null, note: '' };
    s.sconfirm = null;
    update();
    const f = document.querySelector('[data-testid="schedule-form"]');
    if (f) f.elements.cron.focus();
  };
  const close = () => { clearTimeout(timer); seq++; s.sedit = null; update(); };

  const groupIds = (form) => Array.from(form.querySelectorAll('input[name="group"]:checked')).map((c) => c.value);

  const onInput = (ev) => {
    const ed = s.sedit;
    if (!ed) return;
    if (ev.target.name === 'cron') preview(ev.target.value);
    else if (ev.target.name === 'group' && ed.errors.groups) { ed.errors = { ...ed.errors, groups: '' }; update(); }
  };
  const preset = (p) => {
    const f = document.querySelector('[data-testid="schedule-form"]');
    if (!f) return;
    f.elements.cron.value = p;
    f.elements.cron.focus();
    preview(p);
  };

  async function onSubmit(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const ed = s.sedit;
    if (!ed) return;
    const cron = form.elements.cron.value.trim();
    const ids = groupIds(form);
    ed.error = '';
    if (!cron) { ed.errors = { ...ed.errors, cron: 'Enter a cron expression or pick a preset.' }; update(); form.elements.cron.focus(); return; }
    if ((s.groups || []).length && !ids.length) {
      ed.errors = { ...ed.errors, groups: 'Pick at least one source group: a schedule backs up its groups.' };
      update();
      const c = form.querySelector('input[name="group"]');
      if (c) c.focus();
      return;
    }
    update();
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const b = { cron, enabled: form.elements.enabled.checked, group_ids: ids };
        if (ed.id) await put(`/api/hosts/${enc}/schedules/${encodeURIComponent(ed.id)}`, b, { quiet: true });
        else await post(`/api/hosts/${enc}/schedules`, b, { quiet: true });
        clearTimeout(timer);
        seq++;
        s.sedit = null;
        toast('Schedule saved', 'ok', 3000);
        await afterChange();
      } catch (e) {
        if (e.status === 401 || s.sedit !== ed) return;
        if (e.code === 'invalid_cron' || e.field === 'cron' || (e.status === 422 && e.field && e.field !== 'group_ids')) {
          ed.errors = { ...ed.errors, cron: cronMessage(e) };
          ed.preview = null;
          update();
          form.elements.cron.focus();
        } else if (e.field === 'group_ids') {
          ed.errors = { ...ed.errors, groups: e.message };
          update();
        } else { ed.error = e.message; update(); }
      }
    });
  }

  async function toggle(x, ev) {
    const box = ev.currentTarget;
    const on = box.checked;
    box.disabled = true;
    try {
      await put(`/api/hosts/${enc}/schedules/${encodeURIComponent(x.id)}`, { cron: x.cron, enabled: on, group_ids: x.group_ids || [] });
      await afterChange();
    } catch {
      box.checked = x.enabled; // toast shown; lit would not reset a value it did not change
    } finally {
      box.disabled = false;
    }
  }

  async function remove(x, btn) {
    await busy(btn, async () => {
      try {
        await del(`/api/hosts/${enc}/schedules/${encodeURIComponent(x.id)}`);
        s.sconfirm = null;
        if (s.sedit && s.sedit.id === x.id) s.sedit = null;
        toast('Schedule deleted', 'ok', 3000);
        await afterChange();
      } catch { /* toast shown */ }
    });
  }

  const groupNames = (ids) => {
    const by = new Map((s.groups || []).map((g) => [g.id, g.name]));
    const names = (ids || []).map((id) => by.get(id) || '(deleted)');
    return names.length ? names.map((n) => html`<span class="tag">${n}</span>`) : html`<span class="muted">no groups</span>`;
  };

  const actions = (x) => {
    if (!operator) return nothing;
    if (s.sconfirm === x.id) {
      return html`<span class="confirm" role="group" aria-label="confirm delete"><span>Delete this schedule?</span>
<button type="button" class="btn btn-danger btn-sm" data-testid="schedule-delete-confirm" @click=${(ev) => remove(x, ev.currentTarget)}>Delete</button>
<button type="button" class="btn btn-ghost btn-sm" @click=${() => { s.sconfirm = null; update(); }}>Cancel</button></span>`;
    }
    return html`<span class="row-actions"><button type="button" class="btn btn-sm" data-testid="schedule-edit" aria-label="Edit: ${x.cron}" @click=${() => open(x)}>Edit</button>
<button type="button" class="btn btn-danger btn-sm" data-testid="schedule-delete" aria-label="Delete: ${x.cron}" @click=${() => { s.sconfirm = x.id; update(); const b = document.querySelector('[data-testid="schedule-delete-confirm"]'); if (b) b.focus(); }}>Delete</button></span>`;
  };

  const row = (x) => {
    const lr = x.last_run;
    return html`<tr data-testid="schedule-row" data-schedule-id=${x.id} data-enabled=${x.enabled ? 'true' : 'false'}>
<td class="mono"><b>${x.cron}</b></td>
<td><input type="checkbox" class="toggle" .checked=${!!x.enabled} ?disabled=${!operator} aria-label="Enabled: ${x.cron}" data-testid="schedule-enabled" @change=${(ev) => toggle(x, ev)}></td>
<td>${groupNames(x.group_ids)}</td>
<td data-testid="schedule-next">${x.enabled && x.next_runs && x.next_runs.length ? when(x.next_runs[0]) : html`<span class="muted">${x.enabled ? '—' : 'disabled'}</span>`}</td>
<td data-testid="schedule-last">${lr ? html`${lr.job_id ? html`<a href="/jobs/${encodeURIComponent(lr.job_id)}">${pill(lr.status)}</a>` : pill(lr.status)} ${relEl(lr.at)}` : html`<span class="muted">never</span>`}</td>
<td class="actions-cell">${actions(x)}</td></tr>`;
  };

  const zones = () => {
    const z = tz();
    return html`<p class="muted small" data-testid="tz-info">Host time zone <b class="mono">${z || 'unknown'}</b>${off() !== undefined ? html` <span class="mono">(${utcOffset(off())})</span>` : nothing}
 · this browser <b class="mono">${browserZone()}</b> <span class="mono">(${utcOffset(-new Date().getTimezoneOffset() * 60)})</span> · cron runs in host time</p>`;
  };

  const list = () => {
    if (!s.sched) return html`<p class="muted" data-testid="schedules-unavailable">${s.schedError || 'Loading…'}</p>`;
    const xs = s.sched.schedules || [];
    if (!xs.length) return html`<div class="empty empty-sm" data-testid="schedules-empty"><p class="muted">No schedules: backups run only when started by hand.</p></div>`;
    return html`<div class="table-wrap"><table class="table" data-testid="schedules-table"><thead><tr><th>Cron</th><th>Enabled</th><th>Groups</th><th>Next run</th><th>Last run</th><th><span class="sr-only">actions</span></th></tr></thead>
<tbody>${xs.map(row)}</tbody></table></div>`;
  };

  const editor = () => {
    const ed = s.sedit;
    const x = ed.sched;
    const groups = s.groups || [];
    const cronErr = ed.errors.cron || '';
    return html`<form class="card form schedule-form" data-testid="schedule-form" novalidate @submit=${onSubmit} @input=${onInput} aria-labelledby="sf-h">
<h2 id="sf-h">${ed.id ? 'Edit schedule' : 'New schedule'}</h2>
<div class="two-col">
<div>
<div class="field"><label for="sf-cron">Cron expression <span class="muted">(minute hour day-of-month month day-of-week, host time)</span></label>
<input id="sf-cron" name="cron" class="mono" autocomplete="off" spellcheck="false" placeholder="30 2 * * *" .value=${x.cron || ''} aria-invalid=${cronErr ? 'true' : 'false'} aria-describedby="sf-cron-err sf-preview" data-testid="schedule-cron">
<p class="field-err" id="sf-cron-err" data-testid="cron-error">${cronErr}</p></div>
<div class="presets" role="group" aria-label="presets">${PRESETS.map((p) => html`<button type="button" class="btn btn-sm btn-ghost mono" data-testid="preset" @click=${() => preset(p)}>${p}</button>`)}</div>
<div class="check"><input type="checkbox" id="sf-enabled" name="enabled" .checked=${x.enabled !== false} data-testid="schedule-enabled-input"><label for="sf-enabled">Enabled</label></div>
<fieldset class="fs" aria-describedby="sf-groups-err"><legend>Source groups</legend>
${groups.length ? groups.map((g) => html`<div class="check"><input type="checkbox" id="sf-g-${g.id}" name="group" value=${g.id} .checked=${(x.group_ids || []).includes(g.id)} data-testid="schedule-group" data-group-name=${g.name}><label for="sf-g-${g.id}" class="mono">${g.name}</label></div>`)
    : html`<p class="muted small">No source groups yet: add one on the Sources tab.</p>`}
<p class="field-err" id="sf-groups-err" data-testid="groups-error">${ed.errors.groups || ''}</p></fieldset>
</div>
<div class="preview" id="sf-preview" aria-live="polite" data-testid="cron-preview">
<h3 class="small muted">Next runs</h3>
${ed.note ? html`<p class="muted small">${ed.note}</p>` : nothing}
${ed.preview && ed.preview.length ? html`<ol class="runs">${ed.preview.map((t) => html`<li data-testid="preview-run">${when(t)}</li>`)}</ol>` : html`<p class="muted small">${cronErr ? 'fix the expression to see its runs' : 'type an expression or pick a preset'}</p>`}
</div></div>
<p class="form-error" role="alert" data-testid="schedule-form-error">${ed.error}</p>
<div class="actions"><button type="submit" class="btn btn-primary" data-testid="schedule-save">${ed.id ? 'Save schedule' : 'Create schedule'}</button>
<button type="button" class="btn btn-ghost" data-testid="schedule-cancel" @click=${close}>Cancel</button></div>
</form>`;
  };

  const view = () => {
    const sc = s.sched;
    return html`<section class="card" aria-labelledby="sch-h">
<div class="card-head"><h2 id="sch-h">Schedules ${sc ? syncBadge(sc.schedule_version, sc.schedule_acked_version, sc.in_sync) : nothing}</h2>
${operator && !s.sedit ? html`<button type="button" class="btn btn-sm" data-testid="schedule-new" @click=${() => open(null)}>+ New schedule</button>` : nothing}</div>
${zones()}
${list()}</section>
${s.sedit ? keyed(s.sedit.key, editor()) : nothing}`;
  };

  return { view, cleanup: () => clearTimeout(timer), when };
}

