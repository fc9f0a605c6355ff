// C1 agent end to end: sftp repository over a private sshd, cancel, wrong repository
// password, protocol version mismatch and malformed frames on the agent socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const REPO_PW = 'sftp-repo-password-7d2a';

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin());
  S.sample = h.makeSampleDir({ files: 6 });
  // 40 MB at 2 MiB/s upload: a backup that runs ~20 s unless cancelled
  S.big = h.makeSampleDir({ files: 2, bigFiles: 1, bigSize: 40 << 20 });
});

test('sftp repository over a local sshd: enroll → hello → auto-init → backup → snapshot', async () => {
  S.sshd = await h.startSshd();
  S.sftpRepoPath = path.join(h.tmpDir('rm-e2e-sftp-repo-'), 'repo');
  S.sftpRepo = S.sshd.repoUrl(S.sftpRepoPath);
  // restic can only reach the private sshd with our ssh config: a wrapper passes
  // -o sftp.command=...; --limit-upload makes the cancel test's backup last.
  S.sftpRestic = h.makeResticWrapper([...S.sshd.resticArgs, '--limit-upload', '2048']);
  S.plainSftpRestic = h.makeResticWrapper(S.sshd.resticArgs);
  const tok = await S.api.createEnrollment({ hostname: 'e2e-sftp', repo_url: S.sftpRepo, repo_password: REPO_PW, initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server: S.server, token: tok.token, restic: S.sftpRestic });
  S.hostId = S.agent.hostId;
  const online = await h.waitHostOnline(S.api, S.hostId);
  assert.match(online.restic_version, /0\.14/);
  const host = await h.waitRepoStatus(S.api, S.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', `repo_status ${host.repo_status}: ${host.repo_error}\nagent:\n${S.agent.stderr().slice(-3000)}`);
  assert.deepEqual(h.resticSnapshots(S.sftpRepo, REPO_PW, { restic: S.plainSftpRestic }), [], 'repo initialised over sftp');

  const id = await S.api.runJob(S.hostId, { kind: 'backup', paths: [S.sample] });
  const job = await S.api.waitJob(id, { timeout: 60000 });
  assert.equal(job.status, 'succeeded', `${JSON.stringify(job)}\nagent:\n${S.agent.stderr().slice(-3000)}`);
  assert.equal(job.exit_code, 0);
  assert.ok(job.stats?.files_new >= 6, `stats ${JSON.stringify(job.stats)}`);
  h.assertContiguous(await S.api.logs(id));
  const real = h.resticSnapshots(S.sftpRepo, REPO_PW, { restic: S.plainSftpRestic });
  assert.equal(real.length, 1);
  assert.equal(real[0].short_id, job.stats.snapshot_id);
  const api = await h.waitFor(async () => {
    const r = await S.api.get(`/api/hosts/${S.hostId}/snapshots`);
    return r.body?.snapshots?.length === 1 && r.body.snapshots;
  }, { timeout: 20000, what: 'snapshot in the API' });
  assert.equal(api[0].id, real[0].id);
  assert.deepEqual(api[0].paths, real[0].paths);
  assert.match(S.sshd.stderr(), /Accepted publickey/, 'restic really went through our sshd');
});

test('the agent reaps its children (no zombie `restic version` probe or job process)', async () => {
  await h.waitFor(() => S.agent.zombies().length === 0, { timeout: 5000, what: 'no zombie children of the agent' })
    .catch((e) => { e.message += ` (zombie pids ${S.agent.zombies()})`; throw e; });
});

test('cancel a running backup → cancelled (exit 130), restic gone, next backup works', async () => {
  const id = await S.api.runJob(S.hostId, { kind: 'backup', paths: [S.big] });
  await S.api.waitJob(id, { timeout: 30000, until: (j) => j.status !== 'queued' });
  const pids = await h.waitFor(() => { const c = S.agent.children(); return c.length && c; }, { timeout: 15000, what: 'restic child of the agent' });
  let j = await S.api.job(id);
  assert.equal(j.status, 'running', `before cancel: ${JSON.stringify(j)}`);
  const r = await S.api.post(`/api/jobs/${id}/cancel`);
  assert.equal(r.status, 202, `cancel: ${r.status} ${r.text}`);
  assert.equal(r.body.job_id, id);
  j = await S.api.waitJob(id, { timeout: 30000 });
  assert.equal(j.status, 'cancelled', JSON.stringify(j));
  assert.equal(j.exit_code, 130);
  await h.waitFor(() => pids.every((p) => { try { process.kill(p, 0); return false; } catch { return true; } }),
    { timeout: 10000, what: 'restic process gone after cancel' }).catch((e) => {
    e.message += '\n' + pids.map((p) => { try { return fs.readFileSync(`/proc/${p}/status`, 'utf8').split('\n').slice(0, 8).join(' | ') + ' cmd=' + fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return `${p} gone`; } }).join('\n');
    throw e;
  });
  h.assertContiguous(await S.api.logs(id));
  const audit = await S.api.get('/api/audit?limit=20&action=job.cancel');
  assert.ok(audit.body.entries.some((e) => JSON.stringify(e).includes(id)), `job.cancel audited: ${audit.text}`);
  const again = await S.api.post(`/api/jobs/${id}/cancel`);
  assert.equal(again.status, 409, `cancel twice: ${again.status} ${again.text}`);
  const next = await S.api.waitJob(await S.api.runJob(S.hostId, { kind: 'backup', paths: [S.sample] }), { timeout: 60000 });
  assert.equal(next.status, 'succeeded', JSON.stringify(next));
});

test('wrong repository password: init_failed with a clear error; backup fails clearly', async () => {
  const repo = path.join(h.tmpDir('rm-e2e-wrongpw-'), 'repo');
  h.resticInit(repo, 'the-real-password-123');
  const tok = await S.api.createEnrollment({ hostname: 'e2e-wrongpw', repo_url: repo, repo_password: 'not-the-password-456', initial_paths: [S.sample] });
  const agent = await h.startAgent({ server: S.server, token: tok.token });
  await h.waitHostOnline(S.api, agent.hostId);
  const host = await h.waitRepoStatus(S.api, agent.hostId, 'init_failed', 60000);
  assert.equal(host.repo_status, 'init_failed', `repo_status ${host.repo_status} (wrong password must not count as ready)`);
  assert.match(host.repo_error || '', /password|no key/i, `repo_error: ${host.repo_error}`);
  const jobs = (await S.api.get(`/api/jobs?host_id=${agent.hostId}`)).body.jobs;
  const init = jobs.find((j) => j.kind === 'init');
  assert.equal(init?.status, 'failed', JSON.stringify(init));
  assert.match(init.error || '', /password|no key/i);
  const r = await S.api.post(`/api/hosts/${agent.hostId}/jobs`, { kind: 'backup', paths: [S.sample] });
  assert.equal(r.status, 202, `backup on init_failed repo: ${r.status} ${r.text}`);
  const job = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  assert.equal(job.status, 'failed', JSON.stringify(job));
  assert.notEqual(job.exit_code, 0);
  assert.match(job.error || '', /wrong password|no key found/i, `backup error: ${job.error}`);
  // the existing repository was not touched
  assert.deepEqual(h.resticSnapshots(repo, 'the-real-password-123'), []);
  await agent.stop();
});

test('restic output that echoes the password reaches the server as ***, never in clear', async () => {
  // restic prints repository URLs and, in some errors, what it was given; the agent
  // redacts every known form of the credentials before anything leaves the host.
  const ECHO_PW = 'echoed-repo-password-3c9f';
  const dir = h.tmpDir('rm-e2e-echo-');
  const fake = path.join(dir, 'restic');
  fs.writeFileSync(fake, `#!/bin/sh
if [ "$1" = version ]; then exec '${h.RESTIC}' version; fi
echo "repository $RESTIC_REPOSITORY password $RESTIC_PASSWORD"
echo "Fatal: unable to open $RESTIC_REPOSITORY with password $RESTIC_PASSWORD" >&2
exit 1
`, { mode: 0o755 });
  const tok = await S.api.createEnrollment({ hostname: 'e2e-echo', repo_url: path.join(dir, 'repo'), repo_password: ECHO_PW, initial_paths: [S.sample] });
  const agent = await h.startAgent({ server: S.server, token: tok.token, restic: fake });
  await h.waitHostOnline(S.api, agent.hostId);
  const host = await h.waitRepoStatus(S.api, agent.hostId, 'init_failed', 60000);
  assert.equal(host.repo_status, 'init_failed', JSON.stringify(host));
  assert.match(host.repo_error || '', /with password \*\*\*$/, `repo_error: ${host.repo_error}`);
  const jobs = (await S.api.get(`/api/jobs?host_id=${agent.hostId}`)).body.jobs;
  const init = jobs.find((j) => j.kind === 'init');
  assert.match(init?.error || '', /with password \*\*\*$/, JSON.stringify(init));
  const logs = await S.api.logs(init.id);
  assert.ok(logs.some((l) => /password \*\*\*$/.test(l.payload)), JSON.stringify(logs));
  const job = await S.api.waitJob(await S.api.runJob(agent.hostId, { kind: 'backup', paths: [S.sample] }), { timeout: 60000 });
  assert.equal(job.status, 'failed', JSON.stringify(job));
  assert.match(job.error || '', /with password \*\*\*$/);
  const stored = JSON.stringify([host, jobs, logs, job, await S.api.logs(job.id)]);
  assert.ok(!stored.includes(ECHO_PW), `the password reached the server: ${stored.slice(0, 2000)}`);
  await agent.stop();
  assert.deepEqual(h.leakedSecrets(agent.allStderr(), [ECHO_PW]).map((x) => x.slice(0, 4) + '…'), []);
});

test('agent socket: protocol_version 999 → error envelope + close 4001; malformed → error', async () => {
  const tok = await S.api.createEnrollment({ hostname: 'e2e-raw', repo_url: path.join(h.tmpDir(), 'raw-repo'), repo_password: 'raw-repo-password-1' });
  const r = await new h.Api(S.server.url).post('/api/agents/enroll',
    { token: tok.token, hostname: 'e2e-raw', os: 'linux', arch: 'amd64', agent_version: '0.0.0-raw', restic_version: '' });
  assert.equal(r.status, 201, r.text);
  const url = `${S.server.url.replace(/^http/, 'ws')}/ws/agent`;
  const headers = { Authorization: `Bearer ${r.body.bearer}` };
  const env = (type, payload) => ({ type, id: `e2e${Math.random().toString(36).slice(2, 12)}`, ts: new Date().toISOString(), payload });
  const hello = (v) => env('hello', { protocol_version: v, agent_version: '0.0.0-raw', restic_version: '', hostname: 'e2e-raw', os: 'linux', arch: 'amd64', running_jobs: [] });

  let ws = await h.wsConnect(url, { protocol: 'rm-agent.v1', headers });
  assert.equal(ws.protocol, 'rm-agent.v1');
  ws.send(hello(999));
  const err = await ws.waitMessage((m) => m.type === 'error', 10000, 'error envelope');
  assert.equal(err.payload.code, 'protocol_version_unsupported', JSON.stringify(err));
  assert.match(err.payload.message, /upgrade/i);
  const c = await ws.waitClosed(10000);
  assert.equal(c.code, 4001, `close code ${c.code} ${c.reason}`);
  assert.equal((await S.api.host(r.body.host_id)).status, 'never', 'a refused hello does not mark the host online');

  ws = await h.wsConnect(url, { protocol: 'rm-agent.v1', headers });
  ws.send('this is {not json');
  const m = await ws.waitMessage((x) => x.type === 'error', 10000, 'malformed → error');
  assert.equal(m.payload.code, 'malformed');
  ws.send({ type: 'hello', id: 'x1', ts: new Date().toISOString() }); // no payload
  await ws.waitMessage((x) => x.type === 'error' && x !== m, 10000, 'missing payload → error');
  // the connection still works: a proper hello is answered with config.update
  const hl = hello(1);
  ws.send(hl);
  const cu = await ws.waitMessage((x) => x.type === 'config.update', 10000, 'config.update after hello');
  assert.equal(cu.payload.repo_password, 'raw-repo-password-1');
  const hb = env('heartbeat', { sent_at: new Date().toISOString() });
  ws.send(hb);
  await ws.waitMessage((x) => x.type === 'ack' && x.payload.ids.includes(hb.id), 10000, 'heartbeat ack');
  ws.send(env('no.such.type', {}));
  ws.send(hb); // still alive after an unknown type
  await h.waitFor(() => ws.messages.filter((x) => x.type === 'ack' && x.payload.ids.includes(hb.id)).length >= 2, { timeout: 10000, what: 'second ack' });
  assert.equal((await S.api.host(r.body.host_id)).status, 'online');
  ws.destroy();
  assert.ok(S.server.alive(), 'server survived');
});

// Raw protocol, as a compromised or careless agent would speak it: restic output and job
// errors that echo the repository password (plain and inside a rest: URL) are stored and
// served redacted; a hello naming another host renames nothing.
test('agent-reported strings are redacted of the host\'s secrets; hello cannot rename a host', async () => {
  const PW = 'raw-redact-password-8c1e';
  const URL_PW = 'url-userinfo-secret-77';
  const victim = await S.api.createEnrollment({ hostname: 'e2e-victim', repo_url: path.join(h.tmpDir(), 'victim-repo'), repo_password: 'victim-password-1' });
  const rv = await new h.Api(S.server.url).post('/api/agents/enroll', { token: victim.token, hostname: 'e2e-victim', os: 'linux', arch: 'amd64', agent_version: '0.0.0-raw', restic_version: '' });
  assert.equal(rv.status, 201, rv.text);
  const tok = await S.api.createEnrollment({ hostname: 'e2e-redact', repo_url: `rest:http://backup:${URL_PW}@127.0.0.1:9/e2e`, repo_username: 'backup', repo_password: PW });
  const r = await new h.Api(S.server.url).post('/api/agents/enroll', { token: tok.token, hostname: 'e2e-redact', os: 'linux', arch: 'amd64', agent_version: '0.0.0-raw', restic_version: '' });
  assert.equal(r.status, 201, r.text);
  const hostId = r.body.host_id;
  const ws = await h.wsConnect(`${S.server.url.replace(/^http/, 'ws')}/ws/agent`, { protocol: 'rm-agent.v1', headers: { Authorization: `Bearer ${r.body.bearer}` } });
  const env = (type, payload) => ({ type, id: `e2e${Math.random().toString(36).slice(2, 12)}`, ts: new Date().toISOString(), payload });
  ws.send(env('hello', { protocol_version: 1, agent_version: '0.0.0-raw', restic_version: '', hostname: 'e2e-victim', os: 'linux', arch: 'amd64', running_jobs: [] }));
  const cu = await ws.waitMessage((x) => x.type === 'config.update', 10000, 'config.update');
  assert.equal(cu.payload.repo_password, PW, 'the agent itself still gets its password');
  const run = await ws.waitMessage((x) => x.type === 'command.run' && x.payload.kind === 'init', 10000, 'auto-init command');
  const jobId = run.payload.job_id;

  // hello did not rename anything: the name is the operator's, the report is kept apart
  let host = await S.api.host(hostId);
  assert.equal(host.hostname, 'e2e-redact');
  assert.equal(host.reported_hostname, 'e2e-victim');
  assert.equal((await S.api.host(rv.body.host_id)).hostname, 'e2e-victim');
  assert.ok(!(await S.api.get('/api/hosts')).body.hosts.some((x) => x.id === hostId && x.hostname !== 'e2e-redact'));

  const now = () => new Date().toISOString();
  const leak = `Fatal: unable to open repository at rest:http://backup:${URL_PW}@127.0.0.1:9/e2e: wrong password ${PW}`;
  const evs = [
    env('job.started', { job_id: jobId, seq: 1, kind: 'init', started_at: now() }),
    env('log.stream', { job_id: jobId, lines: [
      { seq: 2, ts: now(), stream: 'stderr', payload: leak },
      { seq: 3, ts: now(), stream: 'stdout', payload: 'nothing secret here' }] }),
    env('job.progress', { job_id: jobId, percent_done: 0.5, current_file: `/tmp/${PW}` }),
    env('job.finished', { job_id: jobId, seq: 4, status: 'failed', exit_code: 1, finished_at: now(), error: leak }),
  ];
  for (const e of evs) ws.send(e);
  for (const e of evs.filter((x) => x.type !== 'job.progress')) {
    await ws.waitMessage((x) => x.type === 'ack' && x.payload.ids.includes(e.id), 10000, `ack of ${e.type}`);
  }
  const job = await S.api.waitJob(jobId, { timeout: 10000 });
  assert.equal(job.status, 'failed');
  host = await h.waitRepoStatus(S.api, hostId, 'init_failed', 10000);
  const lines = await S.api.logs(jobId);
  assert.equal(lines.length, 2);
  const txt = (await S.api.get(`/api/jobs/${jobId}/log.txt`)).text;
  const served = JSON.stringify({ job, host, lines }) + txt;
  assert.deepEqual([PW, URL_PW].filter((s) => served.includes(s)), [], `secrets served: ${served}`);
  assert.match(job.error, /rest:http:\/\/backup:\*\*\*@127\.0\.0\.1:9\/e2e: wrong password \*\*\*$/);
  assert.match(host.repo_error, /wrong password \*\*\*/);
  assert.equal(lines[0].payload, job.error);
  assert.equal(lines[1].payload, 'nothing secret here');
  ws.destroy();
  assert.ok(S.server.alive(), 'server survived');
});

test('server and agent stop cleanly; no secrets in their logs', async () => {
  await S.agent.stop();
  await S.server.stop();
  const logs = S.server.allStderr() + S.agent.allStderr();
  assert.deepEqual(h.leakedSecrets(logs, [REPO_PW, S.agent.bearer, S.api.sessionToken(), 'raw-repo-password-1', 'not-the-password-456']).map((s) => s.slice(0, 4) + '…'), []);
  await S.sshd.stop();
});
