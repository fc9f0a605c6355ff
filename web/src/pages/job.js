// Live job page: WebSocket /api/jobs/{id}/stream (rm-stream.v1) with after_seq resume,
// progress, tail-following log viewer, final summary or failure panel, cancel.
import { get, post, wsUrl, session } from '../api.js';
import { closeQuietly } from '../events.js';
import { html, render, nothing } from '../html.js';
import { fmtBytes, fmtNum, fmtDuration, absTime, busy, toast } from '../util.js';
import { relEl, pill } from '../components.js';
import { readable } from '../logfmt.js';

export const title = 'Job';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const MAX_DOM_LINES = 20000;

function hhmmss(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// The log is append-only and can hold 20,000 lines, so lines are built as plain DOM nodes
// (text via textContent: never parsed as HTML) and appended in batches, outside lit.
function span(cls, text) {
  const el = document.createElement('span');
  el.className = cls;
  el.textContent = text;
  return el;
}
// restic's JSON lines (summary, status, errors) read as text; the raw line stays in the
// title and in the downloads. Hook output (stream "hook") is styled apart.
function lineEl(l) {
  const el = document.createElement('div');
  const r = readable(l.payload);
  el.className = `ln ln-${l.stream || 'stdout'}${r ? ` ln-fmt ln-${r.kind}` : ''}`;
  el.dataset.seq = l.seq;
  const p = span('ln-p', r ? r.text : l.payload);
  if (r) p.title = l.payload;
  el.append(span('ln-ts', hhmmss(l.ts)), span('ln-st', l.stream || ''), p);
  return el;
}

function head(j) {
  const a = j.args || {};
  const paths = a.paths || a.includes || [];
  return html`<div class="host-title"><h1>${j.kind} <span class="mono muted small">${j.id}</span></h1>
  <span data-testid="job-status" data-status=${j.status}>${pill(j.status)}</span></div>
<div class="meta mono muted"><span>host <a href="/hosts/${encodeURIComponent(j.host_id)}" data-testid="job-host-link">${j.hostname || j.host_id}</a></span>
<span>by ${j.created_by || '—'}</span><span>created ${relEl(j.created_at)}</span>
${j.started_at ? html`<span>started ${absTime(j.started_at)}</span>` : nothing}${j.finished_at ? html`<span>finished ${absTime(j.finished_at)}</span>` : nothing}
${a.group ? html`<span data-testid="job-group">group ${a.group}</span>` : nothing}${a.origin ? html`<span>${a.origin}${a.attempt > 1 ? ` · attempt ${a.attempt}` : ''}</span>` : nothing}
${paths.length ? html`<span class="paths">${paths.join(' · ')}</span>` : nothing}${a.snapshot_id ? html`<span title=${a.snapshot_id}>snapshot ${String(a.snapshot_id).slice(0, 8)}</span>` : nothing}</div>`;
}

function progressView(p, j) {
  const frac = p ? Math.max(0, Math.min(1, Number(p.percent_done) > 1 ? Number(p.percent_done) / 100 : Number(p.percent_done) || 0)) : 0;
  const pct = (frac * 100).toFixed(1);
  const queued = j && j.status === 'queued';
  // restic < 0.16 restores report counts without a total: an indeterminate bar
  const unknown = p && (p.percent_done === undefined || p.percent_done === null);
  return html`<div class="progress-top"><span class="mono big" data-testid="progress-percent">${queued ? 'queued' : unknown ? 'working' : `${pct}%`}</span>
  <span class="mono muted small current" title=${(p && p.current_file) || ''}>${(p && p.current_file) || (queued ? 'waiting for the agent…' : '')}</span></div>
<div class="bar${unknown ? ' indeterminate' : ''}" role="progressbar" aria-label="job progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${unknown ? nothing : pct} data-testid="progress-bar"><div class="bar-fill" style="width:${pct}%"></div></div>
<dl class="pstats mono">
<div><dt>files</dt><dd data-testid="progress-files">${p ? `${fmtNum(p.files_done)}${p.total_files ? ` / ${fmtNum(p.total_files)}` : ''}` : '—'}</dd></div>
<div><dt>bytes</dt><dd data-testid="progress-bytes">${p ? `${fmtBytes(p.bytes_done)}${p.total_bytes ? ` / ${fmtBytes(p.total_bytes)}` : ''}` : '—'}</dd></div>
<div><dt>throughput</dt><dd>${p && p.throughput_bps !== undefined && p.throughput_bps !== null ? `${fmtBytes(p.throughput_bps)}/s` : '—'}</dd></div>
<div><dt>ETA</dt><dd>${p && p.eta_seconds !== undefined && p.eta_seconds !== null ? fmtDuration(p.eta_seconds) : '—'}</dd></div></dl>`;
}

function result(j) {
  const dur = j.stats && j.stats.total_duration !== undefined && j.stats.total_duration !== null ? j.stats.total_duration
    : j.started_at && j.finished_at ? (Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000 : null;
  if (j.status === 'succeeded' && (j.kind === 'restore' || j.kind === 'drill')) return restoreResult(j, dur);
  if (j.status === 'failed' && j.kind === 'drill' && j.stats) return html`${restoreResult(j, dur)}${failure(j, dur)}`;
  if (j.status === 'succeeded') {
    const s = j.stats || {};
    const item = (k, v, t) => html`<div data-testid=${t || nothing}><dt>${k}</dt><dd class="mono">${v}</dd></div>`;
    return html`<div class="panel panel-ok" data-testid="job-summary"><h2>Succeeded${j.exit_code === 3 ? html` <span class="muted small">(with warnings: some files could not be read)</span>` : nothing}</h2>
<dl class="summary">${item('files new', fmtNum(s.files_new ?? 0), 'sum-files-new')}${item('files changed', fmtNum(s.files_changed ?? 0), 'sum-files-changed')}
${item('files unmodified', fmtNum(s.files_unmodified ?? 0))}${item('data added', fmtBytes(s.data_added ?? 0), 'sum-data-added')}
${item('processed', `${fmtNum(s.total_files_processed ?? 0)} files · ${fmtBytes(s.total_bytes_processed ?? 0)}`)}${item('duration', fmtDuration(dur), 'sum-duration')}
${s.snapshot_id ? item('snapshot', html`<span title=${s.snapshot_id}>${String(s.snapshot_id).slice(0, 8)}</span>`, 'sum-snapshot') : nothing}</dl></div>`;
  }
  if (j.status === 'failed') return failure(j, dur);
  if (j.status === 'cancelled') {
    return html`<div class="panel panel-warn" data-testid="job-cancelled"><h2>Cancelled</h2>${j.error ? html`<pre class="mono">${j.error}</pre>` : nothing}<p class="muted small">stopped before completion${dur !== null ? ` after ${fmtDuration(dur)}` : ''}</p></div>`;
  }
  return nothing;
}

function failure(j, dur) {
  return html`<div class="panel panel-bad" role="alert" data-testid="job-failure"><h2>Failed${j.exit_code !== null && j.exit_code !== undefined ? html` <span class="mono small">exit ${j.exit_code}</span>` : nothing}</h2>
<pre class="mono err">${j.error || 'no error message (see the log below)'}</pre><p class="muted small">duration ${fmtDuration(dur)}</p></div>`;
}

// restore: files/bytes restored and where; drill: what was checked and whether it held.
function restoreResult(j, dur) {
  const s = j.stats || {};
  const item = (k, v, t) => html`<div data-testid=${t || nothing}><dt>${k}</dt><dd class="mono">${v}</dd></div>`;
  if (j.kind === 'restore') {
    return html`<div class="panel panel-ok" data-testid="job-summary"><h2>Restored</h2><dl class="summary">
${item('files restored', fmtNum(s.files_restored ?? 0), 'sum-files-restored')}${item('bytes restored', fmtBytes(s.bytes_restored ?? 0), 'sum-bytes-restored')}
${item('target', s.target || '—', 'sum-target')}${item('duration', fmtDuration(dur), 'sum-duration')}</dl></div>`;
  }
  return html`<div class="panel ${s.ok ? 'panel-ok' : 'panel-bad'}" data-testid="drill-summary"><h2>${s.ok ? 'Restorable: the drill passed' : 'The drill failed'}</h2><dl class="summary">
${item('files checked', fmtNum(s.files_checked ?? 0), 'sum-files-checked')}${item('bytes checked', fmtBytes(s.bytes_checked ?? 0))}
${item('mismatches', fmtNum(s.mismatches ?? 0), 'sum-mismatches')}${s.snapshot_id ? item('snapshot', String(s.snapshot_id).slice(0, 8)) : nothing}${item('duration', fmtDuration(dur))}</dl></div>`;
}

// The page skeleton, rendered once. The regions (data-region) are re-rendered on their own
// as the stream delivers; the buttons and counters here have no bindings, so the code below
// may toggle their hidden flag and text directly.
const skeleton = (enc) => html`<nav class="crumbs" aria-label="breadcrumb"><a href="/">Fleet</a> / <span data-region="crumb"></span> <span class="mono">job</span></nav>
<section class="host-head" data-testid="job-header"></section>
<div class="job-actions">
  <button type="button" class="btn btn-danger" data-testid="cancel-job" hidden>Cancel job</button>
  <a class="btn btn-ghost btn-sm" href="/api/jobs/${enc}/log.txt" download data-testid="download-txt">Download .txt</a>
  <a class="btn btn-ghost btn-sm" href="/api/jobs/${enc}/log.ndjson" download data-testid="download-ndjson">Download .ndjson</a>
  <span class="muted small mono" data-conn></span>
</div>
<section class="card" data-testid="progress" data-region="progress" aria-label="progress"></section>
<div data-region="result"></div>
<section class="card log-card" aria-labelledby="log-h">
  <div class="card-head"><h2 id="log-h">Log <span class="muted small mono" data-count></span></h2>
  <button type="button" class="btn btn-sm" data-testid="follow" hidden>↓ Follow</button></div>
  <div class="log mono" data-testid="log" tabindex="0" role="log" aria-label="job log"><div class="log-empty muted" data-log-empty>No log lines yet.</div></div>
</section>`;

export async function mount(ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  ctx.title = `Job ${id.slice(-10)}`;
  render(skeleton(enc), ctx.el);
  render(html`<p class="muted">Connecting…</p>`, ctx.el.querySelector('[data-testid="job-header"]'));
  const $ = (s) => ctx.el.querySelector(s);
  const headEl = $('[data-testid="job-header"]');
  const progEl = $('[data-region="progress"]');
  const resultEl = $('[data-region="result"]');
  const logEl = $('[data-testid="log"]');
  const followBtn = $('[data-testid="follow"]');
  const cancelBtn = $('[data-testid="cancel-job"]');
  const countEl = $('[data-count]');
  const connEl = $('[data-conn]');
  const crumbHost = $('[data-region="crumb"]');

  let job = null;
  let progress = null;
  let lastSeq = 0;
  let lineCount = 0;
  let pending = [];
  let raf = 0;
  let follow = true;
  let ws = null;
  let ended = false;
  let retry = 0;
  let retryTimer = null;

  const paintJob = () => {
    if (!job) return;
    render(head(job), headEl);
    render(html`<a href="/hosts/${encodeURIComponent(job.host_id)}" class="mono">${job.hostname || job.host_id}</a> /`, crumbHost);
    const terminal = TERMINAL.has(job.status);
    cancelBtn.hidden = terminal || !!(session.user && session.user.role === 'viewer');
    if (terminal) {
      render(result(job), resultEl);
      progEl.hidden = job.status !== 'succeeded' && !progress;
      if (job.status === 'succeeded') {
        const s = job.stats || {};
        const files = s.total_files_processed ?? s.files_restored ?? s.files_checked ?? (progress && progress.total_files);
        const bytes = s.total_bytes_processed ?? s.bytes_restored ?? s.bytes_checked ?? (progress && progress.total_bytes);
        progress = { ...(progress || {}), percent_done: 1, current_file: '', eta_seconds: 0,
          files_done: files, total_files: files, bytes_done: bytes, total_bytes: bytes };
      }
      render(progressView(progress, job), progEl);
    } else {
      render(nothing, resultEl);
      progEl.hidden = false;
      render(progressView(progress, job), progEl);
    }
  };

  const flush = () => {
    raf = 0;
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    const empty = logEl.querySelector('[data-log-empty]');
    if (empty) empty.remove();
    const frag = document.createDocumentFragment();
    for (const l of batch) frag.appendChild(lineEl(l));
    logEl.appendChild(frag);
    lineCount += batch.length;
    let extra = logEl.childElementCount - MAX_DOM_LINES;
    if (extra > 0) {
      if (!logEl.querySelector('.log-trimmed')) {
        const note = document.createElement('div');
        note.className = 'log-trimmed muted';
        note.textContent = 'older lines trimmed from view — download the full log above';
        logEl.prepend(note);
      }
      while (extra-- > 0 && logEl.children[1]) logEl.children[1].remove();
    }
    countEl.textContent = `${fmtNum(lineCount)} lines`;
    if (follow) logEl.scrollTop = logEl.scrollHeight;
  };
  const addLines = (ls) => {
    for (const l of ls || []) {
      if (typeof l.seq !== 'number' || l.seq <= lastSeq) continue;
      lastSeq = l.seq;
      pending.push(l);
    }
    if (pending.length && !raf) raf = requestAnimationFrame(flush);
  };

  // Following stops only on a user scroll gesture (wheel, keys, pointer, touch) that leaves
  // the tail; any other scroll away from it while following (a keyboard scroll animation
  // still running after "follow" was pressed, a layout change) is undone.
  let gestureAt = -1e9;
  let pointerDown = false;
  const gesture = () => { gestureAt = performance.now(); };
  for (const t of ['wheel', 'keydown', 'touchmove']) logEl.addEventListener(t, gesture, { passive: true });
  logEl.addEventListener('pointerdown', () => { pointerDown = true; gesture(); });
  const up = () => { pointerDown = false; };
  window.addEventListener('pointerup', up);
  window.addEventListener('pointercancel', up);
  ctx.onCleanup(() => { window.removeEventListener('pointerup', up); window.removeEventListener('pointercancel', up); });
  const setFollow = (f) => { follow = f; followBtn.hidden = f; };
  logEl.addEventListener('scroll', () => {
    if (logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 24) { if (!follow) setFollow(true); return; }
    if (!follow) return;
    if (pointerDown || performance.now() - gestureAt < 1000) setFollow(false);
    else logEl.scrollTop = logEl.scrollHeight;
  }, { passive: true });
  followBtn.addEventListener('click', () => {
    gestureAt = -1e9;
    setFollow(true);
    logEl.scrollTop = logEl.scrollHeight;
  });
  cancelBtn.addEventListener('click', () => busy(cancelBtn, async () => {
    try {
      await post(`/api/jobs/${enc}/cancel`, {});
      toast('Cancel requested', 'ok', 3000);
    } catch { /* toast shown */ }
  }));

  // REST catch-up for when the stream is unavailable: job state + remaining lines.
  const catchUp = async () => {
    const j = await get(`/api/jobs/${enc}`, { quiet: true });
    if (!ctx.alive()) return;
    job = j;
    for (let i = 0; i < 200; i++) {
      const r = await get(`/api/jobs/${enc}/logs?after_seq=${lastSeq}&limit=1000`, { quiet: true });
      if (!ctx.alive()) return;
      const ls = (r && r.lines) || [];
      addLines(ls);
      if (ls.length < 1000) break;
    }
    paintJob();
  };

  const connect = () => {
    retryTimer = null;
    if (!ctx.alive() || ended) return;
    connEl.textContent = 'connecting…';
    let sock;
    try {
      sock = new WebSocket(wsUrl(`/api/jobs/${enc}/stream?after_seq=${lastSeq}`), 'rm-stream.v1');
    } catch {
      scheduleReconnect(false);
      return;
    }
    ws = sock;
    sock.onopen = () => { connEl.textContent = 'live'; connEl.classList.add('live'); };
    sock.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (!m) return;
      retry = 0;
      if (m.type === 'job' && m.job) { job = m.job; paintJob(); } else if (m.type === 'log') addLines(m.lines);
      else if (m.type === 'progress' && m.progress) { progress = m.progress; if (job && !TERMINAL.has(job.status)) render(progressView(progress, job), progEl); } else if (m.type === 'end') { ended = true; }
    };
    sock.onerror = () => {};
    sock.onclose = (ev) => {
      if (ws === sock) ws = null;
      connEl.classList.remove('live');
      if (!ctx.alive()) return;
      if (ended || (job && TERMINAL.has(job.status) && ev.code === 1000)) {
        connEl.textContent = '';
        if (pending.length) flush();
        return;
      }
      scheduleReconnect(ev.code === 4008);
    };
  };
  const scheduleReconnect = async (resync) => {
    if (!ctx.alive() || retryTimer) return;
    connEl.textContent = resync ? 'resyncing…' : 'reconnecting…';
    if (!resync) {
      try {
        await catchUp();
        if (job && TERMINAL.has(job.status)) { ended = true; connEl.textContent = ''; return; }
      } catch (e) {
        if (e.status === 401 || e.status === 404) { connEl.textContent = e.status === 404 ? 'job not found' : ''; return; }
      }
    }
    if (!ctx.alive()) return;
    const delay = resync ? 100 : Math.min(10000, 500 * 2 ** retry);
    retry = Math.min(retry + 1, 6);
    retryTimer = setTimeout(connect, delay);
  };

  // Paint the current state immediately from REST, then stream.
  try {
    job = await get(`/api/jobs/${enc}`);
  } catch (e) {
    if (e.status === 404 && ctx.alive()) {
      render(html`<div class="empty" data-testid="page-error"><h1>Job not found</h1><a href="/" class="btn">Back to dashboard</a></div>`, ctx.el);
    }
    return;
  }
  if (!ctx.alive()) return;
  paintJob();
  connect();
  ctx.onCleanup(() => {
    clearTimeout(retryTimer);
    if (raf) cancelAnimationFrame(raf);
    if (ws) { closeQuietly(ws); ws = null; }
  });
}
