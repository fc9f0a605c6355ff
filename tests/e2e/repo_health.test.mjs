// C2 repository health and the retention preview, end to end with a real agent and
// Debian's restic 0.14: after backups, GET /api/hosts/{id}/repo and /repo/history have
// points; snapshots show size and file count (from their backup jobs: 0.14 snapshots have
// no summary); the fleet history sums the host; the retention preview runs
// `restic forget --dry-run` on the agent and changes nothing; an offline host is refused
// at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const REPO_PW = 'repo-health-pw-3c71';

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin());
  S.sample = h.makeSampleDir({ files: 6 });
  S.repo = path.join(h.tmpDir('rm-e2e-health-repo-'), 'repo');
  const tok = await S.api.createEnrollment({ hostname: 'health-1', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server: S.server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(S.api, S.hostId);
  const host = await h.waitRepoStatus(S.api, S.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', `${host.repo_error}\n${S.agent.stderr().slice(-2000)}`);
  const g = await S.api.post(`/api/hosts/${S.hostId}/groups`, { name: 'docs', includes: [S.sample], retention: { keep_last: 5 } });
  assert.equal(g.status, 201, g.text);
  S.group = g.body.id;
});

async function groupBackup() {
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups/${S.group}/run`, {});
  assert.equal(r.status, 202, r.text);
  const job = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(job.status, 'succeeded', `${JSON.stringify(job)}\n${S.agent.stderr().slice(-2000)}`);
  return job;
}

test('three backups: snapshots carry size and file count on restic 0.14', async () => {
  S.jobs = [];
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(S.sample, `added-${i}.bin`), crypto.randomBytes(20000 * (i + 1)));
    S.jobs.push(await groupBackup());
  }
  const snaps = await h.waitFor(async () => {
    const r = await S.api.get(`/api/hosts/${S.hostId}/snapshots`);
    return r.body?.snapshots?.length === 3 && r.body.snapshots;
  }, { timeout: 20000, what: '3 snapshots in the API' });
  for (const s of snaps) {
    const job = S.jobs.find((j) => j.stats.snapshot_id === s.short_id);
    assert.ok(job, `snapshot ${s.short_id} made by one of our jobs`);
    assert.equal(s.size_bytes, job.stats.total_bytes_processed, JSON.stringify(s));
    assert.equal(s.file_count, job.stats.total_files_processed, JSON.stringify(s));
    assert.ok(s.size_bytes > 20000 && s.file_count >= 7, JSON.stringify(s));
    assert.equal(s.size_source, 'job', '0.14 snapshots have no summary of their own');
  }
});

test('repository health: size, raw size, dedup ratio, last jobs, forecast honest about too little data', async () => {
  const r = await S.api.get(`/api/hosts/${S.hostId}/repo`);
  assert.equal(r.status, 200, r.text);
  const o = r.body;
  const real = JSON.parse(h.restic(['stats', '--json', '--mode', 'raw-data'], { repo: S.repo, password: REPO_PW }).stdout);
  assert.equal(o.size_bytes, real.total_size, 'size is what restic stats --mode raw-data says');
  assert.equal(o.snapshot_count, 3);
  const snaps = (await S.api.get(`/api/hosts/${S.hostId}/snapshots`)).body.snapshots;
  assert.equal(o.raw_bytes, snaps.reduce((a, s) => a + s.size_bytes, 0), 'raw = the sum of the snapshot sizes');
  assert.ok(o.dedup_ratio > 0 && o.dedup_ratio < 1, `dedup ${o.dedup_ratio}: three overlapping snapshots dedupe`);
  assert.equal(o.compression_ratio, null, 'restic 0.14 reports no compression');
  assert.equal(o.last_check, null);
  assert.equal(o.last_prune, null);
  assert.equal(o.last_forget, null);
  assert.ok('locks' in o);
  assert.equal(o.forecast.ok, false);
  assert.equal(o.forecast.reason, 'too_short', JSON.stringify(o.forecast));
  const bad = await S.api.get('/api/hosts/nope/repo');
  assert.equal(bad.status, 404);
});

test('history: a size point per stats report, a point per backup, the fleet total', async () => {
  const r = await S.api.get(`/api/hosts/${S.hostId}/repo/history?days=7`);
  assert.equal(r.status, 200, r.text);
  // init + three backups each report stats
  assert.ok(r.body.points.length >= 4, `points: ${r.text}`);
  const last = r.body.points.at(-1);
  assert.equal(last.snapshot_count, 3);
  assert.ok(r.body.points.every((p, i, a) => !i || p.t >= a[i - 1].t), 'oldest first');
  assert.equal(r.body.backups.length, 3);
  for (const b of r.body.backups) {
    assert.ok(b.duration_s > 0, JSON.stringify(b));
    assert.ok(b.data_added > 0, JSON.stringify(b));
    assert.ok(Number.isInteger(b.files_new) && Number.isInteger(b.files_changed), JSON.stringify(b));
  }
  for (const bad of ['0', '-1', 'x', '3651']) {
    const e = await S.api.get(`/api/hosts/${S.hostId}/repo/history?days=${bad}`);
    assert.equal(e.status, 400, `days=${bad}: ${e.text}`);
  }
  const f = await S.api.get('/api/repo/fleet-history?days=2');
  assert.equal(f.status, 200, f.text);
  assert.ok(f.body.points.length >= 1, f.text);
  assert.equal(f.body.points.at(-1).size_bytes, last.size_bytes, 'one host: the fleet total is its size');
});

// Ten days of history cannot be waited for: earlier reports go into the server's database
// directly (sqlite3 CLI, as c2_api does), growing by a twentieth of the first backup's
// size a day up to that backup's report. Returns the daily step.
function backfillHistory(server, hostId, first) {
  const db = path.join(server.dataDir, 'restic-manager.db');
  const day = 86400000;
  const step = Math.floor(first.size_bytes / 20);
  const rows = [];
  for (let d = 10; d >= 1; d--) rows.push(`('${hostId}', ${first.t - d * day}, ${first.size_bytes - d * step}, NULL, NULL, NULL, 3)`);
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, `INSERT INTO repo_history VALUES ${rows.join(',')}`]);
  return step;
}

test('forecast: with 10 days of history, bytes per day and days to the next milestone', async () => {
  const first = (await S.api.get(`/api/hosts/${S.hostId}/repo/history`)).body.points.find((p) => p.snapshot_count > 0);
  const step = backfillHistory(S.server, S.hostId, first);
  const o = (await S.api.get(`/api/hosts/${S.hostId}/repo`)).body;
  const f = o.forecast;
  assert.equal(f.ok, true, JSON.stringify(f));
  assert.equal(f.reason, null);
  // 10 backfilled + 3 backups (the report of the empty repository after init is left out)
  assert.equal(f.points, 13, JSON.stringify(f));
  assert.ok(f.span_days > 9.9, JSON.stringify(f));
  // `step` a day, then today's backups add more within a minute: steeper, same order
  assert.ok(f.bytes_per_day > step && f.bytes_per_day < 5 * step, `step ${step}: ${JSON.stringify(f)}`);
  assert.equal(f.target_kind, 'milestone');
  assert.ok(f.target_bytes > o.size_bytes && [1024, 10240, 102400, 1048576, 10485760].includes(f.target_bytes), JSON.stringify(f));
  assert.ok(Math.abs(f.days_to_target - (f.target_bytes - o.size_bytes) / f.bytes_per_day) < 1e-6, JSON.stringify(f));
  const hist = (await S.api.get(`/api/hosts/${S.hostId}/repo/history?days=3`)).body;
  assert.ok(hist.points.every((p) => p.t >= Date.now() - 3 * 86400000 - 5000), 'only the days asked for');
  assert.equal(hist.forecast.ok, true, 'the forecast still looks at 30 days');
  const fleet = (await S.api.get('/api/repo/fleet-history?days=30')).body;
  assert.ok(fleet.points.length >= 11, JSON.stringify(fleet.points));
  assert.equal(fleet.bucket_ms, 86400000);
  assert.equal(fleet.forecast.ok, true, JSON.stringify(fleet.forecast));
  S.forecast = f;
});

test('last check / prune / forget come from the newest such job, in the stats shapes of the maintenance kinds', async () => {
  // the kinds themselves are another piece of work: their finished rows, as the agent
  // would report them, go into the database directly
  const db = path.join(S.server.dataDir, 'restic-manager.db');
  const t = Date.now();
  const row = (id, kind, status, stats, ago, error = null) =>
    `('${id}', '${S.hostId}', '${kind}', '${status}', '${JSON.stringify(stats)}', ${error ? `'${error}'` : 'NULL'}, ${t - ago - 1000}, ${t - ago})`;
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, 'INSERT INTO jobs (id, host_id, kind, status, stats, error, created_at, finished_at) VALUES ' + [
    row('01JCHECKOLD000000000000000', 'check', 'succeeded', { ok: true, errors: 0, read_data_subset: '5%' }, 60000),
    row('01JCHECKNEW000000000000000', 'check', 'failed', { ok: false, errors: 2, read_data_subset: '10%' }, 1000, 'check found 2 errors'),
    row('01JPRUNE000000000000000000', 'prune', 'succeeded', { freed_bytes: 123456, packs_removed: 3 }, 2000),
    row('01JFORGET00000000000000000', 'forget', 'succeeded', { groups: [{ group: 'docs', kept: 2, removed: 1 }], kept: 2, removed: 1 }, 3000),
    row('01JFORGETRUN0000000000000', 'forget', 'running', {}, 0).replace(`, ${t}`, ', NULL'),
  ].join(',')]);
  const o = (await S.api.get(`/api/hosts/${S.hostId}/repo`)).body;
  assert.equal(o.last_check.job_id, '01JCHECKNEW000000000000000', 'the newest check');
  assert.equal(o.last_check.status, 'failed');
  assert.equal(o.last_check.ok, false);
  assert.equal(o.last_check.errors, 2);
  assert.equal(o.last_check.read_data_subset, '10%');
  assert.equal(o.last_check.error, 'check found 2 errors');
  assert.equal(o.last_prune.freed_bytes, 123456);
  assert.equal(o.last_prune.stats.packs_removed, 3);
  assert.equal(o.last_forget.job_id, '01JFORGET00000000000000000', 'a running forget is not the last one');
  assert.equal(o.last_forget.kept, 2);
  assert.equal(o.last_forget.removed, 1);
});

test('the forecast quota is a host setting: set, shown, validated, removed', async () => {
  const set = `/api/hosts/${S.hostId}/settings`;
  let r = await S.api.req('PUT', set, { repo_quota_bytes: 500 * 1024 ** 3 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.repo_quota_bytes, 500 * 1024 ** 3);
  const q = (await S.api.get(`/api/hosts/${S.hostId}/repo`)).body;
  assert.equal(q.quota_bytes, 500 * 1024 ** 3);
  assert.equal(q.forecast.target_kind, 'quota');
  assert.equal(q.forecast.target_bytes, 500 * 1024 ** 3);
  for (const bad of [0, -5, 'x', 1.5]) {
    r = await S.api.req('PUT', set, { repo_quota_bytes: bad });
    assert.equal(r.status, 422, `${bad}: ${r.text}`);
    assert.equal(r.body.field, 'repo_quota_bytes');
  }
  assert.equal((await S.api.get(set)).body.repo_quota_bytes, 500 * 1024 ** 3, 'bad input changes nothing');
  r = await S.api.req('PUT', set, { repo_quota_bytes: null });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.repo_quota_bytes, null);
  assert.equal((await S.api.get(`/api/hosts/${S.hostId}/repo`)).body.quota_bytes, null);
});

test('retention preview: restic forget --dry-run through the agent; nothing removed', async () => {
  const url = `/api/hosts/${S.hostId}/groups/${S.group}/retention-preview`;
  const t0 = Date.now();
  const r = await S.api.post(url, { retention: { keep_last: 1 } });
  assert.equal(r.status, 200, r.text);
  S.previewMs = Date.now() - t0;
  assert.equal(r.body.group, 'docs');
  assert.equal(r.body.keep.length, 1, r.text);
  assert.equal(r.body.remove.length, 2, r.text);
  const newest = S.jobs.at(-1).stats.snapshot_id;
  assert.equal(r.body.keep[0].short_id, newest, 'the newest is kept');
  assert.ok(r.body.keep[0].reasons.includes('last snapshot'), JSON.stringify(r.body.keep[0]));
  for (const x of r.body.remove) assert.deepEqual(x.reasons, []);
  // the group's stored retention (keep_last 5) when the body names none: all kept
  const stored = await S.api.post(url, {});
  assert.equal(stored.status, 200, stored.text);
  assert.equal(stored.body.keep.length, 3);
  assert.equal(stored.body.remove.length, 0);
  // nothing was forgotten
  assert.equal(h.resticSnapshots(S.repo, REPO_PW).length, 3);
  // bad input
  let e = await S.api.post(url, { retention: { keep_daily: 10001 } });
  assert.equal(e.status, 422, e.text);
  assert.equal(e.body.field, 'keep_daily');
  e = await S.api.post(url, { retention: { keep_within: '7 days' } });
  assert.equal(e.status, 422, e.text);
  e = await S.api.post(url, { retention: {} });
  assert.equal(e.status, 422, e.text);
  assert.equal(e.body.field, 'retention');
  e = await S.api.post(`/api/hosts/${S.hostId}/groups/nope/retention-preview`, { retention: { keep_last: 1 } });
  assert.equal(e.status, 404, e.text);
});

test('retention preview of an offline host: 409 host_offline at once', async () => {
  await S.agent.stop();
  await h.waitFor(async () => (await S.api.host(S.hostId)).status === 'offline', { timeout: 20000, what: 'host offline' });
  const t0 = Date.now();
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups/${S.group}/retention-preview`, { retention: { keep_last: 1 } });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.code, 'host_offline');
  assert.ok(Date.now() - t0 < 2000, 'answered at once');
  console.log(`# retention preview round trip (3 snapshots, restic 0.14): ${S.previewMs} ms`);
  console.log(`# forecast after backfill: ${JSON.stringify(S.forecast)}`);
});
