// C1 end to end through the HTTP API: bootstrap, auth, enrollment, a real agent, a real
// local restic repository, a backup, its logs and live stream, snapshots, audit, shutdown,
// and no secrets in any log.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const ADMIN_PW = 'e2e-admin-password-1';
const REPO_PW_A = 'e2e-repo-password-A-9f3c1';
const S = {}; // shared state between the ordered tests below
const secrets = () => [S.generatedPassword, REPO_PW_A, S.agent?.bearer, S.apiBearer,
  S.admin?.sessionToken(), S.user2?.sessionToken(), S.tokA, S.tokB].filter(Boolean);

test('server starts and needs bootstrap', async () => {
  S.server = await h.startServer({ env: { RM_OFFLINE_AFTER_S: '3', RM_SWEEP_INTERVAL_MS: '200' } });
  assert.ok(S.server.bootstrapToken, `no "bootstrap token: <t>" line:\n${S.server.stderr()}`);
  const anon = new h.Api(S.server.url);
  let r = await anon.get('/healthz');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.ok, true);
  r = await anon.get('/api/bootstrap/status');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { needed: true });
  r = await anon.get('/api/hosts');
  assert.equal(r.status, 401, `unauthenticated GET /api/hosts: ${r.status} ${r.text}`);
  r = await anon.get('/api/no/such/route');
  assert.equal(r.status, 404, `unknown route: ${r.status} ${r.text}`);
});

test('bootstrap: short password 400, wrong token 401, success 201 + cookie, then 409', async () => {
  const a = new h.Api(S.server.url);
  let r = await a.post('/api/bootstrap', { token: S.server.bootstrapToken, username: 'admin', password: 'short-11chr' });
  assert.equal(r.status, 400, `short password: ${r.status} ${r.text}`);
  assert.equal(typeof r.body?.error, 'string');
  assert.equal(typeof r.body?.code, 'string');
  r = await a.post('/api/bootstrap', { token: 'not-the-token-' + S.server.bootstrapToken.slice(3), username: 'admin', password: ADMIN_PW });
  assert.equal(r.status, 401, `wrong bootstrap token: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'bad_token');
  r = await a.post('/api/bootstrap', { token: S.server.bootstrapToken, username: 'admin' });
  assert.equal(r.status, 400, `missing password: ${r.status} ${r.text}`);
  assert.equal(a.jar.size, 0, 'no cookie before a successful bootstrap');

  r = await a.post('/api/bootstrap', { token: S.server.bootstrapToken, username: 'admin', password: ADMIN_PW });
  assert.equal(r.status, 201, `bootstrap: ${r.status} ${r.text}`);
  assert.equal(r.body.user.username, 'admin');
  assert.equal(r.body.user.role, 'admin');
  assert.ok(r.body.csrf_token, 'csrf_token in bootstrap response');
  const sc = (r.headers['set-cookie'] || []).find((c) => c.startsWith('rm_session='));
  assert.ok(sc, `rm_session cookie: ${JSON.stringify(r.headers['set-cookie'])}`);
  assert.match(sc, /HttpOnly/i);
  assert.match(sc, /SameSite=(Lax|Strict)/i);
  assert.doesNotMatch(sc, /;\s*Secure/i, 'RM_COOKIE_SECURE=false → no Secure attribute');
  S.admin = a;

  r = await a.post('/api/bootstrap', { token: S.server.bootstrapToken, username: 'admin2', password: ADMIN_PW });
  assert.equal(r.status, 409, `second bootstrap: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'bootstrap_closed');
  r = await new h.Api(S.server.url).get('/api/bootstrap/status');
  assert.deepEqual(r.body, { needed: false });
  r = await a.get('/api/me');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.user.username, 'admin');
});

test('login: wrong password and unknown user give the same 401; CSRF enforced; bad input', async () => {
  const a = new h.Api(S.server.url);
  const wrong = await a.post('/api/auth/login', { username: 'admin', password: 'wrong-password-123' });
  const unknown = await a.post('/api/auth/login', { username: 'nobody-here', password: 'wrong-password-123' });
  assert.equal(wrong.status, 401, wrong.text);
  assert.equal(unknown.status, 401, unknown.text);
  assert.equal(wrong.body?.code, 'bad_credentials');
  assert.deepEqual(unknown.body, wrong.body, 'unknown user and wrong password must be indistinguishable');
  assert.equal(a.jar.size, 0, 'no session cookie after failed logins');

  await a.login('admin', ADMIN_PW);
  S.user2 = a;
  // cookie-authenticated mutation without / with a forged CSRF header
  const body = { hostname: 'csrf-host', repo_url: '/tmp/x', repo_password: 'abcdefghijkl' };
  let r = await a.post('/api/enrollment-tokens', body, { csrf: false });
  assert.equal(r.status, 403, `no CSRF header: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'csrf');
  r = await a.post('/api/enrollment-tokens', body, { csrf: false, headers: { 'x-csrf-token': 'forged' + a.csrf.slice(6) } });
  assert.equal(r.status, 403, `forged CSRF header: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'csrf');
  // the other session's CSRF token is not valid for this session
  r = await a.post('/api/enrollment-tokens', body, { csrf: false, headers: { 'x-csrf-token': S.admin.csrf } });
  assert.equal(r.status, 403, `other session's CSRF token: ${r.status} ${r.text}`);

  // bad input
  r = await a.req('POST', '/api/enrollment-tokens', undefined, { rawBody: '{"hostname": ' });
  assert.equal(r.status, 400, `malformed JSON: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'bad_json');
  r = await a.post('/api/enrollment-tokens', { hostname: 42, repo_url: '/tmp/x' });
  assert.equal(r.status, 400, `wrong type: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'invalid_field');
  r = await a.post('/api/enrollment-tokens', { tags: [] });
  assert.equal(r.status, 400, `missing hostname/repo_url: ${r.status} ${r.text}`);
  r = await a.req('POST', '/api/enrollment-tokens', undefined, { rawBody: JSON.stringify(body), headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 415, `text/plain body: ${r.status} ${r.text}`);
  r = await a.req('POST', '/api/enrollment-tokens', undefined, { rawBody: JSON.stringify({ ...body, pad: 'x'.repeat(2 << 20) }) });
  assert.equal(r.status, 413, `2 MiB body: ${r.status} ${r.text}`);
  // the early 413 must reach the client every time (lingering close, no RST race)
  for (let i = 0; i < 10; i++) {
    r = await a.req('POST', '/api/enrollment-tokens', undefined, { rawBody: JSON.stringify({ ...body, pad: 'y'.repeat(2 << 20) }) });
    assert.equal(r.status, 413, `2 MiB body, attempt ${i}: ${r.status}`);
  }
  // nothing was written by any of the refused requests
  r = await S.admin.get('/api/audit?limit=100&action=enrollment_token.create');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.entries.length, 0, `refused requests wrote audit rows: ${r.text}`);
});

test('enrollment tokens: with and without repo_password', async () => {
  S.repoDir = path.join(h.tmpDir('rm-e2e-repo-'), 'repo'); // restic init creates it
  S.sample = h.makeSampleDir({ files: 8, bigFiles: 1, bigSize: 48 << 20 });
  // A: explicit password (used through the API enroll endpoint below)
  const a = await S.admin.createEnrollment({ hostname: 'e2e-never-host', tags: ['e2e'], repo_url: path.join(h.tmpDir(), 'repoA'), repo_password: REPO_PW_A, initial_paths: ['/etc'] });
  for (const k of ['token', 'expires_at', 'install_command', 'enroll_command']) assert.ok(a[k], `enrollment response lacks ${k}: ${JSON.stringify(a)}`);
  assert.equal(a.generated_password, undefined, 'no generated password when one was given');
  assert.ok(Date.parse(a.expires_at) > Date.now() + 50 * 60 * 1000, `expires_at ~1 h ahead: ${a.expires_at}`);
  assert.ok(a.install_command.includes(a.token) && a.enroll_command.includes(a.token));
  S.tokA = a.token;
  // B: no password → minted and returned once (with an htpasswd snippet)
  const b = await S.admin.createEnrollment({ hostname: 'e2e-api-host', tags: ['e2e', 'api'], repo_url: S.repoDir, repo_username: 'backup', initial_paths: [S.sample] });
  assert.equal(typeof b.generated_password, 'string', `generated_password: ${JSON.stringify(b)}`);
  assert.ok(b.generated_password.length >= 16, 'generated password is strong');
  assert.equal(typeof b.htpasswd_snippet, 'string', `htpasswd_snippet: ${JSON.stringify(b)}`);
  assert.match(b.htpasswd_snippet, /backup/);
  S.tokB = b.token;
  S.generatedPassword = b.generated_password;
  const r = await S.admin.get(`/api/enrollment-tokens/${encodeURIComponent(b.token)}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'pending');
  assert.equal(r.body.host_id, null);
});

test('agent enroll endpoint: token single use; wrong bearer refused on the socket', async () => {
  const anon = new h.Api(S.server.url);
  const req = { token: S.tokA, hostname: 'e2e-never-host', os: 'linux', arch: 'amd64', agent_version: '0.0.0-e2e', restic_version: '0.14.0' };
  let r = await anon.post('/api/agents/enroll', { ...req, token: 'bogus-token-value-000000' });
  assert.equal(r.status, 401, `bogus token: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'bad_token');
  r = await anon.post('/api/agents/enroll', req);
  assert.equal(r.status, 201, `enroll: ${r.status} ${r.text}`);
  assert.ok(r.body.host_id && r.body.bearer);
  S.neverHost = r.body.host_id;
  S.apiBearer = r.body.bearer;
  r = await anon.post('/api/agents/enroll', req);
  assert.equal(r.status, 409, `reused token: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'token_used');
  const ws = `${S.server.url.replace(/^http/, 'ws')}/ws/agent`;
  await assert.rejects(h.wsConnect(ws, { protocol: 'rm-agent.v1', headers: { Authorization: `Bearer ${S.apiBearer}x` } }),
    (e) => { assert.equal(e.status, 401, `wrong bearer upgrade: ${e.message}`); return true; });
  await assert.rejects(h.wsConnect(ws, { protocol: 'rm-agent.v1' }),
    (e) => { assert.equal(e.status, 401, `no bearer upgrade: ${e.message}`); return true; });
  const host = await S.admin.host(S.neverHost);
  assert.equal(host.status, 'never');
});

test('real agent enrolls and comes online with its versions', async () => {
  S.agent = await h.startAgent({ server: S.server, token: S.tokB });
  assert.ok(S.agent.hostId, `host_id in agent config:\n${S.agent.configText.replace(/bearer.*/g, 'bearer: <redacted>')}`);
  const host = await h.waitHostOnline(S.admin, S.agent.hostId);
  assert.ok(host.agent_version, 'agent_version');
  assert.match(host.restic_version, /0\.14/, `restic_version ${host.restic_version}`);
  assert.equal(host.os, 'linux');
  assert.ok(host.arch);
  assert.ok(host.last_seen_at);
  assert.deepEqual(host.tags.sort(), ['api', 'e2e']);
  assert.deepEqual(host.initial_paths, [S.sample]);
  const t = await S.admin.get(`/api/enrollment-tokens/${encodeURIComponent(S.tokB)}`);
  assert.equal(t.body.status, 'used');
  assert.equal(t.body.host_id, S.agent.hostId);
});

test('repository is initialised automatically', async () => {
  const host = await h.waitRepoStatus(S.admin, S.agent.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', `repo_status ${host.repo_status}: ${host.repo_error}`);
  const r = await S.admin.get(`/api/jobs?host_id=${S.agent.hostId}&limit=10`);
  const init = r.body.jobs.find((j) => j.kind === 'init');
  assert.ok(init, `an init job: ${r.text}`);
  assert.equal(init.status, 'succeeded', JSON.stringify(init));
  // the repository really exists and opens with the generated password
  assert.deepEqual(h.resticSnapshots(S.repoDir, S.generatedPassword), []);
});

test('backup: 202, running, 409 for a concurrent one, succeeded with stats; live stream', async () => {
  const id = await S.admin.runJob(S.agent.hostId, { kind: 'backup', paths: [S.sample] });
  S.jobId = id;
  const dup = await S.admin.post(`/api/hosts/${S.agent.hostId}/jobs`, { kind: 'backup', paths: [S.sample] });
  assert.equal(dup.status, 409, `second concurrent backup: ${dup.status} ${dup.text}`);
  assert.equal(dup.body?.code, 'job_running');
  const live = await h.wsConnect(`${S.server.url.replace(/^http/, 'ws')}/api/jobs/${id}/stream`,
    { protocol: 'rm-stream.v1', headers: { Cookie: S.admin.cookieHeader(), Origin: S.server.url } });
  assert.equal(live.protocol, 'rm-stream.v1');
  const seen = new Set();
  const job = await S.admin.waitJob(id, { timeout: 90000, until: (j) => { seen.add(j.status); return ['succeeded', 'failed', 'cancelled'].includes(j.status); } });
  const close = await live.waitClosed(15000);
  const states = live.messages.filter((m) => m.type === 'job').map((m) => m.job.status);
  for (const s of states) seen.add(s);
  assert.ok(seen.has('running'), `job never seen running (poll+stream saw ${[...seen]})`);
  assert.equal(job.status, 'succeeded', `backup: ${JSON.stringify(job)}\nagent stderr tail:\n${S.agent.stderr().slice(-3000)}`);
  assert.equal(job.exit_code, 0);
  assert.equal(job.kind, 'backup');
  assert.deepEqual(job.args.paths, [S.sample]);
  assert.ok(job.stats && job.stats.files_new > 0, `stats.files_new: ${JSON.stringify(job.stats)}`);
  assert.ok(job.stats.snapshot_id, 'stats.snapshot_id');
  assert.ok(Date.parse(job.started_at) <= Date.parse(job.finished_at));
  S.job = job;
  // live subscriber: ended with the terminal state, "end", close 1000
  assert.equal(states.at(-1), 'succeeded', `live stream states: ${states}`);
  assert.deepEqual(live.messages.at(-1), { type: 'end' });
  assert.equal(close.code, 1000);
});

test('job logs: contiguous seq, txt and ndjson downloads', async () => {
  const lines = await S.admin.logs(S.jobId);
  h.assertContiguous(lines);
  for (const l of lines) {
    assert.ok(['stdout', 'stderr', 'event'].includes(l.stream), `stream ${l.stream}`);
    assert.equal(typeof l.payload, 'string');
    assert.ok(Date.parse(l.ts), `ts ${l.ts}`);
  }
  if (S.job.log_lines !== undefined) assert.equal(S.job.log_lines, lines.length, 'job.log_lines = stored lines');
  S.lines = lines;
  const txt = await S.admin.get(`/api/jobs/${S.jobId}/log.txt`);
  assert.equal(txt.status, 200);
  assert.match(txt.headers['content-type'], /^text\/plain/);
  assert.match(txt.headers['content-disposition'] || '', /attachment/);
  const tl = txt.text.split('\n').filter(Boolean);
  assert.equal(tl.length, lines.length, `log.txt has ${tl.length} lines, API ${lines.length}`);
  tl.forEach((t, i) => {
    assert.ok(t.includes(`[${lines[i].stream}]`) && t.includes(lines[i].payload), `log.txt line ${i}: ${t}`);
  });
  const nd = await S.admin.get(`/api/jobs/${S.jobId}/log.ndjson`);
  assert.equal(nd.status, 200);
  assert.match(nd.headers['content-type'], /application\/x-ndjson/);
  const objs = nd.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(objs.map((o) => o.seq), lines.map((l) => l.seq));
  assert.deepEqual(objs.map((o) => o.payload), lines.map((l) => l.payload));
});

test('snapshots: listed by the API and by restic with the same ids', async () => {
  const snap = await h.waitFor(async () => {
    const r = await S.admin.get(`/api/hosts/${S.agent.hostId}/snapshots`);
    return r.status === 200 && r.body.snapshots.find((s) => s.short_id === S.job.stats.snapshot_id || s.id.startsWith(S.job.stats.snapshot_id)) && r.body;
  }, { timeout: 20000, what: `snapshot ${S.job.stats.snapshot_id} in the API` });
  assert.ok(snap.refreshed_at);
  const real = h.resticSnapshots(S.repoDir, S.generatedPassword);
  assert.deepEqual(snap.snapshots.map((s) => s.id).sort(), real.map((s) => s.id).sort());
  const a = snap.snapshots[0];
  const b = real.find((s) => s.id === a.id);
  assert.equal(a.short_id, b.short_id);
  assert.deepEqual(a.paths, b.paths);
  assert.equal(a.hostname, b.hostname);
  const host = await S.admin.host(S.agent.hostId);
  assert.equal(host.snapshot_count, real.length);
  assert.equal(host.last_backup?.status, 'succeeded');
  assert.equal(host.last_backup?.job_id, S.jobId);
  const sum = await S.admin.get('/api/fleet/summary');
  assert.equal(sum.status, 200);
  assert.equal(sum.body.hosts_total, 2);
  assert.equal(sum.body.hosts_online, 1);
  assert.ok(sum.body.snapshots_total >= 1);
  const list = await S.admin.get('/api/hosts');
  assert.equal(list.body.hosts.length, 2);
});

test('late stream subscriber gets every line, the final state and end', async () => {
  const { messages, close } = await h.readJobStream(S.admin, S.jobId, { timeout: 15000 });
  assert.equal(messages[0]?.type, 'job', `first message: ${JSON.stringify(messages[0])}`);
  const got = messages.filter((m) => m.type === 'log').flatMap((m) => m.lines);
  assert.deepEqual(got.map((l) => l.seq), S.lines.map((l) => l.seq), 'stream lines = stored lines');
  const states = messages.filter((m) => m.type === 'job');
  assert.equal(states.at(-1).job.status, 'succeeded');
  assert.deepEqual(messages.at(-1), { type: 'end' });
  assert.equal(close.code, 1000);
  // after_seq resumes
  const mid = S.lines[Math.floor(S.lines.length / 2)].seq;
  const part = await h.readJobStream(S.admin, S.jobId, { afterSeq: mid, timeout: 15000 });
  const pl = part.messages.filter((m) => m.type === 'log').flatMap((m) => m.lines).map((l) => l.seq);
  assert.deepEqual(pl, S.lines.filter((l) => l.seq > mid).map((l) => l.seq));
  // no session → refused
  await assert.rejects(h.wsConnect(`${S.server.url.replace(/^http/, 'ws')}/api/jobs/${S.jobId}/stream`, { protocol: 'rm-stream.v1' }),
    (e) => e.status === 401 || e.status === 403);
});

test('job API errors: 404 unknown host, 422 bad paths, 409 offline host', async () => {
  let r = await S.admin.post('/api/hosts/01HZZZZZZZZZZZZZZZZZZZZZZZ/jobs', { kind: 'backup', paths: ['/etc'] });
  assert.equal(r.status, 404, `unknown host: ${r.status} ${r.text}`);
  r = await S.admin.get('/api/hosts/01HZZZZZZZZZZZZZZZZZZZZZZZ');
  assert.equal(r.status, 404);
  r = await S.admin.get('/api/jobs/01HZZZZZZZZZZZZZZZZZZZZZZZ');
  assert.equal(r.status, 404);
  for (const paths of [[], ['relative/dir'], ['/a/../etc'], ['/a\nb'], ['/a\u0000b'], 'not-an-array']) {
    r = await S.admin.post(`/api/hosts/${S.agent.hostId}/jobs`, { kind: 'backup', paths });
    // a NUL may already be refused by the JSON decoder (400 bad_json)
    assert.ok(r.status === 422 || ((paths === 'not-an-array' || String(paths).includes('\u0000')) && r.status === 400), `paths ${JSON.stringify(paths)}: ${r.status} ${r.text}`);
    if (r.status === 422) assert.equal(r.body?.code, 'invalid_paths');
  }
  r = await S.admin.post(`/api/hosts/${S.neverHost}/jobs`, { kind: 'backup', paths: ['/etc'] });
  assert.equal(r.status, 409, `never-connected host: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'host_offline');
  r = await S.admin.post(`/api/jobs/${S.jobId}/cancel`);
  assert.equal(r.status, 409, `cancel finished job: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'not_running');
});

test('audit log records every state change', async () => {
  const r = await S.admin.get('/api/audit?limit=200');
  assert.equal(r.status, 200, r.text);
  const actions = r.body.entries.map((e) => e.action);
  for (const a of ['bootstrap', 'login', 'enrollment_token.create', 'host.enroll', 'job.dispatch']) {
    assert.ok(actions.includes(a), `audit lacks ${a}: ${actions}`);
  }
  assert.equal(actions.filter((a) => a === 'enrollment_token.create').length, 2);
  assert.equal(actions.filter((a) => a === 'host.enroll').length, 2);
  const d = r.body.entries.find((e) => e.action === 'job.dispatch' && JSON.stringify(e).includes(S.jobId));
  assert.ok(d, 'job.dispatch entry names the job');
  assert.equal(d.actor, 'admin');
  for (let i = 1; i < r.body.entries.length; i++) assert.ok(r.body.entries[i - 1].ts >= r.body.entries[i].ts, 'newest first');
  const f = await S.admin.get('/api/audit?limit=50&action=login');
  assert.ok(f.body.entries.length >= 1 && f.body.entries.every((e) => e.action === 'login'), f.text);
  assert.ok(!JSON.stringify(r.body).includes(S.generatedPassword), 'audit detail carries no repo password');
});

test('agent stops cleanly; host goes offline; backup then refused with 409', async () => {
  await S.agent.stop();
  await h.waitFor(async () => (await S.admin.host(S.agent.hostId)).status === 'offline', { timeout: 20000, what: 'host offline' });
  const r = await S.admin.post(`/api/hosts/${S.agent.hostId}/jobs`, { kind: 'backup', paths: [S.sample] });
  assert.equal(r.status, 409, `offline host: ${r.status} ${r.text}`);
  assert.equal(r.body?.code, 'host_offline');
});

test('logout ends the session', async () => {
  const tok = S.user2.sessionToken();
  let r = await S.user2.post('/api/auth/logout');
  assert.equal(r.status, 204, r.text);
  r = await S.user2.get('/api/me', { cookies: false, headers: { cookie: `rm_session=${tok}` } });
  assert.equal(r.status, 401, 'old session token no longer valid');
});

test('server stops with exit 0, no sanitizer report; no secret in logs or in the DB', async () => {
  await S.server.stop();
  const logs = S.server.allStderr() + '\n' + S.agent.allStderr();
  const leaked = h.leakedSecrets(logs, secrets());
  assert.deepEqual(leaked.map((s) => s.slice(0, 4) + '…'), [], 'secrets found in server/agent stderr');
  // the store keeps tokens hashed and credentials encrypted
  let db = '';
  for (const f of fs.readdirSync(S.server.dataDir)) {
    const p = path.join(S.server.dataDir, f);
    if (fs.statSync(p).isFile()) db += fs.readFileSync(p).toString('latin1');
  }
  const inDb = h.leakedSecrets(db, [S.generatedPassword, REPO_PW_A, S.agent.bearer, S.apiBearer, S.tokA, S.tokB, S.admin.sessionToken()]);
  assert.deepEqual(inDb.map((s) => s.slice(0, 4) + '…'), [], 'plaintext secrets in the data dir');
  // agent state: repo password encrypted at rest
  let st = '';
  for (const f of fs.readdirSync(S.agent.stateDir)) {
    const p = path.join(S.agent.stateDir, f);
    if (fs.statSync(p).isFile()) st += fs.readFileSync(p).toString('latin1');
  }
  assert.ok(!st.includes(S.generatedPassword), 'repo password in plaintext in the agent state dir');
  assert.ok(fs.existsSync(path.join(S.agent.stateDir, 'secrets.enc')), 'agent has secrets.enc');
});
