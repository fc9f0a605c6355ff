// C6 signed agent updates with real agents: a rolling update of three agents from version A
// to B (a second build of the agent that differs only in its version string, signed with a
// test release key); a fourth agent whose download is corrupted on the way (a test-owned
// TCP proxy flips one byte of the /agent/binary body) refuses it and the rollout halts
// there; an agent whose pinned key is not the release key refuses a validly signed
// release; and an agent whose "new binary" (a validly signed script that never connects)
// is rolled back by its watchdog, reconnecting with version A. The rollback case runs on a
// server of its own, started in before() and awaited last, so its wait overlaps the rest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const VERSION_B = '0.1.0-update-b';
const CONFIRM_S = 10; // the rollback window of the rollback agent (default 90 s)

const sha256 = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const serverBin = path.join(h.binDir, 'restic-manager-server');

// Version B: the agent's objects from the ASan build relinked with another version.c.
function buildAgentB(dir) {
  const obj = path.join(dir, 'version_b.o');
  const out = path.join(dir, 'restic-manager-agent-b');
  execFileSync('cc', ['-std=c17', '-fsanitize=address,undefined', '-Isrc', `-DRM_VERSION="${VERSION_B}"`,
    '-c', 'src/agent/version.c', '-o', obj], { cwd: h.repoRoot });
  const libs = execFileSync('pkg-config', ['--libs', 'libsodium', 'jansson', 'libwebsockets', 'libuv', 'openssl'], { encoding: 'utf8' }).trim().split(/\s+/);
  execFileSync('cc', ['-fsanitize=address,undefined', '-o', out, path.join(h.binDir, 'obj/src/agent/main.o'), obj,
    path.join(h.binDir, 'libagent.a'), path.join(h.binDir, 'libcommon.a'), ...libs, '-lm'], { cwd: h.repoRoot });
  return out;
}

// A release directory for a server: key pair, the binary as restic-manager-agent-linux-amd64,
// its signed manifest.
function makeRelease(binary, version) {
  const dir = h.tmpDir('rm-e2e-rel-');
  execFileSync(serverBin, ['release-key', '--generate', dir]);
  const dst = path.join(dir, 'restic-manager-agent-linux-amd64');
  fs.copyFileSync(binary, dst);
  fs.chmodSync(dst, 0o755);
  execFileSync(serverBin, ['sign-agent', '--key', path.join(dir, 'agent-release.key'), '--version', version, '--arch', 'amd64', dst]);
  return { dir, bin: dst, pub: fs.readFileSync(path.join(dir, 'agent-release.pub'), 'utf8').trim() };
}

// Each agent runs from its own copy of binary A (the update replaces that file).
function agentBinDir() {
  const d = h.tmpDir('rm-e2e-agentbin-');
  fs.copyFileSync(path.join(h.binDir, 'restic-manager-agent'), path.join(d, 'restic-manager-agent'));
  fs.chmodSync(path.join(d, 'restic-manager-agent'), 0o755);
  return d;
}

async function enrolledAgent(srv, api, hostname, { via, env } = {}) {
  const repo = path.join(h.tmpDir('rm-e2e-repo-'), 'repo');
  const tok = await api.createEnrollment({ hostname, repo_url: repo, repo_password: `pw-${hostname}` });
  const bin = agentBinDir();
  const agent = await h.startAgent({ server: via || srv, token: tok.token, bin, env });
  await h.waitHostOnline(api, agent.hostId);
  await h.waitRepoStatus(api, agent.hostId, 'ready', 60000);
  return { agent, bin, exe: path.join(bin, 'restic-manager-agent'), id: agent.hostId };
}

// A TCP proxy in front of the server that flips one byte in the body of /agent/binary
// responses and passes everything else (the agent's WebSocket included) untouched.
function corruptingProxy(port) {
  const srv = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    let first = true, corrupt = false, seen = 0, headerEnd = -1, head = Buffer.alloc(0);
    c.on('data', (d) => {
      if (first) { corrupt = d.toString('latin1').startsWith('GET /agent/binary'); first = false; }
      up.write(d);
    });
    up.on('data', (d) => {
      if (corrupt) {
        if (headerEnd < 0) {
          head = Buffer.concat([head, d]);
          const i = head.indexOf('\r\n\r\n');
          if (i >= 0) headerEnd = i + 4;
        }
        const at = headerEnd >= 0 ? headerEnd + 4096 : -1; // a byte well inside the body
        if (at >= seen && at < seen + d.length) { d = Buffer.from(d); d[at - seen] ^= 0xff; S.flipped = true; }
        seen += d.length;
      }
      c.write(d);
    });
    const end = () => { c.destroy(); up.destroy(); };
    c.on('error', end); up.on('error', end); c.on('close', end); up.on('close', end);
  });
  return new Promise((res) => srv.listen(0, '127.0.0.1', () => res({ srv, url: `http://127.0.0.1:${srv.address().port}` })));
}

async function waitRun(api, runId, timeout = 90000) {
  return h.waitFor(async () => {
    const r = await api.get('/api/fleet/update');
    const run = r.body?.runs?.find((x) => x.id === runId);
    return run && run.state !== 'running' && run;
  }, { timeout, interval: 250, what: `fleet update run ${runId} to end` });
}

// The rollback scenarios, on a server of their own whose "new binary" is a validly signed
// script: it never connects (sleeps), or, for the agent started with RM_TEST_DIE=1 (the
// script's own switch, inherited through execv), exits at once. The watchdogs must restore
// A and start it again: after the confirm window, or as soon as the new process is gone.
async function rollbackScenario() {
  const scriptDir = h.tmpDir('rm-e2e-never-');
  const script = path.join(scriptDir, 'never-connects');
  fs.writeFileSync(script, '#!/bin/sh\n[ -n "$RM_TEST_DIE" ] && exit 3\nexec sleep 600\n', { mode: 0o755 });
  const rel = makeRelease(script, VERSION_B);
  // first without a release key: an agent enrolled then has none pinned; after a restart
  // with the key it pins the one its server names in the hello ack (trust on first use)
  const { server, api } = await h.startServerWithAdmin({ env: { RM_AGENT_BINARY_DIR: rel.dir, RM_AGENT_RELEASE_PUBKEY: path.join(rel.dir, 'absent.pub') } });
  const tofu = await enrolledAgent(server, api, 'upd-tofu');
  const pinned = path.join(tofu.agent.stateDir, 'update-release.pub');
  assert.equal(fs.existsSync(pinned), false, 'no key to pin at enrollment');
  delete server.env.RM_AGENT_RELEASE_PUBKEY;
  await server.restart();
  await api.login();
  await h.waitFor(() => fs.existsSync(pinned), { timeout: 60000, what: 'key pinned on first use' });
  assert.equal(fs.readFileSync(pinned, 'utf8').trim(), rel.pub);
  const env = { RM_AGENT_UPDATE_CONFIRM_S: String(CONFIRM_S) };
  const [a, c] = await Promise.all([enrolledAgent(server, api, 'upd-rollback', { env }),
    enrolledAgent(server, api, 'upd-crash', { env: { ...env, RM_TEST_DIE: '1' } })]);
  const shaA = sha256(a.exe);
  const rolledBack = async (x) => {
    const t0 = Date.now();
    const r = await api.post(`/api/hosts/${x.id}/update`);
    assert.equal(r.status, 202, r.text);
    const host = await h.waitFor(async () => {
      const y = await api.host(x.id);
      return y.update?.state === 'rolled_back' && y.status === 'online' && /within|exited/.test(y.update.error || '') && y;
    }, { timeout: 120000, interval: 250, what: `rollback of ${x.agent.hostId}` });
    return { host, took: Date.now() - t0 };
  };
  const [hang, crash] = await Promise.all([rolledBack(a), rolledBack(c)]);
  return { a, c, api, shaA, hang, crash };
}

before(async () => {
  S.bDir = h.tmpDir('rm-e2e-b-');
  S.binB = buildAgentB(S.bDir);
  assert.match(execFileSync(S.binB, ['--version'], { encoding: 'utf8' }), new RegExp(VERSION_B.replace(/\./g, '\\.')));
  S.rollback = rollbackScenario();
  S.rollback.catch(() => {}); // awaited in its test
  S.rel = makeRelease(S.binB, VERSION_B);
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({ env: { RM_AGENT_BINARY_DIR: S.rel.dir } }));
  S.proxy = await corruptingProxy(S.server.port);
});

after(() => S.proxy?.srv.close());

test('the release is served signed; enrollment pins its key', async () => {
  const m = await S.api.get('/agent/manifest?os=linux&arch=amd64', { cookies: false });
  assert.equal(m.status, 200, m.text);
  assert.equal(m.body.version, VERSION_B);
  assert.equal(m.body.sha256, sha256(S.binB));
  assert.equal(m.body.path, '/agent/binary?os=linux&arch=amd64');
  const f = await S.api.get('/api/fleet/update');
  assert.equal(f.body.release.version, VERSION_B);
  S.hosts = await Promise.all(['upd-a', 'upd-b', 'upd-c'].map((n) => enrolledAgent(S.server, S.api, n)));
  for (const x of S.hosts) {
    assert.equal(fs.readFileSync(path.join(x.agent.stateDir, 'update-release.pub'), 'utf8').trim(), S.rel.pub);
    const host = await S.api.host(x.id);
    assert.notEqual(host.agent_version, VERSION_B);
    assert.equal(host.update, null);
  }
});

test('rolling update of three agents A -> B: each re-hellos with B, previous binary kept, same pid', async () => {
  const shaA = sha256(S.hosts[0].exe);
  const pids = S.hosts.map((x) => x.agent.pid);
  const t0 = Date.now();
  const r = await S.api.post('/api/fleet/update', { host_ids: S.hosts.map((x) => x.id) });
  assert.equal(r.status, 202, r.text);
  const again = await S.api.post('/api/fleet/update', { host_ids: S.hosts.map((x) => x.id) });
  assert.equal(again.status, 409, 'one run at a time');
  const run = await waitRun(S.api, r.body.run.id);
  S.rollingMs = Date.now() - t0;
  assert.equal(run.state, 'succeeded', JSON.stringify(run, null, 1) + S.hosts.map((x) => x.agent.stderr().slice(-2000)).join('\n----\n'));
  assert.deepEqual(run.hosts.map((x) => x.state), ['succeeded', 'succeeded', 'succeeded']);
  for (const [i, x] of S.hosts.entries()) {
    const host = await S.api.host(x.id);
    assert.equal(host.agent_version, VERSION_B);
    assert.equal(host.update.state, 'succeeded');
    assert.equal(host.update.target_version, VERSION_B);
    assert.equal(sha256(x.exe), sha256(S.binB), 'the new binary is in place');
    assert.equal(sha256(`${x.exe}.prev`), shaA, 'the previous binary is kept');
    assert.equal(fs.existsSync(`${x.exe}.new`), false);
    assert.equal(x.agent.pid, pids[i]);
    assert.ok(x.agent.alive(), 'same process (execv), still running');
    assert.equal(fs.existsSync(path.join(x.agent.stateDir, 'update.json')), false, 'update confirmed');
    h.assertNoSanitizer(x.agent.stderr(), `agent ${i}`);
  }
  const audit = await S.api.get('/api/audit?action=host.update');
  assert.ok(audit.status === 200, audit.text);
});

test('a corrupted download is refused: the agent keeps A and the rollout halts at that host', async () => {
  const [d, e] = await Promise.all([enrolledAgent(S.server, S.api, 'upd-d-corrupt', { via: S.proxy.url }),
    enrolledAgent(S.server, S.api, 'upd-e-after')]);
  const shaA = sha256(d.exe);
  const r = await S.api.post('/api/fleet/update', {});
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(r.body.run.hosts.map((x) => x.hostname), ['upd-d-corrupt', 'upd-e-after']);
  const run = await waitRun(S.api, r.body.run.id);
  assert.equal(S.flipped, true, 'the proxy corrupted the download');
  assert.equal(run.state, 'halted', JSON.stringify(run));
  assert.equal(run.halted_host_id, d.id);
  assert.match(run.reason, /upd-d-corrupt: .*sha256/);
  assert.deepEqual(run.hosts.map((x) => x.state), ['failed', 'not_started']);
  const hd = await S.api.host(d.id);
  assert.equal(hd.update.state, 'failed');
  assert.notEqual(hd.agent_version, VERSION_B);
  assert.equal(sha256(d.exe), shaA, 'installed binary untouched');
  assert.equal(fs.existsSync(`${d.exe}.new`), false, 'partial download removed');
  assert.ok(d.agent.alive());
  const alerts = await S.api.get('/api/alerts?state=active');
  const al = alerts.body.alerts.find((x) => x.rule === 'update_failed' && x.host_id === d.id);
  assert.ok(al, `update_failed alert raised: ${alerts.text}`);
  const he = await S.api.host(e.id);
  assert.equal(he.update, null, 'remaining host untouched');
  assert.notEqual(he.agent_version, VERSION_B);
  S.d = d;
  S.e = e;
});

test('browser: the fleet update page shows the halted run; a host page updates its agent live', async () => {
  const { launchBrowser, screenshot } = await import('./lib/browser.mjs');
  const b = await launchBrowser();
  try {
    const { page } = b;
    await page.goto(`${S.server.url}/fleet/update`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/fleet\/update$/);
    assert.equal(await page.getByTestId('release-version').textContent(), VERSION_B);
    const halted = page.locator('[data-testid="update-run"][data-state="halted"]').first();
    assert.match(await halted.getByTestId('update-run-halted').textContent(), /upd-d-corrupt/);
    await page.locator(`[data-testid="behind-host"][data-host-id="${S.e.id}"]`).waitFor();
    await screenshot(page, 'c6-fleet-update-halted');
    // the host page: admin updates this agent and watches it finish without a reload
    await page.goto(`${S.server.url}/hosts/${S.e.id}`);
    await page.getByTestId('agent-update-start').click();
    await page.locator('[data-testid="agent-update-state"][data-state="succeeded"]').waitFor({ timeout: 30000 });
    await screenshot(page, 'c6-host-agent-updated');
    assert.match(await page.getByTestId('host-header').textContent(), new RegExp(`agent ${VERSION_B.replace(/\./g, '\\.')}`));
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
  }
});

test('cancel stops a rolling run after its current host', async () => {
  const [f, g] = await Promise.all([enrolledAgent(S.server, S.api, 'upd-f'), enrolledAgent(S.server, S.api, 'upd-g')]);
  const r = await S.api.post('/api/fleet/update', { host_ids: [f.id, g.id] });
  assert.equal(r.status, 202, r.text);
  const c = await S.api.post(`/api/fleet/update/${r.body.run.id}/cancel`);
  assert.equal(c.status, 200, c.text);
  const run = await waitRun(S.api, r.body.run.id);
  assert.equal(run.state, 'cancelled', JSON.stringify(run));
  assert.deepEqual(run.hosts.map((x) => [x.hostname, x.state]), [['upd-f', 'succeeded'], ['upd-g', 'not_started']]);
  assert.notEqual((await S.api.host(g.id)).agent_version, VERSION_B);
  assert.equal((await S.api.post(`/api/fleet/update/${r.body.run.id}/cancel`)).status, 404, 'not running any more');
});

test('a release signed with a key the agent did not pin is refused; still A', async () => {
  const d = S.d;
  // the agent pinned another key (as if the server now offered releases signed by a key
  // the agent never trusted): a fresh key pair written over the pinned one
  const other = h.tmpDir('rm-e2e-otherkey-');
  execFileSync(serverBin, ['release-key', '--generate', other]);
  fs.copyFileSync(path.join(other, 'agent-release.pub'), path.join(d.agent.stateDir, 'update-release.pub'));
  const shaA = sha256(d.exe);
  const r = await S.api.post(`/api/hosts/${d.id}/update`);
  assert.equal(r.status, 202, r.text);
  const host = await h.waitFor(async () => {
    const x = await S.api.host(d.id);
    return x.update?.state === 'failed' && x.update.error && x;
  }, { timeout: 20000, what: 'update refused' });
  assert.match(host.update.error, /signature does not verify/);
  assert.equal(sha256(d.exe), shaA);
  assert.ok(d.agent.alive());
  // the server's hello ack names its key again, but a pinned key is never replaced
  assert.notEqual(fs.readFileSync(path.join(d.agent.stateDir, 'update-release.pub'), 'utf8').trim(), S.rel.pub);
  // the server checks the release too: a manifest edited after signing is not offered
  const mf = `${S.rel.bin}.manifest`;
  const orig = fs.readFileSync(mf, 'utf8');
  fs.writeFileSync(mf, orig.replace(VERSION_B, `${VERSION_B}x`));
  try {
    assert.equal((await S.api.get('/agent/manifest')).status, 404);
    const f = await S.api.get('/api/fleet/update');
    assert.equal(f.body.release, null);
    assert.match(f.body.release_problem, /signature does not verify/);
    const u = await S.api.post(`/api/hosts/${d.id}/update`);
    assert.equal(u.status, 409);
    assert.equal(u.body.code, 'update_unavailable');
  } finally {
    fs.writeFileSync(mf, orig);
  }
  const bad = await S.api.post('/api/hosts/nope/update');
  assert.equal(bad.status, 404);
  const cur = await S.api.post(`/api/hosts/${S.hosts[0].id}/update`);
  assert.equal(cur.status, 409, 'already at the release version');
});

test('systemd start guard: a stale update marker puts the previous binary back, a fresh one does not', () => {
  // the ExecStartPre line of the shipped unit, run by sh as systemd would ($$ -> $)
  const unit = fs.readFileSync(path.join(h.repoRoot, 'deploy/restic-manager-agent.service'), 'utf8');
  const line = /^ExecStartPre=-\/bin\/sh -c '(.*)'$/m.exec(unit);
  assert.ok(line, 'ExecStartPre guard in the unit');
  const d = h.tmpDir('rm-e2e-guard-');
  const script = line[1].replace(/\$\$/g, '$').replace('/var/lib/restic-manager/', `${d}/`).replace('/usr/local/bin/', `${d}/`);
  const exe = path.join(d, 'restic-manager-agent'), marker = path.join(d, 'update.json');
  const setup = (ageMin) => {
    fs.writeFileSync(exe, 'new');
    fs.writeFileSync(`${exe}.prev`, 'old');
    fs.writeFileSync(marker, JSON.stringify({ update_id: 'u', from: 'a', to: 'b', state: 'restarting', deadline_ms: 0, error: '' }));
    const t = new Date(Date.now() - ageMin * 60000);
    fs.utimesSync(marker, t, t);
  };
  setup(0.5);
  execFileSync('/bin/sh', ['-c', script]);
  assert.equal(fs.readFileSync(exe, 'utf8'), 'new', 'a fresh update is left to its watchdog');
  setup(3);
  execFileSync('/bin/sh', ['-c', script]);
  assert.equal(fs.readFileSync(exe, 'utf8'), 'old', 'previous binary restored');
  assert.equal(fs.existsSync(marker), false);
  assert.equal(fs.existsSync(`${exe}.prev`), false);
  execFileSync('/bin/sh', ['-c', script]); // nothing to do: no error
});

test('an agent whose new binary never connects (or dies at once) rolls back by itself within 2 minutes; an agent enrolled before the release key pins it on first use', async () => {
  const { a, c, api, shaA, hang, crash } = await S.rollback;
  for (const [x, r] of [[a, hang], [c, crash]]) {
    assert.equal(r.host.update.state, 'rolled_back');
    assert.notEqual(r.host.agent_version, VERSION_B);
    assert.equal(sha256(x.exe), shaA, 'binary A restored');
    assert.ok(r.took < 120000, `rolled back after ${r.took} ms`);
    await h.waitFor(() => !fs.existsSync(path.join(x.agent.stateDir, 'update.json')), { timeout: 10000, what: 'marker cleared' });
    h.assertNoSanitizer(x.agent.stderr(), x.agent.hostId);
  }
  assert.match(hang.host.update.error, /did not connect within 10 s/);
  assert.match(crash.host.update.error, /exited before it connected/);
  assert.ok(crash.took < hang.took, 'a dead new binary is rolled back without waiting for the deadline');
  const alerts = await api.get('/api/alerts?state=active');
  assert.equal(alerts.body.alerts.filter((x) => x.rule === 'update_failed').length, 2, alerts.text);
  console.log(`# rolling update of 3 agents: ${S.rollingMs} ms; rollback (confirm window ${CONFIRM_S} s) after ${hang.took} ms; of a binary that exits at once after ${crash.took} ms`);
});
