// Dashboard: fleet tiles + one row per host, kept live over /api/events.
import { get } from '../api.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { esc, fmtBytes, fmtNum, relEl, statusDot, tagsHtml } from '../util.js';

export const title = 'Dashboard';
export const navKey = 'dashboard';

// Started by main.js before auth resolves on a cold load of "/" to overlap round trips.
let prefetched = null;
export function prefetch() {
  prefetched = Promise.all([get('/api/hosts', { quiet: true }), get('/api/fleet/summary', { quiet: true })]);
  prefetched.catch(() => {});
}

const REPO = { ready: 'ready', unknown: 'unknown', init_failed: 'init failed' };

function rowHtml(h) {
  const lb = h.last_backup;
  const rowCls = h.running_job ? 'running' : (h.repo_status === 'init_failed' || (lb && lb.status === 'failed')) ? 'failed' : h.status === 'offline' ? 'offline' : '';
  const id = esc(h.id);
  return `<tr class="host-row ${rowCls}" data-host-id="${id}" data-testid="host-row">
<td class="c-dot">${statusDot(h)}</td>
<td class="c-name"><a href="/hosts/${encodeURIComponent(h.id)}" class="mono host-link">${esc(h.hostname)}</a>${h.tags && h.tags.length ? `<span class="tags">${tagsHtml(h.tags)}</span>` : ''}</td>
<td class="mono muted">${esc(h.os || '—')}${h.arch ? `·${esc(h.arch)}` : ''}</td>
<td>${h.running_job ? `<span class="pill pill-running">${esc(h.running_job.kind || 'job')} running…</span>` : lb ? `<span class="pill pill-${esc(lb.status)}">${esc(lb.status)}</span> ${relEl(lb.finished_at)}` : '<span class="muted">no backups</span>'}</td>
<td class="num">${h.repo_size_bytes === null || h.repo_size_bytes === undefined ? '<span class="muted">—</span>' : fmtBytes(h.repo_size_bytes)}</td>
<td class="num">${fmtNum(h.snapshot_count || 0)}</td>
<td class="mono muted">${esc(h.agent_version || '—')}</td>
<td class="mono muted">${esc(h.restic_version || '—')}</td>
<td><span class="repo repo-${esc(h.repo_status)}"${h.repo_error ? ` title="${esc(h.repo_error)}"` : ''}>${esc(REPO[h.repo_status] || h.repo_status || '—')}</span></td>
</tr>`;
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
  const p = prefetched || Promise.all([get('/api/hosts'), get('/api/fleet/summary')]);
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

  function renderAll() {
    if (!hosts.size) {
      body.innerHTML = `<div class="empty" data-testid="empty-state">
  <h2>No hosts yet</h2>
  <p class="muted">Add a host to mint a one-time enrollment token, then run the install command on that machine. restic must already be installed there.</p>
  <a href="/hosts/new" class="btn btn-primary" data-testid="empty-add-host">+ Add host</a></div>`;
      return;
    }
    const rows = sortHosts(Array.from(hosts.values())).map(rowHtml).join('');
    body.innerHTML = `<div class="table-wrap"><table class="table hosts-table" data-testid="hosts-table">
<thead><tr><th class="c-dot"><span class="sr-only">status</span></th><th>Host</th><th>OS · arch</th><th>Last backup</th><th class="num">Repo size</th><th class="num">Snapshots</th><th>Agent</th><th>restic</th><th>Repo</th></tr></thead>
<tbody>${rows}</tbody></table></div><p class="muted small mono" data-testid="host-count">${fmtNum(hosts.size)} host${hosts.size === 1 ? '' : 's'}</p>`;
  }
  renderAll();

  // Whole row opens the host (one delegated listener; the row's <a> carries keyboard focus).
  body.addEventListener('click', (ev) => {
    if (ev.target.closest('a, button, input, select, textarea')) return;
    const tr = ev.target.closest('tr[data-host-id]');
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
      const tr = known && body.querySelector(`tr[data-host-id="${CSS.escape(h.id)}"]`);
      if (tr) {
        const t = document.createElement('tbody');
        t.innerHTML = rowHtml(h);
        tr.replaceWith(t.firstElementChild);
      } else {
        renderAll();
      }
      refreshSummary();
    } else if (msg.type === 'job') {
      refreshSummary();
    }
  });
  ctx.onCleanup(() => { unsub(); clearTimeout(summaryTimer); });
}
