// C6 host administration with real agents and real restic (local repositories, tiny data):
// rename (the operator's name survives the agent's hello, the machine's name is flagged and
// still used by restic), tags/mode round-trip and bad input (400 + code, nothing changed),
// repository credentials after enrollment (wrong password -> fixed by PUT -> ready + backup;
// moved to a new empty repository while offline -> auto-init at its next hello), password rotation (the old password no
// longer opens the repository, the new one does, backups go on, snapshots intact, the
// password in no log), delete (bearer refused, socket closed, history kept vs deleted), and
// agent_offline for an always-on host but not an intermittent one (its minute of silence
// elapses while the other tests run: that test comes last).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import * as h from './lib/harness.mjs';

const S = {};
after(async () => {
  if (S.server && process.env.RM_DUMP) console.log(S.server.allStderr().slice(-8000));
  await h.cleanup();
});

const PW1 = 'c6-first-password-5e1d90';
const NEW_PW = 'c6-rotated-password-7a2c44be';
const RIGHT_PW = 'c6-right-password-0d3b7f';
const WRONG_PW = 'c6-wrong-password-99e1c2';
const MOVED_PW = 'c6-moved-password-41aa07';

const repoDir = (n) => path.join(h.tmpDir(`rm-e2e-c6-${n}-`), 'repo');
const opens = (repo, pw) => h.restic(['cat', 'config'], { repo, password: pw }).code === 0;

async function enroll(hostname, repo, pw, paths = []) {
  const tok = await S.api.createEnrollment({ hostname, repo_url: repo, repo_password: pw, initial_paths: paths });
  const agent = await h.startAgent({ server: S.server, token: tok.token });
  await h.waitHostOnline(S.api, agent.hostId);
  return agent;
}

async function backup(hostId) {
  const id = await S.api.runJob(hostId, { kind: 'backup' });
  const j = await S.api.waitJob(id, { timeout: 60000 });
  assert.equal(j.status, 'succeeded', JSON.stringify(j));
  return j;
}

async function rotationDone(hostId, timeout = 60000) {
  let last;
  try {
    return await h.waitFor(async () => {
      last = (await S.api.get(`/api/hosts/${hostId}/repo-credentials`)).body;
      const r = last && last.rotation;
      return r && !r.active && ['old_removed', 'failed', 'switched'].includes(r.state) && r;
    }, { timeout, interval: 200, what: 'rotation finished' });
  } catch (e) {
    e.message += `\nlast: ${JSON.stringify(last)}`;
    throw e;
  }
}

test('setup: server, the main host, and two hosts that go silent (always-on, intermittent)', async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({
    env: { RM_SWEEP_INTERVAL_MS: '500', RM_OFFLINE_AFTER_S: '2' },
  }));
  const r = await S.api.req('PUT', '/api/alert-rules', { rules: [{ rule: 'agent_offline', params: { after_minutes: 1 } }] });
  assert.equal(r.status, 200, r.text);
  S.data = h.makeSampleDir({ files: 3 });
  S.repo = repoDir('main');
  S.agent = await enroll('c6-main', S.repo, PW1, [S.data]);
  S.hostId = S.agent.hostId;
  const host = await h.waitRepoStatus(S.api, S.hostId);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  assert.equal(host.mode, 'always_on');

  S.server1 = await enroll('c6-server', repoDir('srv'), PW1);
  S.laptop = await enroll('c6-laptop', repoDir('lap'), PW1);
  const p = await S.api.req('PATCH', `/api/hosts/${S.laptop.hostId}`, { mode: 'intermittent' });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.mode, 'intermittent');
  await Promise.all([h.waitRepoStatus(S.api, S.server1.hostId), h.waitRepoStatus(S.api, S.laptop.hostId)]);
  await S.server1.stop();
  await S.laptop.stop();
  S.silentSince = Date.now();
});

test('rename: the operator\'s name stays after the agent reconnects; mismatch flagged; restic keeps the machine name', async () => {
  const r = await S.api.req('PATCH', `/api/hosts/${S.hostId}`, { hostname: 'web-renamed', tags: ['prod', 'web'] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.hostname, 'web-renamed');
  assert.deepEqual(r.body.tags, ['prod', 'web']);
  await S.agent.restart();
  await h.waitFor(async () => {
    const x = await S.api.host(S.hostId);
    return x.status === 'online' && x.last_seen_at && Date.parse(x.last_seen_at) > Date.now() - 5000 && x;
  }, { what: 'hello after restart' });
  const host = await S.api.host(S.hostId);
  assert.equal(host.hostname, 'web-renamed');
  assert.equal(host.reported_hostname, os.hostname());
  assert.equal(host.hostname_mismatch, true);
  const list = (await S.api.get('/api/hosts')).body.hosts;
  assert.equal(list.find((x) => x.id === S.hostId).hostname, 'web-renamed');
  // restic's --host is still the machine's: backups keep their snapshot lineage
  await backup(S.hostId);
  const snaps = h.resticSnapshots(S.repo, PW1);
  assert.equal(snaps.length, 1);
  assert.equal(snaps[0].hostname, os.hostname());
  const audit = await S.api.get('/api/audit?action=host.update');
  assert.equal(audit.status, 200, audit.text);
  assert.match(audit.text, /web-renamed/);
});

test('tags and mode round-trip; bad input is refused with a code and changes nothing', async () => {
  const m = await S.api.req('PATCH', `/api/hosts/${S.hostId}`, { mode: 'intermittent' });
  assert.equal(m.status, 200, m.text);
  assert.equal(m.body.mode, 'intermittent');
  assert.equal((await S.api.get(`/api/hosts/${S.hostId}/settings`)).body.mode, 'intermittent');
  assert.equal((await S.api.req('PATCH', `/api/hosts/${S.hostId}`, { mode: 'always_on' })).body.mode, 'always_on');
  const before = await S.api.host(S.hostId);
  const bad = [
    [{ hostname: 'bad name!' }, 'hostname'], [{ hostname: '' }, 'hostname'], [{ tags: 'prod' }, 'tags'],
    [{ tags: ['a', 'a'] }, 'tags'], [{ tags: ['x\ny'] }, 'tags'], [{ tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'tags'],
    [{ mode: 'sometimes' }, 'mode'], [{ os: 'windows' }, 'os'], [{ hostname: 'ok', mode: 'nope' }, 'mode'],
  ];
  for (const [body, field] of bad) {
    const r = await S.api.req('PATCH', `/api/hosts/${S.hostId}`, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.body.code, 'invalid_field');
    assert.equal(r.body.field, field, r.text);
  }
  const after = await S.api.host(S.hostId);
  for (const k of ['hostname', 'tags', 'mode']) assert.deepEqual(after[k], before[k], k);
  assert.equal((await S.api.req('PATCH', '/api/hosts/01NOSUCHHOST0000000000000', { mode: 'always_on' })).status, 404);
});

test('repository credentials: a wrong password is fixed by PUT (ready, backup), then the host moves to a new empty repository', async () => {
  const repo = repoDir('fix');
  h.resticInit(repo, RIGHT_PW);
  const agent = await enroll('c6-fix', repo, WRONG_PW, [S.data]);
  let host = await h.waitRepoStatus(S.api, agent.hostId);
  assert.equal(host.repo_status, 'init_failed');
  assert.ok(host.repo_error, 'repo_error says why');
  const bad = await S.api.req('PUT', `/api/hosts/${agent.hostId}/repo-credentials`, { repo_url: '', repo_password: RIGHT_PW });
  assert.equal(bad.status, 400, bad.text);
  assert.equal((await S.api.host(agent.hostId)).repo_status, 'init_failed', 'bad input changed nothing');
  const r = await S.api.req('PUT', `/api/hosts/${agent.hostId}/repo-credentials`, { repo_url: repo, repo_password: RIGHT_PW });
  assert.equal(r.status, 200, r.text);
  host = await h.waitRepoStatus(S.api, agent.hostId);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  await backup(agent.hostId);
  assert.equal(h.resticSnapshots(repo, RIGHT_PW).length, 1);
  const view = (await S.api.get(`/api/hosts/${agent.hostId}/repo-credentials`)).body;
  assert.equal(view.password_set, true);
  assert.ok(!JSON.stringify(view).includes(RIGHT_PW), 'the password is never shown');

  // moved while the host is offline: stored now, pushed and probed at its next hello
  await agent.stop();
  const moved = repoDir('moved');
  const m = await S.api.req('PUT', `/api/hosts/${agent.hostId}/repo-credentials`, { repo_url: moved, repo_password: MOVED_PW });
  assert.equal(m.status, 200, m.text);
  assert.equal(m.body.repo_status, 'unknown');
  agent.start();
  host = await h.waitRepoStatus(S.api, agent.hostId);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  assert.ok(opens(moved, MOVED_PW), 'the new repository was initialised with the new password');
  await backup(agent.hostId);
  assert.equal(h.resticSnapshots(moved, MOVED_PW).length, 1);
  const audit = await S.api.get('/api/audit?action=host.repo_credentials.set');
  assert.match(audit.text, /host\.repo_credentials\.set/);
  for (const pw of [RIGHT_PW, MOVED_PW, WRONG_PW]) {
    assert.ok(!S.server.allStderr().includes(pw), 'server log has no password');
    assert.ok(!agent.allStderr().includes(pw), 'agent log has no password');
  }
  await agent.stop();
});

test('rotate: the old password no longer opens the repository, the new one does, backups go on', async (t) => {
  const before = h.resticSnapshots(S.repo, PW1).length;
  const r = await S.api.post(`/api/hosts/${S.hostId}/repo-credentials/rotate`, { new_password: NEW_PW });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.rotation.state, 'pending');
  const again = await S.api.post(`/api/hosts/${S.hostId}/repo-credentials/rotate`, {});
  assert.equal(again.status, 409, again.text);
  assert.equal(again.body.code, 'rotation_running');
  const rot = await rotationDone(S.hostId);
  assert.equal(rot.state, 'old_removed', JSON.stringify(rot));
  t.diagnostic(`rotation: ${Date.parse(rot.updated_at) - Date.parse(rot.started_at)} ms from start to old key removed`);
  assert.ok(rot.old_key_id && rot.new_key_id && rot.old_key_id !== rot.new_key_id);
  assert.equal(opens(S.repo, PW1), false, 'the old password is retired');
  assert.equal(opens(S.repo, NEW_PW), true, 'the new password opens the repository');
  const keys = JSON.parse(h.restic(['key', 'list', '--json'], { repo: S.repo, password: NEW_PW }).stdout);
  assert.deepEqual(keys.map((k) => k.id), [rot.new_key_id]);
  await backup(S.hostId);
  assert.equal(h.resticSnapshots(S.repo, NEW_PW).length, before + 1, 'snapshots intact');
  // and once more with a password the server generates
  const g = await S.api.post(`/api/hosts/${S.hostId}/repo-credentials/rotate`, {});
  assert.equal(g.status, 202, g.text);
  const rot2 = await rotationDone(S.hostId);
  assert.equal(rot2.state, 'old_removed', JSON.stringify(rot2));
  assert.equal(opens(S.repo, NEW_PW), false);
  await backup(S.hostId);
  for (const pw of [PW1, NEW_PW]) {
    assert.ok(!S.server.allStderr().includes(pw), 'server log has no password');
    assert.ok(!S.agent.allStderr().includes(pw), 'agent log has no password');
  }
  const jobs = (await S.api.get(`/api/jobs?host_id=${S.hostId}&limit=100`)).body;
  assert.ok(!JSON.stringify(jobs).includes(NEW_PW), 'no password in the jobs');
  assert.match((await S.api.get('/api/audit?action=host.repo_password.rotate')).text, /host\.repo_password\.rotate/);
  const done = (await S.api.get('/api/audit?action=host.repo_password.rotated')).body.entries;
  assert.equal(done.length, 2, 'each finished rotation is audited');
});

test('delete keeping the history: bearer refused at once, socket closed, jobs cancelled, history readable', async () => {
  const id = await S.api.runJob(S.hostId, { kind: 'backup' });
  const r = await S.api.del(`/api/hosts/${S.hostId}?history=keep`);
  assert.equal(r.status, 200, r.text);
  const job = await S.api.waitJob(id, { timeout: 30000 });
  assert.equal(job.status, r.body.cancelled_jobs.includes(id) ? 'cancelled' : job.status);
  await h.waitFor(() => /bearer rejected/.test(S.agent.stderr()), { timeout: 15000, what: 'agent told its bearer is refused' });
  await assert.rejects(h.wsConnect(`${S.server.url.replace('http', 'ws')}/ws/agent`, { protocol: 'rm-agent.v1', headers: { Authorization: `Bearer ${S.agent.bearer}` } }),
    (e) => e.status === 401 || /401/.test(String(e.message)));
  const list = (await S.api.get('/api/hosts')).body.hosts;
  assert.ok(!list.some((x) => x.id === S.hostId), 'not in the dashboard list');
  const host = await S.api.host(S.hostId);
  assert.ok(host.deleted_at, 'shown as deleted');
  const archived = (await S.api.get('/api/deleted-hosts')).body.hosts;
  assert.deepEqual(archived.map((x) => x.id), [S.hostId], 'listed among the deleted hosts');
  const snaps = (await S.api.get(`/api/hosts/${S.hostId}/snapshots`)).body.snapshots;
  assert.ok(snaps.length >= 2, 'snapshots kept');
  assert.equal((await S.api.get(`/api/jobs/${id}`)).status, 200, 'jobs kept');
  assert.equal((await S.api.post(`/api/hosts/${S.hostId}/jobs`, { kind: 'backup' })).status, 404, 'nothing new runs');
  assert.match((await S.api.get('/api/audit?action=host.delete')).text, /"history":\s*"keep"/);

  const d = await S.api.del(`/api/hosts/${S.hostId}?history=delete`);
  assert.equal(d.status, 200, d.text);
  assert.equal((await S.api.get(`/api/hosts/${S.hostId}`)).status, 404);
  assert.equal((await S.api.get('/api/deleted-hosts')).body.hosts.length, 0);
  assert.equal((await S.api.get(`/api/jobs/${id}`)).status, 404, 'history deleted');
  assert.equal((await S.api.del(`/api/hosts/${S.hostId}?history=bogus`)).status, 400);
  await S.agent.stop();
});

test('agent_offline: raised for the silent always-on host, never for the intermittent one', async () => {
  const alert = await h.waitFor(async () => {
    const a = (await S.api.get('/api/alerts?state=active')).body;
    return (a.alerts || []).find((x) => x.rule === 'agent_offline' && x.host_id === S.server1.hostId);
  }, { timeout: Math.max(5000, 80000 - (Date.now() - S.silentSince)), interval: 500, what: 'agent_offline alert' });
  assert.ok(alert);
  const all = (await S.api.get('/api/alerts?state=active')).body.alerts || [];
  assert.ok(!all.some((x) => x.rule === 'agent_offline' && x.host_id === S.laptop.hostId), 'no alert for the intermittent host');
});
