// Password rotation on an append-only REST repository (`rclone serve restic --append-only`):
// the new key is added and becomes current, the removal of the old key is refused by the
// server, and the rotation says so clearly ("completed except removing the old key:
// repository is append-only") while backups go on with the new password. (restic 0.14
// retries the refused DELETE for about 45 s: that is most of this file's time.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import * as h from './lib/harness.mjs';

const S = { kids: [] };
after(async () => {
  for (const k of S.kids) { try { k.kill('SIGKILL'); } catch { /* gone */ } }
  if (S.server && process.env.RM_DUMP) console.log(S.server.allStderr().slice(-8000));
  await h.cleanup();
});

const OLD_PW = 'ao-rotate-old-pw-6f1a2b';
const NEW_PW = 'ao-rotate-new-pw-93c0d7e1';
const RCLONE = '/usr/bin/rclone';

test('rotation on an append-only repository: switched, old key kept, reported clearly', { timeout: 150000 }, async () => {
  assert.ok(fs.existsSync(RCLONE), 'rclone is installed (make deps)');
  const dir = h.tmpDir('rm-e2e-c6ao-');
  const port = await h.freePort();
  const p = spawn(RCLONE, ['serve', 'restic', '--addr', `127.0.0.1:${port}`, '--append-only', dir],
    { env: { PATH: '/usr/bin:/bin', HOME: h.tmpDir('rm-e2e-rclone-home-') }, stdio: 'ignore' });
  S.kids.push(p);
  await h.waitFor(async () => {
    const r = await h.httpRequest(`http://127.0.0.1:${port}/config`, { method: 'HEAD' }).catch(() => null);
    return r && r.status > 0;
  }, { timeout: 15000, interval: 100, what: 'rclone up' });
  const repo = `rest:http://127.0.0.1:${port}/`;

  ({ server: S.server, api: S.api } = await h.startServerWithAdmin());
  const tok = await S.api.createEnrollment({ hostname: 'c6-ao', repo_url: repo, repo_password: OLD_PW, initial_paths: [h.makeSampleDir({ files: 2 })] });
  const agent = await h.startAgent({ server: S.server, token: tok.token });
  await h.waitHostOnline(S.api, agent.hostId);
  const host = await h.waitRepoStatus(S.api, agent.hostId);
  assert.equal(host.repo_status, 'ready', host.repo_error);

  const r = await S.api.post(`/api/hosts/${agent.hostId}/repo-credentials/rotate`, { new_password: NEW_PW });
  assert.equal(r.status, 202, r.text);
  let rot;
  await h.waitFor(async () => {
    rot = (await S.api.get(`/api/hosts/${agent.hostId}/repo-credentials`)).body.rotation;
    return rot && !rot.active && rot.state !== 'pending' && rot;
  }, { timeout: 120000, interval: 500, what: 'rotation finished' });
  assert.equal(rot.state, 'switched', JSON.stringify(rot));
  assert.equal(rot.error, 'completed except removing the old key: repository is append-only');
  // both passwords open it (the old key could not be removed); the new one is current
  assert.equal(h.restic(['cat', 'config'], { repo, password: NEW_PW }).code, 0);
  assert.equal(h.restic(['cat', 'config'], { repo, password: OLD_PW }).code, 0);
  const id = await S.api.runJob(agent.hostId, { kind: 'backup' });
  const j = await S.api.waitJob(id, { timeout: 60000 });
  assert.equal(j.status, 'succeeded', JSON.stringify(j));
  assert.ok(!S.server.allStderr().includes(NEW_PW) && !agent.allStderr().includes(NEW_PW), 'no password in the logs');
  await agent.stop();
});
