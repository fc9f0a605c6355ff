// Dashboard: fleet tiles, the fleet's total repository size over 30 days (chart +
// forecast), one row per host, kept live over /api/events (or frozen: live=0). Filters,
// search and sort live in the URL (dash-filter.js); the rows are windowed (dash-list.js).
import { get } from '../api.js';
import { subscribe } from '../events.js';
import { navigate } from '../router.js';
import { html, render, nothing } from '../html.js';
import { parseQuery, toQuery, apply, matcher, sortKey, tally, isFiltered, DEFAULTS } from './dash-filter.js';
import { createHostList } from './dash-list.js';
import { toolbar, headRow } from './dash-toolbar.js';
import { fmtBytes, fmtNum } from '../util.js';
import { relEl, statusDot, tagList, tile, none, isAsleep } from '../components.js';
import { drawChart, fmt } from '../chart.js';
import { forecastText } from './host-repo.js';

export const title = 'Dashboard';
export const navKey = 'dashboard';

// A cold load of the default view (no filter, by name) asks for the first screen of hosts
// (GET /api/hosts?limit=) beside the summary and paints it while the whole list loads:
// with 10,000 hosts the server takes ~0.5 s to build the list and the browser ~0.1 s to
// parse its 6 MB. Other views need every host to filter and sort, so they wait for it.
const FIRST_PAGE = 30; // a screen of rows (33 px each) below the tiles, on a tall display
function startLoad(query, opts) {
  const s = parseQuery(query);
  const summary = get('/api/fleet/summary', opts);
  let first;
  let all;
  if (!isFiltered(s) && s.sort === 'name' && s.dir === 'asc') {
    first = get(`/api/hosts?limit=${FIRST_PAGE}`, opts);
    // asked for once the first screen is painted: building it keeps the server busy, and
    // the page's other requests (session, alerts, chart) should not queue behind it
    let p = null;
    all = () => p || (p = first.then((r) => (r.total <= r.hosts.length ? r : get('/api/hosts', opts))));
  } else {
    const p = get('/api/hosts', opts);
    all = () => p;
    first = p.then((r) => ({ hosts: r.hosts, total: r.hosts.length }));
    p.catch(() => {});
  }
  for (const p of [summary, first]) p.catch(() => {});
  return { first, summary, all };
}

// Started by main.js before auth resolves on a cold load of "/" to overlap round trips.
let prefetched = null;
let prefetchedAt = 0;
export function prefetch() {
  prefetched = startLoad(new URLSearchParams(location.search), { quiet: true });
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

// The name the operator gave vs the hostname the agent reports (hosts API: hostname_mismatch;
// computed here when the field is absent).
function mismatch(h) {
  const r = h.reported_hostname;
  const bad = typeof h.hostname_mismatch === 'boolean' ? h.hostname_mismatch : !!r && r !== h.hostname;
  return bad && r ? html` <span class="name-mismatch mono small" data-testid="host-mismatch" title=${`the agent reports the hostname ${r}`}>≠ ${r}</span>` : nothing;
}

function row(h) {
  const lb = h.last_backup;
  const rowCls = h.running_job ? 'running' : (h.repo_status === 'init_failed' || (lb && lb.status === 'failed')) ? 'failed' : isAsleep(h) ? 'asleep' : h.status === 'offline' ? 'offline' : '';
  return html`<div class="host-row ${rowCls}" role="row" data-host-id=${h.id} data-testid="host-row">
<div role="cell" class="c-dot">${statusDot(h)}</div>
<div role="cell" class="c-name"><a href="/hosts/${encodeURIComponent(h.id)}" class="mono host-link">${h.hostname}</a>${mismatch(h)}${h.tags && h.tags.length ? html`<span class="tags">${tagList(h.tags)}</span>` : nothing}</div>
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

// The table shell: its row container (.hchunks) has no bindings, dash-list.js fills it.
const tableShell = html`<div class="hosts-grid" role="table" aria-label="hosts" data-testid="hosts-table">
<div class="hhead"></div><div class="hchunks"></div></div>
<p class="muted dash-nomatch" data-testid="dash-nomatch" hidden>No hosts match these filters.</p>
<p class="muted small mono" data-testid="host-count"></p>`;

const countText = (shown, total) => (shown === total ? `${fmtNum(total)} host${total === 1 ? '' : 's'}` : `${fmtNum(shown)} of ${fmtNum(total)} hosts`);

// Whole row opens the host (one listener; the row's <a> carries keyboard focus).
function onRowClick(ev) {
  if (ev.target.closest('a, button, input, select, textarea')) return;
  const tr = ev.target.closest('.host-row[data-host-id]');
  if (!tr || (window.getSelection && String(window.getSelection()))) return;
  navigate(`/hosts/${encodeURIComponent(tr.dataset.hostId)}`);
}

function trendLoader(ctx, trendEl) {
  let busy = false;
  const load = async () => {
    if (busy) return;
    busy = true;
    load.at = Date.now();
    try {
      const f = await get('/api/repo/fleet-history?days=30', { quiet: true });
      if (!ctx.alive()) return;
      render(fleetTrend(f), trendEl);
      const el = trendEl.querySelector('[data-testid="fleet-chart"]');
      if (el) drawChart(el, { key: 'fleet', x: f.points.map((p) => p.t / 1000), series: [{ label: 'total stored', values: f.points.map((p) => p.size_bytes), fmt: fmt.bytes, fill: true }], height: 160 });
    } catch { /* the fleet view works without it */ } finally { busy = false; }
  };
  load.at = 0; // refreshed at most once a minute: a busy fleet finishes jobs all the time
  return load;
}

export async function mount(ctx) {
  const fresh = prefetched && Date.now() - prefetchedAt < 10000;
  const load = fresh ? prefetched : startLoad(ctx.query, {});
  prefetched = null;
  // Regions rendered on their own: a summary refresh never re-diffs the host rows.
  render(html`<div class="page-head"><h1>Fleet</h1><a href="/hosts/new" class="btn btn-primary" data-testid="add-host">+ Add host</a></div>
<section class="tiles" data-testid="fleet-tiles" aria-label="fleet summary"></section>
<section class="card fleet-trend" aria-labelledby="fleet-trend-h"></section>
<section class="dash-bar"></section>
<section data-testid="dashboard" class="dash-body" @click=${onRowClick}></section>`, ctx.el);
  const tilesEl = ctx.el.querySelector('.tiles');
  const barEl = ctx.el.querySelector('.dash-bar');
  const body = ctx.el.querySelector('.dash-body');
  const loadTrend = trendLoader(ctx, ctx.el.querySelector('.fleet-trend'));
  loadTrend();
  render(html`<p class="muted">Loading…</p>`, body);
  const [first, summary] = await Promise.all([load.first, load.summary]);
  if (!ctx.alive()) return;
  render(tiles(summary), tilesEl);
  const dash = fleetView(ctx, { barEl, body, tilesEl, loadTrend });
  if (first.total > first.hosts.length) {
    dash.loadFirst(first.hosts, first.total);
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))); // painted
    if (!ctx.alive()) return;
    const all = await load.all();
    if (!ctx.alive()) return;
    dash.load(all.hosts || []);
  } else dash.load(first.hosts || []);
}

// long: the live fleet view's state machine (filters, URL, events, frozen mode) in one closure
function fleetView(ctx, { barEl, body, tilesEl, loadTrend }) {
  const hosts = new Map();
  let s = parseQuery(ctx.query);
  let view = { list: [], counts: {}, tags: new Map() };
  let at = new Map(); // host id -> index in view.list
  let match = matcher(s);
  const pending = new Map(); // frozen view: id -> newest host object
  let resyncPending = false;
  let loading = 0; // > 0: only the first page is in (the fleet's size), the rest loading
  let list = null;
  let headEl = null;
  let countEl = null;

  const ensureShell = () => {
    if (hosts.size === 0 && !loading) {
      if (list) { list.destroy(); list = null; }
      render(empty, body);
      return false;
    }
    if (!list) {
      render(tableShell, body);
      headEl = body.querySelector('.hhead');
      countEl = body.querySelector('[data-testid="host-count"]');
      list = createHostList(body.querySelector('.hchunks'), row);
    }
    return true;
  };
  const cb = {};
  const paintBar = () => render(toolbar({ s, loading: !!loading, counts: view.counts, tags: view.tags, pending: pending.size + (resyncPending ? 1 : 0), filtered: isFiltered(s) }, cb), barEl);
  const renderAll = () => {
    view = apply(hosts.values(), s);
    at = new Map(view.list.map((h, i) => [h.id, i]));
    match = matcher(s);
    paintBar();
    if (ensureShell()) {
      render(headRow(s, cb.sort, !!loading), headEl);
      list.set(view.list);
      // while loading, the text never reads "N hosts": that is the whole list's count
      countEl.textContent = loading ? `${fmtNum(view.list.length)} of ${fmtNum(loading)} shown, loading the rest…` : countText(view.list.length, hosts.size);
      const grid = body.querySelector('.hosts-grid');
      grid.setAttribute('aria-rowcount', String(view.list.length + 1));
      const none = body.querySelector('.dash-nomatch');
      if (none) none.hidden = view.list.length > 0;
    }
  };

  // URL: discrete changes push a history entry, a typing burst pushes once then replaces.
  let typing = false;
  let typingTimer = 0;
  const setState = (next, how = 'push') => {
    if (how === 'push') typing = false; // a discrete change ends a typing burst
    s = next;
    const url = `/${toQuery(s)}`;
    if (url !== location.pathname + location.search) {
      if (how === 'push') history.pushState(null, '', url); else history.replaceState(null, '', url);
    }
    renderAll();
  };
  const qInput = () => barEl.querySelector('#dash-q');
  cb.setStatus = (v) => setState({ ...s, status: v });
  cb.setBackup = (v) => setState({ ...s, backup: v });
  cb.setAge = (v) => setState({ ...s, age: v });
  cb.toggleTag = (t) => setState({ ...s, tags: s.tags.includes(t) ? s.tags.filter((x) => x !== t) : [...s.tags, t] });
  cb.sort = (key) => setState({ ...s, sort: key, dir: s.sort === key && s.dir === 'asc' ? 'desc' : 'asc' });
  cb.clear = () => {
    setState({ ...DEFAULTS, tags: [], live: s.live, sort: s.sort, dir: s.dir });
    qInput().value = '';
  };
  let searchFrame = 0;
  cb.onSearch = () => {
    if (searchFrame) return;
    searchFrame = requestAnimationFrame(() => {
      searchFrame = 0;
      if (!ctx.alive()) return;
      const q = qInput().value.slice(0, 200);
      if (q === s.q) return;
      const how = typing ? 'replace' : 'push';
      setState({ ...s, q }, how);
      typing = true;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typing = false; }, 1000);
    });
  };
  cb.onSearchKey = (ev) => {
    if (ev.key === 'Escape' && ev.currentTarget.value) { ev.currentTarget.value = ''; cb.onSearch(); }
    if (ev.key === 'Enter') typing = false;
  };
  cb.onSearchBlur = () => { typing = false; };
  const applyPending = () => {
    for (const [id, h] of pending) hosts.set(id, h);
    pending.clear();
    const again = resyncPending;
    resyncPending = false;
    return again;
  };
  cb.refresh = () => {
    if (applyPending()) { resync(); return; }
    renderAll();
    refreshSummary();
  };
  cb.onLive = (ev) => {
    const live = ev.currentTarget.checked;
    s = { ...s, live };
    history.replaceState(null, '', `/${toQuery(s)}`);
    if (live) cb.refresh(); else paintBar();
  };

  // Back/forward between filter states of this page: no remount, no refetch.
  ctx.onQuery = (query) => {
    const wasLive = s.live;
    s = parseQuery(query);
    const el = qInput();
    if (el) el.value = s.q;
    typing = false;
    if (s.live && !wasLive && applyPending()) { resync(); return; }
    renderAll();
  };

  // Events can arrive in bursts (a fleet reconnecting): at most one render per frame. A
  // host that stays in the list at the same place re-renders its chunk; anything else
  // (joins or leaves the filter, moves in the order) recomputes the list.
  let all = false;
  let frame = 0;
  const flush = () => {
    frame = 0;
    if (!ctx.alive()) return;
    if (all) renderAll();
    else {
      paintBar();
      if (list) list.flush();
    }
    all = false;
  };
  const hostChanged = (h) => {
    const prev = hosts.get(h.id);
    hosts.set(h.id, h);
    const i = at.get(h.id);
    if (!all && i !== undefined && list && prev && match(h) && sortKey(prev, s) === sortKey(h, s) && prev.hostname === h.hostname) {
      tally(view, prev, s, -1);
      tally(view, h, s, 1);
      view.list[i] = h;
      list.replace(i, h);
    } else all = true;
    if (!frame) frame = requestAnimationFrame(flush);
  };

  let summaryTimer = null;
  const refreshSummary = () => {
    if (summaryTimer) return;
    summaryTimer = setTimeout(async () => {
      summaryTimer = null;
      try {
        const sum = await get('/api/fleet/summary', { quiet: true });
        if (ctx.alive()) render(tiles(sum), tilesEl);
        if (ctx.alive() && Date.now() - loadTrend.at > 60000) loadTrend();
      } catch { /* next event retries */ }
    }, 1000);
  };
  const loadFirst = (arr, total) => {
    loading = total;
    for (const h of arr) hosts.set(h.id, h);
    renderAll();
  };
  const load = (arr) => {
    loading = 0;
    hosts.clear();
    for (const h of arr) hosts.set(h.id, h);
    if (s.live) applyPending();
    renderAll();
    const el = qInput();
    if (el && el.value !== s.q) el.value = s.q;
  };
  const resync = async () => {
    try {
      const r = await get('/api/hosts', { quiet: true });
      if (!ctx.alive()) return;
      load(r.hosts || []);
      refreshSummary();
    } catch { /* ignore */ }
  };
  const unsub = subscribe((msg) => {
    if (msg.type === 'resync' || msg.type === 'host_removed' || (msg.type === 'host' && msg.host && msg.host.deleted_at)) {
      // C6: a deleted host leaves the list (live off: at the next refresh)
      if (s.live && !loading) resync(); else { resyncPending = true; paintBar(); }
    } else if (msg.type === 'host' && msg.host && msg.host.id) {
      if (s.live && !loading) { hostChanged(msg.host); refreshSummary(); } else { pending.set(msg.host.id, msg.host); paintBar(); }
    } else if (msg.type === 'job' && s.live) {
      refreshSummary();
    }
  });
  ctx.onCleanup(() => {
    unsub();
    clearTimeout(summaryTimer);
    clearTimeout(typingTimer);
    cancelAnimationFrame(frame);
    cancelAnimationFrame(searchFrame);
    if (list) list.destroy();
  });
  return { load, loadFirst };
}
