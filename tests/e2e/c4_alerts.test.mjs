// C4 alerts end to end with real receivers: a local webhook (HMAC checked), a real SMTP
// server (Debian's python3-aiosmtpd writing a maildir), an ntfy-shaped HTTP receiver, a
// receiver that never answers and one that answers 500. Real server, real agent, real
// restic 0.14 backups into a local repository.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import * as h from './lib/harness.mjs';

const S = { servers: [], procs: [] };
const REPO_PW = 'c4-alerts-repo-pw-3e1f';
const HOOK_SECRET = 'webhook-hmac-secret-9b2c41';
const NTFY_TOKEN = 'tk_ntfy-token-77aa01';
const SMTP_PW = 'smtp-password-5d0e';
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

after(async () => {
  if (process.env.RM_E2E_SERVER_LOG && S.server) fs.writeFileSync(process.env.RM_E2E_SERVER_LOG, S.server.allStderr());
  for (const s of S.servers) { s.closeAllConnections?.(); s.close(); }
  for (const p of S.procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  await h.cleanup();
});

// An HTTP receiver recording {method, url, headers, body, at}; reply(req) -> status.
async function receiver(reply = () => 200) {
  const port = await h.freePort();
  const got = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      got.push({ method: req.method, url: req.url, headers: req.headers, body, at: Date.now() });
      res.writeHead(reply(req), { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise((res) => srv.listen(port, '127.0.0.1', res));
  S.servers.push(srv);
  return { url: `http://127.0.0.1:${port}`, got, srv };
}

// Accepts connections and never answers.
async function blackhole() {
  const port = await h.freePort();
  const socks = [];
  const srv = net.createServer((s) => { socks.push(s); s.on('error', () => {}); });
  await new Promise((res) => srv.listen(port, '127.0.0.1', res));
  S.servers.push({ close: () => { for (const s of socks) s.destroy(); srv.close(); } });
  return { url: `http://127.0.0.1:${port}/hook`, socks };
}

// tls: {cert, key} -> STARTTLS offered (and required) by the server.
async function startSmtp(tls) {
  const port = await h.freePort();
  const dir = path.join(h.tmpDir('rm-e2e-maildir-'), 'mail'); // Maildir creates it
  const tlsArgs = tls ? ['--tlscert', tls.cert, '--tlskey', tls.key] : [];
  const p = spawn(PY, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, ...tlsArgs, '-c', 'aiosmtpd.handlers.Mailbox', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  S.procs.push(p);
  await h.waitFor(() => new Promise((res) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
    s.on('error', () => res(false));
  }), { timeout: 15000, what: `aiosmtpd on ${port} (${err})` });
  const mails = () => {
    const nd = path.join(dir, 'new');
    if (!fs.existsSync(nd)) return [];
    return fs.readdirSync(nd).sort().map((f) => fs.readFileSync(path.join(nd, f), 'utf8'));
  };
  return { port, dir, mails };
}

// A self-signed certificate for 127.0.0.1 (the channel trusts it through config.ca_file).
function selfSigned() {
  const dir = h.tmpDir('rm-e2e-tls-');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

const hmac = (body) => 'sha256=' + crypto.createHmac('sha256', HOOK_SECRET).update(body).digest('hex');

async function alertsOf(rule, state = 'all') {
  const r = await S.api.get(`/api/alerts?state=${state}&limit=1000`);
  assert.equal(r.status, 200, r.text);
  return r.body.alerts.filter((a) => a.rule === rule && a.host_id === S.hostId);
}

async function runGroup(gid, { want } = {}) {
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups/${gid}/run`, {});
  assert.equal(r.status, 202, `group run: ${r.status} ${r.text}`);
  const j = await S.api.waitJob(r.body.job_id, { timeout: 60000 });
  if (want) assert.equal(j.status, want, `job ${JSON.stringify(j)}\nagent:\n${S.agent.stderr().slice(-2000)}`);
  return j;
}

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({
    env: { RM_SWEEP_INTERVAL_MS: '500', RM_ALERT_RETRY_BASE_MS: '300', RM_ALERT_MAX_ATTEMPTS: '3',
      RM_ALERT_TIMEOUT_MS: '10000', RM_BASE_URL: 'https://rm.example.test' },
  }));
  S.hook = await receiver();
  S.ntfy = await receiver();
  S.smtp = await startSmtp();
  S.repo = path.join(h.tmpDir('rm-e2e-c4-repo-'), 'repo');
  S.data = h.makeSampleDir({ files: 4 });
  const tok = await S.api.createEnrollment({ hostname: 'c4-host', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.data] });
  S.agent = await h.startAgent({ server: S.server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(S.api, S.hostId);
  const host = await h.waitRepoStatus(S.api, S.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  const g = await S.api.post(`/api/hosts/${S.hostId}/groups`, { name: 'broken', includes: ['/nonexistent/c4-alerts-src'], retry_max: 0 });
  assert.equal(g.status, 201, g.text);
  S.broken = g.body.id;
});

test('channels: validation, secrets write-only, roles', async () => {
  const bad = [
    [{ name: 'x', kind: 'webhook', config: { url: 'ftp://127.0.0.1/x' } }, 'config.url'],
    [{ name: 'x', kind: 'webhook', config: { url: 'http://user:hunter2@127.0.0.1/x' } }, 'config.url'],
    [{ name: 'x', kind: 'ntfy', config: { url: 'http://127.0.0.1', topic: 'a b' } }, 'config.topic'],
    [{ name: 'x', kind: 'smtp', config: { host: '127.0.0.1', from: 'not-an-address', to: ['a@b.c'] } }, 'config.from'],
    [{ name: 'x', kind: 'smtp', config: { host: '127.0.0.1', from: 'a@b.c', to: ['x y@b.c'] } }, 'config.to'],
    [{ name: 'x', kind: 'smtp', config: { host: '127.0.0.1', port: 70000, from: 'a@b.c', to: ['a@b.c'] } }, 'config.port'],
    [{ name: 'x', kind: 'pager', config: {} }, 'kind'],
  ];
  for (const [body, field] of bad) {
    const r = await S.api.post('/api/channels', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
    assert.equal(r.body.field, field, r.text);
    assert.ok(!r.text.includes('hunter2'), 'credentials in a URL are never echoed');
  }
  assert.equal((await S.api.get('/api/channels')).body.channels.length, 0, 'bad input changed nothing');

  let r = await S.api.post('/api/channels', { name: 'hook', kind: 'webhook', config: { url: `${S.hook.url}/hook` }, secret: HOOK_SECRET });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.has_secret, true);
  assert.ok(!r.text.includes(HOOK_SECRET), 'secret not returned');
  S.hookId = r.body.id;
  r = await S.api.post('/api/channels', { name: 'ntfy', kind: 'ntfy', config: { url: S.ntfy.url, topic: 'backups' }, secret: NTFY_TOKEN });
  assert.equal(r.status, 201, r.text);
  S.ntfyId = r.body.id;
  r = await S.api.post('/api/channels', { name: 'ntfy-basic', kind: 'ntfy', config: { url: `${S.ntfy.url}/`, topic: 'basic', username: 'bob' }, secret: 'bob-ntfy-pw' });
  assert.equal(r.status, 201, r.text);
  r = await S.api.post('/api/channels', {
    name: 'mail', kind: 'smtp', secret: SMTP_PW,
    config: { host: '127.0.0.1', port: S.smtp.port, tls: 'none', from: 'rm@example.test', to: ['ops@example.test'] },
  });
  assert.equal(r.status, 201, r.text);
  S.mailId = r.body.id;
  // SMTP auth over plain text is refused by aiosmtpd: keep this one without a user
  const list = await S.api.get('/api/channels');
  assert.equal(list.body.channels.length, 4);
  for (const s of [HOOK_SECRET, NTFY_TOKEN, SMTP_PW]) assert.ok(!list.text.includes(s), 'no secret in the list');
  // at rest: the database file holds no secret in clear text
  const db = fs.readFileSync(path.join(S.server.dataDir, 'restic-manager.db'));
  for (const s of [HOOK_SECRET, NTFY_TOKEN, SMTP_PW]) assert.ok(!db.includes(Buffer.from(s)), `${s} not in the database in clear`);
  // update keeps the secret when absent
  r = await S.api.req('PUT', `/api/channels/${S.hookId}`, { min_severity: 'info' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.has_secret, true);
});

test('channel test button: a real message, the result, the delivery log', async () => {
  const before = S.hook.got.length;
  const r = await S.api.post(`/api/channels/${S.hookId}/test`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.ok, true, r.text);
  assert.equal(r.body.status, 200);
  const m = S.hook.got[before];
  assert.ok(m, 'the receiver got the test message');
  assert.equal(m.headers['x-rm-signature'], hmac(m.body), 'HMAC-SHA256 of the body with the shared secret');
  assert.equal(JSON.parse(m.body).event, 'test');
  const d = await S.api.get(`/api/channels/${S.hookId}/deliveries`);
  assert.equal(d.status, 200);
  assert.equal(d.body.deliveries[0].event, 'test');
  assert.equal(d.body.deliveries[0].status, 'sent');
  const t = await S.api.post(`/api/channels/${S.mailId}/test`);
  assert.equal(t.body.ok, true, t.text);
  await h.waitFor(() => S.smtp.mails().some((x) => /Test message from restic-manager/.test(x)), { timeout: 10000, what: 'test email' });
});

test('SMTP with STARTTLS (required) to a server with a private certificate', async () => {
  const tls = selfSigned();
  const smtps = await startSmtp(tls);
  let r = await S.api.post('/api/channels', {
    name: 'mail-tls', kind: 'smtp', enabled: false,
    config: { host: '127.0.0.1', port: smtps.port, tls: 'starttls', ca_file: tls.cert, from: 'rm@example.test', to: ['sec@example.test'] },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  r = await S.api.post(`/api/channels/${id}/test`);
  assert.equal(r.body.ok, true, r.text);
  await h.waitFor(() => smtps.mails().some((x) => /Test message from restic-manager/.test(x)), { timeout: 10000, what: 'email over STARTTLS' });
  // without trusting the certificate the transfer fails (verification is on)
  r = await S.api.req('PUT', `/api/channels/${id}`, { config: { host: '127.0.0.1', port: smtps.port, tls: 'starttls', from: 'rm@example.test', to: ['sec@example.test'] } });
  assert.equal(r.status, 200, r.text);
  r = await S.api.post(`/api/channels/${id}/test`);
  assert.equal(r.body.ok, false, r.text);
  assert.match(r.body.error, /certificate|SSL/i);
  assert.equal((await S.api.del(`/api/channels/${id}`)).status, 204);
});

test('a failed backup raises backup_failed → webhook (HMAC), email, ntfy within 60 s; next success resolves', async () => {
  const t0 = Date.now();
  const job = await runGroup(S.broken, { want: 'failed' });
  const hookMsg = await h.waitFor(() => S.hook.got.find((m) => { const b = JSON.parse(m.body); return b.event === 'raised' && b.alert?.rule === 'backup_failed'; }),
    { timeout: 60000, what: 'webhook alert' });
  S.latency = hookMsg.at - Date.parse(job.finished_at);
  assert.ok(hookMsg.at - t0 < 60000);
  const body = JSON.parse(hookMsg.body);
  assert.equal(hookMsg.headers['x-rm-signature'], hmac(hookMsg.body));
  assert.equal(body.alert.host_id, S.hostId);
  assert.equal(body.alert.hostname, 'c4-host');
  assert.equal(body.alert.group, 'broken');
  assert.equal(body.alert.job_id, job.id);
  assert.equal(body.link, `https://rm.example.test/jobs/${job.id}`);
  assert.match(body.text, /c4-host/);
  assert.match(body.text, /Since: \d{4}-/);

  const mail = await h.waitFor(() => S.smtp.mails().find((x) => /Subject: Backup failed: c4-host/.test(x)), { timeout: 60000, what: 'alert email' });
  assert.match(mail, /c4-host/);
  assert.ok(mail.includes(`https://rm.example.test/jobs/${job.id}`), mail);
  const nt = await h.waitFor(() => S.ntfy.got.find((m) => /backup_failed/.test(m.headers.tags || '')), { timeout: 60000, what: 'ntfy request' });
  assert.equal(nt.method, 'POST');
  assert.equal(nt.url, '/backups');
  assert.match(nt.headers.title, /Backup failed: c4-host/);
  assert.equal(nt.headers.priority, 'high');
  assert.equal(nt.headers.authorization, `Bearer ${NTFY_TOKEN}`);
  assert.equal(nt.headers.click, `https://rm.example.test/jobs/${job.id}`);
  const basic = await h.waitFor(() => S.ntfy.got.find((m) => m.url === '/basic'), { timeout: 30000, what: 'ntfy basic-auth request' });
  assert.equal(basic.headers.authorization, `Basic ${Buffer.from('bob:bob-ntfy-pw').toString('base64')}`);

  const open = await alertsOf('backup_failed', 'open');
  assert.equal(open.length, 1);
  S.failedAlert = open[0].id;

  // fix the group, back up: resolved, with a resolution message on every channel
  const u = await S.api.req('PUT', `/api/hosts/${S.hostId}/groups/${S.broken}`, { name: 'broken', includes: [S.data], retry_max: 0 });
  assert.equal(u.status, 200, u.text);
  await runGroup(S.broken, { want: 'succeeded' });
  const res = await h.waitFor(() => S.hook.got.find((m) => { const b = JSON.parse(m.body); return b.event === 'resolved' && b.alert?.id === S.failedAlert; }),
    { timeout: 30000, what: 'resolution webhook' });
  assert.equal(JSON.parse(res.body).alert.state, 'resolved');
  await h.waitFor(() => S.smtp.mails().some((x) => /Subject: Resolved: Backup failed: c4-host/.test(x)), { timeout: 30000, what: 'resolution email' });
  await h.waitFor(() => S.ntfy.got.some((m) => /white_check_mark/.test(m.headers.tags || '')), { timeout: 30000, what: 'resolution ntfy' });
  assert.equal((await alertsOf('backup_failed', 'active')).length, 0);
});

test('ten consecutive failures of a group raise one alert, not ten', async () => {
  const u = await S.api.req('PUT', `/api/hosts/${S.hostId}/groups/${S.broken}`, { name: 'broken', includes: ['/nonexistent/c4-again'], retry_max: 0 });
  assert.equal(u.status, 200, u.text);
  const raisedBefore = S.hook.got.filter((m) => JSON.parse(m.body).event === 'raised').length;
  for (let i = 0; i < 10; i++) await runGroup(S.broken, { want: 'failed' });
  const active = await h.waitFor(async () => { const a = await alertsOf('backup_failed', 'active'); return a.length === 1 && a[0].count === 10 && a; },
    { timeout: 15000, what: 'one alert counting 10 failures' });
  assert.equal(active[0].count, 10);
  const all = await alertsOf('backup_failed');
  assert.equal(all.filter((a) => a.state !== 'resolved').length, 1);
  // give deliveries a moment: exactly one new "raised" message for the ten failures
  await h.waitFor(() => S.hook.got.filter((m) => JSON.parse(m.body).event === 'raised').length >= raisedBefore + 1, { timeout: 10000, what: 'raised webhook' });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(S.hook.got.filter((m) => JSON.parse(m.body).event === 'raised').length, raisedBefore + 1);
  S.tenAlert = active[0].id;
});

test('ack and resolve by hand (operator), with who and when; bad states answer 409', async () => {
  let r = await S.api.post(`/api/alerts/${S.tenAlert}/ack`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.state, 'acked');
  assert.equal(r.body.acked_by, 'admin');
  r = await S.api.post(`/api/alerts/${S.tenAlert}/ack`);
  assert.equal(r.status, 409);
  r = await S.api.post(`/api/alerts/${S.tenAlert}/resolve`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.state, 'resolved');
  assert.equal(r.body.resolved_by, 'admin');
  r = await S.api.post(`/api/alerts/${S.tenAlert}/resolve`);
  assert.equal(r.status, 409);
  r = await S.api.post('/api/alerts/01ARZ3NDEKTSV4RRFFQ69G5FAV/ack');
  assert.equal(r.status, 404);
  const a = await S.api.get('/api/audit?action=alert.resolve');
  assert.equal(a.body.entries[0].target, S.tenAlert);
});

test('rules: GET/PUT with bounds; bad input changes nothing', async () => {
  const g = await S.api.get('/api/alert-rules');
  assert.equal(g.status, 200);
  const names = g.body.rules.map((x) => x.rule);
  for (const n of ['backup_failed', 'forget_failed', 'prune_failed', 'check_failed', 'restore_drill_failed', 'no_recent_backup', 'agent_offline', 'update_failed', 'backup_anomaly']) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(g.body.rules.find((x) => x.rule === 'check_failed').severity, 'critical');
  for (const body of [{ rules: [{ rule: 'nope' }] }, { rules: [{ rule: 'backup_anomaly', params: { factor: 0 } }] },
    { rules: [{ rule: 'backup_anomaly', params: { bogus: 1 } }] }, { rules: [{ rule: 'agent_offline', severity: 'meh' }] },
    { rules: [{ rule: 'backup_failed', enabled: false }, { rule: 'no_recent_backup', params: { factor: 1e9 } }] }]) {
    const r = await S.api.req('PUT', '/api/alert-rules', body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
  }
  const again = await S.api.get('/api/alert-rules');
  assert.deepEqual(again.body, g.body, 'rejected PUTs changed nothing');
  const r = await S.api.req('PUT', '/api/alert-rules', { rules: [{ rule: 'backup_anomaly', params: { min_samples: 3, min_bytes: 100000 } }] });
  assert.equal(r.status, 200, r.text);
  const ano = r.body.rules.find((x) => x.rule === 'backup_anomaly');
  assert.equal(ano.params.min_samples, 3);
  assert.equal(ano.params.factor, 10);
});

test('backup_anomaly fires on a backup adding 10x the usual data, not on ordinary ones', async () => {
  const dir = h.makeSampleDir({ files: 3 });
  const g = await S.api.post(`/api/hosts/${S.hostId}/groups`, { name: 'docs', includes: [dir], retry_max: 0 });
  assert.equal(g.status, 201, g.text);
  for (let i = 0; i < 5; i++) {
    fs.writeFileSync(path.join(dir, `note-${i}.txt`), crypto.randomBytes(3000).toString('hex'));
    await runGroup(g.body.id, { want: 'succeeded' });
  }
  assert.equal((await alertsOf('backup_anomaly')).length, 0, 'ordinary backups raise nothing');
  fs.writeFileSync(path.join(dir, 'encrypted.bin'), crypto.randomBytes(2 << 20));
  const big = await runGroup(g.body.id, { want: 'succeeded' });
  const a = await h.waitFor(async () => { const x = await alertsOf('backup_anomaly'); return x.length === 1 && x; }, { timeout: 15000, what: 'anomaly alert' });
  assert.equal(a[0].job_id, big.id);
  assert.equal(a[0].group, 'docs');
  assert.match(a[0].message, /added \d+ bytes/);
  await h.waitFor(() => S.hook.got.some((m) => JSON.parse(m.body).alert?.rule === 'backup_anomaly'), { timeout: 15000, what: 'anomaly webhook' });
  // and the next ordinary one does not fire again
  fs.writeFileSync(path.join(dir, 'note-x.txt'), 'small');
  await runGroup(g.body.id, { want: 'succeeded' });
  await new Promise((r) => setTimeout(r, 700));
  const after = await alertsOf('backup_anomaly');
  assert.equal(after.length, 1);
  assert.equal(after[0].count, 1);
});

test('a receiver that never answers delays neither other channels nor the API (measured)', async () => {
  const hole = await blackhole();
  const r = await S.api.post('/api/channels', { name: 'hung', kind: 'webhook', config: { url: hole.url } });
  assert.equal(r.status, 201, r.text);
  S.hungId = r.body.id;
  const fail500 = await receiver(() => 500);
  const f = await S.api.post('/api/channels', { name: 'five-hundred', kind: 'webhook', config: { url: `${fail500.url}/x` } });
  S.f500Id = f.body.id;
  const u = await S.api.req('PUT', `/api/hosts/${S.hostId}/groups/${S.broken}`, { name: 'broken', includes: ['/nonexistent/third'], retry_max: 0 });
  assert.equal(u.status, 200);
  // the previous alert was resolved by hand: this failure raises a new one
  const t0 = Date.now();
  const job = await runGroup(S.broken, { want: 'failed' });
  const tJob = Date.now();
  const msg = await h.waitFor(() => S.hook.got.find((m) => JSON.parse(m.body).alert?.job_id === job.id), { timeout: 30000, what: 'webhook despite a hung channel' });
  await h.waitFor(() => hole.socks.length > 0, { timeout: 10000, what: 'the hung receiver was contacted' });
  S.hookDelay = msg.at - Date.parse(job.finished_at);
  assert.ok(S.hookDelay < 5000, `webhook ${S.hookDelay} ms after the job finished`);
  // API latency while a transfer hangs
  const lat = [];
  for (let i = 0; i < 10; i++) {
    const s = Date.now();
    const x = await S.api.get('/api/alerts?state=active');
    assert.equal(x.status, 200);
    lat.push(Date.now() - s);
  }
  S.apiLatency = Math.max(...lat);
  assert.ok(S.apiLatency < 1000, `API answered in ${lat} ms`);
  // the agent is not stalled either: a backup runs start to finish while the hang lasts
  const groups = (await S.api.get(`/api/hosts/${S.hostId}/groups`)).body.groups;
  const def = groups.find((g) => g.name === 'default');
  const b0 = Date.now();
  await runGroup(def.id, { want: 'succeeded' });
  S.backupDuringHang = Date.now() - b0;
  const hung = await S.api.get(`/api/channels/${S.hungId}/deliveries`);
  assert.equal(hung.body.deliveries[0].status, 'sending', `the hung delivery is still in flight after the backup (${S.backupDuringHang} ms)`);
  // 500: retried with backoff, then failed with the reason
  const d = await h.waitFor(async () => { const x = await S.api.get(`/api/channels/${S.f500Id}/deliveries`); const y = x.body.deliveries.find((e) => e.event === 'raised'); return y && y.status === 'failed' && y; },
    { timeout: 20000, what: '500 delivery failed after retries' });
  assert.equal(d.attempts, 3);
  assert.match(d.last_error, /HTTP 500/);
  assert.ok(fail500.got.length >= 3);
  // the hung receiver is cut off after the timeout (10 s) and retried
  const t = await h.waitFor(async () => { const x = await S.api.get(`/api/channels/${S.hungId}/deliveries`); const y = x.body.deliveries[0]; return y.attempts >= 1 && y.last_error && y; },
    { timeout: 20000, what: 'hung delivery timed out' });
  assert.match(t.last_error, /[Tt]imeout|timed out/);
  S.hungCut = Date.now() - tJob;
  await S.api.del(`/api/channels/${S.hungId}`);
  await S.api.del(`/api/channels/${S.f500Id}`);
});

test('no_recent_backup fires for a host whose schedule stopped producing backups', async () => {
  let r = await S.api.req('PUT', '/api/alert-rules', { rules: [{ rule: 'no_recent_backup', params: { factor: 0.1 } }] });
  assert.equal(r.status, 200, r.text);
  await S.agent.stop();
  r = await S.api.post(`/api/hosts/${S.hostId}/schedules`, { cron: '* * * * *', enabled: true, group_ids: [S.broken] });
  assert.ok(r.status === 201 || r.status === 202, r.text);
  const a = await h.waitFor(async () => { const x = await alertsOf('no_recent_backup', 'open'); return x.length === 1 && x; }, { timeout: 30000, what: 'no_recent_backup alert' });
  assert.match(a[0].message, /no successful backup/);
  assert.match(a[0].message, /every 1 min/);
  await h.waitFor(() => S.hook.got.some((m) => JSON.parse(m.body).alert?.rule === 'no_recent_backup'), { timeout: 15000, what: 'no_recent_backup webhook' });
  // disabling the rule clears it
  r = await S.api.req('PUT', '/api/alert-rules', { rules: [{ rule: 'no_recent_backup', enabled: false }] });
  assert.equal(r.status, 200);
  await h.waitFor(async () => (await alertsOf('no_recent_backup', 'active')).length === 0, { timeout: 10000, what: 'cleared' });
  console.log(`# figures: job finished->webhook ${S.latency} ms; job finished->webhook with a hung channel ${S.hookDelay} ms after the job; API max ${S.apiLatency} ms during the hang; a backup ran in ${S.backupDuringHang} ms during the hang; hung cut off after ${S.hungCut} ms`);
  h.assertNoSanitizer(S.server.allStderr(), 'server');
});

test('audit: filters, sorting, paging, CSV export', async () => {
  let r = await S.api.get('/api/audit?action=channel.create&sort=target&order=asc&limit=2');
  assert.equal(r.status, 200, r.text);
  assert.ok(r.body.total >= 6, r.text);
  assert.equal(r.body.entries.length, 2);
  assert.ok(r.body.entries[0].target <= r.body.entries[1].target);
  const p2 = await S.api.get('/api/audit?action=channel.create&sort=target&order=asc&limit=2&offset=2');
  assert.notEqual(p2.body.entries[0].id, r.body.entries[0].id);
  r = await S.api.get('/api/audit?actor=admin&from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z&target=' + S.hookId);
  assert.ok(r.body.entries.every((e) => e.target.includes(S.hookId)));
  assert.equal((await S.api.get('/api/audit?from=yesterday')).status, 400);
  assert.equal((await S.api.get('/api/audit?sort=detail')).status, 400);
  const csv = await S.api.get('/api/audit.csv?action=channel.create');
  assert.equal(csv.status, 200);
  assert.match(csv.headers['content-type'], /text\/csv/);
  const lines = csv.text.trim().split('\r\n');
  assert.equal(lines[0], 'time,actor,action,target,detail');
  assert.ok(lines.length >= 7, csv.text);
  assert.ok(lines.slice(1).every((l) => l.includes('"channel.create"')));
  for (const s of [HOOK_SECRET, NTFY_TOKEN, SMTP_PW]) assert.ok(!csv.text.includes(s));
});
