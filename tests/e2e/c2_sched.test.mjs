// C2 with a real agent and real restic: a `* * * * *` schedule on a group with an exclude
// produces a scheduled job and a snapshot tagged with the group that lacks the excluded
// file; pre/post hooks (abort, status, output, timeout); bandwidth on the restic command
// line; "agent in sync" after every change.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const REPO_PW = 'e2e-c2-repo-password-5521';
const S = {};

async function newestJob(api, hostId, pred, what, timeout = 100000) {
  return h.waitFor(async () => {
    const r = await api.get(`/api/jobs?host_id=${hostId}&limit=100`);
    return (r.body.jobs || []).find(pred);
  }, { timeout, interval: 500, what });
}

test('setup: server, real agent, repository ready', async () => {
  const { server, api } = await h.startServerWithAdmin();
  S.server = server; S.api = api;
  S.repo = path.join(h.tmpDir('rm-e2e-c2repo-'), 'repo');
  S.sample = h.makeSampleDir({ files: 4 });
  fs.writeFileSync(path.join(S.sample, 'skip-me.tmp'), 'excluded by the group\n');
  const tok = await api.createEnrollment({ hostname: 'c2-real', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server, token: tok.token });
  await h.waitHostOnline(api, S.agent.hostId);
  const host = await h.waitRepoStatus(api, S.agent.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  await h.waitFor(async () => (await api.host(S.agent.hostId)).schedule_in_sync, { timeout: 15000, what: 'agent in sync with the enrollment defaults' });
  assert.ok((await api.host(S.agent.hostId)).timezone !== undefined, 'host reports its time zone');
});

test('a * * * * * schedule with an exclude: scheduled job + tagged snapshot without the excluded file, within 90 s', async () => {
  const { api } = S;
  const hostId = S.agent.hostId;
  let r = await api.post(`/api/hosts/${hostId}/groups`, { name: 'docs', includes: [S.sample], excludes: ['*.tmp'] });
  assert.equal(r.status, 201, r.text);
  S.docs = r.body.id;
  r = await api.post(`/api/hosts/${hostId}/schedules`, { cron: '* * * * *', group_ids: [S.docs] });
  assert.equal(r.status, 201, r.text);
  S.every = r.body.id;
  await h.waitFor(async () => (await api.host(hostId)).schedule_in_sync, { timeout: 15000, what: 'agent in sync after adding the schedule' });
  const t0 = Date.now();
  const job = await newestJob(api, hostId, (j) => j.created_by === 'schedule' && j.args && j.args.group === 'docs', 'a scheduled job of group docs', 95000);
  const done = await api.waitJob(job.id, { timeout: 90000 });
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  assert.ok(Date.now() - t0 < 150000);
  assert.equal(done.args.origin, 'schedule');
  assert.equal(done.args.schedule_id, S.every);
  const snaps = h.resticSnapshots(S.repo, REPO_PW).filter((s) => (s.tags || []).includes('docs'));
  assert.ok(snaps.length >= 1, 'a snapshot tagged docs');
  const ls = h.restic(['ls', '--json', snaps[snaps.length - 1].id], { password: REPO_PW, repo: S.repo }).stdout.toString();
  assert.ok(ls.includes('file-0.txt'), 'included files are there');
  assert.ok(!ls.includes('skip-me.tmp'), 'the excluded file is not in the snapshot');
  // the schedule shows its last run
  const sch = await api.get(`/api/hosts/${hostId}/schedules/${S.every}`);
  assert.ok(sch.body.last_run && sch.body.last_run.job_id, JSON.stringify(sch.body));
  // stop the every-minute schedule for the rest of the file
  r = await api.req('PUT', `/api/hosts/${hostId}/schedules/${S.every}`, { enabled: false });
  assert.equal(r.status, 200, r.text);
});

test('hooks: pre-hook exit 1 aborts (no snapshot); post-hook sees RM_JOB_STATUS; output in the log; timeout kills', async () => {
  const { api } = S;
  const hostId = S.agent.hostId;
  const before = h.resticSnapshots(S.repo, REPO_PW).length;
  let r = await api.post(`/api/hosts/${hostId}/groups`, { name: 'hooked', includes: [S.sample], pre_hook: 'echo pre-says-hi; exit 1', post_hook: 'echo "post status=$RM_JOB_STATUS group=$RM_GROUP"' });
  assert.equal(r.status, 201, r.text);
  const hooked = r.body.id;
  r = await api.post(`/api/hosts/${hostId}/groups/${hooked}/run`, {});
  assert.equal(r.status, 202, r.text);
  let job = await api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(job.status, 'failed');
  assert.match(job.error || '', /pre-hook exited 1/);
  let logs = (await api.logs(job.id)).map((l) => `${l.stream} ${l.payload}`).join('\n');
  assert.match(logs, /pre-says-hi/);
  assert.match(logs, /post status=failed group=hooked/);
  assert.equal(h.resticSnapshots(S.repo, REPO_PW).length, before, 'no snapshot when the pre-hook fails');
  // succeeding pre-hook: post-hook sees succeeded
  r = await api.req('PUT', `/api/hosts/${hostId}/groups/${hooked}`, { pre_hook: 'echo pre-ok' });
  assert.equal(r.status, 200, r.text);
  r = await api.post(`/api/hosts/${hostId}/groups/${hooked}/run`, {});
  job = await api.waitJob(r.body.job_id, { timeout: 90000 });
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  logs = (await api.logs(job.id)).map((l) => `${l.stream} ${l.payload}`).join('\n');
  assert.match(logs, /post status=succeeded group=hooked/);
  assert.ok((await api.logs(job.id)).some((l) => l.stream === 'hook'), 'hook output has its own stream');
  // a hook that overstays its timeout is killed and counts as failed
  r = await api.req('PUT', `/api/hosts/${hostId}/settings`, { hook_timeout_s: 2 });
  assert.equal(r.status, 200, r.text);
  r = await api.req('PUT', `/api/hosts/${hostId}/groups/${hooked}`, { pre_hook: 'sleep 60' });
  const t0 = Date.now();
  r = await api.post(`/api/hosts/${hostId}/groups/${hooked}/run`, {});
  job = await api.waitJob(r.body.job_id, { timeout: 40000 });
  assert.equal(job.status, 'failed');
  assert.match(job.error || '', /timed out/);
  assert.ok(Date.now() - t0 < 30000, 'killed well before the hook would have ended');
  await api.req('PUT', `/api/hosts/${hostId}/settings`, { hook_timeout_s: 900 });
});

test('bandwidth: host default < group < run-now override, visible on the logged restic command line', async () => {
  const { api } = S;
  const hostId = S.agent.hostId;
  let r = await api.req('PUT', `/api/hosts/${hostId}/settings`, { limit_upload_kib: 4000 });
  assert.equal(r.status, 200, r.text);
  r = await api.post(`/api/hosts/${hostId}/groups/${S.docs}/run`, { limit_upload_kib: 321 });
  assert.equal(r.status, 202, r.text);
  let job = await api.waitJob(r.body.job_id, { timeout: 90000 });
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  let logs = (await api.logs(job.id)).map((l) => l.payload).join('\n');
  assert.match(logs, /--limit-upload[ =]321\b/, 'the override wins');
  r = await api.post(`/api/hosts/${hostId}/groups/${S.docs}/run`, {});
  job = await api.waitJob(r.body.job_id, { timeout: 90000 });
  logs = (await api.logs(job.id)).map((l) => l.payload).join('\n');
  assert.match(logs, /--limit-upload[ =]4000\b/, 'the host default applies');
  await S.agent.stop();
  await S.server.stop();
});
