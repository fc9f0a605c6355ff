// Time-series charts: a thin layer over uPlot (canvas, ~50 KiB minified), bundled like the
// rest but split into its own chunk, loaded on the first chart (the fleet list and the
// job pages never pay for it). Templates render an empty <div class="chart">; after
// render, drawChart(el, spec) puts a uPlot into it and later calls only swap the data.
// lit never touches the div's children (the template has no bindings inside it).
import 'uplot/dist/uPlot.min.css';
import { fmtBytes, fmtDuration } from './util.js';

const live = new WeakMap(); // el -> { u, key, width }
let lib = null; // the uPlot module, once loaded
const load = () => (lib ||= import('uplot').then((m) => m.default));

export const fmt = {
  bytes: (v) => (v === null || v === undefined ? '—' : fmtBytes(v)),
  seconds: (v) => (v === null || v === undefined ? '—' : fmtDuration(v)),
  num: (v) => (v === null || v === undefined ? '—' : String(Math.round(v))),
};

const css = (name, def) => (getComputedStyle(document.documentElement).getPropertyValue(name).trim() || def);

// spec: { key (changes when the series set changes), x: [unix seconds...],
//   series: [{ label, values: [...], color?, fmt?, scale?: 'y' | 'y2', bars? }], height? }
// Two scales at most: the first series' on the left, a 'y2' one on the right.
// The data's own span plus a margin (bars at the edges stay whole); a lone point (a new
// install) gets an hour around it instead of uPlot's range of years.
function xRange(u, min, max) {
  if (min === null || max === null) { const now = Date.now() / 1000; return [now - 1800, now + 1800]; }
  if (max - min < 60) return [min - 1800, max + 1800];
  const pad = (max - min) * 0.04;
  return [min - pad, max + pad];
}

export async function drawChart(el, spec) {
  if (!el) return;
  const uPlot = await load();
  if (!el.isConnected) return;
  const width = Math.max(240, el.clientWidth || 600);
  const data = [spec.x, ...spec.series.map((s) => s.values)];
  const cur = live.get(el);
  if (cur && cur.key === spec.key && cur.width === width) { cur.u.setData(data); return; }
  if (cur) cur.u.destroy();
  const grid = { stroke: css('--line', '#232831'), width: 1 };
  const axisBase = { stroke: css('--muted', '#8a929e'), grid, ticks: grid, font: '11px system-ui, sans-serif' };
  const left = spec.series[0];
  const right = spec.series.find((s) => s.scale === 'y2');
  const axes = [
    { ...axisBase },
    { ...axisBase, scale: 'y', size: 70, values: (u, ticks) => ticks.map(left.fmt || fmt.num) },
  ];
  if (right) axes.push({ ...axisBase, scale: 'y2', side: 1, size: 70, grid: { show: false }, values: (u, ticks) => ticks.map(right.fmt || fmt.num) });
  const colors = [css('--accent', '#7aa2f7'), css('--ok', '#3fb27f'), css('--warn', '#d6a03c')];
  const u = new uPlot({
    width,
    height: spec.height || 200,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true, range: xRange }, y: { auto: true, range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] }, ...(right ? { y2: { auto: true, range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } } : {}) },
    axes,
    series: [
      {},
      ...spec.series.map((s, i) => ({
        label: s.label,
        scale: s.scale || 'y',
        stroke: s.color || colors[i % colors.length],
        width: 1.5,
        fill: s.fill ? `${s.color || colors[i % colors.length]}22` : undefined,
        points: { show: spec.x.length < 60, size: 5 },
        value: (u, v) => (s.fmt || fmt.num)(v),
        ...(s.bars ? { paths: uPlot.paths.bars({ size: [0.6, 24] }), points: { show: false } } : {}),
      })),
    ],
  }, data, el);
  live.set(el, { u, key: spec.key, width });
}

export function destroyChart(el) {
  const cur = el && live.get(el);
  if (cur) { cur.u.destroy(); live.delete(el); }
}
