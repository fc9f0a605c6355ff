// Repository care driven by the server, with a real agent and restic: prune asked for while
// a backup runs waits for it (never concurrent on the repository; a second prune meanwhile
// is refused 409), and with an admin credential slot the server itself dispatches forget at
// its cadence (created_by "system"), sending the slot just in time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import * as h from './lib/harness.mjs';

const S = {};
after(async () => {
  if (S.server && process.env.RM_DUMP) console.log(S.server.allStderr().slice(-8000), '\n--- agent ---\n', S.agent.allStderr().slice(-8000));
  await h.cleanup();
});

const REPO_PW = 'e2e-care-server-pw-6d02';

async function group(name, includes, retention) {
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups`, { name, includes, retention });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

async function startGroup(gid) {
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups/${gid}/run`, {});
  assert.equal(r.status, 202, r.text);
  return r.body.job_id;
}

test('setup: server (fast sweeper), real agent, local repository ready', async () => {
  const { server, api } = await h.startServerWithAdmin({ env: { RM_SWEEP_INTERVAL_MS: '500' } });
  S.server = server; S.api = api;
  S.repo = path.join(h.tmpDir('rm-e2e-care-srv-'), 'repo');
  const tok = await api.createEnrollment({ hostname: 'care-srv', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [h.makeSampleDir({ files: 2 })] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(api, S.hostId);
  const host = await h.waitRepoStatus(api, S.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', host.repo_error);
});

test('prune while a backup runs: queued behind it, not concurrent; a second prune is refused', async () => {
  const big = h.makeSampleDir({ files: 2, bigFiles: 1, bigSize: 96 << 20 });
  const gid = await group('big', [big], { keep_last: 1 });
  const backupId = await startGroup(gid);
  const pr = await S.api.post(`/api/hosts/${S.hostId}/jobs`, { kind: 'prune' });
  assert.equal(pr.status, 202, pr.text);
  const again = await S.api.post(`/api/hosts/${S.hostId}/jobs`, { kind: 'prune' });
  assert.equal(again.status, 409, again.text);
  assert.equal(again.body.code, 'job_running');
  const b = await S.api.waitJob(backupId, { timeout: 90000 });
  const p = await S.api.waitJob(pr.body.job_id, { timeout: 90000 });
  assert.equal(b.status, 'succeeded', JSON.stringify(b));
  assert.equal(p.status, 'succeeded', JSON.stringify(p));
  assert.ok(Date.parse(p.started_at) >= Date.parse(b.finished_at) - 5,
    `prune started ${p.started_at}, backup finished ${b.finished_at}`);
  fs.rmSync(big, { recursive: true, force: true });
});

test('with an admin slot the server dispatches forget at its cadence', async () => {
  const gid = await group('cad', [h.makeSampleDir({ files: 2 })], { keep_last: 1 });
  for (let i = 0; i < 2; i++) {
    const j = await S.api.waitJob(await startGroup(gid), { timeout: 60000 });
    assert.equal(j.status, 'succeeded', JSON.stringify(j));
  }
  let r = await S.api.req('PUT', `/api/hosts/${S.hostId}/admin-credentials`, { repo_url: S.repo, repo_password: REPO_PW });
  assert.equal(r.status, 200, r.text);
  r = await S.api.req('PUT', `/api/hosts/${S.hostId}/maintenance`, { forget: { cron: '* * * * *' }, prune: { enabled: false } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.forget.runs_on, 'server');
  const t0 = Date.now();
  const job = await h.waitFor(async () => {
    const l = await S.api.get(`/api/jobs?host_id=${S.hostId}&limit=50`);
    return (l.body.jobs || []).find((j) => j.kind === 'forget' && j.created_by === 'system');
  }, { timeout: 100000, interval: 500, what: 'a forget the server dispatched at its cadence' });
  const done = await S.api.waitJob(job.id, { timeout: 60000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  const g = done.stats.groups.find((x) => x.group === 'cad');
  assert.deepEqual(g, { group: 'cad', kept: 1, removed: 1 });
  assert.ok(!JSON.stringify(done.args).includes(REPO_PW), 'the slot is not in the job row');
  console.log(`# server cadence: forget dispatched after ${Date.now() - t0} ms`);
  r = await S.api.req('PUT', `/api/hosts/${S.hostId}/maintenance`, { forget: { enabled: false } });
  assert.equal(r.status, 200, r.text);
});
