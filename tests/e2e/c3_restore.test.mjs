// C3 restore end to end against real restic: a deleted file restored through the API to a
// new directory and in place, multi-select, bad input, a cross-host restore with a
// one-job credential, and restore drills (cadence, "last proven restorable", a corrupted
// repository failing the drill).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const PW_A = 'restore-repo-a-password-51c0';
const PW_B = 'restore-repo-b-password-9e44';

function writeTree(root) {
  const files = {
    'docs/report.txt': 'quarterly report\n'.repeat(200),
    'docs/notes.md': '# notes\n' + 'x'.repeat(3000),
    'photos/cat.bin': Buffer.alloc(150000, 7),
    'photos/deep/dog.bin': Buffer.alloc(90000, 3),
    'other/skip.txt': 'not selected\n',
    'odd/[x]*.txt': 'a name that is a glob\n', // unescaped, --include would match xx.txt
    'odd/xx.txt': 'must not come along\n',
  };
  for (const [rel, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  }
  return files;
}

async function backupAndSnapshot(api, hostId, paths) {
  const job = await api.waitJob(await api.runJob(hostId, { kind: 'backup', paths }), { timeout: 60000 });
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  return h.waitFor(async () => {
    const r = await api.get(`/api/hosts/${hostId}/snapshots`);
    return r.body?.snapshots?.find((s) => s.short_id === job.stats.snapshot_id || s.id.startsWith(job.stats.snapshot_id));
  }, { timeout: 20000, what: 'snapshot in the API' });
}

function restore(api, hostId, body) { return api.post(`/api/hosts/${hostId}/restores`, body); }

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({ env: { RM_SWEEP_INTERVAL_MS: '300' } }));
  S.src = h.tmpDir('rm-e2e-restore-src-');
  S.files = writeTree(S.src);
  S.repoA = path.join(h.tmpDir('rm-e2e-restore-repo-a-'), 'repo');
  S.homeA = h.tmpDir('rm-e2e-restore-home-');
  const tok = await S.api.createEnrollment({ hostname: 'e2e-restore-a', repo_url: S.repoA, repo_password: PW_A, initial_paths: [S.src] });
  S.agentA = await h.startAgent({ server: S.server, token: tok.token, env: { HOME: S.homeA } });
  S.hostA = S.agentA.hostId;
  await h.waitHostOnline(S.api, S.hostA);
  const host = await h.waitRepoStatus(S.api, S.hostA, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  S.snap = await backupAndSnapshot(S.api, S.hostA, [S.src]);
});

test('a deleted file comes back through the API: new directory (default target) and in place', async () => {
  const file = path.join(S.src, 'docs/report.txt');
  const original = fs.readFileSync(file);
  const t0 = Date.now();
  fs.rmSync(file);
  const r = await restore(S.api, S.hostA, { snapshot_id: S.snap.short_id, paths: [file], target: { mode: 'new' } });
  assert.equal(r.status, 202, r.text);
  const job = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(job.status, 'succeeded', `${JSON.stringify(job)}\n${S.agentA.stderr().slice(-3000)}`);
  assert.equal(job.kind, 'restore');
  const target = path.join(S.homeA, 'rm-restore', r.body.job_id);
  assert.equal(job.stats.target, target, JSON.stringify(job.stats));
  assert.equal(job.stats.files_restored, 1, JSON.stringify(job.stats));
  assert.equal(job.stats.bytes_restored, original.length);
  assert.deepEqual(fs.readFileSync(path.join(target, file)), original, 'restored bytes equal the original');
  assert.equal(fs.existsSync(file), false, 'a new-directory restore leaves the source alone');
  assert.equal(job.args.snapshot_id, S.snap.id, 'the job carries the full snapshot id');
  // the agent reports its uid; a restore onto an agent that is not root says so
  assert.equal((await S.api.host(S.hostA)).agent_uid, process.getuid());
  assert.equal(r.body.warning === undefined, process.getuid() === 0, `warning: ${r.body.warning}`);

  // in place: admin + the typed host name
  const bad = await restore(S.api, S.hostA, { snapshot_id: S.snap.id, paths: [file], target: { mode: 'in_place' } });
  assert.equal(bad.status, 422, bad.text);
  assert.equal(bad.body.code, 'confirm_hostname');
  const wrong = await restore(S.api, S.hostA, { snapshot_id: S.snap.id, paths: [file], target: { mode: 'in_place', confirm_hostname: 'e2e-restore-b' } });
  assert.equal(wrong.status, 422, wrong.text);
  const ok = await restore(S.api, S.hostA, { snapshot_id: S.snap.id, paths: [file], target: { mode: 'in_place', confirm_hostname: 'e2e-restore-a' } });
  assert.equal(ok.status, 202, ok.text);
  const j2 = await S.api.waitJob(ok.body.job_id, { timeout: 60000 });
  assert.equal(j2.status, 'succeeded', JSON.stringify(j2));
  assert.equal(j2.stats.target, '/');
  assert.deepEqual(fs.readFileSync(file), original, 'restored in place, bytes equal');
  const took = Date.now() - t0;
  console.log(`# delete -> restored (new dir + in place) round trip: ${took} ms`);
  assert.ok(took < 60000, `round trip ${took} ms`);

  const audit = await S.api.get('/api/audit?limit=50&action=restore.create');
  const entries = audit.body.entries.filter((e) => JSON.stringify(e.detail).includes(file));
  assert.equal(entries.length, 2, `both restores audited with their paths: ${audit.text}`);
  const logs = await S.api.logs(r.body.job_id);
  assert.ok(logs.some((l) => /restic restore --json/.test(l.payload)), 'the restic command is in the job log');
});

test('multi-select: two directories in one job, nothing else', async () => {
  const target = path.join(h.tmpDir('rm-e2e-restore-multi-'), 'out');
  const paths = [path.join(S.src, 'docs'), path.join(S.src, 'photos')];
  const r = await restore(S.api, S.hostA, { snapshot_id: S.snap.id, paths, target: { mode: 'new', path: target } });
  assert.equal(r.status, 202, r.text);
  const job = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  for (const rel of ['docs/report.txt', 'docs/notes.md', 'photos/cat.bin', 'photos/deep/dog.bin'])
    assert.deepEqual(fs.readFileSync(path.join(target, S.src, rel)), Buffer.from(S.files[rel]), rel);
  assert.equal(fs.existsSync(path.join(target, S.src, 'other')), false, 'unselected directory not restored');
  // a path is a path: glob characters in a name are not a pattern
  const odd = path.join(S.src, 'odd/[x]*.txt');
  const t2 = path.join(path.dirname(target), 'odd-out');
  const r2 = await restore(S.api, S.hostA, { snapshot_id: S.snap.id, paths: [odd], target: { mode: 'new', path: t2 } });
  assert.equal(r2.status, 202, r2.text);
  const j2 = await S.api.waitJob(r2.body.job_id, { timeout: 60000 });
  assert.equal(j2.status, 'succeeded', JSON.stringify(j2));
  assert.equal(fs.readFileSync(path.join(t2, odd), 'utf8'), S.files['odd/[x]*.txt']);
  assert.deepEqual(fs.readdirSync(path.join(t2, S.src, 'odd')), ['[x]*.txt']);
  assert.equal(job.stats.files_restored, 4, JSON.stringify(job.stats));
  const logs = await S.api.logs(r.body.job_id);
  const cmd = logs.find((l) => /restic restore/.test(l.payload))?.payload || '';
  assert.equal((cmd.match(/--include/g) || []).length, 2, cmd);
});

test('bad input changes nothing: 404 unknown snapshot, 422 paths/target, 400 shapes', async () => {
  const before = (await S.api.get(`/api/jobs?host_id=${S.hostA}&limit=500`)).body.jobs.length;
  const file = path.join(S.src, 'docs/notes.md');
  const cases = [
    [{ snapshot_id: 'deadbeef', paths: [file] }, 404],
    [{ snapshot_id: S.snap.id, paths: ['relative/path'] }, 422],
    [{ snapshot_id: S.snap.id, paths: [`${S.src}/../etc/passwd`] }, 422],
    [{ snapshot_id: S.snap.id, paths: [`${S.src}/a\u0000b`] }, 400], // NUL: refused by the JSON parser
    [{ snapshot_id: S.snap.id, paths: [] }, 422],
    [{ snapshot_id: S.snap.id, paths: [file], target: { mode: 'new', path: 'not/absolute' } }, 422],
    [{ snapshot_id: S.snap.id, paths: [file], target: { mode: 'new', path: '/' } }, 422], // that is in place
    [{ snapshot_id: S.snap.id, paths: [file], target: { mode: 'sideways' } }, 422],
    [{ snapshot_id: S.snap.id, paths: [file], path_map: [{ from: 'x', to: '/y' }] }, 422],
    [{ paths: [file] }, 400],
    [{ snapshot_id: S.snap.id, paths: [file], target: '/tmp/x' }, 400],
  ];
  for (const [body, want] of cases) {
    const r = await restore(S.api, S.hostA, body);
    assert.equal(r.status, want, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
    assert.ok(r.body?.code && r.body?.error, r.text);
  }
  const r404 = await restore(S.api, '01HXXXXXXXXXXXXXXXXXXXXXXX', { snapshot_id: S.snap.id, paths: [file] });
  assert.equal(r404.status, 404);
  const after = (await S.api.get(`/api/jobs?host_id=${S.hostA}&limit=500`)).body.jobs.length;
  assert.equal(after, before, 'no job created by bad input');
});

test('cross-host: host A\'s snapshot restored onto host B with a path map; the credential is gone after', async () => {
  const repoB = path.join(h.tmpDir('rm-e2e-restore-repo-b-'), 'repo');
  const tok = await S.api.createEnrollment({ hostname: 'e2e-restore-b', repo_url: repoB, repo_password: PW_B, initial_paths: [] });
  S.agentB = await h.startAgent({ server: S.server, token: tok.token });
  S.hostB = S.agentB.hostId;
  await h.waitHostOnline(S.api, S.hostB);
  await h.waitRepoStatus(S.api, S.hostB, 'ready', 60000);
  const dest = h.tmpDir('rm-e2e-restore-xhost-');
  const target = path.join(dest, 'landing');
  const from = path.join(S.src, 'photos');
  const r = await restore(S.api, S.hostB, {
    snapshot_id: S.snap.id, source_host_id: S.hostA, paths: [from],
    target: { mode: 'new', path: target }, path_map: [{ from, to: '/restored-photos' }],
  });
  assert.equal(r.status, 202, r.text);
  const job = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(job.status, 'succeeded', `${JSON.stringify(job)}\n${S.agentB.stderr().slice(-3000)}`);
  assert.deepEqual(fs.readFileSync(path.join(target, 'restored-photos/cat.bin')), Buffer.from(S.files['photos/cat.bin']));
  assert.deepEqual(fs.readFileSync(path.join(target, 'restored-photos/deep/dog.bin')), Buffer.from(S.files['photos/deep/dog.bin']));
  assert.deepEqual(fs.readdirSync(target), ['restored-photos'], 'staging directory removed, nothing else left');
  assert.equal(job.args.source_host_id, S.hostA);
  assert.ok(!JSON.stringify(job).includes(PW_A), 'the job row holds no credential');
  // B's state dir (credential store, outbox, cache, markers) and its log never hold A's password
  const leaks = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (fs.readFileSync(p).includes(PW_A)) leaks.push(p); } };
  walk(S.agentB.stateDir);
  assert.deepEqual(leaks, [], 'A\'s password in B\'s state dir');
  assert.ok(!S.agentB.stderr().includes(PW_A), 'A\'s password in B\'s log');
  assert.ok(!S.server.stderr().includes(PW_A), 'A\'s password in the server log');
  const logs = await S.api.logs(r.body.job_id);
  assert.ok(!JSON.stringify(logs).includes(PW_A));
  // B's own repository was not touched and B's own credential still works
  const own = await S.api.waitJob(await S.api.runJob(S.hostB, { kind: 'backup', paths: [dest] }), { timeout: 60000 });
  assert.equal(own.status, 'succeeded', JSON.stringify(own));
  assert.equal(h.resticSnapshots(repoB, PW_B).length, 1);
  // the source credential is admin-only and never an operator's
  const bad = await restore(S.api, S.hostB, { snapshot_id: S.snap.id, source_host_id: 'nope', paths: [from] });
  assert.equal(bad.status, 404, bad.text);
});

test('roles: operators restore to new directories; in place and cross-host need admin; viewers neither', async () => {
  const user = async (username, role) => {
    const r = await S.api.post('/api/users', { username, role });
    assert.equal(r.status, 201, r.text);
    const api = new h.Api(S.server.url);
    const set = await api.post('/api/setup', { token: r.body.setup_token, password: `${username}-long-password-8812` });
    assert.equal(set.status, 200, set.text);
    return api;
  };
  const op = await user('restore-op', 'operator');
  const viewer = await user('restore-viewer', 'viewer');
  const file = path.join(S.src, 'docs/notes.md');
  const inPlace = { snapshot_id: S.snap.id, paths: [file], target: { mode: 'in_place', confirm_hostname: 'e2e-restore-a' } };
  const cross = { snapshot_id: S.snap.id, source_host_id: S.hostA, paths: [file] };
  for (const [api, body, host, want] of [[op, inPlace, S.hostA, 403], [op, cross, S.hostB, 403], [viewer, { snapshot_id: S.snap.id, paths: [file] }, S.hostA, 403]]) {
    const r = await restore(api, host, body);
    assert.equal(r.status, want, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
  }
  assert.equal((await viewer.get(`/api/hosts/${S.hostA}/drill`)).status, 200, 'viewers see the drill state');
  assert.equal((await viewer.req('PUT', `/api/hosts/${S.hostA}/drill`, { enabled: false })).status, 403);
  const t = path.join(h.tmpDir('rm-e2e-restore-op-'), 'out');
  const ok = await restore(op, S.hostA, { snapshot_id: S.snap.id, paths: [file], target: { mode: 'new', path: t } });
  assert.equal(ok.status, 202, ok.text);
  const job = await S.api.waitJob(ok.body.job_id, { timeout: 60000 });
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  assert.equal(job.created_by, 'restore-op');
  assert.deepEqual(fs.readFileSync(path.join(t, file)), Buffer.from(S.files['docs/notes.md']));
});

test('a slow restore streams progress (files, bytes, current file) and cancel stops it', async () => {
  // restic 0.14 prints no restore progress: the agent counts what lands in the target
  const src = h.tmpDir('rm-e2e-restore-big-');
  const big = path.join(src, 'big.bin');
  const fd = fs.openSync(big, 'w');
  for (let i = 0; i < 24; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20)); // incompressible: ~12 s at 2 MiB/s
  fs.closeSync(fd);
  fs.writeFileSync(path.join(src, 'small.txt'), 'small\n');
  const repo = path.join(h.tmpDir('rm-e2e-restore-repo-c-'), 'repo');
  const tok = await S.api.createEnrollment({ hostname: 'e2e-restore-c', repo_url: repo, repo_password: 'restore-repo-c-pw-77aa', initial_paths: [src] });
  const agent = await h.startAgent({ server: S.server, token: tok.token, restic: h.makeResticWrapper(['--limit-download', '2048']) });
  await h.waitHostOnline(S.api, agent.hostId);
  await h.waitRepoStatus(S.api, agent.hostId, 'ready', 60000);
  const snap = await backupAndSnapshot(S.api, agent.hostId, [src]);
  const target = path.join(h.tmpDir('rm-e2e-restore-slow-'), 'out');
  const r = await restore(S.api, agent.hostId, { snapshot_id: snap.id, paths: [big], target: { mode: 'new', path: target } });
  assert.equal(r.status, 202, r.text);
  const ws = await h.wsConnect(`${S.api.base.replace(/^http/, 'ws')}/api/jobs/${r.body.job_id}/stream`,
    { protocol: 'rm-stream.v1', headers: { Cookie: S.api.cookieHeader(), Origin: S.api.base } });
  const prog = await ws.waitMessage((m) => m.type === 'progress' && m.progress?.files_done >= 1 && m.progress?.current_file, 30000, 'restore progress')
    .catch(async (e) => { e.message += `\n${JSON.stringify(ws.messages).slice(0, 3000)}\n${JSON.stringify(await S.api.job(r.body.job_id))}\n${agent.stderr().slice(-3000)}`; throw e; });
  assert.equal(prog.progress.current_file, path.join(target, big), JSON.stringify(prog));
  assert.ok(prog.progress.bytes_done > 0, JSON.stringify(prog));
  const c = await S.api.post(`/api/jobs/${r.body.job_id}/cancel`);
  assert.equal(c.status, 202, c.text);
  const job = await S.api.waitJob(r.body.job_id, { timeout: 30000 });
  assert.equal(job.status, 'cancelled', JSON.stringify(job));
  await h.waitFor(() => agent.children().length === 0, { timeout: 10000, what: 'restic gone after cancel' });
  ws.destroy();
  // the next restore runs (stale lock removed first)
  const small = path.join(src, 'small.txt');
  // a new-directory restore never writes over files: the half-filled target is refused
  const again = await restore(S.api, agent.hostId, { snapshot_id: snap.id, paths: [small], target: { mode: 'new', path: target } });
  const ja = await S.api.waitJob(again.body.job_id, { timeout: 60000 });
  assert.equal(ja.status, 'failed', JSON.stringify(ja));
  assert.match(ja.error, /not an empty directory/);
  const target2 = path.join(path.dirname(target), 'out2');
  const r2 = await restore(S.api, agent.hostId, { snapshot_id: snap.id, paths: [small], target: { mode: 'new', path: target2 } });
  const j2 = await S.api.waitJob(r2.body.job_id, { timeout: 60000 });
  assert.equal(j2.status, 'succeeded', JSON.stringify(j2));
  assert.equal(fs.readFileSync(path.join(target2, small), 'utf8'), 'small\n');
  await agent.stop();
  h.assertNoSanitizer(agent.allStderr(), 'agent C');
});

test('restore drill: runs on its cadence, host shows last proven restorable; a corrupted repository fails it', async () => {
  const put = await S.api.req('PUT', `/api/hosts/${S.hostA}/drill`, { interval_s: 5, sample_files: 20 });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.interval_s, 5);
  assert.equal(put.body.enabled, true);
  const badPut = await S.api.req('PUT', `/api/hosts/${S.hostA}/drill`, { interval_s: 1 });
  assert.equal(badPut.status, 422, badPut.text);
  const drill = await h.waitFor(async () => {
    const jobs = (await S.api.get(`/api/jobs?host_id=${S.hostA}&limit=50`)).body.jobs;
    return jobs.find((j) => j.kind === 'drill' && ['succeeded', 'failed'].includes(j.status));
  }, { timeout: 60000, what: 'a drill job on its cadence' });
  assert.equal(drill.status, 'succeeded', `${JSON.stringify(drill)}\n${S.agentA.stderr().slice(-3000)}`);
  assert.equal(drill.created_by, 'system:drill');
  assert.equal(drill.stats.ok, true);
  assert.equal(drill.stats.mismatches, 0);
  assert.equal(drill.stats.files_checked, 7, JSON.stringify(drill.stats));
  assert.ok(drill.stats.bytes_checked > 240000, JSON.stringify(drill.stats));
  assert.equal(drill.stats.snapshot_id, S.snap.id);
  const host = await S.api.host(S.hostA);
  assert.ok(host.last_drill_ok_at, `last proven restorable: ${JSON.stringify(host)}`);
  const list = (await S.api.get('/api/hosts')).body.hosts.find((x) => x.id === S.hostA);
  assert.equal(list.last_drill_ok_at, host.last_drill_ok_at);
  assert.equal(fs.readdirSync(path.join(S.agentA.stateDir, 'drill')).length, 0, 'scratch copy deleted');

  // stop the cadence, corrupt every data pack, run a drill now: it must fail
  const off = await S.api.req('PUT', `/api/hosts/${S.hostA}/drill`, { enabled: false });
  assert.equal(off.body.enabled, false);
  await h.waitFor(async () => !(await S.api.get(`/api/jobs?host_id=${S.hostA}&limit=20`)).body.jobs.some((j) => ['queued', 'running'].includes(j.status)),
    { timeout: 60000, what: 'no active job' });
  const packs = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else packs.push(p); } };
  walk(path.join(S.repoA, 'data'));
  assert.ok(packs.length > 0);
  for (const p of packs) { fs.chmodSync(p, 0o600); const n = fs.statSync(p).size; fs.writeFileSync(p, Buffer.alloc(n, 0x5a)); }
  const r = await S.api.post(`/api/hosts/${S.hostA}/drill/run`);
  assert.equal(r.status, 202, r.text);
  const failed = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(failed.status, 'failed', JSON.stringify(failed));
  assert.ok(failed.error, 'a failed drill says why');
  const after = await S.api.host(S.hostA);
  assert.equal(after.last_drill?.status, 'failed');
  assert.equal(after.last_drill_ok_at, host.last_drill_ok_at, 'last proven restorable stays at the last success');
});

test('no sanitizer reports', async () => {
  await S.agentA?.stop();
  await S.agentB?.stop();
  h.assertNoSanitizer(S.agentA.allStderr(), 'agent A');
  h.assertNoSanitizer(S.agentB.allStderr(), 'agent B');
});
