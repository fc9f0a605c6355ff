// C2 repository care with a real agent and real restic (local repository): forget applies
// one group's retention (restic itself lists what is left, other groups untouched), prune
// frees space (raw-data size smaller, freed_bytes in the job), stale locks (a lock left by a
// kill -9'd restic is removed and the job retried succeeds; a lock of a restic that still
// runs is kept and listed with owner and age), check passes and then fails on a corrupted
// pack file, bad input (unknown group, bad read_data_subset, cadences).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import * as h from './lib/harness.mjs';

const S = { kids: [] };
after(async () => {
  for (const k of S.kids) { try { k.kill('SIGKILL'); } catch { /* gone */ } }
  if (S.server && process.env.RM_DUMP) console.log(S.server.allStderr().slice(-8000));
  await h.cleanup();
});

const REPO_PW = 'e2e-care-repo-password-8813';

const tagged = (tag) => h.resticSnapshots(S.repo, REPO_PW).filter((s) => (s.tags || []).includes(tag));
const rawSize = () => {
  const r = h.restic(['stats', '--json', '--mode', 'raw-data'], { repo: S.repo, password: REPO_PW });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).total_size;
};

function dirSize(d) {
  let n = 0;
  for (const e of fs.readdirSync(d, { withFileTypes: true })) n += e.isDirectory() ? dirSize(path.join(d, e.name)) : fs.statSync(path.join(d, e.name)).size;
  return n;
}

async function group(name, includes, retention) {
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups`, { name, includes, retention });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

async function runGroup(gid) {
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups/${gid}/run`, {});
  assert.equal(r.status, 202, r.text);
  const j = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(j.status, 'succeeded', JSON.stringify(j));
  return j;
}

async function runJob(body, want = 'succeeded') {
  const id = await S.api.runJob(S.hostId, body);
  const j = await S.api.waitJob(id, { timeout: 90000 });
  if (want) assert.equal(j.status, want, JSON.stringify(j));
  return j;
}

// A restic that holds a (non-exclusive) lock until killed: backup --stdin from a pipe that
// never closes. Returns the child once its lock is in the repository.
async function lockHolder() {
  const before = new Set(h.resticLocks(S.repo, REPO_PW));
  const child = spawn(h.RESTIC, ['-r', S.repo, '--no-cache', 'backup', '--stdin', '--stdin-filename', 'hold.txt'],
    { env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), RESTIC_PASSWORD: REPO_PW }, stdio: ['pipe', 'ignore', 'ignore'] });
  S.kids.push(child);
  const id = await h.waitFor(() => h.resticLocks(S.repo, REPO_PW).find((l) => !before.has(l)),
    { timeout: 20000, interval: 100, what: 'the holder restic lock' });
  return { child, id };
}

test('setup: server, real agent, repository ready', async () => {
  const { server, api } = await h.startServerWithAdmin();
  S.server = server; S.api = api;
  S.repo = path.join(h.tmpDir('rm-e2e-care-'), 'repo');
  S.a = h.makeSampleDir({ files: 3 });
  S.b = h.makeSampleDir({ files: 2 });
  const tok = await api.createEnrollment({ hostname: 'care-host', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.a] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(api, S.hostId);
  const host = await h.waitRepoStatus(api, S.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', host.repo_error);
});

test('forget: keep-last 2 on a group with 4 snapshots leaves 2 of it, other groups untouched', async () => {
  S.keep2 = await group('keep2', [S.a], { keep_last: 2 });
  S.other = await group('other', [S.b], { keep_last: 1 });
  for (let i = 0; i < 4; i++) {
    fs.writeFileSync(path.join(S.a, `change-${i}.txt`), `round ${i}\n`);
    await runGroup(S.keep2);
  }
  await runGroup(S.other);
  await runGroup(S.other);
  assert.equal(tagged('keep2').length, 4);
  assert.equal(tagged('other').length, 2);

  // bad input first: nothing runs
  let r = await S.api.post(`/api/hosts/${S.hostId}/jobs`, { kind: 'forget', group: 'nope' });
  assert.equal(r.status, 422, r.text);
  r = await S.api.post(`/api/hosts/${S.hostId}/jobs`, { kind: 'forget', group: 'Bad Name' });
  assert.equal(r.status, 422, r.text);

  const t0 = Date.now();
  const j = await runJob({ kind: 'forget', group: 'keep2' });
  S.figures = { forget_ms: Date.now() - t0 };
  assert.deepEqual(j.stats.groups, [{ group: 'keep2', kept: 2, removed: 2 }], JSON.stringify(j.stats));
  assert.equal(j.stats.kept, 2);
  assert.equal(j.stats.removed, 2);
  assert.equal(tagged('keep2').length, 2, 'restic lists 2 snapshots of keep2');
  assert.equal(tagged('other').length, 2, 'group other untouched');
  const logs = (await S.api.logs(j.id)).map((l) => l.payload).join('\n');
  assert.match(logs, /forget --json --group-by host,tags --host \S+ --tag keep2 --keep-last 2/);
});

test('prune frees space: raw-data smaller and freed_bytes in the job stats', async () => {
  const dir = h.makeSampleDir({ files: 1, bigFiles: 1, bigSize: 2 << 20 });
  const bulk = await group('bulk', [dir], { keep_last: 1 });
  await runGroup(bulk);
  fs.rmSync(path.join(dir, 'big-0.bin'));
  await runGroup(bulk);
  const before = rawSize();
  const f = await runJob({ kind: 'forget', group: 'bulk' });
  assert.equal(f.stats.removed, 1, JSON.stringify(f.stats));
  const diskBefore = dirSize(path.join(S.repo, 'data'));
  const t0 = Date.now();
  const p = await runJob({ kind: 'prune' });
  S.figures.prune_ms = Date.now() - t0;
  const after = rawSize();
  const diskAfter = dirSize(path.join(S.repo, 'data'));
  assert.ok(after < before, `raw-data ${before} -> ${after}`);
  assert.ok(diskAfter < diskBefore - (1 << 20), `repository data ${diskBefore} -> ${diskAfter}`);
  assert.ok(p.stats.freed_bytes > 1 << 20, JSON.stringify(p.stats));
  S.figures.freed_bytes = p.stats.freed_bytes;
  S.figures.raw_before = before; S.figures.raw_after = after;
  S.figures.disk_before = diskBefore; S.figures.disk_after = diskAfter;
  const m = (await S.api.get(`/api/hosts/${S.hostId}/maintenance`)).body;
  assert.equal(m.prune.last_run.stats.freed_bytes, p.stats.freed_bytes, 'the maintenance view says how much was freed');
});

test('stale locks: a kill -9 leftover is removed and the job retried; a live one is kept', async () => {
  // a restic killed with SIGKILL leaves its lock behind (same host, dead PID)
  const dead = await lockHolder();
  dead.child.kill('SIGKILL');
  await h.waitFor(() => dead.child.exitCode !== null || dead.child.signalCode, { timeout: 5000, what: 'holder gone' });
  assert.ok(h.resticLocks(S.repo, REPO_PW).includes(dead.id), 'the lock survived the kill');
  const p = await runJob({ kind: 'prune' });
  const logs = (await S.api.logs(p.id)).map((l) => l.payload).join('\n');
  assert.match(logs, /repository is locked; checking whether its locks are stale/);
  assert.match(logs, /same host and its process is gone/);
  assert.ok(!h.resticLocks(S.repo, REPO_PW).includes(dead.id), 'the dead lock is gone');

  // a restic that still runs: its lock is listed, kept, and an exclusive job fails
  const live = await lockHolder();
  const u = await runJob({ kind: 'unlock' });
  assert.equal(u.stats.kept, 1, JSON.stringify(u.stats));
  assert.equal(u.stats.removed, 0);
  assert.ok(h.resticLocks(S.repo, REPO_PW).includes(live.id), 'the live lock was not removed');
  const r = await S.api.get(`/api/hosts/${S.hostId}/locks`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.locks.length, 1, r.text);
  assert.equal(r.body.locks[0].pid, live.child.pid);
  assert.equal(r.body.locks[0].hostname, os.hostname());
  assert.ok(r.body.locks[0].age_s >= 0 && r.body.locks[0].age_s < 120, r.text);
  const health = await S.api.get(`/api/hosts/${S.hostId}/repo`);
  assert.equal(health.status, 200, health.text);
  assert.equal(health.body.locks.length, 1, 'the health view shows the lock too');
  const failed = await runJob({ kind: 'prune' }, 'failed');
  assert.ok(h.resticLocks(S.repo, REPO_PW).includes(live.id), 'still not removed after the retry');
  assert.match(failed.error || '', /lock/i, failed.error);
  live.child.kill('SIGKILL');
  await h.waitFor(() => live.child.exitCode !== null || live.child.signalCode, { timeout: 5000, what: 'holder gone' });
  await runJob({ kind: 'unlock' });
  assert.deepEqual(h.resticLocks(S.repo, REPO_PW), []);
});

test('cadences: defaults, validation, update', async () => {
  let r = await S.api.get(`/api/hosts/${S.hostId}/maintenance`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.forget.cron, '0 3 * * *');
  assert.equal(r.body.prune.cron, '0 4 * * 0');
  assert.equal(r.body.check.cron, '0 5 1 * *');
  assert.equal(r.body.check.read_data_subset, '5%');
  assert.equal(r.body.forget.enabled, true);
  assert.ok(r.body.forget.next_run, r.text);
  assert.equal(r.body.prune.last_run.status, 'failed', 'last prune (the locked one) shown');
  assert.equal(r.body.forget.runs_on, 'agent');
  for (const bad of [{ check: { read_data_subset: '0%' } }, { check: { read_data_subset: '101%' } }, { check: { read_data_subset: '3/2' } },
    { forget: { cron: '61 * * * *' } }, { prune: { enabled: 'yes' } }, { nope: {} }]) {
    r = await S.api.req('PUT', `/api/hosts/${S.hostId}/maintenance`, bad);
    assert.equal(r.status, 422, `${JSON.stringify(bad)}: ${r.text}`);
  }
  r = await S.api.req('PUT', `/api/hosts/${S.hostId}/maintenance`, { check: { read_data_subset: '1/5', enabled: false }, prune: { cron: '30 2 * * 6' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.check.read_data_subset, '1/5');
  assert.equal(r.body.check.enabled, false);
  assert.equal(r.body.check.next_run, null);
  assert.ok(r.body.prune.next_run, r.text);
  assert.equal(r.body.prune.cron, '30 2 * * 6');
  // the agent runs the cadences itself (no admin slot): a check every minute
  const t0 = Date.now();
  r = await S.api.req('PUT', `/api/hosts/${S.hostId}/maintenance`, { check: { cron: '* * * * *', enabled: true } });
  assert.equal(r.status, 200, r.text);
  const sched = await h.waitFor(async () => {
    const l = await S.api.get(`/api/jobs?host_id=${S.hostId}&limit=50`);
    return (l.body.jobs || []).find((j) => j.kind === 'check' && j.created_by === 'schedule');
  }, { timeout: 100000, interval: 500, what: 'a check the agent started on its cadence' });
  S.figures.sched_check_after_ms = Date.now() - t0;
  const sj = await S.api.waitJob(sched.id, { timeout: 60000 });
  assert.equal(sj.status, 'succeeded', JSON.stringify(sj));
  assert.equal(sj.stats.read_data_subset, '1/5');
  assert.equal(sj.args.schedule_id, 'maint:check');
  r = await S.api.req('PUT', `/api/hosts/${S.hostId}/maintenance`, { check: { enabled: false } });
  assert.equal(r.status, 200, r.text);
  await h.waitFor(async () => (await S.api.host(S.hostId)).schedule_in_sync, { timeout: 15000, what: 'agent in sync' });
  for (const bad of [{ kind: 'check', read_data_subset: '0%' }, { kind: 'check', read_data_subset: 'x/y' }, { kind: 'check', read_data_subset: '150%' }]) {
    r = await S.api.post(`/api/hosts/${S.hostId}/jobs`, bad);
    assert.equal(r.status, 422, `${JSON.stringify(bad)}: ${r.text}`);
  }
});

test('check passes, then fails on a corrupted pack file', async () => {
  const ok = await runJob({ kind: 'check', read_data_subset: '100%' });
  assert.deepEqual(ok.stats, { ok: true, errors: 0, read_data_subset: '100%' });
  // flip bytes in the middle of every pack file of the data directory
  const dataDir = path.join(S.repo, 'data');
  let n = 0;
  for (const sub of fs.readdirSync(dataDir)) {
    for (const f of fs.readdirSync(path.join(dataDir, sub))) {
      const p = path.join(dataDir, sub, f);
      fs.chmodSync(p, 0o600);
      const fd = fs.openSync(p, 'r+');
      const size = fs.fstatSync(fd).size;
      fs.writeSync(fd, crypto.randomBytes(16), 0, 16, Math.floor(size / 2));
      fs.closeSync(fd);
      n++;
    }
  }
  assert.ok(n > 0, 'pack files corrupted');
  const bad = await runJob({ kind: 'check', read_data_subset: '100%' }, 'failed');
  assert.equal(bad.stats.ok, false, JSON.stringify(bad));
  assert.ok(bad.stats.errors >= 1, JSON.stringify(bad.stats));
  const m = (await S.api.get(`/api/hosts/${S.hostId}/maintenance`)).body;
  assert.equal(m.check.last_run.status, 'failed');
  assert.equal(m.check.last_run.stats.ok, false);
  const health = (await S.api.get(`/api/hosts/${S.hostId}/repo`)).body;
  assert.equal(health.last_check.status, 'failed', 'the host\'s health shows the failed check');
  console.log(`# figures: ${JSON.stringify(S.figures)}`);
});
