// `make demo` keeps working: scripts/demo.sh (the README's first command, after its
// dependency install) against the release binaries, twice on the same data directory (the
// first run bootstraps and enrolls, the second logs in and reuses the agent, as `make demo`
// does on its fixed port). Each run must
// show a backup, the schedule, a restore whose file equals the original, and an alert.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cleanup, freePort, repoRoot, relBinDir, spawnTracked, tmpDir, waitFor } from './lib/harness.mjs';

after(cleanup);

async function runDemo(data, port) {
  const h = spawnTracked('bash', [path.join(repoRoot, 'scripts/demo.sh')], {
    env: { ...process.env, RM_DEMO_BIN_DIR: relBinDir, RM_DEMO_PORT: String(port), RM_DEMO_DATA: data },
  });
  const both = () => h.out + h.err;
  let exited = false;
  h.exited.then(() => { exited = true; });
  await waitFor(() => exited || /demo ready: http:\/\/127\.0\.0\.1:\d+ user=admin password=\S+/.test(both()),
    { timeout: 240000, interval: 200, what: 'demo ready' }).catch((e) => { throw new Error(`${e.message}\n${both()}`); });
  assert.ok(!exited, `demo exited early:\n${both()}`);
  h.proc.kill('SIGINT');
  const { code, signal } = await h.exited;
  assert.ok(code === 130 || signal === 'SIGINT', `demo stopped with ${code}/${signal}`);
  return both();
}

test('make demo: backup, schedule, restore and alert; a second run reuses everything', { timeout: 600000 }, async () => {
  const data = tmpDir('rm-e2e-demo-');
  const port = await freePort(); // the enrolled agent keeps the server's URL: same port twice
  for (const run of [1, 2]) {
    const out = await runDemo(data, port);
    assert.match(out, /backup job [0-9A-Z]{26} started/, `run ${run}`);
    assert.match(out, /next scheduled backup: \d{4}-/, `run ${run}`);
    const m = /restore succeeded: 1 file\(s\) into (\S+)/.exec(out);
    assert.ok(m, `run ${run}: no restore line in\n${out}`);
    const restored = path.join(m[1], data, 'sample/README.txt');
    assert.equal(fs.readFileSync(restored, 'utf8'), fs.readFileSync(path.join(data, 'sample/README.txt'), 'utf8'));
    assert.match(out, /alert raised: backup_failed/, `run ${run}`);
    if (run === 1) assert.match(out, /bootstrapped user admin/);
    else assert.doesNotMatch(out, /bootstrapped user admin/);
  }
});
