// Host page, Sources tab: the host's source groups (what to back up, how long to keep it),
// a group editor that validates as you type and shows the server's 422 field errors next to
// the field, run now, delete with confirmation. Hooks are shown and edited by admins only
// (the API leaves their text out for everyone else and refuses their edits). Editing a
// saved group's retention previews it against the group's snapshots (retention-preview.js).
import { post, put, del } from '../api.js';
import { navigate } from '../router.js';
import { html, nothing, keyed } from '../html.js';
import { busy, toast, lines, fmtNum } from '../util.js';
import { none } from '../components.js';
import { createPreview, isRetentionField } from './retention-preview.js';

const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const DURATION_RE = /^(\d+[ymwdh])+$/;
const KEEP = [['keep_last', 'Keep last'], ['keep_hourly', 'Hourly'], ['keep_daily', 'Daily'], ['keep_weekly', 'Weekly'], ['keep_monthly', 'Monthly'], ['keep_yearly', 'Yearly']];
// number fields: [name, label, min, max, allow empty (null)]
const NUMS = {
  keep_last: [0, 10000], keep_hourly: [0, 10000], keep_daily: [0, 10000], keep_weekly: [0, 10000], keep_monthly: [0, 10000], keep_yearly: [0, 10000],
  retry_max: [0, 10], retry_backoff_s: [10, 86400], limit_upload_kib: [0, 10000000, true], limit_download_kib: [0, 10000000, true],
};
const HOOK_MAX = 65536;

export function retentionSummary(r) {
  if (!r) return 'keep all';
  const parts = [];
  for (const [k, label] of KEEP) if (r[k]) parts.push(`${k === 'keep_last' ? 'last' : label.toLowerCase()} ${r[k]}`);
  if (r.keep_within) parts.push(`within ${r.keep_within}`);
  return parts.length ? parts.join(' · ') : 'keep all';
}

// One field's message, '' when fine. form: the editor's <form>.
function check(form, name) {
  const el = form.elements[name];
  if (!el) return '';
  const v = el.value;
  if (name === 'name') {
    const t = v.trim();
    if (!t) return 'A name is required.';
    if (!NAME_RE.test(t)) {
      if (t.length > 63) return 'At most 63 characters.';
      if (/[A-Z]/.test(t)) return 'Lower-case only: a–z, 0–9, “_”, “.”, “-”.';
      if (!/^[a-z0-9]/.test(t)) return 'Start with a lower-case letter or a digit.';
      return 'Only a–z, 0–9, “_”, “.” and “-” (this is the restic tag).';
    }
    return '';
  }
  if (name === 'includes') {
    const ps = lines(v);
    if (!ps.length) return 'Enter at least one absolute path.';
    if (ps.length > 100) return `At most 100 paths (${ps.length}).`;
    const rel = ps.find((p) => !p.startsWith('/'));
    if (rel) return `Paths must be absolute: ${rel}`;
    const dots = ps.find((p) => p.split('/').includes('..'));
    if (dots) return `No “..” segments: ${dots}`;
    const long = ps.find((p) => p.length > 4096);
    if (long) return 'A path is longer than 4,096 characters.';
    return '';
  }
  if (name === 'excludes') {
    const n = lines(v).length;
    return n > 1000 ? `At most 1,000 patterns (${fmtNum(n)}).` : '';
  }
  if (name === 'keep_within') {
    const t = v.trim();
    return t && !DURATION_RE.test(t) ? 'A restic duration like 7d, 12h or 1y2m.' : '';
  }
  if (name === 'pre_hook' || name === 'post_hook') {
    return new TextEncoder().encode(v).length > HOOK_MAX ? 'At most 64 KiB.' : '';
  }
  const spec = NUMS[name];
  if (spec) {
    const t = v.trim();
    if (!t) return spec[2] || name.startsWith('keep_') ? '' : 'Required.';
    if (!/^\d+$/.test(t) || Number(t) < spec[0] || Number(t) > spec[1]) return `A whole number from ${fmtNum(spec[0])} to ${fmtNum(spec[1])}.`;
  }
  return '';
}

const FIELDS = ['name', 'includes', 'excludes', ...KEEP.map((k) => k[0]), 'keep_within', 'retry_max', 'retry_backoff_s', 'limit_upload_kib', 'limit_download_kib', 'pre_hook', 'post_hook'];

// The server's field name (e.g. "retention.keep_daily", "includes[2]") → our input name.
export function fieldName(f) {
  if (!f) return null;
  const n = String(f).replace(/\[.*$/, '').replace(/^retention\./, '').replace(/^group\./, '');
  return FIELDS.includes(n) ? n : null;
}

function body(form, admin, initial) {
  const num = (n) => { const t = form.elements[n].value.trim(); return t ? Number(t) : null; };
  const b = {
    name: form.elements.name.value.trim(),
    includes: lines(form.elements.includes.value),
    excludes: lines(form.elements.excludes.value),
    exclude_caches: form.elements.exclude_caches.checked,
    one_file_system: form.elements.one_file_system.checked,
    retention: { keep_within: form.elements.keep_within.value.trim() },
    retry_max: num('retry_max') ?? 3,
    retry_backoff_s: num('retry_backoff_s') ?? 300,
    limit_upload_kib: num('limit_upload_kib'),
    limit_download_kib: num('limit_download_kib'),
  };
  for (const [k] of KEEP) b.retention[k] = num(k) ?? 0;
  // hooks only when changed (a hook change is audited as such; admins only)
  if (admin) {
    for (const k of ['pre_hook', 'post_hook']) {
      const v = form.elements[k].value;
      if (v !== (initial[k] || '')) b[k] = v;
    }
  }
  return b;
}

const NEW_GROUP = { name: '', includes: [], excludes: [], exclude_caches: true, one_file_system: false, retention: { keep_daily: 7, keep_weekly: 4, keep_monthly: 12 }, retry_max: 3, retry_backoff_s: 300, limit_upload_kib: null, limit_download_kib: null, pre_hook: '', post_hook: '' };

// ---- templates (s: the page state, h: the handlers from createSources) ----

const badge = (on, label) => (on ? html`<span class="badge" data-testid="hook-badge">${label}</span>` : nothing);

function groupActions(s, g, h) {
  if (s.gconfirm === g.id) {
    return html`<span class="confirm" role="group" aria-label="confirm delete"><span>Delete <b>${g.name}</b>? It leaves every schedule.</span>
<button type="button" class="btn btn-danger btn-sm" data-testid="group-delete-confirm" @click=${(ev) => h.remove(g, ev.currentTarget)}>Delete</button>
<button type="button" class="btn btn-ghost btn-sm" @click=${() => h.set({ gconfirm: null })}>Cancel</button></span>`;
  }
  if (s.goffline === g.id) {
    return html`<span class="confirm" role="group" aria-label="host offline"><span>Host offline.</span>
<button type="button" class="btn btn-sm" data-testid="group-run-queue" @click=${(ev) => h.run(g, ev.currentTarget, true)}>Queue until it returns</button>
<button type="button" class="btn btn-ghost btn-sm" @click=${() => h.set({ goffline: null })}>Cancel</button></span>`;
  }
  return html`<span class="row-actions"><button type="button" class="btn btn-primary btn-sm" data-testid="group-run" aria-label="Run now: ${g.name}" @click=${(ev) => h.run(g, ev.currentTarget)}>Run now</button>
<button type="button" class="btn btn-sm" data-testid="group-edit" aria-label="Edit: ${g.name}" @click=${() => h.open(g)}>Edit</button>
<button type="button" class="btn btn-danger btn-sm" data-testid="group-delete" aria-label="Delete: ${g.name}" @click=${() => h.askDelete(g)}>Delete</button></span>`;
}

const groupRow = (s, g, h) => html`<tr data-testid="group-row" data-group-id=${g.id} data-group-name=${g.name}>
<td class="mono"><b>${g.name}</b></td>
<td class="mono paths" title=${(g.includes || []).join('\n')}>${(g.includes || []).join(' · ') || none}</td>
<td class="num">${(g.excludes || []).length}</td>
<td class="mono small" data-testid="group-retention">${retentionSummary(g.retention)}</td>
<td>${badge(g.pre_hook_set, 'pre-hook set')} ${badge(g.post_hook_set, 'post-hook set')}</td>
<td class="actions-cell">${h.operator ? groupActions(s, g, h) : nothing}</td></tr>`;

function groupList(s, h) {
  if (s.groups === null) return html`<p class="muted" data-testid="groups-unavailable">${s.groupsError || 'Loading…'}</p>`;
  if (!s.groups.length) return html`<div class="empty empty-sm" data-testid="groups-empty"><p class="muted">No source groups. A group names what to back up and how long to keep it.</p></div>`;
  return html`<div class="table-wrap"><table class="table" data-testid="groups-table"><thead><tr><th>Name</th><th>Includes</th><th class="num">Excludes</th><th>Retention</th><th>Hooks</th><th><span class="sr-only">actions</span></th></tr></thead>
<tbody>${s.groups.map((g) => groupRow(s, g, h))}</tbody></table></div>`;
}

// Labelled fields with their message underneath (aria-describedby). Values are bound once
// per editor session (ed.group does not change while it is open), so a re-render never
// overwrites what the user typed.
const labelText = (label, hint) => html`${label}${hint ? html` <span class="muted">${hint}</span>` : nothing}`;
const fieldErr = (ed, n) => html`<p class="field-err" id="gf-${n}-err" data-testid="gf-${n}-err">${ed.errors[n] || ''}</p>`;
const input = (ed, n, label, value, hint, numeric) => html`<div class="field"><label for="gf-${n}">${labelText(label, hint)}</label>
<input id="gf-${n}" name=${n} class="mono" autocomplete="off" spellcheck="false" inputmode=${numeric ? 'numeric' : nothing} .value=${value === null || value === undefined ? '' : String(value)}
  aria-invalid=${ed.errors[n] ? 'true' : 'false'} aria-describedby="gf-${n}-err" data-testid="gf-${n}">${fieldErr(ed, n)}</div>`;
const num = (ed, n, label, value, hint) => input(ed, n, label, value, hint, true);
const area = (ed, n, label, value, rows, hint) => html`<div class="field"><label for="gf-${n}">${labelText(label, hint)}</label>
<textarea id="gf-${n}" name=${n} class="mono" rows=${rows} spellcheck="false" .value=${value || ''} aria-invalid=${ed.errors[n] ? 'true' : 'false'} aria-describedby="gf-${n}-err" data-testid="gf-${n}"></textarea>${fieldErr(ed, n)}</div>`;
const checkbox = (n, label, on) => html`<div class="check"><input type="checkbox" id="gf-${n}" name=${n} .checked=${!!on} data-testid="gf-${n}"><label for="gf-${n}">${label}</label></div>`;

function hooksFieldset(ed, admin) {
  const g = ed.group;
  if (!admin) return g.pre_hook_set || g.post_hook_set ? html`<p class="muted small">This group has hooks; only an admin can see or change them.</p>` : nothing;
  return html`<fieldset class="fs"><legend>Hooks <span class="muted">(admins only; run with the host's hook shell; a failing pre-hook aborts the backup; the post-hook gets RM_JOB_STATUS)</span></legend>
<div class="row2">${area(ed, 'pre_hook', 'Pre-backup hook', g.pre_hook, 3)}${area(ed, 'post_hook', 'Post-backup hook', g.post_hook, 3)}</div></fieldset>`;
}

function groupEditor(ed, h) {
  const g = ed.group;
  const r = g.retention || {};
  return html`<form class="card form group-form" data-testid="group-form" novalidate @submit=${h.onSubmit} @input=${h.onInput} aria-labelledby="gf-h">
<h2 id="gf-h">${ed.id ? html`Edit group <span class="mono">${g.name}</span>` : 'New source group'}</h2>
<div class="row2">${input(ed, 'name', 'Name', g.name, '(restic tag: a–z 0–9 _ . -)')}<div></div></div>
<div class="row2">${area(ed, 'includes', 'Include paths', (g.includes || []).join('\n'), 4, '(one absolute path per line)')}
${area(ed, 'excludes', 'Exclude patterns', (g.excludes || []).join('\n'), 4, '(one per line, restic --exclude)')}</div>
<div class="checks">${checkbox('exclude_caches', 'Skip cache directories (CACHEDIR.TAG)', g.exclude_caches)}${checkbox('one_file_system', 'Stay on one file system', g.one_file_system)}</div>
<fieldset class="fs"><legend>Retention <span class="muted">(restic forget; empty or 0 = not used)</span></legend>
<div class="grid7">${KEEP.map(([k, label]) => num(ed, k, label, r[k] || ''))}${input(ed, 'keep_within', 'Keep within', r.keep_within || '', '(7d, 1y2m)')}</div>
${h.preview.view(ed)}</fieldset>
<fieldset class="fs"><legend>Retries and bandwidth</legend>
<div class="grid4">${num(ed, 'retry_max', 'Retries', g.retry_max ?? 3, '(0–10)')}${num(ed, 'retry_backoff_s', 'Retry backoff', g.retry_backoff_s ?? 300, '(s)')}
${num(ed, 'limit_upload_kib', 'Upload limit', g.limit_upload_kib, '(KiB/s, empty = host default)')}${num(ed, 'limit_download_kib', 'Download limit', g.limit_download_kib, '(KiB/s, empty = host default)')}</div></fieldset>
${hooksFieldset(ed, h.admin)}
<p class="form-error" role="alert" data-testid="group-form-error">${ed.error}</p>
<div class="actions"><button type="submit" class="btn btn-primary" data-testid="group-save">${ed.id ? 'Save group' : 'Create group'}</button>
<button type="button" class="btn btn-ghost" data-testid="group-cancel" @click=${h.close}>Cancel</button></div>
</form>`;
}

// ---- behaviour ----

// s: the page state; this module owns s.gedit ({ key, id, group (initial values), errors,
// error }) and s.gconfirm / s.goffline (group ids). env: { enc, update, admin, operator,
// afterChange (refetch groups + schedules) }.
export function createSources(s, env) {
  const { enc, update, afterChange } = env;
  let keySeq = 0;
  const focus = (sel) => { const el = document.querySelector(sel); if (el) el.focus(); };
  const h = { admin: env.admin, operator: env.operator, preview: createPreview(s, env) };
  h.set = (o) => { Object.assign(s, o); update(); };
  h.open = (g) => {
    h.set({ gedit: { key: ++keySeq, id: g ? g.id : null, group: g || NEW_GROUP, errors: {}, error: '' }, gconfirm: null });
    focus('[data-testid="group-form"] [name="name"]');
  };
  h.close = () => h.set({ gedit: null });
  h.askDelete = (g) => { h.set({ gconfirm: g.id, goffline: null }); focus('[data-testid="group-delete-confirm"]'); };
  h.onInput = (ev) => {
    const n = ev.target.name;
    const ed = s.gedit;
    if (!n || !ed) return;
    const m = check(ev.currentTarget, n);
    if ((ed.errors[n] || '') !== m) { ed.errors = { ...ed.errors, [n]: m }; update(); }
    if (isRetentionField(n) && !m) h.preview.schedule(ev.currentTarget, ed);
  };
  // a 422/409 answer: next to its field when the server names one
  const refused = (ed, form, e) => {
    const f = e.code === 'name_taken' ? 'name' : fieldName(e.field);
    if (f) {
      ed.errors = { ...ed.errors, [f]: e.code === 'name_taken' ? 'Another group on this host has this name.' : e.message };
      ed.error = 'The server refused a field.';
    } else ed.error = e.message;
    update();
    if (f) form.elements[f].focus();
  };
  h.onSubmit = async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const ed = s.gedit;
    if (!ed) return;
    ed.errors = {};
    for (const n of FIELDS) { const m = check(form, n); if (m) ed.errors[n] = m; }
    const first = FIELDS.find((n) => ed.errors[n]);
    ed.error = first ? 'Fix the highlighted fields.' : '';
    update();
    if (first) { form.elements[first].focus(); return; }
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const b = body(form, h.admin, ed.group);
        if (ed.id) await put(`/api/hosts/${enc}/groups/${encodeURIComponent(ed.id)}`, b, { quiet: true });
        else await post(`/api/hosts/${enc}/groups`, b, { quiet: true });
        s.gedit = null;
        toast(`Group ${b.name} saved`, 'ok', 3000);
        await afterChange();
      } catch (e) {
        if (e.status !== 401 && s.gedit === ed) refused(ed, form, e);
      }
    });
  };
  h.run = (g, btn, queue = false) => busy(btn, async () => {
    try {
      const r = await post(`/api/hosts/${enc}/groups/${encodeURIComponent(g.id)}/run`, queue ? { queue_if_offline: true } : {}, { quiet: true });
      navigate(`/jobs/${encodeURIComponent(r.job_id)}`);
    } catch (e) {
      if (e.code === 'host_offline') h.set({ goffline: g.id, gconfirm: null });
      else if (e.status !== 401) toast(e.message);
    }
  });
  h.remove = (g, btn) => busy(btn, async () => {
    try {
      await del(`/api/hosts/${enc}/groups/${encodeURIComponent(g.id)}`);
      s.gconfirm = null;
      if (s.gedit && s.gedit.id === g.id) s.gedit = null;
      toast(`Group ${g.name} deleted`, 'ok', 3000);
      await afterChange();
    } catch { /* toast shown */ }
  });

  const view = () => html`<section class="card" aria-labelledby="src-h">
<div class="card-head"><h2 id="src-h">Source groups</h2>${h.operator && !s.gedit ? html`<button type="button" class="btn btn-sm" data-testid="group-new" @click=${() => h.open(null)}>+ New group</button>` : nothing}</div>
${groupList(s, h)}</section>
${s.gedit ? keyed(s.gedit.key, groupEditor(s.gedit, h)) : nothing}`;

  return { view, cleanup: h.preview.cleanup };
}
