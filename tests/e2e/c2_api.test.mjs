// C2 policies through the HTTP API and the agent protocol (the agent side is played by a
// raw WebSocket client speaking the real protocol): defaults at enrollment, group and
// schedule CRUD with validation, the cron preview, hooks visible to admins only and never
// in job rows, schedule.set pushed with versions and acknowledged, and jobs the agent starts
// on its own created on first sight, idempotently.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(() => { if (S.server && process.env.RM_DUMP) console.log(S.server.allStderr().slice(-6000)); });
after(h.cleanup);

const S = {};
let envSeq = 0;
const envId = () => `01JENV${String(++envSeq).padStart(20, '0')}`;
const nowIso = () => new Date().toISOString();
function ulid() {
  const A = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let t = Date.now(), s = '';
  for (let i = 0; i < 10; i++) { s = A[t % 32] + s; t = Math.floor(t / 32); }
  for (let i = 0; i < 16; i++) s += A[Math.floor(Math.random() * 32)];
  return s;
}

test('enrollment creates the default group and a night-time daily schedule (version 1)', async () => {
  const { server, api } = await h.startServerWithAdmin({ env: { RM_SWEEP_INTERVAL_MS: '300' } });
  S.server = server; S.admin = api;
  const tok = await api.createEnrollment({ hostname: 'c2-host', repo_url: '/tmp/rm-e2e-c2-unused', initial_paths: ['/etc', '/srv/data'] });
  const en = await new h.Api(server.url).post('/api/agents/enroll', { token: tok.token, hostname: 'c2-host', os: 'linux', arch: 'amd64', agent_version: '0.0.0', restic_version: '0.14.0' });
  assert.equal(en.status, 201, en.text);
  S.hostId = en.body.host_id; S.bearer = en.body.bearer;
  const g = await api.get(`/api/hosts/${S.hostId}/groups`);
  assert.equal(g.status, 200, g.text);
  assert.equal(g.body.groups.length, 1);
  const def = g.body.groups[0];
  assert.equal(def.name, 'default');
  assert.deepEqual(def.includes, ['/etc', '/srv/data']);
  assert.deepEqual(def.retention, { keep_daily: 7, keep_weekly: 4, keep_monthly: 12 });
  assert.equal(def.pre_hook_set, false);
  S.defaultGroup = def.id;
  const s = await api.get(`/api/hosts/${S.hostId}/schedules`);
  assert.equal(s.status, 200, s.text);
  assert.equal(s.body.schedules.length, 1);
  const sch = s.body.schedules[0];
  const m = /^(\d+) (\d+) \* \* \*$/.exec(sch.cron);
  assert.ok(m, `daily cron: ${sch.cron}`);
  assert.ok(Number(m[1]) < 60 && Number(m[2]) >= 1 && Number(m[2]) <= 4, `between 01:00 and 04:59: ${sch.cron}`);
  assert.deepEqual(sch.group_ids, [def.id]);
  assert.equal(sch.next_runs.length, 5);
  assert.equal(s.body.schedule_version, 1);
  assert.equal(s.body.in_sync, false);
  const host = await api.host(S.hostId);
  assert.ok(host.next_run, 'host carries its next run');
});

test('groups: validation with the field, conflicts, hooks admin-only and encrypted at rest', async () => {
  const api = S.admin;
  const base = `/api/hosts/${S.hostId}/groups`;
  const bad = [
    [{ name: 'Bad Name', includes: ['/x'] }, 'name'],
    [{ name: 'ok', includes: ['relative'] }, 'includes'],
    [{ name: 'ok' }, 'includes'],
    [{ name: 'ok', includes: ['/x'], excludes: ['a\nb'] }, 'excludes'],
    [{ name: 'ok', includes: ['/x'], retention: { keep_daily: 10001 } }, 'keep_daily'],
    [{ name: 'ok', includes: ['/x'], retention: { keep_within: '7 days' } }, 'keep_within'],
    [{ name: 'ok', includes: ['/x'], retry_max: 99 }, 'retry_max'],
    [{ name: 'ok', includes: ['/x'], limit_upload_kib: -1 }, 'limit_upload_kib'],
  ];
  for (const [body, field] of bad) {
    const r = await api.post(base, body);
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.body.field, field, r.text);
    assert.equal(typeof r.body.error, 'string');
  }
  const preHook = 'echo pre-hook-secret-marker-7731';
  let r = await api.post(base, { name: 'www', includes: ['/var/www'], excludes: ['*.tmp'], exclude_caches: true, retention: { keep_last: 2, keep_within: '7d' }, limit_upload_kib: 512, pre_hook: preHook, post_hook: 'echo post' });
  assert.equal(r.status, 201, r.text);
  S.wwwGroup = r.body.id;
  assert.equal(r.body.pre_hook, preHook, 'admin sees the hook text');
  assert.equal(r.body.pre_hook_set, true);
  r = await api.post(base, { name: 'www', includes: ['/x'] });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.code, 'name_taken');
  // an operator sees "pre-hook set" but not the text, and cannot set hooks
  const db = path.join(S.server.dataDir, 'restic-manager.db');
  const { execFileSync: ex } = await import('node:child_process');
  ex('sqlite3', [db, `INSERT INTO users (id, username, role, pw_hash, created_at, updated_at) SELECT '01JOPERATOR000000000000000', 'oper', 'operator', pw_hash, 0, 0 FROM users WHERE username = 'admin'`]);
  const op = new h.Api(S.server.url);
  await op.login('oper', 'correct horse battery');
  r = await op.get(`${base}/${S.wwwGroup}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.pre_hook_set, true);
  assert.equal(r.body.pre_hook, undefined, 'operator does not see hook text');
  r = await op.req('PUT', `${base}/${S.wwwGroup}`, { pre_hook: 'rm -rf /' });
  assert.equal(r.status, 403, r.text);
  r = await op.req('PUT', `${base}/${S.wwwGroup}`, { excludes: ['*.tmp', '*.bak'] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.excludes, ['*.tmp', '*.bak']);
  assert.equal(r.body.pre_hook_set, true, 'hooks kept across an update without them');
  // hook text is encrypted at rest
  const raw = ex('sqlite3', [db, 'SELECT hooks_ct, spec FROM source_groups']).toString();
  assert.ok(!raw.includes('pre-hook-secret-marker'), 'hook text not stored in the clear');
  // audit: changes recorded, hook text never
  const a = await api.get('/api/audit?limit=50');
  const acts = a.body.entries.map((e) => e.action);
  assert.ok(acts.includes('group.create') && acts.includes('group.update'), JSON.stringify(acts));
  assert.ok(!JSON.stringify(a.body).includes('pre-hook-secret-marker'));
});

test('schedules and the cron preview: errors name the field; next runs in the host time zone', async () => {
  const api = S.admin;
  let r = await api.post('/api/cron/preview', { cron: '61 * * * *' });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.body.code, 'invalid_cron');
  assert.equal(r.body.field, 'minute');
  assert.match(r.body.error, /61 is out of range 0-59/);
  r = await api.post('/api/cron/preview', { cron: '* * * *' });
  assert.equal(r.body.field, 'expression');
  r = await api.post('/api/cron/preview', { cron: '30 2 * * *', timezone: 'Asia/Tokyo' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.next_runs.length, 5);
  for (const t of r.body.next_runs) assert.match(t, /T17:30:00\.000Z$/, 'Tokyo 02:30 is 17:30 UTC');
  const base = `/api/hosts/${S.hostId}/schedules`;
  r = await api.post(base, { cron: '0 25 * * *', group_ids: [S.wwwGroup] });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.body.field, 'hour');
  r = await api.post(base, { cron: '@hourly', group_ids: ['01JNOTAGROUP00000000000000'] });
  assert.equal(r.status, 422, r.text);
  assert.equal(r.body.field, 'group_ids');
  r = await api.post(base, { cron: '*/15 * * * *', group_ids: [S.wwwGroup, S.defaultGroup], enabled: false });
  assert.equal(r.status, 201, r.text);
  S.sched = r.body.id;
  assert.deepEqual(r.body.group_ids.sort(), [S.wwwGroup, S.defaultGroup].sort());
  assert.equal(r.body.enabled, false);
  r = await api.req('PUT', `${base}/${S.sched}`, { enabled: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.enabled, true);
  assert.equal(r.body.cron, '*/15 * * * *');
  const list = await api.get(base);
  assert.equal(list.body.schedules.length, 2);
  assert.ok(list.body.schedule_version >= 4, `version bumped per change: ${list.body.schedule_version}`);
  r = await api.req('PUT', `/api/hosts/${S.hostId}/settings`, { limit_upload_kib: 2048, mode: 'intermittent' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.hook_shell, '/bin/sh');
  assert.equal(r.body.mode, 'intermittent');
});

test('agent protocol: schedule.set pushed on hello, acknowledged; run-now per group carries the spec, hooks only on the wire', async () => {
  const api = S.admin;
  const msgs = [];
  const ws = await h.wsConnect(`${S.server.url.replace(/^http/, 'ws')}/ws/agent`, { protocol: 'rm-agent.v1', headers: { Authorization: `Bearer ${S.bearer}` } });
  S.ws = ws;
  const send = (type, payload) => { const id = envId(); ws.send({ type, id, ts: nowIso(), payload }); return id; };
  send('hello', { protocol_version: 1, agent_version: '0.0.0-e2e', restic_version: '0.14.0', hostname: 'c2-host', os: 'linux', arch: 'amd64', running_jobs: [], timezone: 'Europe/Berlin', utc_offset_s: 3600, schedule_version: 0 });
  const set = await ws.waitMessage((m) => m.type === 'schedule.set', 10000, 'schedule.set after hello');
  const p = set.payload;
  const host = await api.host(S.hostId);
  assert.equal(p.version, host.schedule_version);
  assert.equal(p.groups.length, 2);
  const www = p.groups.find((g) => g.name === 'www');
  assert.equal(www.pre_hook, 'echo pre-hook-secret-marker-7731', 'hooks travel to the agent');
  assert.deepEqual(www.excludes, ['*.tmp', '*.bak']);
  assert.equal(www.limit_upload_kib, 512);
  assert.equal(p.settings.limit_upload_kib, 2048);
  assert.equal(p.settings.mode, 'intermittent');
  assert.equal(p.schedules.length, 2);
  assert.equal(host.timezone, 'Europe/Berlin');
  assert.equal(host.schedule_in_sync, false);
  send('schedule.ack', { version: p.version, applied_at: nowIso() });
  await h.waitFor(async () => (await api.host(S.hostId)).schedule_in_sync, { timeout: 5000, what: 'in_sync after ack' });
  // a change pushes the next version at once
  const r = await api.req('PUT', `/api/hosts/${S.hostId}/groups/${S.defaultGroup}`, { excludes: ['/etc/shadow'] });
  assert.equal(r.status, 200, r.text);
  const set2 = await ws.waitMessage((m) => m.type === 'schedule.set' && m.payload.version === p.version + 1, 10000, 'schedule.set v+1');
  assert.deepEqual(set2.payload.groups.find((g) => g.name === 'default').excludes, ['/etc/shadow']);
  assert.equal((await api.host(S.hostId)).schedule_in_sync, false);
  send('schedule.ack', { version: p.version + 1 });
  await h.waitFor(async () => (await api.host(S.hostId)).schedule_in_sync, { timeout: 5000, what: 'in_sync after second ack' });
  // run now for a group: resolved bandwidth (override > group > host) and hooks on the wire
  const run = await api.post(`/api/hosts/${S.hostId}/groups/${S.wwwGroup}/run`, { limit_upload_kib: 100 });
  assert.equal(run.status, 202, run.text);
  const cmd = await ws.waitMessage((m) => m.type === 'command.run' && m.payload.job_id === run.body.job_id, 10000, 'command.run');
  assert.deepEqual(cmd.payload.args.paths, ['/var/www']);
  assert.deepEqual(cmd.payload.args.tags, ['www']);
  assert.equal(cmd.payload.args.limit_upload_kib, 100);
  assert.equal(cmd.payload.args.limit_download_kib, undefined);
  assert.equal(cmd.payload.args.pre_hook, 'echo pre-hook-secret-marker-7731');
  assert.equal(cmd.payload.args.hook_shell, '/bin/sh');
  const job = await api.job(run.body.job_id);
  assert.ok(!JSON.stringify(job).includes('pre-hook-secret-marker'), 'hooks never in the job row');
  assert.equal(job.args.group, 'www');
  send('job.started', { job_id: run.body.job_id, seq: 1, kind: 'backup', started_at: nowIso() });
  const fin = send('job.finished', { job_id: run.body.job_id, seq: 2, status: 'succeeded', exit_code: 0, finished_at: nowIso() });
  await ws.waitMessage((m) => m.type === 'ack' && m.payload.ids.includes(fin), 10000, 'ack of the run-now job');
});

test('jobs the agent starts on its own: row on first sight, idempotent across replays, other hosts refused', async () => {
  const api = S.admin;
  const ws = S.ws;
  const jobId = ulid();
  const started = { job_id: jobId, seq: 1, kind: 'backup', started_at: nowIso(), origin: 'schedule', schedule_id: S.sched, group_id: S.wwwGroup, group: 'www', attempt: 1, args: { paths: ['/var/www'], tags: ['www'], excludes: ['*.tmp'] } };
  const send = (type, payload) => { const id = envId(); ws.send({ type, id, ts: nowIso(), payload }); return id; };
  const e1 = send('job.started', started);
  send('log.stream', { job_id: jobId, lines: [{ seq: 2, ts: nowIso(), stream: 'stdout', payload: 'scheduled line' }] });
  const e3 = send('job.finished', { job_id: jobId, seq: 3, status: 'succeeded', exit_code: 0, finished_at: nowIso() });
  await ws.waitMessage((m) => m.type === 'ack' && m.payload.ids.includes(e3), 10000, 'ack of job.finished');
  assert.ok(ws.messages.some((m) => m.type === 'ack' && m.payload.ids.includes(e1)), 'job.started acknowledged');
  // replay after a "reconnect": nothing doubles
  send('job.started', started);
  send('log.stream', { job_id: jobId, lines: [{ seq: 2, ts: nowIso(), stream: 'stdout', payload: 'scheduled line' }] });
  const e6 = send('job.finished', { job_id: jobId, seq: 3, status: 'succeeded', exit_code: 0, finished_at: nowIso() });
  await ws.waitMessage((m) => m.type === 'ack' && m.payload.ids.includes(e6), 10000, 'ack of the replay');
  const job = await api.job(jobId);
  assert.equal(job.status, 'succeeded');
  assert.equal(job.created_by, 'schedule');
  assert.equal(job.args.origin, 'schedule');
  assert.equal(job.args.schedule_id, S.sched);
  assert.equal(job.args.group, 'www');
  const logs = await api.logs(jobId);
  assert.equal(logs.length, 1);
  const jobs = await api.get(`/api/jobs?host_id=${S.hostId}&limit=100`);
  assert.equal(jobs.body.jobs.filter((j) => j.id === jobId).length, 1);
  const sl = await api.get(`/api/hosts/${S.hostId}/schedules/${S.sched}`);
  assert.equal(sl.body.last_run.job_id, jobId);
  assert.equal(sl.body.last_run.status, 'succeeded');
  // a job.started without origin for an unknown id is not a licence to create rows
  const bogus = ulid();
  send('job.started', { job_id: bogus, seq: 1, kind: 'backup', started_at: nowIso() });
  const r = await api.get(`/api/jobs/${bogus}`);
  assert.equal(r.status, 404);
  ws.destroy();
});

test('run-now for an offline host can wait for it: queued, sent on its next hello, never failed as "agent restarted"', async () => {
  const api = S.admin;
  await h.waitFor(async () => (await api.host(S.hostId)).status === 'offline', { timeout: 10000, what: 'host offline after the socket closed' });
  let r = await api.post(`/api/hosts/${S.hostId}/groups/${S.wwwGroup}/run`, {});
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.code, 'host_offline');
  r = await api.post(`/api/hosts/${S.hostId}/groups/${S.wwwGroup}/run`, { queue_if_offline: true });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.queued, true);
  const jobId = r.body.job_id;
  assert.equal((await api.job(jobId)).status, 'queued');
  const ws = await h.wsConnect(`${S.server.url.replace(/^http/, 'ws')}/ws/agent`, { protocol: 'rm-agent.v1', headers: { Authorization: `Bearer ${S.bearer}` } });
  ws.send({ type: 'hello', id: envId(), ts: nowIso(), payload: { protocol_version: 1, agent_version: '0.0.0-e2e', restic_version: '0.14.0', hostname: 'c2-host', os: 'linux', arch: 'amd64', running_jobs: [], schedule_version: (await api.host(S.hostId)).schedule_version } });
  const cmd = await ws.waitMessage((m) => m.type === 'command.run' && m.payload.job_id === jobId, 10000, 'queued command.run on hello');
  assert.equal(cmd.payload.args.pre_hook, 'echo pre-hook-secret-marker-7731', 'hooks added at send time');
  assert.equal(cmd.payload.args.group, 'www');
  assert.equal((await api.job(jobId)).status, 'queued', 'still queued, not failed as "agent restarted"');
  assert.ok(!ws.messages.some((m) => m.type === 'schedule.set'), 'no schedule.set when the agent is in sync');
  ws.destroy();
  await S.server.stop();
});
