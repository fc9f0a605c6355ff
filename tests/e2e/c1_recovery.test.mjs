// Nothing lost: kill -9 the server mid-backup (restic keeps running, the job ends with its
// real outcome, every log line exactly once); kill -9 the agent mid-job ("agent restarted"
// on its next hello, "agent lost" after a timeout) and the next backup succeeds with the
// stale restic lock removed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const PW = 'recovery-repo-password-5b1e';
const isGone = (pid) => { try { process.kill(pid, 0); return false; } catch { return true; } };

async function setup(env, name) {
  const { server, api } = await h.startServerWithAdmin({ env });
  const repo = path.join(h.tmpDir('rm-e2e-rec-repo-'), 'repo');
  const tok = await api.createEnrollment({ hostname: name, repo_url: repo, repo_password: PW, initial_paths: [S.sample] });
  const agent = await h.startAgent({ server, token: tok.token, restic: S.slowRestic });
  await h.waitHostOnline(api, agent.hostId);
  const host = await h.waitRepoStatus(api, agent.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', `repo_status ${host.repo_status}: ${host.repo_error}`);
  return { server, api, agent, repo, hostId: agent.hostId };
}

// Starts a slow backup and waits until restic is really running under the agent.
async function startSlowBackup(c) {
  const id = await c.api.runJob(c.hostId, { kind: 'backup', paths: [S.big] });
  await c.api.waitJob(id, { timeout: 30000, until: (j) => j.status === 'running' });
  const pids = await h.waitFor(() => { const p = c.agent.children(); return p.length && p; }, { timeout: 15000, what: 'restic running under the agent' });
  // the job.started + the agent's first event line are stored
  await h.waitFor(async () => (await c.api.logs(id)).length >= 1, { timeout: 15000, what: 'first log line stored' });
  // restic has opened the repository and holds its lock (local repo: <repo>/locks/<id>)
  await h.waitFor(() => { try { return fs.readdirSync(path.join(c.repo, 'locks')).length > 0; } catch { return false; } },
    { timeout: 15000, what: 'restic lock file in the repository' });
  return { id, pids };
}

before(async () => {
  S.sample = h.makeSampleDir({ files: 4 });
  // 24 MB at 2 MiB/s: ~12 s of backup
  S.big = h.makeSampleDir({ files: 20, bigFiles: 1, bigSize: 24 << 20 });
  S.slowRestic = h.makeResticWrapper(['--limit-upload', '2048']);
});

test('kill -9 the server mid-backup: job ends with its real outcome, every line exactly once', async () => {
  const c = S.a = await setup({}, 'e2e-rec-a');
  const { id, pids } = await startSlowBackup(c);
  const before = await c.api.logs(id);
  await c.server.kill9();
  // restic keeps running on the agent while the server is gone
  assert.ok(c.agent.alive(), 'agent survives the server');
  assert.ok(pids.every((p) => !isGone(p)), 'restic still running after the server died');
  await c.server.restart(); // same data dir, same port
  const job = await c.api.waitJob(id, { timeout: 90000 });
  assert.equal(job.status, 'succeeded', `${JSON.stringify(job)}\nagent:\n${c.agent.stderr().slice(-3000)}`);
  assert.equal(job.exit_code, 0);
  assert.ok(job.stats?.files_new >= 21, `stats ${JSON.stringify(job.stats)}`);
  const lines = await c.api.logs(id);
  h.assertContiguous(lines, 'lines after server kill -9');
  assert.ok(lines.length > before.length, `lines after the restart (${lines.length}) beyond those before (${before.length})`);
  assert.deepEqual(lines.slice(0, before.length).map((l) => [l.seq, l.payload]), before.map((l) => [l.seq, l.payload]), 'earlier lines unchanged');
  if (job.log_lines !== undefined) assert.equal(job.log_lines, lines.length);
  // the snapshot made while the server was down reaches it
  const real = h.resticSnapshots(c.repo, PW);
  assert.equal(real.length, 1);
  await h.waitFor(async () => (await c.api.get(`/api/hosts/${c.hostId}/snapshots`)).body?.snapshots?.some((s) => s.id === real[0].id),
    { timeout: 20000, what: 'snapshot reported after the restart' });
  assert.equal((await c.api.host(c.hostId)).status, 'online');
});

test('kill -9 the agent mid-job, restart it: job failed "agent restarted"; next backup unlocks and succeeds', async () => {
  const c = S.a;
  const { id, pids } = await startSlowBackup(c);
  await c.agent.kill9(); // agent and its restic (same process group)
  await h.waitFor(() => pids.every(isGone), { timeout: 10000, what: 'restic killed with the agent' });
  assert.ok(h.resticLocks(c.repo, PW).length >= 1, 'the killed restic left a stale lock');
  c.agent.start(); // same config + state, no new enrollment
  const job = await c.api.waitJob(id, { timeout: 30000 });
  assert.equal(job.status, 'failed', JSON.stringify(job));
  assert.match(job.error || '', /agent restarted/i);
  await h.waitHostOnline(c.api, c.hostId);
  const next = await c.api.waitJob(await c.api.runJob(c.hostId, { kind: 'backup', paths: [S.sample] }), { timeout: 60000 });
  assert.equal(next.status, 'succeeded', `${JSON.stringify(next)}\nagent:\n${c.agent.stderr().slice(-3000)}`);
  assert.deepEqual(h.resticLocks(c.repo, PW), [], 'stale lock removed (restic unlock) before/with the next job');
  await c.agent.stop();
  await c.server.stop();
});

test('kill -9 the agent and leave it down: job failed "agent lost"; after restart the next backup succeeds', async () => {
  const c = await setup({ RM_OFFLINE_AFTER_S: '2', RM_JOB_LOST_AFTER_S: '3', RM_SWEEP_INTERVAL_MS: '200' }, 'e2e-rec-b');
  const { id, pids } = await startSlowBackup(c);
  await c.agent.kill9();
  await h.waitFor(() => pids.every(isGone), { timeout: 10000, what: 'restic killed with the agent' });
  const job = await c.api.waitJob(id, { timeout: 30000 });
  assert.equal(job.status, 'failed', JSON.stringify(job));
  assert.match(job.error || '', /agent lost/i);
  assert.equal((await c.api.host(c.hostId)).status, 'offline');
  assert.ok(h.resticLocks(c.repo, PW).length >= 1, 'stale lock present');
  c.agent.start();
  await h.waitHostOnline(c.api, c.hostId);
  const next = await c.api.waitJob(await c.api.runJob(c.hostId, { kind: 'backup', paths: [S.sample] }), { timeout: 60000 });
  assert.equal(next.status, 'succeeded', JSON.stringify(next));
  assert.deepEqual(h.resticLocks(c.repo, PW), [], 'stale lock removed');
  // the failed job stays failed (no late job.finished for a killed restic)
  assert.equal((await c.api.job(id)).status, 'failed');
  await c.agent.stop();
  await c.server.stop();
});
