// Restore wizard (C3): host → snapshot → paths (tree multi-select) → target → confirm →
// the live job page. Route /hosts/{id}/restore[?snapshot=<id>].
// Targets: a new directory (default $HOME/rm-restore/<job-id>/ on the agent, or a custom
// absolute path), in place (admin; the host's name typed to confirm), or — admin — onto
// another host, with an optional source → target path map.
import { get, post, session } from '../api.js';
import { navigate } from '../router.js';
import { html, render, nothing } from '../html.js';
import { absTime, busy, fmtBytes, fmtNum, lines, toast } from '../util.js';
import { tagList } from '../components.js';
import { pathPicker } from './restore-paths.js';

export const title = 'Restore';

const STEPS = [['snapshot', 'Snapshot'], ['paths', 'What'], ['target', 'Where'], ['confirm', 'Confirm']];
const byTimeDesc = (a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0);

// The paths to restore: ticked in the tree or typed, each once.
const selection = (s) => [...new Set([...s.treeSel, ...s.typed])];
const badPath = (p) => !p.startsWith('/') || p.includes('\0') || p.split('/').includes('..');

function stepper(s) {
  const at = STEPS.findIndex(([k]) => k === s.step);
  return html`<ol class="stepper" aria-label="restore steps">${STEPS.map(([k, label], i) => html`<li class="step${i === at ? ' active' : i < at ? ' done' : ''}" aria-current=${i === at ? 'step' : nothing} data-testid="step-${k}">${i + 1}. ${label}</li>`)}</ol>`;
}

function snapshotStep(s, on) {
  const snaps = (s.snaps || []).slice().sort(byTimeDesc);
  if (!snaps.length) return html`<div class="empty empty-sm" data-testid="wizard-no-snapshots"><p class="muted">This host has no snapshots yet.</p></div>`;
  const row = (x) => html`<tr data-testid="wizard-snapshot-row" data-snapshot-id=${x.id}>
<td><input type="radio" name="snap" id="snap-${x.id}" value=${x.id} .checked=${s.snapshot && s.snapshot.id === x.id} @change=${() => on.pickSnapshot(x)} aria-label="snapshot ${x.short_id}"></td>
<td class="mono"><label for="snap-${x.id}">${x.short_id || String(x.id).slice(0, 8)}</label></td><td class="mono">${absTime(x.time)}</td>
<td class="mono paths">${(x.paths || []).join(' · ')}</td><td>${tagList(x.tags)}</td>
<td class="num">${x.size_bytes ? fmtBytes(x.size_bytes) : '—'}</td></tr>`;
  return html`<div class="table-wrap"><table class="table" data-testid="wizard-snapshots"><thead><tr><th><span class="sr-only">pick</span></th><th>ID</th><th>Time</th><th>Paths</th><th>Tags</th><th class="num">Size</th></tr></thead><tbody>${snaps.map(row)}</tbody></table></div>`;
}

function targetStep(s, on) {
  const admin = s.role === 'admin';
  const others = (s.hosts || []).filter((h) => h.id !== s.host.id);
  const radio = (v, label, testid, disabled) => html`<label class="radio"><input type="radio" name="mode" value=${v} .checked=${s.mode === v} ?disabled=${disabled} @change=${() => on.mode(v)} data-testid=${testid}> ${label}</label>`;
  return html`<fieldset class="field"><legend>Restore to</legend>
${radio('new', html`a new directory on <b class="mono">${s.host.hostname}</b>`, 'target-new')}
${radio('in_place', html`the original location on <b class="mono">${s.host.hostname}</b> (overwrites files; admin)`, 'target-in-place', !admin)}
${radio('other', 'another host (admin)', 'target-other', !admin || !others.length)}</fieldset>
${s.mode === 'new' || s.mode === 'other' ? html`<div class="field"><label for="rw-target">Directory <span class="muted">(absolute, new or empty; blank = $HOME/rm-restore/&lt;job-id&gt;/ of the agent)</span></label>
  <input id="rw-target" name="target" class="mono" autocomplete="off" spellcheck="false" value=${s.target} data-testid="target-path"></div>` : nothing}
${s.mode === 'other' ? html`<div class="field"><label for="rw-host">Target host</label>
  <select id="rw-host" name="host" data-testid="target-host">${others.map((h) => html`<option value=${h.id} ?selected=${s.targetHost === h.id}>${h.hostname}</option>`)}</select></div>
<div class="field"><label for="rw-map">Path map <span class="muted">(optional, one "from → to" per line, e.g. /srv/app → /srv/app-restored)</span></label>
  <textarea id="rw-map" name="map" class="mono" rows="2" spellcheck="false" data-testid="target-map" .value=${s.mapText}></textarea></div>
<p class="muted small">The target agent receives a one-job read credential for this host's repository; it is held in memory for that job only.</p>` : nothing}
${s.mode === 'in_place' ? html`<div class="field"><label for="rw-confirm">Type <b class="mono">${s.host.hostname}</b> to confirm an in-place restore</label>
  <input id="rw-confirm" name="confirm" class="mono" autocomplete="off" spellcheck="false" value=${s.confirm} data-testid="confirm-hostname"></div>` : nothing}`;
}

function confirmStep(s) {
  const onto = s.mode === 'other' ? (s.hosts.find((h) => h.id === s.targetHost) || {}).hostname : s.host.hostname;
  const where = s.mode === 'in_place' ? 'in place (original paths)' : s.target || '$HOME/rm-restore/<job-id>/';
  return html`<dl class="summary" data-testid="restore-summary">
<div><dt>snapshot</dt><dd class="mono">${s.snapshot.short_id} · ${absTime(s.snapshot.time)}</dd></div>
<div><dt>paths</dt><dd class="mono" data-testid="summary-paths">${s.paths.map((p) => html`<div>${p}</div>`)}</dd></div>
<div><dt>onto</dt><dd class="mono">${onto}</dd></div>
<div><dt>target</dt><dd class="mono" data-testid="summary-target">${where}</dd></div>
${s.map.length ? html`<div><dt>path map</dt><dd class="mono">${s.map.map((m) => html`<div>${m.from} → ${m.to}</div>`)}</dd></div>` : nothing}</dl>
${s.mode === 'in_place' ? html`<p class="panel panel-warn" role="note">Files at the original paths will be overwritten with the snapshot's version.</p>` : nothing}`;
}

const view = (s, on) => html`<nav class="crumbs" aria-label="breadcrumb"><a href="/">Fleet</a> / <a href="/hosts/${encodeURIComponent(s.host.id)}" class="mono">${s.host.hostname}</a> / <span>restore</span></nav>
<div class="page-head"><h1>Restore from <span class="mono">${s.host.hostname}</span></h1></div>
${stepper(s)}
<form class="card form wizard" data-testid="restore-wizard" novalidate @submit=${on.next}>
  <h2>${STEPS.find(([k]) => k === s.step)[1]}</h2>
  ${s.step === 'snapshot' ? snapshotStep(s, on) : nothing}
  ${s.step === 'paths' ? html`<div data-region="picker"></div><p class="muted small" data-testid="selected-count">${fmtNum(selection(s).length)} selected</p>` : nothing}
  ${s.step === 'target' ? targetStep(s, on) : nothing}
  ${s.step === 'confirm' ? confirmStep(s) : nothing}
  <p class="form-error" role="alert" ?hidden=${!s.error} data-testid="wizard-error">${s.error}</p>
  <div class="form-actions">
    <button type="button" class="btn" ?hidden=${s.step === 'snapshot'} @click=${on.back} data-testid="wizard-back">Back</button>
    <button type="submit" class="btn btn-primary" data-testid="wizard-next">${s.step === 'confirm' ? 'Start restore' : 'Next'}</button>
  </div>
</form>`;

// "from → to" (or "from -> to") lines.
function parseMap(text) {
  const out = [];
  for (const l of lines(text)) {
    const m = /^(\S.*?)\s*(?:→|->)\s*(\S.*)$/.exec(l);
    if (!m || badPath(m[1]) || badPath(m[2])) return { error: `Path map lines are "from → to" with absolute paths: ${l}` };
    out.push({ from: m[1], to: m[2] });
  }
  return { map: out };
}

export async function mount(ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  const role = session.user ? session.user.role : 'viewer';
  const [host, snaps, hosts] = await Promise.all([
    get(`/api/hosts/${enc}`),
    get(`/api/hosts/${enc}/snapshots`, { quiet: true }).catch(() => ({ snapshots: [] })),
    role === 'admin' ? get('/api/hosts', { quiet: true }).catch(() => ({ hosts: [] })) : { hosts: [] },
  ]);
  if (!ctx.alive()) return;
  ctx.title = `Restore · ${host.hostname}`;
  const s = {
    host, role, hosts: hosts.hosts || [], snaps: snaps.snapshots || [], step: 'snapshot', error: '',
    snapshot: null, treeSel: new Set(), typed: [], paths: [], mode: 'new', target: '', confirm: '',
    targetHost: '', mapText: '', map: [],
  };
  const want = ctx.query.get('snapshot');
  s.snapshot = s.snaps.find((x) => x.id === want || x.short_id === want) || null;
  if (role === 'viewer') {
    render(html`<div class="empty" data-testid="page-error"><h1>Restores need the operator role</h1><a href="/hosts/${enc}" class="btn">Back to the host</a></div>`, ctx.el);
    return;
  }
  const form = () => ctx.el.querySelector('form');
  const fail = (m, field) => { s.error = m; update(); if (field) field.focus(); };
  const on = {
    pickSnapshot(x) { s.snapshot = x; s.treeSel = new Set(); s.typed = []; update(); },
    mode(v) {
      const f = form();
      if (f.target) s.target = f.target.value.trim();
      s.mode = v;
      if (v === 'other' && !s.targetHost) s.targetHost = (s.hosts.find((h) => h.id !== s.host.id) || {}).id || '';
      update();
    },
    back() { s.error = ''; s.step = STEPS[Math.max(0, STEPS.findIndex(([k]) => k === s.step) - 1)][0]; update(); },
    async next(ev) {
      ev.preventDefault();
      const f = ev.currentTarget;
      s.error = '';
      if (s.step === 'snapshot') {
        if (!s.snapshot) return fail('Pick a snapshot.');
        s.step = 'paths';
      } else if (s.step === 'paths') {
        const picked = selection(s);
        if (!picked.length) return fail('Select at least one file or directory.');
        const bad = picked.find(badPath);
        if (bad) return fail(`Paths must be absolute, without "..": ${bad}`);
        s.paths = picked;
        s.step = 'target';
      } else if (s.step === 'target') {
        if (f.target) s.target = f.target.value.trim();
        if (f.confirm) s.confirm = f.confirm.value.trim();
        if (f.host) s.targetHost = f.host.value;
        if (f.map) s.mapText = f.map.value;
        if (s.mode !== 'in_place' && s.target && badPath(s.target)) return fail('The directory must be an absolute path without "..".', f.target);
        if (s.mode === 'in_place' && s.confirm !== s.host.hostname) return fail(`Type the host name (${s.host.hostname}) to confirm.`, f.confirm);
        const pm = s.mode === 'other' ? parseMap(s.mapText) : { map: [] };
        if (pm.error) return fail(pm.error, f.map);
        s.map = pm.map;
        s.step = 'confirm';
      } else {
        await start(f);
        return;
      }
      update();
    },
  };
  async function start(f) {
    const onto = s.mode === 'other' ? s.targetHost : s.host.id;
    const body = { snapshot_id: s.snapshot.id, paths: s.paths, target: { mode: s.mode === 'in_place' ? 'in_place' : 'new' } };
    if (s.mode === 'in_place') body.target.confirm_hostname = s.confirm;
    else if (s.target) body.target.path = s.target;
    if (s.mode === 'other') { body.source_host_id = s.host.id; if (s.map.length) body.path_map = s.map; }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post(`/api/hosts/${encodeURIComponent(onto)}/restores`, body, { quiet: true });
        if (r.warning) toast(r.warning, 'warn', 10000);
        navigate(`/jobs/${encodeURIComponent(r.job_id)}`);
      } catch (e) {
        if (e.status !== 401) fail(e.message);
      }
    });
  }
  const update = () => {
    render(view(s, on), ctx.el);
    const el = ctx.el.querySelector('[data-region="picker"]');
    if (el) {
      const count = () => { const c = ctx.el.querySelector('[data-testid="selected-count"]'); if (c) c.textContent = `${fmtNum(selection(s).length)} selected`; };
      render(pathPicker({
        hostId: s.host.id, snapshot: s.snapshot, treeSel: s.treeSel, typed: s.typed,
        onTree: (set) => { s.treeSel = set; s.error = ''; update(); },
        onTyped: (arr) => { s.typed = arr; count(); },
      }), el);
    }
  };
  if (s.snapshot) s.step = 'paths';
  update();
}
