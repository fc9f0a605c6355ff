// Host detail: header, vitals, back up now, snapshots, recent jobs. Live via /api/events.
import { get, post, session } from '../api.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { html, render, nothing } from '../html.js';
import { fmtBytes, fmtNum, fmtDuration, absTime, busy, lines } from '../util.js';
import { relEl, statusDot, tagList, pill, tile, none } from '../components.js';

export const title = 'Host';

const REPO = { ready: 'ready', unknown: 'unknown', init_failed: 'init failed' };

function header(h) {
  const seen = h.status === 'online' ? html`online · last heartbeat ${relEl(h.last_seen_at)}` : h.last_seen_at ? html`last seen ${relEl(h.last_seen_at)}` : 'never connected';
  return html`<div class="host-title">${statusDot(h)}<h1 class="mono" data-testid="host-name">${h.hostname}</h1>
  <span class="pill pill-${h.running_job ? 'running' : h.status}" data-testid="host-status" data-status=${h.status}>${h.running_job ? `${h.running_job.kind} running` : h.status}</span>
  <span class="tags">${tagList(h.tags)}</span></div>
<div class="meta mono muted">
  <span>${h.os || '—'}${h.arch ? `·${h.arch}` : nothing}</span>
  <span>agent ${h.agent_version || '—'}</span>
  <span>restic ${h.restic_version || '—'}</span>
  <span>${seen}</span>
  <span data-testid="repo-status" data-status=${h.repo_status}>repo <span class="repo repo-${h.repo_status}">${REPO[h.repo_status] || h.repo_status}</span></span>
  <span class="id" title="host id">${h.id}</span>
</div>
${h.repo_status === 'init_failed' ? html`<div class="panel panel-bad" role="alert" data-testid="repo-error"><strong>Repository initialisation failed.</strong> <span class="mono">${h.repo_error || 'unknown error'}</span></div>` : nothing}
${h.running_job ? html`<div class="panel panel-run"><span class="dot dot-running"></span> A ${h.running_job.kind} job is running — <a href="/jobs/${encodeURIComponent(h.running_job.id)}" data-testid="running-job-link">watch it live →</a></div>` : nothing}`;
}

function vitals(h) {
  const lb = h.last_backup;
  return [
    tile('Last backup', lb ? html`${pill(lb.status)} <span class="small">${relEl(lb.finished_at)}</span>` : html`<span class="muted">none yet</span>`, 'vital-last-backup'),
    tile('Repo size', h.repo_size_bytes === null || h.repo_size_bytes === undefined ? none : fmtBytes(h.repo_size_bytes), 'vital-repo-size'),
    tile('Snapshots', fmtNum(h.snapshot_count || 0), 'vital-snapshots'),
  ];
}

function snapshots(s) {
  const snaps = (s && s.snapshots) || [];
  if (!snaps.length) return html`<div class="empty empty-sm" data-testid="snapshots-empty"><p class="muted">No snapshots yet. Run a backup to create the first one.</p></div>`;
  const row = (x) => html`<tr data-testid="snapshot-row" data-snapshot-id=${x.id}>
<td class="mono" title=${x.id}>${x.short_id || String(x.id).slice(0, 8)}</td>
<td class="mono">${absTime(x.time)}</td>
<td class="mono paths">${(x.paths || []).join(' · ')}</td>
<td>${tagList(x.tags)}</td>
<td class="num">${x.size_bytes ? fmtBytes(x.size_bytes) : none}</td>
<td class="num">${x.file_count ? fmtNum(x.file_count) : none}</td></tr>`;
  return html`<div class="table-wrap"><table class="table" data-testid="snapshots-table"><thead><tr><th>ID</th><th>Time</th><th>Paths</th><th>Tags</th><th class="num">Size</th><th class="num">Files</th></tr></thead><tbody>${snaps.map(row)}</tbody></table></div>
${s.refreshed_at ? html`<p class="muted small">snapshot list refreshed ${relEl(s.refreshed_at)}</p>` : nothing}`;
}

const jobDuration = (j) => (j.started_at && j.finished_at ? fmtDuration((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000) : j.started_at ? 'running' : '—');

function jobList(jobs) {
  if (!jobs.length) return html`<p class="muted">No jobs yet.</p>`;
  return html`<div class="table-wrap"><table class="table" data-testid="jobs-table"><thead><tr><th>Job</th><th>Kind</th><th>Status</th><th>Created</th><th>Duration</th><th class="num">Added</th><th>By</th></tr></thead><tbody>
${jobs.map((j) => html`<tr data-testid="job-row" data-job-id=${j.id}><td class="mono"><a href="/jobs/${encodeURIComponent(j.id)}">${String(j.id).slice(-10)}</a></td>
<td>${j.kind}</td><td>${pill(j.status)}</td><td>${relEl(j.created_at)}</td><td class="mono">${jobDuration(j)}</td>
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

// s: { host, snaps, jobs, error }; paths: the form's initial text (bound once: a live host
// update must not overwrite what the user typed).
const view = (s, paths, viewer, onSubmit) => html`<nav class="crumbs" aria-label="breadcrumb"><a href="/">Fleet</a> / <span class="mono">${s.host.hostname}</span></nav>
<section class="host-head" data-testid="host-header">${header(s.host)}</section>
<section class="tiles tiles-3" data-testid="host-vitals" aria-label="vitals">${vitals(s.host)}</section>
<div class="host-grid">
  <div class="host-main">
    <section class="card" aria-labelledby="snap-h"><h2 id="snap-h">Snapshots</h2><div>${snapshots(s.snaps)}</div></section>
    <section class="card" aria-labelledby="jobs-h"><h2 id="jobs-h">Recent jobs</h2><div>${jobList(s.jobs)}</div><div>${chart(s.jobs)}</div></section>
  </div>
  <aside class="host-side">
    <form class="card" data-testid="backup-form" novalidate ?hidden=${viewer} @submit=${onSubmit}>
      <h2>Back up now</h2>
      <div class="field"><label for="bk-paths">Paths <span class="muted">(one per line)</span></label>
        <textarea id="bk-paths" name="paths" class="mono" rows="4" spellcheck="false" data-testid="backup-paths" .value=${paths}></textarea></div>
      <p class="form-error" role="alert" ?hidden=${!s.error}>${s.error}</p>
      <button type="submit" class="btn btn-primary btn-block" data-testid="backup-now">Back up now</button>
      <p class="muted small" ?hidden=${s.host.status === 'online'}>The host is offline; the server will refuse until it reconnects.</p>
    </form>
  </aside>
</div>`;

export async function mount(ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  const [h0, snaps0, jobs0] = await Promise.all([
    get(`/api/hosts/${enc}`),
    get(`/api/hosts/${enc}/snapshots`, { quiet: true }).catch(() => ({ snapshots: [] })),
    get(`/api/jobs?host_id=${enc}&limit=20`, { quiet: true }).catch(() => ({ jobs: [] })),
  ]);
  if (!ctx.alive()) return;
  const st = { host: h0, snaps: snaps0, jobs: jobs0.jobs || [], error: '' };
  ctx.title = h0.hostname;
  const paths = (h0.initial_paths || []).join('\n');
  const viewer = !!(session.user && session.user.role === 'viewer');
  const update = () => render(view(st, paths, viewer, onSubmit), ctx.el);

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

  let refetchTimer = null;
  const refetch = (what) => {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(async () => {
      try {
        const [s, j] = await Promise.all([
          what.snaps ? get(`/api/hosts/${enc}/snapshots`, { quiet: true }) : null,
          get(`/api/jobs?host_id=${enc}&limit=20`, { quiet: true }),
        ]);
        if (!ctx.alive()) return;
        if (s) st.snaps = s;
        st.jobs = j.jobs || [];
        update();
      } catch { /* ignore */ }
    }, 300);
  };
  let lastSnapCount = st.host.snapshot_count;
  const unsub = subscribe(async (msg) => {
    if (msg.type === 'resync') {
      try { st.host = await get(`/api/hosts/${enc}`, { quiet: true }); if (ctx.alive()) update(); } catch { /* ignore */ }
      refetch({ snaps: true });
    } else if (msg.type === 'host' && msg.host && msg.host.id === id) {
      st.host = msg.host;
      update();
      const snaps = st.host.snapshot_count !== lastSnapCount;
      lastSnapCount = st.host.snapshot_count;
      refetch({ snaps: snaps || !st.host.running_job });
    } else if (msg.type === 'job' && msg.job && msg.job.host_id === id) {
      refetch({ snaps: ['succeeded', 'failed', 'cancelled'].includes(msg.job.status) });
    }
  });
  ctx.onCleanup(() => { unsub(); clearTimeout(refetchTimer); });
}
