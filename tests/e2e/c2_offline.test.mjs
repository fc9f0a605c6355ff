// C2: the agent is autonomous. With the server stopped for 3 minutes an every-minute
// schedule keeps backing up, and after the restart every job, log line and snapshot
// arrives exactly once. With the agent stopped across 3 windows, its restart runs exactly
// one catch-up. Real server, real agent, real restic; these take minutes by nature.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const REPO_PW = 'e2e-c2-offline-password-8830';
const S = {};

async function jobsOf(api, hostId) {
  const r = await api.get(`/api/jobs?host_id=${hostId}&limit=500`);
  assert.equal(r.status, 200, r.text);
  return r.body.jobs;
}

test('setup: server, agent, an every-minute schedule producing scheduled jobs', async () => {
  const { server, api } = await h.startServerWithAdmin({ env: { RM_JOB_LOST_AFTER_S: '3600' } });
  S.server = server; S.api = api;
  S.repo = path.join(h.tmpDir('rm-e2e-c2off-'), 'repo');
  S.sample = h.makeSampleDir({ files: 3 });
  const tok = await api.createEnrollment({ hostname: 'c2-offline', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server, token: tok.token });
  const hostId = S.agent.hostId;
  await h.waitHostOnline(api, hostId);
  assert.equal((await h.waitRepoStatus(api, hostId, 'ready', 60000)).repo_status, 'ready');
  const g = await api.get(`/api/hosts/${hostId}/groups`);
  S.group = g.body.groups[0];
  const r = await api.post(`/api/hosts/${hostId}/schedules`, { cron: '* * * * *', group_ids: [S.group.id] });
  assert.equal(r.status, 201, r.text);
  await h.waitFor(async () => (await api.host(hostId)).schedule_in_sync, { timeout: 15000, what: 'in sync' });
  await h.waitFor(async () => (await jobsOf(api, hostId)).some((j) => j.created_by === 'schedule' && j.status === 'succeeded'),
    { timeout: 130000, interval: 1000, what: 'a first scheduled backup' });
});

test('server stopped for 3 minutes: the backups run meanwhile arrive complete, none doubled', async () => {
  const { api } = S;
  const hostId = S.agent.hostId;
  const seen = new Set((await jobsOf(api, hostId)).map((j) => j.id));
  const snapsBefore = h.resticSnapshots(S.repo, REPO_PW).length;
  await S.server.stop();
  const down = Date.now();
  await h.sleep(180000); // the scenario itself: three schedule windows without a server
  const snapsDuring = h.resticSnapshots(S.repo, REPO_PW).length;
  assert.ok(snapsDuring >= snapsBefore + 2, `backups went on without the server: ${snapsBefore} -> ${snapsDuring}`);
  await S.server.start();
  await api.login();
  const fresh = await h.waitFor(async () => {
    const js = (await jobsOf(api, hostId)).filter((j) => !seen.has(j.id) && j.created_by === 'schedule' && Date.parse(j.created_at) < down + 180000);
    return js.length >= 2 && js.every((j) => j.status === 'succeeded') && js;
  }, { timeout: 90000, interval: 1000, what: '>= 2 scheduled jobs from the outage, finished' });
  for (const j of fresh) {
    const lines = await api.logs(j.id);
    assert.ok(lines.length > 0, `job ${j.id} has its log`);
    h.assertContiguous(lines, `log of ${j.id}`);
    assert.equal(j.log_lines, lines.length, `job ${j.id}: log_lines matches the stored lines`);
  }
  const all = await jobsOf(api, hostId);
  assert.equal(new Set(all.map((j) => j.id)).size, all.length, 'no duplicate job rows');
  const snapsRestic = h.resticSnapshots(S.repo, REPO_PW).map((s) => s.id).sort();
  await h.waitFor(async () => {
    const r = await api.get(`/api/hosts/${hostId}/snapshots`);
    const ours = (r.body.snapshots || []).map((s) => s.id).sort();
    return snapsRestic.every((id) => ours.includes(id));
  }, { timeout: 60000, interval: 1000, what: 'the server knows every snapshot restic has' });
});

test('agent stopped across 3 windows, then started: exactly one catch-up run', async () => {
  const { api } = S;
  const hostId = S.agent.hostId;
  // let a running backup finish so the stop is clean
  await h.waitFor(async () => !(await jobsOf(api, hostId)).some((j) => j.status === 'running' || j.status === 'queued'),
    { timeout: 90000, interval: 500, what: 'no job running' });
  await S.agent.stop();
  await h.sleep(185000); // three windows missed
  const restartAt = Date.now();
  S.agent.start();
  await h.waitHostOnline(api, hostId);
  // the catch-up starts at once; give it until just before the next-but-one window
  await h.waitFor(async () => (await jobsOf(api, hostId)).some((j) => j.args && j.args.origin === 'catch_up' && Date.parse(j.created_at) >= restartAt - 1000),
    { timeout: 60000, interval: 500, what: 'a catch-up job after the restart' });
  await h.sleep(5000);
  const after = (await jobsOf(api, hostId)).filter((j) => Date.parse(j.created_at) >= restartAt - 1000);
  const catchUps = after.filter((j) => j.args && j.args.origin === 'catch_up');
  assert.equal(catchUps.length, 1, `exactly one catch-up: ${JSON.stringify(after.map((j) => j.args))}`);
  await S.agent.stop();
  await S.server.stop();
});
