// Human-readable text for restic's JSON output lines in the job log. The stored lines (and
// the .txt/.ndjson downloads) stay raw; only the viewer shows this text.
//   readable('{"message_type":"summary",...}') -> { kind: 'summary', text: 'Added 12.3 MiB in 41 files (3 new, 2 changed), 4.1 s, snapshot 1a2b3c4d' }
//   readable('plain text')                     -> null (show as is)
import { fmtBytes, fmtNum, fmtDuration } from './util.js';

const n = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const plural = (k, one, many) => `${fmtNum(k)} ${k === 1 ? one : many}`;

function summary(o) {
  const files = n(o.total_files_processed);
  const parts = [`Added ${fmtBytes(n(o.data_added))} in ${plural(files, 'file', 'files')} (${fmtNum(n(o.files_new))} new, ${fmtNum(n(o.files_changed))} changed)`];
  if (typeof o.total_duration === 'number') parts.push(fmtDuration(o.total_duration));
  if (o.snapshot_id) parts.push(`snapshot ${String(o.snapshot_id).slice(0, 8)}`);
  return parts.join(', ');
}

function status(o) {
  const f = Number(o.percent_done) || 0;
  const pct = (f > 1 ? f : f * 100).toFixed(1);
  const parts = [`${pct}%`];
  if (o.total_files !== undefined || o.files_done !== undefined) parts.push(`${fmtNum(n(o.files_done))}${o.total_files ? ` / ${fmtNum(o.total_files)}` : ''} files`);
  if (o.total_bytes !== undefined || o.bytes_done !== undefined) parts.push(`${fmtBytes(n(o.bytes_done))}${o.total_bytes ? ` / ${fmtBytes(o.total_bytes)}` : ''}`);
  if (typeof o.seconds_remaining === 'number' && o.seconds_remaining > 0) parts.push(`ETA ${fmtDuration(o.seconds_remaining)}`);
  if (Array.isArray(o.current_files) && o.current_files.length) parts.push(o.current_files.join(', '));
  if (n(o.error_count)) parts.push(plural(o.error_count, 'error', 'errors'));
  return `progress ${parts.join(' · ')}`;
}

function error(o) {
  const e = o.error && typeof o.error === 'object' ? o.error.message : o.error;
  const where = [o.during, o.item].filter(Boolean).join(' ');
  return `error${where ? ` (${where})` : ''}: ${e || 'unknown'}`;
}

function verbose(o) {
  const action = o.action || 'item';
  const size = typeof o.data_size === 'number' && o.data_size ? ` (${fmtBytes(o.data_size)})` : '';
  return `${action} ${o.item || ''}${size}`;
}

const KINDS = {
  summary: ['summary', summary],
  status: ['status', status],
  error: ['error', error],
  exit_error: ['error', (o) => `fatal: ${o.message || 'unknown'}${o.code !== undefined ? ` (exit ${o.code})` : ''}`],
  verbose_status: ['verbose', verbose],
  initialized: ['summary', (o) => `Repository ${o.id ? `${String(o.id).slice(0, 10)} ` : ''}initialised${o.repository ? ` at ${o.repository}` : ''}`],
};

export function readable(payload) {
  if (typeof payload !== 'string' || payload.length > 65536 || payload.charCodeAt(0) !== 123 /* { */) return null;
  let o;
  try { o = JSON.parse(payload); } catch { return null; }
  if (!o || typeof o !== 'object') return null;
  const k = KINDS[o.message_type];
  if (!k) return null;
  try { return { kind: k[0], text: k[1](o) }; } catch { return null; }
}
