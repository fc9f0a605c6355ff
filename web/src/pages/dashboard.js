// Dashboard: fleet tiles, the fleet's total repository size over 30 days (chart +
// forecast), one row per host, kept live over /api/events.
import { get } from '../api.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { html, render, nothing } from '../html.js';
import { fmtBytes, fmtNum } from '../util.js';
import { relEl, statusDot, tagList, tile, none, isAsleep } from '../components.js';
import { drawChart, fmt } from '../chart.js';
import { forecastText } from './host-repo.js';

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

// Schedule sync, when the host object carries the versions: "in sync" / "at vN".
function sync(h) {
  const v = h.schedule_version;
  if (v === undefined || v === null) return nothing;
  const a = h.schedule_acked_version;
  const ok = a === v;
  return html` <span class="sync-mini ${ok ? 'ok' : 'behind'}" data-testid="host-sync" data-in-sync=${ok ? 'true' : 'false'} title=${ok ? `agent in sync (schedule v${v})` : `agent at v${a ?? 0}, server at v${v}`}>${ok ? 'in sync' : `at v${a ?? 0}`}</span>`;
}

function row(h) {
  const lb = h.last_backup;
  const rowCls = h.running_job ? 'running' : (h.repo_status === 'init_failed' || (lb && lb.status === 'failed')) ? 'failed' : isAsleep(h) ? 'asleep' : h.status === 'offline' ? 'offline' : '';
  return html`<div class="host-row ${rowCls}" role="row" data-host-id=${h.id} data-testid="host-row">
<div role="cell" class="c-dot">${statusDot(h)}</div>
<div role="cell" class="c-name"><a href="/hosts/${encodeURIComponent(h.id)}" class="mono host-link">${h.hostname}</a>${h.tags && h.tags.length ? html`<span class="tags">${tagList(h.tags)}</span>` : nothing}</div>
<div role="cell" class="mono muted">${h.os || '—'}${h.arch ? `·${h.arch}` : nothing}</div>
<div role="cell">${h.running_job ? html`<span class="pill pill-running">${h.running_job.kind || 'job'} running…</span>` : lb ? html`<span class="pill pill-${lb.status}">${lb.status}</span> ${relEl(lb.finished_at)}` : html`<span class="muted">no backups</span>`}</div>
<div role="cell" data-testid="host-next-run">${h.next_run ? relEl(h.next_run) : none}${sync(h)}</div>
<div role="cell" class="num">${h.repo_size_bytes === null || h.repo_size_bytes === undefined ? none : fmtBytes(h.repo_size_bytes)}</div>
<div role="cell" class="num">${fmtNum(h.snapshot_count || 0)}</div>
<div role="cell" data-testid="host-restorable" title=${h.last_drill && h.last_drill.status === 'failed' ? 'the last restore drill failed' : nothing}>${h.last_drill_ok_at ? relEl(h.last_drill_ok_at) : none}${h.last_drill && h.last_drill.status === 'failed' ? html` <span class="pill pill-failed">drill failed</span>` : nothing}</div>
<div role="cell" class="mono muted">${h.agent_version || '—'}</div>
<div role="cell" class="mono muted">${h.restic_version || '—'}</div>
<div role="cell"><span class="repo repo-${h.repo_status}" title=${h.repo_error || nothing}>${REPO[h.repo_status] || h.repo_status || '—'}</span></div>
</div>`;
}

function tiles(s) {
  if (!s) return nothing;
  return [
    tile('Hosts online', html`${fmtNum(s.hosts_online)}<span class="muted"> / ${fmtNum(s.hosts_total)}</span>`, 'tile-hosts'),
    tile('Jobs ok · 24 h', fmtNum(s.jobs_24h_succeeded), 'tile-ok', 'tile-ok'),
    tile('Jobs failed · 24 h', fmtNum(s.jobs_24h_failed), 'tile-failed', s.jobs_24h_failed ? 'tile-bad' : ''),
    tile('Running now', fmtNum(s.jobs_running), 'tile-running'),
    tile('Repo size', fmtBytes(s.repo_bytes_total || 0), 'tile-bytes'),
    tile('Snapshots', fmtNum(s.snapshots_total), 'tile-snapshots'),
  ];
}

const fleetTrend = (f) => html`<div class="card-head"><h2 id="fleet-trend-h">Total repository size <span class="muted small">(30 days)</span></h2>
<span class="forecast mono small" data-testid="fleet-forecast">${forecastText(f.forecast)}</span></div>
${f.points.length ? html`<div class="chart" data-testid="fleet-chart" role="img" aria-label="total repository size, 30 days"></div>` : html`<p class="muted" data-testid="fleet-chart-empty">No size reports yet.</p>`}`;

const empty = html`<div class="empty" data-testid="empty-state">
  <h2>No hosts yet</h2>
  <p class="muted">Add a host to mint a one-time enrollment token, then run the install command on that machine. restic must already be installed there.</p>
  <a href="/hosts/new" class="btn btn-primary" data-testid="empty-add-host">+ Add host</a></div>`;

// Rows are grouped in chunks with content-visibility:auto so off-screen chunks skip style,
// layout and paint until scrolled into view (1,000 hosts stay cheap). Each chunk is its own
// render() container (the list template leaves it empty), so a host event re-renders the
// 50 rows of one chunk, not the whole fleet.
const CHUNK = 50;
const ROW_PX = 33;
const chunkShell = (n) => html`<div class="hchunk" role="rowgroup" style="contain-intrinsic-size:auto ${n * ROW_PX}px"></div>`;
const chunkRows = (list, i) => list.slice(i * CHUNK, (i + 1) * CHUNK).map(row);

function hostList(list) {
  if (!list.length) return empty;
  const sizes = [];
  for (let i = 0; i < list.length; i += CHUNK) sizes.push(Math.min(CHUNK, list.length - i));
  return html`<div class="hosts-grid" role="table" aria-label="hosts" aria-rowcount=${list.length + 1} data-testid="hosts-table">
<div class="host-row hgrid-head" role="row"><div role="columnheader" class="c-dot"><span class="sr-only">status</span></div><div role="columnheader">Host</div><div role="columnheader">OS · arch</div><div role="columnheader">Last backup</div><div role="columnheader">Next run</div><div role="columnheader" class="num">Repo size</div><div role="columnheader" class="num">Snapshots</div><div role="columnheader" title="last proven restorable (restore drill)">Restorable</div><div role="columnheader">Agent</div><div role="columnheader">restic</div><div role="columnheader">Repo</div></div>
${sizes.map(chunkShell)}</div><p class="muted small mono" data-testid="host-count">${fmtNum(list.length)} host${list.length === 1 ? '' : 's'}</p>`;
}

const sortHosts = (arr) => arr.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));

// Whole row opens the host (one listener; the row's <a> carries keyboard focus).
function onRowClick(ev) {
  if (ev.target.closest('a, button, input, select, textarea')) return;
  const tr = ev.target.closest('.host-row[data-host-id]');
  if (!tr || (window.getSelection && String(window.getSelection()))) return;
  navigate(`/hosts/${encodeURIComponent(tr.dataset.hostId)}`);
}

export async function mount(ctx) {
  const fresh = prefetched && Date.now() - prefetchedAt < 10000;
  const p = fresh ? prefetched : Promise.all([get('/api/hosts'), get('/api/fleet/summary')]);
  prefetched = null;
  // Two regions rendered on their own: a summary refresh never re-diffs 1,000 host rows.
  render(html`<div class="page-head"><h1>Fleet</h1><a href="/hosts/new" class="btn btn-primary" data-testid="add-host">+ Add host</a></div>
<section class="tiles" data-testid="fleet-tiles" aria-label="fleet summary"></section>
<section class="card fleet-trend" aria-labelledby="fleet-trend-h"></section>
<section data-testid="dashboard" class="dash-body" @click=${onRowClick}></section>`, ctx.el);
  const tilesEl = ctx.el.querySelector('.tiles');
  const body = ctx.el.querySelector('.dash-body');
  const trendEl = ctx.el.querySelector('.fleet-trend');
  let trendBusy = false;
  let trendAt = 0; // refreshed at most once a minute: a busy fleet finishes jobs all the time
  const loadTrend = async () => {
    if (trendBusy) return;
    trendBusy = true;
    trendAt = Date.now();
    try {
      const f = await get('/api/repo/fleet-history?days=30', { quiet: true });
      if (!ctx.alive()) return;
      render(fleetTrend(f), trendEl);
      const el = trendEl.querySelector('[data-testid="fleet-chart"]');
      if (el) drawChart(el, { key: 'fleet', x: f.points.map((p) => p.t / 1000), series: [{ label: 'total stored', values: f.points.map((p) => p.size_bytes), fmt: fmt.bytes, fill: true }], height: 160 });
    } catch { /* the fleet view works without it */ } finally { trendBusy = false; }
  };
  loadTrend();
  render(html`<p class="muted">Loading…</p>`, body);
  const [hostsRes, summary] = await p;
  if (!ctx.alive()) return;
  const hosts = new Map();
  for (const h of hostsRes.hosts || []) hosts.set(h.id, h);
  render(tiles(summary), tilesEl);

  // list: the hosts in display order; at: host id -> index in list.
  let list = [];
  let at = new Map();
  const chunkEls = () => body.querySelectorAll('.hchunk');
  const renderHosts = () => {
    list = sortHosts(Array.from(hosts.values()));
    at = new Map(list.map((h, i) => [h.id, i]));
    render(hostList(list), body);
    chunkEls().forEach((el, i) => render(chunkRows(list, i), el));
  };
  // Events can arrive in bursts (a fleet reconnecting): at most one render per frame. A
  // known host keeping its name (so its place) re-renders its chunk; anything else, all.
  let all = false;
  const dirty = new Set();
  let frame = 0;
  const flush = () => {
    frame = 0;
    if (!ctx.alive()) return;
    if (all) renderHosts();
    else {
      const els = chunkEls();
      for (const i of dirty) if (els[i]) render(chunkRows(list, i), els[i]);
    }
    all = false;
    dirty.clear();
  };
  const hostChanged = (h) => {
    const i = at.get(h.id);
    if (i !== undefined && list[i].hostname === h.hostname) {
      list[i] = h;
      dirty.add(Math.floor(i / CHUNK));
    } else all = true;
    if (!frame) frame = requestAnimationFrame(flush);
  };
  renderHosts();

  let summaryTimer = null;
  const refreshSummary = () => {
    if (summaryTimer) return;
    summaryTimer = setTimeout(async () => {
      summaryTimer = null;
      try {
        const s = await get('/api/fleet/summary', { quiet: true });
        if (ctx.alive()) render(tiles(s), tilesEl);
        if (ctx.alive() && Date.now() - trendAt > 60000) loadTrend();
      } catch { /* next event retries */ }
    }, 1000);
  };
  const resync = async () => {
    try {
      const r = await get('/api/hosts', { quiet: true });
      if (!ctx.alive()) return;
      hosts.clear();
      for (const h of r.hosts || []) hosts.set(h.id, h);
      renderHosts();
      refreshSummary();
    } catch { /* ignore */ }
  };
  const unsub = subscribe((msg) => {
    if (msg.type === 'resync') { resync(); return; }
    if (msg.type === 'host_removed' || (msg.type === 'host' && msg.host && msg.host.deleted_at)) { resync(); return; } // C6 delete
    if (msg.type === 'host' && msg.host && msg.host.id) {
      hosts.set(msg.host.id, msg.host);
      hostChanged(msg.host);
      refreshSummary();
    } else if (msg.type === 'job') {
      refreshSummary();
    }
  });
  ctx.onCleanup(() => { unsub(); clearTimeout(summaryTimer); cancelAnimationFrame(frame); });
}
