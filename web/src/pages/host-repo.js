// Host page, Repository tab: health numbers (size, raw size, dedup and compression, last
// check / prune / forget, locks), the growth forecast, and two charts — repository size
// over time, and per backup its duration and data added. Data: GET /api/hosts/{id}/repo
// and /repo/history?days=N; the quota for the forecast is a host setting.
import { get, put } from '../api.js';
import { html, nothing } from '../html.js';
import { fmtBytes, fmtNum, busy, toast } from '../util.js';
import { relEl, pill, tile, none } from '../components.js';
import { drawChart, fmt } from '../chart.js';

const GIB = 1024 ** 3;
const RANGES = [7, 30, 90, 365];

// "+1.2 GiB/day; 500 GiB in 84 days" — or why there is no forecast yet.
export function forecastText(f) {
  if (!f) return '';
  if (!f.ok) {
    const have = `${f.points} point${f.points === 1 ? '' : 's'} over ${f.span_days < 1 ? `${Math.round(f.span_days * 24)} h` : `${f.span_days.toFixed(1)} days`}`;
    return `No forecast yet: it needs 3 size points over at least a day (${have}).`;
  }
  const rate = `${f.bytes_per_day >= 0 ? '+' : '−'}${fmtBytes(Math.round(Math.abs(f.bytes_per_day)))}/day`;
  const target = `${fmtBytes(f.target_bytes)}${f.target_kind === 'quota' ? ' quota' : ''}`;
  if (f.days_to_target === 0) return `${rate}; ${target} reached`;
  if (f.days_to_target === null || f.days_to_target === undefined) return `${rate}; not growing`;
  const d = f.days_to_target;
  return `${rate}; ${target} in ${d < 1 ? 'less than a day' : `${fmtNum(Math.round(d))} day${Math.round(d) === 1 ? '' : 's'}`}`;
}

const ratio = (v, fn) => (v === null || v === undefined ? none : fn(v));

function lastJob(j, what) {
  if (!j) return html`<span class="muted">never</span>`;
  return html`<a href="/jobs/${encodeURIComponent(j.job_id)}">${pill(j.status)}</a> <span class="small">${relEl(j.finished_at)}</span>${what(j)}`;
}

const checkWhat = (j) => html`<div class="small muted">${j.ok === false || j.status === 'failed' ? html`<span class="bad">${fmtNum(j.errors ?? 0)} error${j.errors === 1 ? '' : 's'}</span>` : 'no errors'}${j.read_data_subset ? ` · read ${j.read_data_subset}` : ''}</div>`;
const pruneWhat = (j) => html`<div class="small muted">${j.freed_bytes !== null && j.freed_bytes !== undefined ? `freed ${fmtBytes(j.freed_bytes)}` : ''}</div>`;
const forgetWhat = (j) => html`<div class="small muted">${j.kept !== null && j.kept !== undefined ? `kept ${fmtNum(j.kept)} · removed ${fmtNum(j.removed)}` : ''}</div>`;

function locks(l) {
  if (l === null || l === undefined) return html`<span class="muted">—</span>`;
  if (!l.length) return html`<span class="muted">none</span>`;
  return html`${fmtNum(l.length)}${l.map((k) => html`<div class="small muted" data-testid="repo-lock">${k.exclusive ? 'exclusive' : 'shared'} · ${k.username ? `${k.username}@` : ''}${k.hostname || '?'} pid ${k.pid ?? '?'}${k.time ? html` · ${relEl(k.time)}` : nothing}</div>`)}`;
}

function tiles(r) {
  return [
    tile('Stored size', ratio(r.size_bytes, fmtBytes), 'repo-size'),
    tile('Snapshot data', html`${ratio(r.raw_bytes, fmtBytes)}<div class="small muted">sum of the snapshots' sizes</div>`, 'repo-raw'),
    tile('Deduplication', html`${ratio(r.dedup_ratio, (v) => `${(1 / v).toFixed(1)}×`)}<div class="small muted">${r.dedup_ratio ? `stores ${(r.dedup_ratio * 100).toFixed(0)} % of the data` : ''}</div>`, 'repo-dedup'),
    tile('Compression', html`${ratio(r.compression_ratio, (v) => `${v.toFixed(2)}×`)}<div class="small muted">${r.compression_ratio ? '' : 'not reported (restic < 0.15 or a v1 repository)'}</div>`, 'repo-compression'),
    tile('Snapshots', fmtNum(r.snapshot_count), 'repo-snapshots'),
    tile('Last check', lastJob(r.last_check, checkWhat), 'repo-last-check', r.last_check && r.last_check.status === 'failed' ? 'tile-bad' : ''),
    tile('Last prune', lastJob(r.last_prune, pruneWhat), 'repo-last-prune'),
    tile('Last forget', lastJob(r.last_forget, forgetWhat), 'repo-last-forget'),
    tile('Locks', locks(r.locks), 'repo-locks'),
  ];
}

// s: the page state; this module owns s.repo, s.repoHist, s.repoErr, s.repoDays.
// env: { enc, update, operator }.
export function createRepo(s, env) {
  const { enc, update } = env;
  s.repoDays = s.repoDays || 30;
  let seq = 0;
  const load = async () => {
    const my = ++seq;
    try {
      const [r, hist] = await Promise.all([
        get(`/api/hosts/${enc}/repo`, { quiet: true }),
        get(`/api/hosts/${enc}/repo/history?days=${s.repoDays}`, { quiet: true }),
      ]);
      if (my !== seq) return;
      s.repo = r; s.repoHist = hist; s.repoErr = '';
    } catch (e) {
      if (my === seq && !s.repo) s.repoErr = e.status === 404 ? 'Not available on this server.' : `Could not load: ${e.message}`;
    }
    update();
  };
  const setDays = (d) => { s.repoDays = d; load(); };
  const saveQuota = (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const t = f.elements.quota.value.trim();
    const gib = t === '' ? null : Number(t);
    if (gib !== null && !(gib > 0)) { toast('Quota: a positive number of GiB, or empty for none'); return; }
    busy(f.querySelector('button'), async () => {
      try {
        await put(`/api/hosts/${enc}/settings`, { repo_quota_bytes: gib === null ? null : Math.round(gib * GIB) }, { quiet: true });
        toast(gib === null ? 'Quota removed' : `Quota set to ${fmtBytes(Math.round(gib * GIB))}`, 'ok', 3000);
        await load();
      } catch (e) { if (e.status !== 401) toast(e.message); }
    });
  };

  const sizeChart = (hist) => (hist.points.length
    ? html`<div class="chart" data-testid="repo-size-chart" role="img" aria-label="repository size over ${s.repoDays} days"></div>`
    : html`<p class="muted" data-testid="repo-size-empty">No size reports in this range yet.</p>`);
  const backupChart = (hist) => (hist.backups.length
    ? html`<div class="chart" data-testid="repo-backup-chart" role="img" aria-label="backup duration and data added"></div>`
    : html`<p class="muted" data-testid="repo-backup-empty">No backups in this range yet.</p>`);

  const view = () => {
    if (!s.repo || !s.repoHist) return html`<p class="muted" data-testid="repo-loading">${s.repoErr || 'Loading…'}</p>`;
    const r = s.repo;
    const hist = s.repoHist;
    return html`<section class="tiles tiles-repo" data-testid="repo-health" aria-label="repository health">${tiles(r)}</section>
<section class="card" aria-labelledby="repo-trend-h">
  <div class="card-head"><h2 id="repo-trend-h">Repository size</h2>
    <span class="seg" role="group" aria-label="range">${RANGES.map((d) => html`<button type="button" class="btn btn-sm${s.repoDays === d ? ' btn-primary' : ''}" aria-pressed=${s.repoDays === d ? 'true' : 'false'} data-testid="repo-range-${d}" @click=${() => setDays(d)}>${d} d</button>`)}</span></div>
  <p class="forecast mono" data-testid="repo-forecast" data-ok=${r.forecast && r.forecast.ok ? 'true' : 'false'}>${forecastText(r.forecast)}</p>
  ${sizeChart(hist)}
  ${env.operator ? html`<form class="inline-form" data-testid="quota-form" @submit=${saveQuota}><label for="repo-quota">Quota for the forecast (GiB, empty = next milestone)</label>
<input id="repo-quota" name="quota" class="mono" inputmode="decimal" style="width:10em" .value=${r.quota_bytes ? String(+(r.quota_bytes / GIB).toFixed(3)) : ''}><button type="submit" class="btn btn-sm" data-testid="quota-save">Save</button></form>` : nothing}
</section>
<section class="card" aria-labelledby="repo-bk-h"><h2 id="repo-bk-h">Backups <span class="muted small">(duration and data added, last ${s.repoDays} days)</span></h2>${backupChart(hist)}</section>`;
  };

  // after each render of the tab: (re)draw the charts into their divs
  const afterRender = (root) => {
    const hist = s.repoHist;
    if (!hist) return;
    const sizeEl = root.querySelector('[data-testid="repo-size-chart"]');
    if (sizeEl) {
      drawChart(sizeEl, {
        key: 'size',
        x: hist.points.map((p) => p.t / 1000),
        series: [
          { label: 'stored', values: hist.points.map((p) => p.size_bytes), fmt: fmt.bytes, fill: true },
          { label: 'snapshot data', values: hist.points.map((p) => p.raw_bytes), fmt: fmt.bytes },
        ],
      });
    }
    const bkEl = root.querySelector('[data-testid="repo-backup-chart"]');
    if (bkEl) {
      drawChart(bkEl, {
        key: 'backups',
        x: hist.backups.map((b) => b.t / 1000),
        series: [
          { label: 'duration', values: hist.backups.map((b) => b.duration_s), fmt: fmt.seconds },
          { label: 'data added', values: hist.backups.map((b) => b.data_added), fmt: fmt.bytes, scale: 'y2', bars: true },
        ],
      });
    }
  };
  return { load, view, afterRender };
}
