// Small formatting and DOM helpers shared by every page (template components live in
// components.js).
import { html, render } from './html.js';

export const $ = (sel, el = document) => el.querySelector(sel);
export const $$ = (sel, el = document) => Array.from(el.querySelectorAll(sel));

export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  n = Number(n);
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${u[i]}`;
}

// 12,345 / 0.125 (as toLocaleString('en-US') writes them, without its ICU set-up: the
// first call costs ~60 ms per page load, on the dashboard's critical path)
export function fmtNum(n) {
  if (n === null || n === undefined) return '—';
  const x = Number(n);
  if (!Number.isFinite(x) || Math.abs(x) >= 1e15) return x.toLocaleString('en-US');
  const r = Math.round(x * 1000) / 1000;
  const [i, f] = String(Math.abs(r)).split('.');
  return `${r < 0 ? '-' : ''}${i.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${f ? `.${f}` : ''}`;
}

export function fmtDuration(sec) {
  if (sec === null || sec === undefined || !Number.isFinite(Number(sec))) return '—';
  sec = Number(sec);
  if (sec === 0) return '0 s';
  if (sec < 1) return `${Math.round(sec * 1000)} ms`;
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 1 : 0)} s`;
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(r).padStart(2, '0')}s`;
}

export function relTime(ts, now = Date.now()) {
  if (!ts) return 'never';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '—';
  const d = Math.round((now - t) / 1000);
  const a = Math.abs(d);
  let s;
  if (a < 45) s = 'just now';
  else if (a < 3600) s = `${Math.round(a / 60)}m`;
  else if (a < 86400) s = `${Math.round(a / 3600)}h`;
  else if (a < 86400 * 60) s = `${Math.round(a / 86400)}d`;
  else return absTime(ts).slice(0, 10);
  if (s === 'just now') return s;
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

export function absTime(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '—';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// Keeps every relEl() <time> current (components.js).
export function refreshRelTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time[data-rel]')) {
    const s = relTime(el.dataset.rel, now);
    if (el.textContent !== s) el.textContent = s;
  }
}

// Disable a button while an async action runs.
export async function busy(btn, fn) {
  if (btn) { btn.disabled = true; btn.setAttribute('aria-busy', 'true'); }
  try { return await fn(); } finally {
    if (btn && btn.isConnected) { btn.disabled = false; btn.removeAttribute('aria-busy'); }
  }
}

export function toast(msg, kind = 'error', ms = 6000) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = document.createElement('div');
  el.className = `toast toast-${kind}`;
  el.dataset.testid = 'toast';
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  render(html`<span>${msg}</span><button type="button" class="toast-x" aria-label="dismiss" @click=${() => el.remove()}>×</button>`, el);
  box.appendChild(el);
  while (box.children.length > 5) box.firstChild.remove();
  setTimeout(() => el.remove(), ms);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

export const lines = (s) => String(s || '').split('\n').map((l) => l.trim()).filter(Boolean);

// Times in a given IANA time zone (a host's), falling back to a fixed UTC offset in
// seconds, then to the browser's zone: "2026-12-04 03:17".
const zoneFmts = new Map();
const p2 = (n) => String(n).padStart(2, '0');
export function zonedTime(ts, tz, offsetS) {
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '—';
  if (tz) {
    try {
      let f = zoneFmts.get(tz);
      if (!f) {
        f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
        zoneFmts.set(tz, f);
      }
      const o = {};
      for (const x of f.formatToParts(t)) o[x.type] = x.value;
      return `${o.year}-${o.month}-${o.day} ${o.hour}:${o.minute}`;
    } catch { /* not a zone this browser knows: use the offset */ }
  }
  const d = typeof offsetS === 'number' ? new Date(t + offsetS * 1000) : new Date(t);
  const utc = typeof offsetS === 'number';
  const g = (m) => d[utc ? `getUTC${m}` : `get${m}`]();
  return `${g('FullYear')}-${p2(g('Month') + 1)}-${p2(g('Date'))} ${p2(g('Hours'))}:${p2(g('Minutes'))}`;
}
export const localTime = (ts) => zonedTime(ts, null, undefined);
export const browserZone = () => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local'; } catch { return 'local'; } };
export function utcOffset(s) {
  if (typeof s !== 'number' || !Number.isFinite(s)) return '';
  const a = Math.abs(Math.round(s / 60));
  return `UTC${s < 0 ? '−' : '+'}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}
