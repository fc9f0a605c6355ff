// Host detail: header and tabs — Overview (vitals, back up now, latest snapshots, recent
// jobs) · Sources (host-sources.js) · Schedules (host-schedules.js) · Repository
// (host-repo.js: health, trends, forecast) · Jobs · Snapshots.
// The tab is in the URL (?tab=); switching tabs keeps the page (no refetch). Live via
// /api/events; the schedules' agent sync state is polled while the agent lags behind.
import { get, post, session } from '../api.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { html, render, nothing } from '../html.js';
import { fmtBytes, fmtNum, fmtDuration, absTime, busy, lines } from '../util.js';
import { relEl, statusDot, tagList, pill, tile, none, isAsleep } from '../components.js';
import { createSources } from './host-sources.js';
import { createSchedules, syncBadge, nextRun } from './host-schedules.js';
import { createSettings } from './host-settings.js';
import { createRepo } from './host-repo.js';
import { createMaintenance } from './host-maintenance.js';
import { createDrill } from './host-drill.js';
import { createAgentUpdate } from './host-update.js';
import { createHostEdit } from './host-edit.js';

export const title = 'Host';

const REPO = { ready: 'ready', unknown: 'unknown', init_failed: 'init failed' };

function header(h) {
  const seen = h.status === 'online' ? html`online · last heartbeat ${relEl(h.last_seen_at)}` : h.last_seen_at ? html`last seen ${relEl(h.last_seen_at)}` : 'never connected';
  return html`<div class="host-title">${statusDot(h)}<h1 class="mono" data-testid="host-name">${h.hostname}</h1>
  ${h.hostname_mismatch ? html`<span class="pill pill-warn" data-testid="hostname-mismatch" title="The agent reports a different machine name">machine: <span class="mono">${h.reported_hostname}</span></span>` : nothing}
  <span class="pill pill-${h.running_job ? 'running' : isAsleep(h) ? 'asleep' : h.status}" data-testid="host-status" data-status=${h.status}>${h.running_job ? `${h.running_job.kind} running` : isAsleep(h) ? 'asleep · will catch up' : h.status}</span>
  <span class="tags">${tagList(h.tags)}</span></div>
<div class="meta mono muted">
  <span>${h.os || '—'}${h.arch ? `·${h.arch}` : nothing}</span>
  <span>agent ${h.agent_version || '—'}</span>
  <span>restic ${h.restic_version || '—'}</span>
  <span>${seen}</span>
  <span data-testid="repo-status" data-status=${h.repo_status}>repo <span class="repo repo-${h.repo_status}">${REPO[h.repo_status] || h.repo_status}</span></span>
  <span class="id" title="host id">${h.id}</span>
</div>
${h.deleted_at ? html`<div class="panel panel-bad" role="status" data-testid="host-deleted-banner"><strong>Deleted.</strong> This host was removed; its history is kept read-only. <a href="/hosts/deleted">All deleted hosts</a></div>` : nothing}
${h.repo_status === 'init_failed' ? html`<div class="panel panel-bad" role="alert" data-testid="repo-error"><strong>Repository initialisation failed.</strong> <span class="mono">${h.repo_error || 'unknown error'}</span></div>` : nothing}
${h.running_job ? html`<div class="panel panel-run"><span class="dot dot-running"></span> A ${h.running_job.kind} job is running — <a href="/jobs/${encodeURIComponent(h.running_job.id)}" data-testid="running-job-link">watch it live →</a></div>` : nothing}`;
}

function vitals(h, sched) {
  const lb = h.last_backup;
  const next = sched ? nextRun(sched) : h.next_run;
  const sync = sched ? syncBadge(sched.schedule_version, sched.schedule_acked_version, sched.in_sync, 'vital-sync')
    : syncBadge(h.schedule_version, h.schedule_acked_version, undefined, 'vital-sync');
  return [
    tile('Last backup', lb ? html`${pill(lb.status)} <span class="small">${relEl(lb.finished_at)}</span>` : html`<span class="muted">none yet</span>`, 'vital-last-backup'),
    tile('Next run', html`${next ? relEl(next) : html`<span class="muted">none scheduled</span>`} ${sync}`, 'vital-next-run'),
    tile('Repo size', h.repo_size_bytes === null || h.repo_size_bytes === undefined ? none : fmtBytes(h.repo_size_bytes), 'vital-repo-size'),
    tile('Snapshots', fmtNum(h.snapshot_count || 0), 'vital-snapshots'),
    tile('Proven restorable', h.last_drill_ok_at ? relEl(h.last_drill_ok_at) : html`<span class="muted">not yet</span>`, 'vital-restorable'),
  ];
}

const byTimeDesc = (a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0);
function snapshots(s, limit, more, enc) {
  const all = ((s && s.snapshots) || []).slice().sort(byTimeDesc);
  const snaps = limit ? all.slice(0, limit) : all;
  if (!snaps.length) return html`<div class="empty empty-sm" data-testid="snapshots-empty"><p class="muted">No snapshots yet. Run a backup to create the first one.</p></div>`;
  const older = (x) => all[all.indexOf(x) + 1];
  const row = (x) => html`<tr data-testid="snapshot-row" data-snapshot-id=${x.id}>
<td class="mono" title=${x.id}>${x.short_id || String(x.id).slice(0, 8)}</td>
<td class="mono">${absTime(x.time)}</td>
<td class="mono paths">${(x.paths || []).join(' · ')}</td>
<td>${tagList(x.tags)}</td>
<td class="num">${x.size_bytes ? fmtBytes(x.size_bytes) : none}</td>
<td class="num">${x.file_count ? fmtNum(x.file_count) : none}</td>
<td class="actions">${enc ? html`<a class="btn btn-sm" data-testid="snapshot-browse" href="/hosts/${enc}/snapshots/${encodeURIComponent(x.id)}">Browse</a> <a class="btn btn-sm" data-testid="snapshot-restore" href="/hosts/${enc}/restore?snapshot=${encodeURIComponent(x.id)}">Restore</a>${older(x) ? html` <a class="btn btn-sm" data-testid="snapshot-diff" title="Compare with the previous snapshot" href="/hosts/${enc}/diff?from=${encodeURIComponent(older(x).id)}&to=${encodeURIComponent(x.id)}">Diff</a>` : nothing}` : nothing}</td></tr>`;
  return html`<div class="table-wrap"><table class="table" data-testid="snapshots-table"><thead><tr><th>ID</th><th>Time</th><th>Paths</th><th>Tags</th><th class="num">Size</th><th class="num">Files</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>${snaps.map(row)}</tbody></table></div>
<p class="muted small">${all.length > snaps.length ? html`${snaps.length} of ${all.length} · ${more} · ` : nothing}${s.refreshed_at ? html`snapshot list refreshed ${relEl(s.refreshed_at)}` : nothing}</p>`;
}

const jobDuration = (j) => (j.started_at && j.finished_at ? fmtDuration((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000) : j.started_at ? 'running' : '—');

function jobList(jobs) {
  if (!jobs.length) return html`<p class="muted">No jobs yet.</p>`;
  return html`<div class="table-wrap"><table class="table" data-testid="jobs-table"><thead><tr><th>Job</th><th>Kind</th><th>Status</th><th>Created</th><th>Duration</th><th class="num">Added</th><th>By</th></tr></thead><tbody>
${jobs.map((j) => html`<tr data-testid="job-row" data-job-id=${j.id}><td class="mono"><a href="/jobs/${encodeURIComponent(j.id)}">${String(j.id).slice(-10)}</a></td>
<td>${j.kind}${j.args && j.args.group ? html` <span class="tag">${j.args.group}</span>` : nothing}</td><td>${pill(j.status)}</td><td>${relEl(j.created_at)}</td><td class="mono">${jobDuration(j)}</td>
<td class="num">${j.stats && j.stats.data_added !== undefined ? fmtBytes(j.stats.data_added) : none}</td><td class="muted">${j.created_by || ''}</td></tr>`)}
</tbody></table></div>`;
}

// Tiny inline SVG sparkline of recent successful backup durations.
function chart(jobs) {
  const pts = jobs.filter((j) => j.kind === 'backup' && j.status === 'succeeded' && j.started_at && j.finished_at).slice(0, 30).reverse()
    .map((j) => (Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000);
  if (pts.length < 3) return nothing;
  const max = Math.max(...pts) || 1;
  const w = 240;
  const hgt = 40;
  const step = w / (pts.length - 1);
  const d = pts.map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`).join('');
  return html`<figure class="spark" data-testid="duration-chart"><svg viewBox="0 0 240 40" width="240" height="40" role="img" aria-label="backup durations, last ${pts.length} runs"><path d=${d} fill="none" stroke="currentColor" stroke-width="1.5"/></svg>
<figcaption class="muted small mono">duration · last ${pts.length} · max ${fmtDuration(max)}</figcaption></figure>`;
}

const TABS = [['overview', 'Overview'], ['sources', 'Sources'], ['schedules', 'Schedules'], ['repo', 'Repository'], ['jobs', 'Jobs'], ['snapshots', 'Snapshots'], ['maintenance', 'Maintenance'], ['manage', 'Manage']];

function tabs(s, enc, onTab) {
  const count = { sources: s.groups ? s.groups.length : null, schedules: s.sched ? (s.sched.schedules || []).length : null, snapshots: s.snaps && s.snaps.snapshots ? s.snaps.snapshots.length : null };
  return html`<nav class="tabs" aria-label="host sections">${TABS.map(([k, label]) => html`<a href="/hosts/${enc}${k === 'overview' ? '' : `?tab=${k}`}" class="tab${s.tab === k ? ' active' : ''}" aria-current=${s.tab === k ? 'page' : nothing} data-testid="tab-${k}" @click=${(ev) => onTab(ev, k)}>${label}${count[k] !== null && count[k] !== undefined ? html` <span class="count">${count[k]}</span>` : nothing}</a>`)}</nav>`;
}

// s: { host, snaps, jobs, groups, sched, tab, error, ... }; paths: the form's initial text
// (bound once: a live host update must not overwrite what the user typed).
const overview = (s, paths, viewer, onSubmit, more, drill) => html`<div class="host-grid">
  <div class="host-main">
    <section class="card" aria-labelledby="snap-h"><h2 id="snap-h">Snapshots</h2><div>${snapshots(s.snaps, 10, more, encodeURIComponent(s.host.id))}</div></section>
    <section class="card" aria-labelledby="jobs-h"><h2 id="jobs-h">Recent jobs</h2><div>${jobList(s.jobs.slice(0, 20))}</div><div>${chart(s.jobs)}</div></section>
  </div>
  <aside class="host-side">
    ${viewer ? nothing : html`<a class="btn btn-block" href="/hosts/${encodeURIComponent(s.host.id)}/restore" data-testid="restore-start">Restore files…</a>`}
    ${drill.view()}
    <form class="card" data-testid="backup-form" novalidate ?hidden=${viewer} @submit=${onSubmit}>
      <h2>Back up now</h2>
      <div class="field"><label for="bk-paths">Paths <span class="muted">(one per line)</span></label>
        <textarea id="bk-paths" name="paths" class="mono" rows="4" spellcheck="false" data-testid="backup-paths" .value=${paths}></textarea></div>
      <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
      <button type="submit" class="btn btn-primary btn-block" data-testid="backup-now">Back up now</button>
      <p class="muted small" ?hidden=${s.host.status === 'online'}>The host is offline; the server will refuse until it reconnects.</p>
      <p class="muted small">Ad hoc paths; to back up a source group with its excludes and hooks, use <b>Run now</b> on the Sources tab.</p>
    </form>
  </aside>
</div>`;

export async function mount(ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  const unavailable = (e) => (e && e.status === 404 ? 'Not available on this server.' : `Could not load: ${(e && e.message) || e}`);
  const [h0, snaps0, jobs0, groups0, sched0, settings0] = await Promise.all([
    get(`/api/hosts/${enc}`),
    get(`/api/hosts/${enc}/snapshots`, { quiet: true }).catch(() => ({ snapshots: [] })),
    get(`/api/jobs?host_id=${enc}&limit=100`, { quiet: true }).catch(() => ({ jobs: [] })),
    get(`/api/hosts/${enc}/groups`, { quiet: true }).catch((e) => ({ error: e })),
    get(`/api/hosts/${enc}/schedules`, { quiet: true }).catch((e) => ({ error: e })),
    get(`/api/hosts/${enc}/settings`, { quiet: true }).catch(() => null),
  ]);
  if (!ctx.alive()) return;
  const tab0 = ctx.query.get('tab');
  const st = {
    host: h0, snaps: snaps0, jobs: jobs0.jobs || [], error: '',
    groups: groups0.error ? null : groups0.groups || [], groupsError: groups0.error ? unavailable(groups0.error) : '',
    sched: sched0.error ? null : sched0, schedError: sched0.error ? unavailable(sched0.error) : '',
    settings: settings0,
    tab: TABS.some(([k]) => k === tab0) ? tab0 : 'overview',
    gedit: null, gconfirm: null, goffline: null, sedit: null, sconfirm: null,
  };
  ctx.title = h0.hostname;
  const paths = (h0.initial_paths || []).join('\n');
  const role = session.user ? session.user.role : 'viewer';
  const viewer = role === 'viewer';

  const refreshGroups = async () => {
    try { const r = await get(`/api/hosts/${enc}/groups`, { quiet: true }); st.groups = r.groups || []; st.groupsError = ''; } catch (e) { if (st.groups === null) st.groupsError = unavailable(e); }
  };
  const refreshSched = async () => {
    try { st.sched = await get(`/api/hosts/${enc}/schedules`, { quiet: true }); st.schedError = ''; } catch (e) { if (!st.sched) st.schedError = unavailable(e); }
  };
  // While the agent has not acknowledged the latest schedule version, ask again now and then
  // (host events also trigger a refresh when they carry the acknowledged version).
  let pollTimer = null;
  let pollDelay = 1000;
  const pollSync = () => {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (!st.sched || st.sched.in_sync !== false) { pollDelay = 1000; return; }
    pollTimer = setTimeout(async () => {
      await refreshSched();
      if (!ctx.alive()) return;
      update();
      pollDelay = Math.min(15000, pollDelay * 1.5);
      pollSync();
    }, pollDelay);
  };
  const afterChange = async () => {
    await Promise.all([refreshGroups(), refreshSched()]);
    if (!ctx.alive()) return;
    update();
    pollDelay = 500;
    pollSync();
  };
  const env = { enc, update: () => update(), admin: role === 'admin', operator: !viewer, afterChange };
  const sources = createSources(st, env);
  const schedules = createSchedules(st, env);
  const settings = createSettings(st, env);
  const repo = createRepo(st, env);
  if (st.tab === 'repo') repo.load();
  const maintenance = createMaintenance(st, env);
  const drill = createDrill(st, env);
  const hostEdit = createHostEdit(st, env);
  if (st.tab === 'manage') hostEdit.load();
  drill.load().then(() => { if (ctx.alive()) update(); });
  const agentUpdate = createAgentUpdate(st, env);
  if (env.admin) agentUpdate.load().then(() => { if (ctx.alive()) update(); });
  const onTab = (ev, k) => {
    if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    if (st.tab === k) return;
    st.tab = k;
    if (k === 'repo') repo.load();
    if (k === 'manage') hostEdit.load();
    history.pushState(null, '', ev.currentTarget.getAttribute('href'));
    update();
  };
  const more = html`<a href="/hosts/${enc}?tab=snapshots" @click=${(ev) => onTab(ev, 'snapshots')}>all snapshots</a>`;
  const body = () => {
    if (st.tab === 'sources') return html`${sources.view()}${settings.view()}`;
    if (st.tab === 'schedules') return schedules.view();
    if (st.tab === 'repo') return repo.view();
    if (st.tab === 'maintenance') return maintenance.view();
    if (st.tab === 'manage') return hostEdit.view();
    if (st.tab === 'jobs') return html`<section class="card" aria-labelledby="jobs-h"><h2 id="jobs-h">Jobs <span class="muted small">(latest ${st.jobs.length})</span></h2><div>${jobList(st.jobs)}</div><div>${chart(st.jobs)}</div></section>`;
    if (st.tab === 'snapshots') return html`<section class="card" aria-labelledby="snap-h"><h2 id="snap-h">Snapshots</h2><div>${snapshots(st.snaps, 0, null, enc)}</div></section>`;
    return overview(st, paths, viewer, onSubmit, more, drill);
  };
  const update = () => { renderPage(); afterRender(); };
  const renderPage = () => render(html`<nav class="crumbs" aria-label="breadcrumb"><a href="/">Fleet</a> / <span class="mono">${st.host.hostname}</span></nav>
<section class="host-head" data-testid="host-header">${header(st.host)}${agentUpdate.view()}</section>
<section class="tiles tiles-5" data-testid="host-vitals" aria-label="vitals">${vitals(st.host, st.sched)}</section>
${tabs(st, enc, onTab)}
<div class="tab-body" data-testid="tab-${st.tab}-body">${body()}</div>`, ctx.el);
  const afterRender = () => { if (st.tab === 'repo') repo.afterRender(ctx.el); };

  async function onSubmit(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const fail = (m) => { st.error = m; update(); if (m) form.paths.focus(); };
    fail('');
    const ps = lines(form.paths.value);
    if (!ps.length) return fail('Enter at least one absolute path.');
    const bad = ps.find((p) => !p.startsWith('/'));
    if (bad) return fail(`Paths must be absolute: ${bad}`);
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post(`/api/hosts/${enc}/jobs`, { kind: 'backup', paths: ps });
        navigate(`/jobs/${encodeURIComponent(r.job_id)}`);
      } catch (e) {
        if (e.status !== 401) fail(e.message);
      }
    });
  }
  update();
  pollSync();

  let refetchTimer = null;
  const refetch = (what) => {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(async () => {
      try {
        const [s, j] = await Promise.all([
          what.snaps ? get(`/api/hosts/${enc}/snapshots`, { quiet: true }) : null,
          get(`/api/jobs?host_id=${enc}&limit=100`, { quiet: true }),
          what.sched ? refreshSched() : null,
        ]);
        if (!ctx.alive()) return;
        if (s) st.snaps = s;
        st.jobs = j.jobs || [];
        if (st.tab === 'repo' && what.snaps) repo.load();
        update();
      } catch { /* ignore */ }
    }, 300);
  };
  let lastSnapCount = st.host.snapshot_count;
  const unsub = subscribe(async (msg) => {
    if (msg.type === 'resync') {
      try { st.host = await get(`/api/hosts/${enc}`, { quiet: true }); if (ctx.alive()) update(); } catch { /* ignore */ }
      refetch({ snaps: true, sched: true });
    } else if (msg.type === 'host' && msg.host && msg.host.id === id) {
      const acked = msg.host.schedule_acked_version;
      const schedMoved = st.sched && acked !== undefined && (acked !== st.sched.schedule_acked_version || msg.host.schedule_version !== st.sched.schedule_version);
      st.host = msg.host;
      update();
      hostEdit.refresh();
      const snaps = st.host.snapshot_count !== lastSnapCount;
      lastSnapCount = st.host.snapshot_count;
      refetch({ snaps: snaps || !st.host.running_job, sched: schedMoved });
    } else if (msg.type === 'job' && msg.job && msg.job.host_id === id) {
      const done = ['succeeded', 'failed', 'cancelled'].includes(msg.job.status);
      refetch({ snaps: done, sched: done });
      if (done) maintenance.refresh();
      if (done) hostEdit.refresh();
    }
  });
  ctx.onCleanup(() => { unsub(); clearTimeout(refetchTimer); clearTimeout(pollTimer); schedules.cleanup(); sources.cleanup(); });
}
