// deploy/install.sh, served by the server, run against it on a machine without systemd:
// it must say so, install the agent binary fetched from /agent/binary, and enroll.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};

// A PATH with every usual tool except systemctl (and the systemd helpers).
function pathWithoutSystemd() {
  const dir = h.tmpDir('rm-e2e-nosystemd-bin-');
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    let names = [];
    try { names = fs.readdirSync(d); } catch { continue; }
    for (const n of names) {
      if (/^systemctl$|^systemd/.test(n)) continue;
      const dst = path.join(dir, n);
      if (!fs.existsSync(dst)) { try { fs.symlinkSync(path.join(d, n), dst); } catch { /* dup */ } }
    }
  }
  return dir;
}

function run(cmd, args, { env, timeout = 120000 }) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { try { process.kill(-p.pid, 'SIGKILL'); } catch { /* */ } }, timeout);
    p.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, out }); });
  });
}

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({ env: { RM_AGENT_BINARY_DIR: h.relBinDir } }));
});

test('the server serves install.sh and the agent binary', async () => {
  const r = await h.httpRequest(`${S.server.url}/install/install.sh`);
  assert.equal(r.status, 200, `GET /install/install.sh: ${r.status} ${r.buf}`);
  S.script = r.buf.toString('utf8');
  assert.match(S.script, /^#!/);
  const repoCopy = fs.readFileSync(path.join(h.repoRoot, 'deploy/install.sh'), 'utf8');
  assert.equal(S.script, repoCopy, 'served script = deploy/install.sh');
  const b = await h.httpRequest(`${S.server.url}/agent/binary?os=linux&arch=amd64`, { timeout: 60000 });
  assert.equal(b.status, 200, `GET /agent/binary: ${b.status} ${b.buf.toString().slice(0, 200)}`);
  S.relAgent = fs.readFileSync(path.join(h.relBinDir, 'restic-manager-agent'));
  assert.ok(b.buf.equals(S.relAgent), 'served binary = release agent binary');
  const bad = await h.httpRequest(`${S.server.url}/agent/binary?os=plan9&arch=mips`);
  assert.equal(bad.status, 404);
  for (const p of ['/install/..%2f..%2f..%2f..%2fetc%2fpasswd', '/install/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc/passwd']) {
    const trav = await h.httpRequest(`${S.server.url}${p}`);
    assert.ok(!/root:[^:\n]*:0:0:/.test(trav.buf.toString()), `path traversal ${p}: ${trav.status} served /etc/passwd`);
  }
});

test('install.sh without systemd: says so, installs the binary, enrolls', async () => {
  const tok = await S.api.createEnrollment({ hostname: 'e2e-install', tags: ['install'], repo_url: path.join(h.tmpDir(), 'repo'), repo_password: 'install-repo-password-1' });
  const root = h.tmpDir('rm-e2e-install-');
  const prefix = path.join(root, 'prefix');
  const configDir = path.join(root, 'etc');
  const stateDir = path.join(root, 'state');
  const scriptFile = path.join(root, 'install.sh');
  fs.writeFileSync(scriptFile, S.script, { mode: 0o755 });
  const binPath = pathWithoutSystemd();
  const env = { PATH: binPath, HOME: root, LANG: 'C' };
  const r = await run('/bin/bash', [scriptFile, '--server', S.server.url, '--token', tok.token,
    '--prefix', prefix, '--config-dir', configDir, '--state-dir', stateDir], { env, timeout: 120000 });
  assert.equal(r.code, 0, `install.sh exit ${r.code} ${r.signal || ''}:\n${r.out}`);
  assert.match(r.out, /systemd/i, `mentions systemd:\n${r.out}`);
  assert.match(r.out, /systemd[^\n]*\b(not|absent|missing|unavailable)\b|\b(no|without)\s+systemd/i, `says systemd is absent:\n${r.out}`);
  assert.ok(!r.out.includes(tok.token), 'install.sh output does not echo the enrollment token');
  // installed binary = the one the server serves
  const found = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (e.name === 'restic-manager-agent' && e.isFile()) found.push(p); } };
  walk(prefix);
  assert.equal(found.length, 1, `one agent binary under ${prefix}: ${found}`);
  assert.ok(fs.readFileSync(found[0]).equals(S.relAgent), 'installed binary = served binary');
  assert.ok(fs.statSync(found[0]).mode & 0o100, 'binary is executable');
  // in its own directory (the unit lets the agent write there to update itself), linked from bin/
  assert.equal(found[0], path.join(prefix, 'lib/restic-manager/restic-manager-agent'));
  assert.equal(fs.realpathSync(path.join(prefix, 'bin/restic-manager-agent')), found[0], 'bin/ links to the binary');
  const cfg = path.join(configDir, 'agent.yaml');
  assert.ok(fs.existsSync(cfg), `config written to ${cfg}`);
  assert.equal(fs.statSync(cfg).mode & 0o077, 0, 'config is 0600');
  // the host exists on the server
  const hosts = (await S.api.get('/api/hosts')).body.hosts;
  assert.equal(hosts.length, 1, JSON.stringify(hosts));
  const t = await S.api.get(`/api/enrollment-tokens/${encodeURIComponent(tok.token)}`);
  assert.equal(t.body.status, 'used');
  assert.equal(t.body.host_id, hosts[0].id);
  // and the installed agent really connects with what install.sh wrote
  const p = spawn(found[0], ['run', '--config', cfg, '--state-dir', stateDir], { env: { PATH: '/usr/bin:/bin', RM_AGENT_HEARTBEAT_S: '1' }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  try {
    await h.waitHostOnline(S.api, hosts[0].id, 30000).catch((e) => { e.message += `\nagent stderr:\n${err}`; throw e; });
  } finally {
    try { process.kill(-p.pid, 'SIGKILL'); } catch { /* */ }
  }
});

test('server stops cleanly', async () => {
  await S.server.stop();
});
