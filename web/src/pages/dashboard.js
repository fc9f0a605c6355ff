// Dashboard: fleet tiles + one row per host, kept live over /api/events.
import { get } from '../api.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { esc, fmtBytes, fmtNum, relEl, statusDot, tagsHtml } from '../util.js';

export const title = 'Dashboard';
export const navKey = 'dashboard';

// Started by main.js before auth resolves on a cold load of "/" to overlap round trips.
let prefetched = null;
let prefetchedAt = 0;
export function prefetch() {
  prefetched = Promise.all([get('/api/hosts', { quiet: true }), get('/api/fleet/summary', { quiet: true })]);
  prefetched.catch(() => {});
  prefetchedAt = Date.now();
}

const REPO = { ready: 'ready', unknown: 'unknown', init_failed: 'init failed' };

function rowHtml(h) {
  const lb = h.last_backup;
  const rowCls = h.running_job ? 'running' : (h.repo_status === 'init_failed' || (lb && lb.status === 'failed')) ? 'failed' : h.status === 'offline' ? 'offline' : '';
  const id = esc(h.id);
  return `<div class="host-row ${rowCls}" role="row" data-host-id="${id}" data-testid="host-row">
<div role="cell" class="c-dot">${statusDot(h)}</div>
<div role="cell" class="c-name"><a href="/hosts/${encodeURIComponent(h.id)}" class="mono host-link">${esc(h.hostname)}</a>${h.tags && h.tags.length ? `<span class="tags">${tagsHtml(h.tags)}</span>` : ''}</div>
<div role="cell" class="mono muted">${esc(h.os || '—')}${h.arch ? `·${esc(h.arch)}` : ''}</div>
<div role="cell">${h.running_job ? `<span class="pill pill-running">${esc(h.running_job.kind || 'job')} running…</span>` : lb ? `<span class="pill pill-${esc(lb.status)}">${esc(lb.status)}</span> ${relEl(lb.finished_at)}` : '<span class="muted">no backups</span>'}</div>
<div role="cell" class="num">${h.repo_size_bytes === null || h.repo_size_bytes === undefined ? '<span class="muted">—</span>' : fmtBytes(h.repo_size_bytes)}</div>
<div role="cell" class="num">${fmtNum(h.snapshot_count || 0)}</div>
<div role="cell" class="mono muted">${esc(h.agent_version || '—')}</div>
<div role="cell" class="mono muted">${esc(h.restic_version || '—')}</div>
<div role="cell"><span class="repo repo-${esc(h.repo_status)}"${h.repo_error ? ` title="${esc(h.repo_error)}"` : ''}>${esc(REPO[h.repo_status] || h.repo_status || '—')}</span></div>
</div>`;
}

function tilesHtml(s) {
  const t = (label, value, key, cls = '') => `<div class="tile ${cls}" data-testid="tile-${key}"><div class="tile-label">${label}</div><div class="tile-value mono">${value}</div></div>`;
  if (!s) return '';
  return t('Hosts online', `${fmtNum(s.hosts_online)}<span class="muted"> / ${fmtNum(s.hosts_total)}</span>`, 'hosts')
    + t('Jobs ok · 24 h', fmtNum(s.jobs_24h_succeeded), 'ok', 'tile-ok')
    + t('Jobs failed · 24 h', fmtNum(s.jobs_24h_failed), 'failed', s.jobs_24h_failed ? 'tile-bad' : '')
    + t('Running now', fmtNum(s.jobs_running), 'running')
    + t('Repo size', fmtBytes(s.repo_bytes_total || 0), 'bytes')
    + t('Snapshots', fmtNum(s.snapshots_total), 'snapshots');
}

const sortHosts = (arr) => arr.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));

export async function render(ctx) {
  const fresh = prefetched && Date.now() - prefetchedAt < 10000;
  const p = fresh ? prefetched : Promise.all([get('/api/hosts'), get('/api/fleet/summary')]);
  prefetched = null;
  ctx.el.innerHTML = `<div class="page-head"><h1>Fleet</h1><a href="/hosts/new" class="btn btn-primary" data-testid="add-host">+ Add host</a></div>
<section class="tiles" data-testid="fleet-tiles" aria-label="fleet summary"></section>
<section data-testid="dashboard" class="dash-body"><p class="muted">Loading…</p></section>`;
  const [hostsRes, summary] = await p;
  if (!ctx.alive()) return;
  const hosts = new Map();
  for (const h of hostsRes.hosts || []) hosts.set(h.id, h);
  const tilesEl = ctx.el.querySelector('.tiles');
  const body = ctx.el.querySelector('.dash-body');
  tilesEl.innerHTML = tilesHtml(summary);

  const CHUNK = 50;
  const ROW_PX = 33;
  function renderAll() {
    if (!hosts.size) {
      body.innerHTML = `<div class="empty" data-testid="empty-state">
  <h2>No hosts yet</h2>
  <p class="muted">Add a host to mint a one-time enrollment token, then run the install command on that machine. restic must already be installed there.</p>
  <a href="/hosts/new" class="btn btn-primary" data-testid="empty-add-host">+ Add host</a></div>`;
      return;
    }
    const list = sortHosts(Array.from(hosts.values()));
    // One string, one innerHTML. Rows are grouped in chunks with content-visibility:auto so
    // off-screen chunks skip style, layout and paint until scrolled into view.
    const chunks = [];
    for (let i = 0; i < list.length; i += CHUNK) {
      const part = list.slice(i, i + CHUNK);
      chunks.push(`<div class="hchunk" role="rowgroup" style="contain-intrinsic-size:auto ${part.length * ROW_PX}px">${part.map(rowHtml).join('')}</div>`);
    }
    body.innerHTML = `<div class="hosts-grid" role="table" aria-label="hosts" aria-rowcount="${list.length + 1}" data-testid="hosts-table">
<div class="host-row hgrid-head" role="row"><div role="columnheader" class="c-dot"><span class="sr-only">status</span></div><div role="columnheader">Host</div><div role="columnheader">OS · arch</div><div role="columnheader">Last backup</div><div role="columnheader" class="num">Repo size</div><div role="columnheader" class="num">Snapshots</div><div role="columnheader">Agent</div><div role="columnheader">restic</div><div role="columnheader">Repo</div></div>
${chunks.join('')}</div><p class="muted small mono" data-testid="host-count">${fmtNum(hosts.size)} host${hosts.size === 1 ? '' : 's'}</p>`;
  }
  let pendingAll = 0;
  const scheduleRenderAll = () => {
    if (!pendingAll) pendingAll = requestAnimationFrame(() => { pendingAll = 0; if (ctx.alive()) renderAll(); });
  };
  renderAll();

  // Whole row opens the host (one delegated listener; the row's <a> carries keyboard focus).
  body.addEventListener('click', (ev) => {
    if (ev.target.closest('a, button, input, select, textarea')) return;
    const tr = ev.target.closest('.host-row[data-host-id]');
    if (!tr || (window.getSelection && String(window.getSelection()))) return;
    navigate(`/hosts/${encodeURIComponent(tr.dataset.hostId)}`);
  });

  let summaryTimer = null;
  const refreshSummary = () => {
    if (summaryTimer) return;
    summaryTimer = setTimeout(async () => {
      summaryTimer = null;
      try {
        const s = await get('/api/fleet/summary', { quiet: true });
        if (ctx.alive()) tilesEl.innerHTML = tilesHtml(s);
      } catch { /* next event retries */ }
    }, 1000);
  };
  const resync = async () => {
    try {
      const r = await get('/api/hosts', { quiet: true });
      if (!ctx.alive()) return;
      hosts.clear();
      for (const h of r.hosts || []) hosts.set(h.id, h);
      renderAll();
      refreshSummary();
    } catch { /* ignore */ }
  };
  const unsub = subscribe((msg) => {
    if (msg.type === 'resync') { resync(); return; }
    if (msg.type === 'host' && msg.host && msg.host.id) {
      const h = msg.host;
      const known = hosts.has(h.id);
      hosts.set(h.id, h);
      const tr = known && body.querySelector(`.host-row[data-host-id="${CSS.escape(h.id)}"]`);
      if (tr) {
        tr.insertAdjacentHTML('afterend', rowHtml(h));
        tr.remove();
      } else {
        scheduleRenderAll();
      }
      refreshSummary();
    } else if (msg.type === 'job') {
      refreshSummary();
    }
  });
  ctx.onCleanup(() => { unsub(); clearTimeout(summaryTimer); cancelAnimationFrame(pendingAll); });
}
