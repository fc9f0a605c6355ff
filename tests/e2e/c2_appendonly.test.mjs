// Append-only repository with a real REST server: two `rclone serve restic` on one directory,
// the everyday one `--append-only` (the host's credential), the other not (the admin slot).
// Backups work through the first; forget and prune through it fail; with the admin slot set
// they succeed (sent just in time inside command.run); the admin password is in no log, no
// file of the agent's state dir, not in the server's database and not in any API response.
// (restic 0.14 retries a refused DELETE for about 50 s before it gives up: the two failing
// jobs take most of this file's time.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

const S = { kids: [], responses: [] };
after(async () => {
  for (const k of S.kids) { try { k.kill('SIGKILL'); } catch { /* gone */ } }
  if (S.server && process.env.RM_DUMP) console.log(S.server.allStderr().slice(-8000));
  await h.cleanup();
});

const EVERYDAY_PW = 'everyday-pw-4b1f9d2c';
const ADMIN_PW = 'admin-slot-secret-93e7a5d1c0';
const RCLONE = '/usr/bin/rclone';

async function rclone(dir, user, pass, appendOnly) {
  const port = await h.freePort();
  const args = ['serve', 'restic', '--addr', `127.0.0.1:${port}`, '--user', user, '--pass', pass];
  if (appendOnly) args.push('--append-only');
  args.push(dir);
  const p = spawn(RCLONE, args, { env: { PATH: '/usr/bin:/bin', HOME: h.tmpDir('rm-e2e-rclone-home-') }, stdio: ['ignore', 'pipe', 'pipe'] });
  S.kids.push(p);
  p.out = '';
  p.stdout.on('data', (d) => { p.out += d; });
  p.stderr.on('data', (d) => { p.out += d; });
  await h.waitFor(async () => {
    const r = await h.httpRequest(`http://127.0.0.1:${port}/config`, { method: 'HEAD' }).catch(() => null);
    return r && r.status > 0;
  }, { timeout: 15000, interval: 100, what: `rclone on ${port}` });
  return { port, proc: p };
}

// every response body the test sees goes through here (grepped for the admin password)
async function call(method, p, body) {
  const r = await S.api.req(method, p, body);
  S.responses.push(r.text);
  return r;
}

async function runJob(body, want) {
  const r = await call('POST', `/api/hosts/${S.hostId}/jobs`, body);
  assert.equal(r.status, 202, r.text);
  const j = await S.api.waitJob(r.body.job_id, { timeout: 90000 });
  S.responses.push(JSON.stringify(j));
  S.responses.push(JSON.stringify(await S.api.logs(j.id)));
  if (want) assert.equal(j.status, want, JSON.stringify(j));
  return j;
}

function grepTree(dir, needle) {
  const hits = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

test('setup: one directory, an append-only and an admin rclone REST server, agent ready', async () => {
  assert.ok(fs.existsSync(RCLONE), 'rclone is installed (make deps)');
  S.dir = path.join(h.tmpDir('rm-e2e-ao-'), 'repo');
  h.resticInit(S.dir, EVERYDAY_PW);
  // the admin slot is a second key of the same repository
  const pwFile = path.join(h.tmpDir('rm-e2e-ao-pw-'), 'pw');
  fs.writeFileSync(pwFile, ADMIN_PW);
  const k = h.restic(['key', 'add', '--new-password-file', pwFile], { repo: S.dir, password: EVERYDAY_PW });
  assert.equal(k.code, 0, k.stderr);
  fs.rmSync(pwFile);
  S.ao = await rclone(S.dir, 'backup', EVERYDAY_PW, true);
  S.adm = await rclone(S.dir, 'admin', ADMIN_PW, false);
  const { server, api } = await h.startServerWithAdmin();
  S.server = server; S.api = api;
  S.sample = h.makeSampleDir({ files: 3 });
  const tok = await api.createEnrollment({ hostname: 'ao-host', repo_url: `rest:http://127.0.0.1:${S.ao.port}/`, repo_username: 'backup', repo_password: EVERYDAY_PW, initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(api, S.hostId);
  const host = await h.waitRepoStatus(api, S.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', host.repo_error);
});

test('backups work through the append-only server; forget and prune through it fail', async () => {
  const r = await call('POST', `/api/hosts/${S.hostId}/groups`, { name: 'ao', includes: [S.sample], retention: { keep_last: 1 } });
  assert.equal(r.status, 201, r.text);
  S.group = r.body.id;
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(S.sample, `n-${i}.txt`), `round ${i}\n`);
    const run = await call('POST', `/api/hosts/${S.hostId}/groups/${S.group}/run`, {});
    assert.equal(run.status, 202, run.text);
    const j = await S.api.waitJob(run.body.job_id, { timeout: 60000 });
    assert.equal(j.status, 'succeeded', JSON.stringify(j));
  }
  const f = await runJob({ kind: 'forget', group: 'ao' }, 'failed');
  assert.ok(f.error, JSON.stringify(f));
  const snaps = h.resticSnapshots(S.dir, EVERYDAY_PW).filter((s) => (s.tags || []).includes('ao'));
  assert.equal(snaps.length, 3, 'nothing was forgotten');
  // unreferenced data for prune: the oldest snapshot forgotten directly on the directory
  const oldest = snaps.sort((a, b) => a.time.localeCompare(b.time))[0];
  const fr = h.restic(['forget', oldest.id], { repo: S.dir, password: EVERYDAY_PW });
  assert.equal(fr.code, 0, fr.stderr);
  const p = await runJob({ kind: 'prune' }, 'failed');
  assert.ok(p.error, JSON.stringify(p));
});

test('admin slot: admin only, never echoed; forget and prune succeed through it', async () => {
  const base = `/api/hosts/${S.hostId}/admin-credentials`;
  let r = await call('PUT', base, { repo_url: `rest:http://127.0.0.1:${S.adm.port}/` });
  assert.equal(r.status, 422, r.text);
  // an operator may not set it
  const u = await call('POST', '/api/users', { username: 'op1', role: 'operator' });
  assert.equal(u.status, 201, u.text);
  const op = new h.Api(S.server.url);
  const su = await op.post('/api/setup', { token: u.body.setup_token, password: 'operator password 1 long' });
  assert.equal(su.status, 200, su.text);
  const o = await op.req('PUT', base, { repo_url: 'rest:http://127.0.0.1:1/', repo_username: 'x', repo_password: 'y' });
  assert.equal(o.status, 403, o.text);
  r = await call('PUT', base, { repo_url: `rest:http://127.0.0.1:${S.adm.port}/`, repo_username: 'admin', repo_password: ADMIN_PW });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.admin_credentials_set, true);
  r = await call('GET', `/api/hosts/${S.hostId}/maintenance`);
  assert.equal(r.body.admin_credentials_set, true);
  assert.equal(r.body.forget.runs_on, 'server');
  assert.equal(r.body.check.runs_on, 'agent');

  const f = await runJob({ kind: 'forget', group: 'ao' }, 'succeeded');
  assert.deepEqual(f.stats.groups, [{ group: 'ao', kept: 1, removed: 1 }]);
  const snaps = h.resticSnapshots(S.dir, EVERYDAY_PW).filter((s) => (s.tags || []).includes('ao'));
  assert.equal(snaps.length, 1, 'restic lists 1 snapshot of the group');
  const p = await runJob({ kind: 'prune' }, 'succeeded');
  assert.ok(p.stats.freed_bytes >= 0, JSON.stringify(p.stats));
  // a backup still goes through the everyday (append-only) credential
  const run = await call('POST', `/api/hosts/${S.hostId}/groups/${S.group}/run`, {});
  const b = await S.api.waitJob(run.body.job_id, { timeout: 60000 });
  assert.equal(b.status, 'succeeded', JSON.stringify(b));
  const logs = (await S.api.logs(b.id)).map((l) => l.payload).join('\n');
  assert.match(logs, new RegExp(`127\\.0\\.0\\.1:${S.ao.port}`), 'the backup used the append-only server');
  for (const q of ['/api/hosts/' + S.hostId, `/api/hosts/${S.hostId}/maintenance`, `/api/audit?limit=200`, `/api/jobs?host_id=${S.hostId}&limit=100`]) await call('GET', q);
});

test('the admin password is nowhere: server log, agent log and state dir, database, responses', async () => {
  const leaks = [];
  if (S.server.allStderr().includes(ADMIN_PW)) leaks.push('server log');
  if (S.agent.allStderr().includes(ADMIN_PW)) leaks.push('agent log');
  leaks.push(...grepTree(S.agent.dir, ADMIN_PW));
  spawnSync('sync');
  leaks.push(...grepTree(S.server.dataDir, ADMIN_PW));
  S.responses.forEach((t, i) => { if (t.includes(ADMIN_PW)) leaks.push(`response ${i}: ${t.slice(0, 200)}`); });
  assert.deepEqual(leaks, []);
  // the job rows do not carry the credential either
  const r = await S.api.get(`/api/jobs?host_id=${S.hostId}&limit=100`);
  assert.ok(!r.text.includes('admin_credentials'), 'no admin_credentials in job args');
  const del = await call('DELETE', `/api/hosts/${S.hostId}/admin-credentials`);
  assert.equal(del.status, 200, del.text);
  assert.equal((await call('DELETE', `/api/hosts/${S.hostId}/admin-credentials`)).status, 404);
  const m = await call('GET', `/api/hosts/${S.hostId}/maintenance`);
  assert.equal(m.body.admin_credentials_set, false);
  assert.equal(m.body.forget.runs_on, 'agent', 'forget is back on the agent\'s own cadence');
});
