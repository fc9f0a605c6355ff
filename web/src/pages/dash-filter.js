// Dashboard filter and sort state: parsed from and written to the URL query, applied to
// the host list. Pure functions (no DOM), so the page stays small and the rules are in
// one place (docs/internals/web.md "Dashboard URL state").
//
//   /?status=offline&backup=failed&tag=db&tag=eu&q=web+0.1&sort=last_backup&dir=desc&live=0
//
// status  online | offline | never | running   (one; running = a job queued or running)
// backup  ok | failed | warning | none          (one; warning = last backup neither
//         succeeded nor failed, e.g. cancelled)
// age     1d | 7d | old | never                 (one; when the last backup finished:
//         within 24 h, within 7 days, longer ago, never)
// tag     repeated; a host must carry every tag given
// q       words, each must occur (case-insensitive) in the name, the reported hostname,
//         a tag, the agent version, the OS or the arch
// sort    a column key (SORTS); dir asc | desc; hosts without a value sort last either way,
//         ties by name then id (stable across refreshes)
// live    0 = frozen view (changes are counted, applied on refresh)
// Unknown or malformed values are ignored; defaults are left out of the URL.

export const STATUSES = ['online', 'offline', 'never', 'running'];
export const BACKUPS = ['ok', 'failed', 'warning', 'none'];
export const AGES = ['1d', '7d', 'old', 'never'];
const DAY = 86400000;
const ageOf = (m, now) => (m.lbAt === null ? 'never' : now - m.lbAt < DAY ? '1d' : now - m.lbAt < 7 * DAY ? '7d' : 'old');
const MAX_TAGS = 20;
const MAX_Q = 200;

const lower = (s) => (typeof s === 'string' ? s.toLowerCase() : '');
const timeOf = (ts) => {
  if (!ts) return null;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : t;
};
// "0.14.10" -> "000000000.000000014.000000010" so versions compare as strings
const verKey = (v) => (v ? lower(v).replace(/\d+/g, (d) => d.padStart(9, '0')) : null);
const STATUS_RANK = { online: 1, offline: 2, never: 3 };

// Per host object (a new object arrives with every change): the lowercase search text
// and the sort keys, computed once.
const metaCache = new WeakMap();
export function meta(h) {
  let m = metaCache.get(h);
  if (m) return m;
  const tags = Array.isArray(h.tags) ? h.tags.filter((t) => typeof t === 'string') : [];
  const lb = h.last_backup || null;
  m = {
    name: lower(h.hostname),
    tags,
    hay: [h.hostname, h.reported_hostname, ...tags, h.agent_version, h.os, h.arch].filter((x) => typeof x === 'string').join('\n').toLowerCase(),
    status: STATUSES.includes(h.status) ? h.status : 'never',
    backup: !lb ? 'none' : lb.status === 'succeeded' ? 'ok' : lb.status === 'failed' ? 'failed' : 'warning',
    lbAt: lb ? timeOf(lb.finished_at) : null,
  };
  metaCache.set(h, m);
  return m;
}

// Sort keys: value or null (null = no value, sorted last).
export const SORTS = {
  name: (h, m) => m.name,
  status: (h, m) => (h.running_job ? 0 : STATUS_RANK[m.status] ?? 3),
  os: (h) => (h.os ? lower(`${h.os}·${h.arch || ''}`) : null),
  last_backup: (h, m) => m.lbAt,
  next_run: (h) => timeOf(h.next_run),
  repo_size: (h) => (typeof h.repo_size_bytes === 'number' ? h.repo_size_bytes : null),
  snapshots: (h) => (typeof h.snapshot_count === 'number' ? h.snapshot_count : null),
  restorable: (h) => timeOf(h.last_drill_ok_at),
  agent: (h) => verKey(h.agent_version),
  restic: (h) => verKey(h.restic_version),
  repo: (h) => (h.repo_status ? lower(h.repo_status) : null),
};

export const DEFAULTS = Object.freeze({ status: '', backup: '', age: '', tags: [], q: '', sort: 'name', dir: 'asc', live: true });

export function parseQuery(query) {
  const q = query instanceof URLSearchParams ? query : new URLSearchParams(query || '');
  const s = { ...DEFAULTS, tags: [] };
  const st = q.get('status');
  if (STATUSES.includes(st)) s.status = st;
  const bk = q.get('backup');
  if (BACKUPS.includes(bk)) s.backup = bk;
  const age = q.get('age');
  if (AGES.includes(age)) s.age = age;
  for (const t of q.getAll('tag')) {
    if (t && t.length <= 100 && !s.tags.includes(t) && s.tags.length < MAX_TAGS) s.tags.push(t);
  }
  const text = (q.get('q') || '').slice(0, MAX_Q);
  if (text.trim()) s.q = text;
  const so = q.get('sort');
  if (so && Object.prototype.hasOwnProperty.call(SORTS, so)) s.sort = so;
  const dir = q.get('dir');
  if (dir === 'asc' || dir === 'desc') s.dir = dir;
  if (q.get('live') === '0') s.live = false;
  return s;
}

export function toQuery(s) {
  const q = new URLSearchParams();
  if (s.status) q.set('status', s.status);
  if (s.backup) q.set('backup', s.backup);
  if (s.age) q.set('age', s.age);
  for (const t of s.tags) q.append('tag', t);
  if (s.q.trim()) q.set('q', s.q);
  if (s.sort !== DEFAULTS.sort) q.set('sort', s.sort);
  if (s.dir !== DEFAULTS.dir) q.set('dir', s.dir);
  if (!s.live) q.set('live', '0');
  const str = q.toString();
  return str ? `?${str}` : '';
}

export const isFiltered = (s) => !!(s.status || s.backup || s.age || s.tags.length || s.q.trim());

const words = (q) => lower(q).split(/\s+/).filter(Boolean);

// Whether h passes the tag and text filters (the facets the counts are taken under).
function passesText(m, tags, ws) {
  for (const t of tags) if (!m.tags.includes(t)) return false;
  for (const w of ws) if (!m.hay.includes(w)) return false;
  return true;
}

const passesStatus = (h, m, s) => !s.status || (s.status === 'running' ? !!h.running_job : m.status === s.status);
const passesFacets = (h, m, s, now) => passesStatus(h, m, s) && (!s.backup || m.backup === s.backup) && (!s.age || ageOf(m, now) === s.age);

export function matcher(s) {
  const ws = words(s.q);
  return (h) => {
    const m = meta(h);
    return passesText(m, s.tags, ws) && passesFacets(h, m, s, Date.now());
  };
}

// One pass over the fleet: the filtered, sorted list, the per-status counts (under the
// tag and text filters, so a chip says what clicking it would show), and every tag in use
// with its count.
export function apply(hosts, s) {
  const ws = words(s.q);
  const counts = { all: 0, online: 0, offline: 0, never: 0, running: 0, ok: 0, failed: 0, warning: 0, none: 0, a1d: 0, a7d: 0, aold: 0, anever: 0 };
  const now = Date.now();
  const tagCount = new Map();
  const keyFn = SORTS[s.sort] || SORTS.name;
  const rows = [];
  for (const h of hosts) {
    const m = meta(h);
    for (const t of m.tags) tagCount.set(t, (tagCount.get(t) || 0) + 1);
    if (!passesText(m, s.tags, ws)) continue;
    counts.all++;
    counts[m.status]++;
    if (h.running_job) counts.running++;
    counts[m.backup]++;
    counts[`a${ageOf(m, now)}`]++;
    if (!passesFacets(h, m, s, now)) continue;
    rows.push({ k: keyFn(h, m), n: m.name, id: h.id, h });
  }
  const sign = s.dir === 'desc' ? -1 : 1;
  rows.sort((a, b) => {
    if (a.k !== b.k) {
      if (a.k === null) return 1;
      if (b.k === null) return -1;
      return (a.k < b.k ? -1 : 1) * sign;
    }
    if (a.n !== b.n) return a.n < b.n ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return { list: rows.map((r) => r.h), counts, tags: tagCount };
}

// Moves h's contribution to view.counts and view.tags by delta (+1 / -1): an update
// that keeps a host in place need not recount the fleet.
export function tally(view, h, s, delta) {
  const m = meta(h);
  for (const t of m.tags) {
    const n = (view.tags.get(t) || 0) + delta;
    if (n > 0) view.tags.set(t, n); else view.tags.delete(t);
  }
  if (!passesText(m, s.tags, words(s.q))) return;
  const c = view.counts;
  c.all += delta;
  c[m.status] += delta;
  if (h.running_job) c.running += delta;
  c[m.backup] += delta;
  c[`a${ageOf(m, Date.now())}`] += delta;
}

// The sort key of h under s (to tell whether an updated host keeps its place).
export const sortKey = (h, s) => (SORTS[s.sort] || SORTS.name)(h, meta(h));
