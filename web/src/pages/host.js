// Host detail: header, vitals, back up now, snapshots, recent jobs. Live via /api/events.
import { get, post, session } from '../api.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { esc, fmtBytes, fmtNum, fmtDuration, relEl, absTime, statusDot, tagsHtml, pill, busy, lines } from '../util.js';

export const title = 'Host';

const REPO = { ready: 'ready', unknown: 'unknown', init_failed: 'init failed' };

function headerHtml(h) {
  const seen = h.status === 'online' ? `online · last heartbeat ${relEl(h.last_seen_at)}` : h.last_seen_at ? `last seen ${relEl(h.last_seen_at)}` : 'never connected';
  return `<div class="host-title">${statusDot(h)}<h1 class="mono" data-testid="host-name">${esc(h.hostname)}</h1>
  <span class="pill pill-${esc(h.running_job ? 'running' : h.status)}" data-testid="host-status" data-status="${esc(h.status)}">${esc(h.running_job ? `${h.running_job.kind} running` : h.status)}</span>
  <span class="tags">${tagsHtml(h.tags)}</span></div>
<div class="meta mono muted">
  <span>${esc(h.os || '—')}${h.arch ? `·${esc(h.arch)}` : ''}</span>
  <span>agent ${esc(h.agent_version || '—')}</span>
  <span>restic ${esc(h.restic_version || '—')}</span>
  <span>${seen}</span>
  <span data-testid="repo-status" data-status="${esc(h.repo_status)}">repo <span class="repo repo-${esc(h.repo_status)}">${esc(REPO[h.repo_status] || h.repo_status)}</span></span>
  <span class="id" title="host id">${esc(h.id)}</span>
</div>
${h.repo_status === 'init_failed' ? `<div class="panel panel-bad" role="alert" data-testid="repo-error"><strong>Repository initialisation failed.</strong> <span class="mono">${esc(h.repo_error || 'unknown error')}</span></div>` : ''}
${h.running_job ? `<div class="panel panel-run"><span class="dot dot-running"></span> A ${esc(h.running_job.kind)} job is running — <a href="/jobs/${encodeURIComponent(h.running_job.id)}" data-testid="running-job-link">watch it live →</a></div>` : ''}`;
}

function vitalsHtml(h) {
  const lb = h.last_backup;
  const t = (label, value, key) => `<div class="tile" data-testid="vital-${key}"><div class="tile-label">${label}</div><div class="tile-value mono">${value}</div></div>`;
  return t('Last backup', lb ? `${pill(lb.status)} <span class="small">${relEl(lb.finished_at)}</span>` : '<span class="muted">none yet</span>', 'last-backup')
    + t('Repo size', h.repo_size_bytes === null || h.repo_size_bytes === undefined ? '<span class="muted">—</span>' : fmtBytes(h.repo_size_bytes), 'repo-size')
    + t('Snapshots', fmtNum(h.snapshot_count || 0), 'snapshots');
}

function snapshotsHtml(s) {
  const snaps = (s && s.snapshots) || [];
  if (!snaps.length) return '<div class="empty empty-sm" data-testid="snapshots-empty"><p class="muted">No snapshots yet. Run a backup to create the first one.</p></div>';
  const rows = snaps.map((x) => `<tr data-testid="snapshot-row" data-snapshot-id="${esc(x.id)}">
<td class="mono" title="${esc(x.id)}">${esc(x.short_id || String(x.id).slice(0, 8))}</td>
<td class="mono">${esc(absTime(x.time))}</td>
<td class="mono paths">${esc((x.paths || []).join(' · '))}</td>
<td>${tagsHtml(x.tags)}</td>
<td class="num">${x.size_bytes ? fmtBytes(x.size_bytes) : '<span class="muted">—</span>'}</td>
<td class="num">${x.file_count ? fmtNum(x.file_count) : '<span class="muted">—</span>'}</td></tr>`).join('');
  return `<div class="table-wrap"><table class="table" data-testid="snapshots-table"><thead><tr><th>ID</th><th>Time</th><th>Paths</th><th>Tags</th><th class="num">Size</th><th class="num">Files</th></tr></thead><tbody>${rows}</tbody></table></div>
${s.refreshed_at ? `<p class="muted small">snapshot list refreshed ${relEl(s.refreshed_at)}</p>` : ''}`;
}

const jobDuration = (j) => (j.started_at && j.finished_at ? fmtDuration((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000) : j.started_at ? 'running' : '—');

function jobsHtml(jobs) {
  if (!jobs.length) return '<p class="muted">No jobs yet.</p>';
  return `<div class="table-wrap"><table class="table" data-testid="jobs-table"><thead><tr><th>Job</th><th>Kind</th><th>Status</th><th>Created</th><th>Duration</th><th class="num">Added</th><th>By</th></tr></thead><tbody>
${jobs.map((j) => `<tr data-testid="job-row" data-job-id="${esc(j.id)}"><td class="mono"><a href="/jobs/${encodeURIComponent(j.id)}">${esc(String(j.id).slice(-10))}</a></td>
<td>${esc(j.kind)}</td><td>${pill(j.status)}</td><td>${relEl(j.created_at)}</td><td class="mono">${esc(jobDuration(j))}</td>
<td class="num">${j.stats && j.stats.data_added !== undefined ? fmtBytes(j.stats.data_added) : '<span class="muted">—</span>'}</td><td class="muted">${esc(j.created_by || '')}</td></tr>`).join('')}
</tbody></table></div>`;
}

// Tiny inline SVG sparkline of recent successful backup durations.
function chartHtml(jobs) {
  const pts = jobs.filter((j) => j.kind === 'backup' && j.status === 'succeeded' && j.started_at && j.finished_at).slice(0, 30).reverse()
    .map((j) => (Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000);
  if (pts.length < 3) return '';
  const max = Math.max(...pts) || 1;
  const w = 240;
  const hgt = 40;
  const step = w / (pts.length - 1);
  const d = pts.map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`).join('');
  return `<figure class="spark" data-testid="duration-chart"><svg viewBox="0 0 ${w} ${hgt}" width="${w}" height="${hgt}" role="img" aria-label="backup durations, last ${pts.length} runs"><path d="${d}" fill="none" stroke="currentColor" stroke-width="1.5"/></svg>
<figcaption class="muted small mono">duration · last ${pts.length} · max ${esc(fmtDuration(max))}</figcaption></figure>`;
}

export async function render(ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  const [h0, snaps0, jobs0] = await Promise.all([
    get(`/api/hosts/${enc}`),
    get(`/api/hosts/${enc}/snapshots`, { quiet: true }).catch(() => ({ snapshots: [] })),
    get(`/api/jobs?host_id=${enc}&limit=20`, { quiet: true }).catch(() => ({ jobs: [] })),
  ]);
  if (!ctx.alive()) return;
  let host = h0;
  ctx.title = host.hostname;
  ctx.el.innerHTML = `<nav class="crumbs" aria-label="breadcrumb"><a href="/">Fleet</a> / <span class="mono">${esc(host.hostname)}</span></nav>
<section class="host-head" data-testid="host-header"></section>
<section class="tiles tiles-3" data-testid="host-vitals" aria-label="vitals"></section>
<div class="host-grid">
  <div class="host-main">
    <section class="card" aria-labelledby="snap-h"><h2 id="snap-h">Snapshots</h2><div data-snaps></div></section>
    <section class="card" aria-labelledby="jobs-h"><h2 id="jobs-h">Recent jobs</h2><div data-jobs></div><div data-chart></div></section>
  </div>
  <aside class="host-side">
    <form class="card" data-testid="backup-form" novalidate${session.user && session.user.role === 'viewer' ? ' hidden' : ''}>
      <h2>Back up now</h2>
      <div class="field"><label for="bk-paths">Paths <span class="muted">(one per line)</span></label>
        <textarea id="bk-paths" name="paths" class="mono" rows="4" spellcheck="false" data-testid="backup-paths">${esc((host.initial_paths || []).join('\n'))}</textarea></div>
      <p class="form-error" role="alert" data-error hidden></p>
      <button type="submit" class="btn btn-primary btn-block" data-testid="backup-now">Back up now</button>
      <p class="muted small" data-offline-note hidden>The host is offline; the server will refuse until it reconnects.</p>
    </form>
  </aside>
</div>`;
  const headEl = ctx.el.querySelector('[data-testid="host-header"]');
  const vitalsEl = ctx.el.querySelector('[data-testid="host-vitals"]');
  const snapsEl = ctx.el.querySelector('[data-snaps]');
  const jobsEl = ctx.el.querySelector('[data-jobs]');
  const chartEl = ctx.el.querySelector('[data-chart]');
  const offlineNote = ctx.el.querySelector('[data-offline-note]');
  const paint = () => {
    headEl.innerHTML = headerHtml(host);
    vitalsEl.innerHTML = vitalsHtml(host);
    offlineNote.hidden = host.status === 'online';
  };
  const paintJobs = (jobs) => { jobsEl.innerHTML = jobsHtml(jobs); chartEl.innerHTML = chartHtml(jobs); };
  paint();
  snapsEl.innerHTML = snapshotsHtml(snaps0);
  paintJobs(jobs0.jobs || []);

  const form = ctx.el.querySelector('form');
  const errEl = form.querySelector('[data-error]');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errEl.hidden = true;
    const paths = lines(form.paths.value);
    const fail = (m) => { errEl.textContent = m; errEl.hidden = false; form.paths.focus(); };
    if (!paths.length) return fail('Enter at least one absolute path.');
    const bad = paths.find((p) => !p.startsWith('/'));
    if (bad) return fail(`Paths must be absolute: ${bad}`);
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post(`/api/hosts/${enc}/jobs`, { kind: 'backup', paths });
        navigate(`/jobs/${encodeURIComponent(r.job_id)}`);
      } catch (e) {
        if (e.status !== 401) fail(e.message);
      }
    });
  });

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
        if (s) snapsEl.innerHTML = snapshotsHtml(s);
        paintJobs(j.jobs || []);
      } catch { /* ignore */ }
    }, 300);
  };
  let lastSnapCount = host.snapshot_count;
  const unsub = subscribe(async (msg) => {
    if (msg.type === 'resync') {
      try { host = await get(`/api/hosts/${enc}`, { quiet: true }); if (ctx.alive()) paint(); } catch { /* ignore */ }
      refetch({ snaps: true });
    } else if (msg.type === 'host' && msg.host && msg.host.id === id) {
      host = msg.host;
      paint();
      const snaps = host.snapshot_count !== lastSnapCount;
      lastSnapCount = host.snapshot_count;
      refetch({ snaps: snaps || !host.running_job });
    } else if (msg.type === 'job' && msg.job && msg.job.host_id === id) {
      refetch({ snaps: ['succeeded', 'failed', 'cancelled'].includes(msg.job.status) });
    }
  });
  ctx.onCleanup(() => { unsub(); clearTimeout(refetchTimer); });
}
