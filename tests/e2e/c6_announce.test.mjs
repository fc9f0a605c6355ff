// C6 announce-and-approve enrollment and enrollment-token recovery, with a real agent:
// the fingerprint the agent prints is the one the API lists; accept -> the host connects
// under the operator's name; reject -> the agent says so, exits non-zero and stops asking;
// polls must be signed by the announced key (no bearer otherwise, no replay); announcement
// floods get 429, the pending cap 503; undecided announcements expire; outstanding tokens
// are listed, regenerated (old secret dead) and revoked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const REPO_PW = 'announce-repo-pw-5d1c';

// ------------------------------------------------------------------ helpers
function spawnEnroll(server, dir = h.tmpDir('rm-e2e-announce-')) {
  const args = ['enroll', '--server', server.url, '--config', path.join(dir, 'agent.yaml'),
    '--state-dir', path.join(dir, 'state'), '--restic', h.RESTIC];
  const p = h.spawnTracked(path.join(h.binDir, 'restic-manager-agent'), args,
    { env: { ...process.env, ...h.sanEnv, RM_LOG_LEVEL: 'debug' } });
  return { p, dir };
}

async function printedFingerprint(e) {
  let fp;
  await h.waitFor(() => {
    const m = /waiting for approval, fingerprint (SHA256:[A-Za-z0-9+/]{43})\n/.exec(e.p.out);
    fp = m && m[1];
    return fp || e.p.proc.exitCode !== null;
  }, { timeout: 20000, what: `agent fingerprint line (stdout: ${e.p.out} stderr: ${e.p.err.slice(-2000)})` });
  assert.ok(fp, `agent exited before announcing:\n${e.p.out}\n${e.p.err}`);
  return fp;
}

async function exitOf(e, timeout = 30000) {
  let timer;
  const r = await Promise.race([e.p.exited, new Promise((res) => { timer = setTimeout(() => res(null), timeout); })]);
  clearTimeout(timer);
  assert.ok(r, `agent enroll did not exit:\n${e.p.out}\n${e.p.err.slice(-3000)}`);
  h.assertNoSanitizer(e.p.err, 'agent enroll');
  return r.code;
}

async function pendingRow(api, fp, state = 'all') {
  const r = await api.get(`/api/pending-hosts?state=${state}`);
  assert.equal(r.status, 200, r.text);
  return r.body.pending.filter((p) => p.fingerprint === fp);
}

// A key of our own (node's Ed25519), in the wire's shapes.
function newKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  return {
    pubkey: raw.toString('base64'),
    fingerprint: 'SHA256:' + crypto.createHash('sha256').update(raw).digest('base64').replace(/=+$/, ''),
    sign: (id, nonce) => crypto.sign(null, Buffer.from(`restic-manager announce poll v1\n${id}\n${nonce}`), privateKey).toString('base64'),
  };
}

function announce(server, key, hostname = 'node-announcer') {
  const api = new h.Api(server.url);
  return api.post('/api/agents/announce', { pubkey: key.pubkey, hostname, os: 'linux', arch: 'amd64' });
}

function poll(server, id, body) {
  return new h.Api(server.url).post(`/api/agents/announce/${id}`, body);
}

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({ env: { RM_ANNOUNCE_RATE: '1000' } }));
});

// ------------------------------------------------------------------ accept
test('announce -> same fingerprint on both sides -> restart continues -> accept -> online under the operator\'s name', async () => {
  const repo = path.join(h.tmpDir('rm-e2e-announce-repo-'), 'repo');
  let e = spawnEnroll(S.server);
  const fp = await printedFingerprint(e);
  let rows = await pendingRow(S.api, fp, 'pending');
  assert.equal(rows.length, 1, `pending rows for ${fp}`);
  const row = rows[0];
  assert.equal(row.state, 'pending');
  assert.equal(row.address, '127.0.0.1');
  assert.ok(row.hostname && row.os === 'linux' && row.arch, JSON.stringify(row));
  assert.ok(Date.parse(row.expires_at) - Date.parse(row.announced_at) === 3600 * 1000, JSON.stringify(row));
  assert.ok(!('pubkey' in row) && !('nonce' in row), 'the list shows the fingerprint, not the key or nonce');

  const keyFile = path.join(e.dir, 'state', 'announce.key');
  assert.equal(fs.statSync(keyFile).mode & 0o077, 0, 'announce key is 0600');
  // a restarted `enroll` continues the same announcement (same key, same row)
  e.p.proc.kill('SIGTERM');
  await e.p.exited;
  e = spawnEnroll(S.server, e.dir);
  assert.equal(await printedFingerprint(e), fp);
  rows = await pendingRow(S.api, fp);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].id, row.id);

  // the server restarts while the agent waits: the row (and its nonce) survive, the agent
  // keeps polling through the outage
  await S.server.restart();
  await S.api.login();
  await h.waitFor(async () => (await pendingRow(S.api, fp))[0].polls > rows[0].polls,
    { timeout: 20000, what: 'a poll after the server restart' });
  assert.equal(e.p.proc.exitCode, null, `agent gave up during the restart:\n${e.p.err.slice(-2000)}`);

  // operators may look, only admins decide (role table); bad input changes nothing
  let r = await S.api.post(`/api/pending-hosts/${row.id}/accept`, { hostname: 'bad name!', repo: { repo_url: repo } });
  assert.equal(r.status, 400, r.text);
  r = await S.api.post(`/api/pending-hosts/${row.id}/accept`, { hostname: 'web-approved' });
  assert.equal(r.status, 400, r.text);
  assert.equal((await pendingRow(S.api, fp, 'pending')).length, 1);

  r = await S.api.post(`/api/pending-hosts/${row.id}/accept`,
    { hostname: 'web-approved', tags: ['c6', 'announced'], repo: { repo_url: repo, repo_password: REPO_PW } });
  assert.equal(r.status, 201, r.text);
  const hostId = r.body.host_id;
  assert.equal(r.body.hostname, 'web-approved');
  r = await S.api.post(`/api/pending-hosts/${row.id}/accept`, { repo: { repo_url: repo } });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.code, 'already_decided');

  assert.equal(await exitOf(e), 0, `enroll exit:\n${e.p.out}\n${e.p.err.slice(-3000)}`);
  assert.match(e.p.out, /Accepted/);
  assert.ok(!fs.existsSync(path.join(e.dir, 'state', 'announce.key')), 'announce key removed after enrollment');
  const config = path.join(e.dir, 'agent.yaml');
  assert.equal(fs.statSync(config).mode & 0o077, 0, 'agent config is 0600');
  assert.match(fs.readFileSync(config, 'utf8'), new RegExp(`host_id: "?${hostId}`));

  const agent = await h.startAgent({ server: S.server, dir: e.dir, restic: h.RESTIC, enroll: false });
  const host = await h.waitHostOnline(S.api, hostId);
  assert.equal(host.hostname, 'web-approved');
  assert.deepEqual(host.tags, ['c6', 'announced']);
  assert.ok(host.reported_hostname, JSON.stringify(host));
  const ready = await h.waitRepoStatus(S.api, hostId, 'ready', 60000);
  assert.equal(ready.repo_status, 'ready', JSON.stringify(ready));

  r = await S.api.get('/api/audit');
  const actions = r.body.entries.map((x) => x.action);
  for (const a of ['pending_host.announce', 'pending_host.accept', 'host.enroll']) assert.ok(actions.includes(a), `audit ${a}: ${actions}`);
  assert.ok(!h.leakedSecrets(S.server.allStderr() + agent.allStderr() + e.p.err, [REPO_PW]).length, 'repo password in logs');
  await agent.stop();
});

// ------------------------------------------------------------------ reject
test('reject: the agent is told, exits non-zero and stops asking', async () => {
  const e = spawnEnroll(S.server);
  const fp = await printedFingerprint(e);
  const [row] = await pendingRow(S.api, fp, 'pending');
  let r = await S.api.post(`/api/pending-hosts/${row.id}/reject`);
  assert.equal(r.status, 200, r.text);
  assert.notEqual(await exitOf(e), 0);
  assert.match(e.p.out, /Rejected/);
  assert.match(e.p.err, /rejected/);
  // no further requests: the process is gone, and the row's poll count stays put
  const [after1] = await pendingRow(S.api, fp);
  assert.equal(after1.state, 'rejected');
  assert.equal((await pendingRow(S.api, fp, 'pending')).length, 0);
  // running enroll again with the same key is refused at once (no new row)
  const again = spawnEnroll(S.server, e.dir);
  assert.notEqual(await exitOf(again), 0);
  assert.match(again.p.out, /Rejected/);
  const rows = await pendingRow(S.api, fp);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].polls, after1.polls, 'no poll after the rejection');
  r = await S.api.post(`/api/pending-hosts/${row.id}/accept`, { repo: { repo_url: '/tmp/x' } });
  assert.equal(r.status, 409, r.text);
});

// ------------------------------------------------------------------ proof of key
test('polls must be signed by the announced key with the current nonce; the bearer goes to the key holder only', async () => {
  const key = newKey(), other = newKey();
  let r = await announce(S.server, key);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.fingerprint, key.fingerprint, 'server and node render the fingerprint alike');
  const id = r.body.id;
  let nonce = r.body.nonce;
  // idempotent: same key -> same row; a different key with the same hostname -> another row
  r = await announce(S.server, key);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.id, id);
  r = await announce(S.server, other);
  assert.equal(r.status, 201, r.text);
  assert.notEqual(r.body.id, id);
  // malformed keys are refused
  r = await new h.Api(S.server.url).post('/api/agents/announce', { pubkey: 'AAAA', hostname: 'x' });
  assert.equal(r.status, 400, r.text);

  r = await S.api.post(`/api/pending-hosts/${id}/accept`, { hostname: 'proof-host', repo: { repo_url: '/tmp/proof-repo' } });
  assert.equal(r.status, 201, r.text);
  assert.ok(r.body.generated_password, 'a password is minted when none is given');

  const bad = [
    { nonce, signature: other.sign(id, nonce) },          // someone else's key
    { nonce, signature: key.sign(id, 'another-nonce') },  // signed for another nonce
    { nonce: 'x'.repeat(32), signature: key.sign(id, 'x'.repeat(32)) }, // not the current nonce
    { nonce, signature: key.sign('01ANOTHERID0000000000000000', nonce) },
    { nonce, signature: 'not base64' },
  ];
  for (const body of bad) {
    r = await poll(S.server, id, body);
    assert.equal(r.status, 401, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.body.code, 'bad_signature');
    assert.ok(!/bearer/.test(r.text), r.text);
  }
  r = await poll(S.server, '01UNKNOWN000000000000000000', { nonce, signature: key.sign('01UNKNOWN000000000000000000', nonce) });
  assert.equal(r.status, 404, r.text);

  const good = { nonce, signature: key.sign(id, nonce) };
  r = await poll(S.server, id, good);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.state, 'accepted');
  assert.ok(r.body.host_id && r.body.bearer, r.text);
  // a captured poll cannot be replayed: the nonce moved on
  r = await poll(S.server, id, good);
  assert.equal(r.status, 401, r.text);
  assert.ok(!/bearer/.test(r.text));
});

// ------------------------------------------------------------------ expiry
test('an unreachable server is retried; an announcement nobody decides expires; the agent says so and exits non-zero', async () => {
  // the agent starts first: nothing listens yet, it retries with backoff
  const port = await h.freePort();
  const e = spawnEnroll({ url: `http://127.0.0.1:${port}` });
  await h.waitFor(() => /enrollment request failed/.test(e.p.err), { timeout: 15000, what: 'a failed first attempt' });
  assert.equal(e.p.proc.exitCode, null);
  const srv = await h.startServer({ port, env: { RM_ANNOUNCE_TTL_S: '2' } });
  await printedFingerprint(e);
  assert.notEqual(await exitOf(e, 30000), 0);
  assert.match(e.p.out, /Expired/);
  assert.match(e.p.err, /nobody accepted this host in time/);
  await srv.stop();
});

// ------------------------------------------------------------------ flood + cap
test('announcement flood from one address -> 429 with Retry-After; pending cap -> 503', async () => {
  const { server: srv, api } = await h.startServerWithAdmin({ env: { RM_ANNOUNCE_RATE: '6', RM_ANNOUNCE_MAX_PENDING: '3' } });
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await announce(srv, newKey(), `cap-${i}`)));
  assert.deepEqual(codes.map((r) => r.status), [201, 201, 201, 503], codes.map((r) => r.text).join('\n'));
  assert.equal(codes[3].body.code, 'too_many_pending');
  assert.ok(Number(codes[3].headers['retry-after']) > 0);
  let r = await api.get('/api/pending-hosts');
  assert.equal(r.body.pending.length, 3);
  // 10 more at once: the bucket (6 a minute) has about 2 left
  const flood = [];
  for (let i = 0; i < 10; i++) flood.push(await announce(srv, newKey(), `flood-${i}`));
  const limited = flood.filter((x) => x.status === 429);
  assert.ok(limited.length >= 4, flood.map((x) => x.status).join(','));
  assert.equal(limited[0].body.code, 'announce_rate_limited');
  assert.ok(Number(limited[0].headers['retry-after']) >= 1);
  r = await api.get('/api/pending-hosts');
  assert.equal(r.body.pending.length, 3, 'refused announcements leave no rows');
  await srv.stop();
});

// ------------------------------------------------------------------ tokens
test('enrollment tokens: list outstanding, regenerate (old secret dead), revoke', async () => {
  const a = await S.api.createEnrollment({ hostname: 'tok-a', repo_url: '/tmp/tok-a', repo_password: 'tok-a-pw-0001', tags: ['t'] });
  const b = await S.api.createEnrollment({ hostname: 'tok-b', repo_url: '/tmp/tok-b' });
  assert.ok(a.id && b.id, JSON.stringify(a));
  let r = await S.api.get('/api/enrollment-tokens');
  assert.equal(r.status, 200, r.text);
  const byId = Object.fromEntries(r.body.tokens.map((t) => [t.id, t]));
  assert.equal(byId[a.id].hostname, 'tok-a');
  assert.deepEqual(byId[a.id].tags, ['t']);
  assert.equal(byId[a.id].created_by, 'admin');
  assert.ok(byId[a.id].expires_at && byId[b.id]);
  assert.ok(!r.text.includes(a.token) && !r.text.includes(b.token), 'the list never shows secrets');

  r = await S.api.post(`/api/enrollment-tokens/${a.id}/regenerate`);
  assert.equal(r.status, 200, r.text);
  const a2 = r.body;
  assert.equal(a2.id, a.id);
  assert.notEqual(a2.token, a.token);
  assert.ok(a2.enroll_command.includes(a2.token) && a2.install_command.includes(a2.token));
  const enroll = (token) => new h.Api(S.server.url).post('/api/agents/enroll', { token, hostname: 'x' });
  r = await enroll(a.token);
  assert.equal(r.status, 401, `old secret after regenerate: ${r.text}`);
  r = await enroll(a2.token);
  assert.equal(r.status, 201, r.text);
  const host = await S.api.host(r.body.host_id);
  assert.equal(host.hostname, 'tok-a');

  r = await S.api.del(`/api/enrollment-tokens/${b.id}`);
  assert.equal(r.status, 204, r.text);
  r = await enroll(b.token);
  assert.equal(r.status, 401, `revoked token: ${r.text}`);
  r = await S.api.del(`/api/enrollment-tokens/${b.id}`);
  assert.equal(r.status, 404, r.text);
  r = await S.api.post(`/api/enrollment-tokens/${a.id}/regenerate`);
  assert.equal(r.status, 404, `a used token cannot be regenerated: ${r.text}`);
  r = await S.api.get('/api/enrollment-tokens');
  assert.ok(!r.body.tokens.some((t) => t.id === a.id || t.id === b.id), r.text);

  r = await S.api.get('/api/audit');
  const actions = r.body.entries.map((x) => x.action);
  for (const x of ['enrollment_token.regenerate', 'enrollment_token.revoke']) assert.ok(actions.includes(x), `audit ${x}`);
});

// ------------------------------------------------------------------ install.sh
test('install.sh without --token asks to join, prints the fingerprint, enrolls once accepted', async () => {
  const root = h.tmpDir('rm-e2e-announce-install-');
  const script = path.join(root, 'install.sh');
  const r0 = await h.httpRequest(`${S.server.url}/install/install.sh`);
  fs.writeFileSync(script, r0.buf, { mode: 0o755 });
  const args = [script, '--server', S.server.url, '--binary', path.join(h.binDir, 'restic-manager-agent'),
    '--prefix', path.join(root, 'prefix'), '--config-dir', path.join(root, 'etc'),
    '--state-dir', path.join(root, 'state'), '--no-systemd', '--no-deb'];
  const e = { p: h.spawnTracked('/bin/bash', args, { env: { ...process.env, ...h.sanEnv, LANG: 'C' } }) };
  const fp = await printedFingerprint(e);
  const [row] = await pendingRow(S.api, fp, 'pending');
  assert.ok(row, `no pending row for ${fp}`);
  const r = await S.api.post(`/api/pending-hosts/${row.id}/accept`, { hostname: 'installed-by-announce', repo: { repo_url: '/tmp/rm-e2e-none' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(await exitOf(e, 60000), 0, `install.sh:\n${e.p.out}\n${e.p.err.slice(-3000)}`);
  const cfg = path.join(root, 'etc', 'agent.yaml');
  assert.equal(fs.statSync(cfg).mode & 0o077, 0);
  assert.match(fs.readFileSync(cfg, 'utf8'), new RegExp(r.body.host_id));
});
