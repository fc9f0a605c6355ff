// Browser coverage of C2 repository health (issue 11, must-show 6) with a real server, a
// real agent and Debian's restic 0.14:
//   - the group editor's retention preview lists the group's existing snapshots as kept
//     (with restic's reasons) or removed, for the retention being typed, before saving;
//     nothing is removed from the repository;
//   - the host's Repository tab shows the health numbers, says there is no forecast yet,
//     draws the repository-size chart and the per-backup chart (canvas present and
//     painted), and with ten earlier days of reports shows the forecast text;
//   - the dashboard draws the fleet's total size chart;
//   - the Snapshots tab shows size and file count on restic 0.14 (no "—").
// Fails on any browser console error. Screenshots: tests/e2e/artifacts/repo/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 30000;
const ADMIN_PW = 'correct horse battery';
const REPO_PW = 'repo-browser-pw-58d1';
const S = {};
const screenshot = (page, name) => shot(page, `repo/${name}`);

before(async () => {
  for (const b of ['restic-manager-server', 'restic-manager-agent']) {
    const p = path.join(h.binDir, b);
    if (!fs.existsSync(p)) throw new Error(`missing ${p} (set RM_BIN_DIR or build it)`);
  }
  fs.rmSync(path.join(artifactsDir, 'repo'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  S.sample = h.makeSampleDir({ files: 5 });
  S.repo = path.join(h.tmpDir('rm-e2e-repo-ui-'), 'repo');
  const tok = await api.createEnrollment({ hostname: 'e2e-repo', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  const host = await h.waitRepoStatus(api, S.hostId, 'ready', T);
  assert.equal(host.repo_status, 'ready', `repo_status ${host.repo_status}: ${host.repo_error}`);
  await h.waitHostOnline(api, S.hostId, T);
  const g = await api.post(`/api/hosts/${S.hostId}/groups`, { name: 'docs', includes: [S.sample], retention: { keep_last: 5 } });
  assert.equal(g.status, 201, g.text);
  S.group = g.body.id;
  S.snaps = [];
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(S.sample, `grow-${i}.bin`), crypto.randomBytes(30000 * (i + 1)));
    const r = await api.post(`/api/hosts/${S.hostId}/groups/${S.group}/run`, {});
    assert.equal(r.status, 202, r.text);
    const job = await api.waitJob(r.body.job_id, { timeout: 60000 });
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    S.snaps.push(job.stats.snapshot_id);
  }
  await h.waitFor(async () => (await api.get(`/api/hosts/${S.hostId}/repo/history`)).body.backups.length === 3, { timeout: T, what: '3 backup points' });
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.agent], server: S.server }));

const step = stepper(S, screenshot, { agents: ['agent'] });

// A chart is drawn: its <canvas> exists, has a size, and uPlot painted pixels on it.
async function assertChartPainted(page, testid) {
  const box = page.getByTestId(testid);
  await box.locator('canvas').waitFor({ timeout: T });
  const painted = await h.waitFor(async () => {
    const n = await box.locator('canvas').evaluate((c) => {
      if (!c.width || !c.height) return 0;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let k = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]) k++;
      return k;
    });
    return n > 200 && n;
  }, { timeout: T, what: `${testid} painted` });
  return painted;
}

test('retention preview, repository charts, fleet chart, snapshot sizes — no console errors', { timeout: 120000 }, async () => {
  const { page, errors } = S.browser;
  const base = S.server.url;
  await step('login', async () => {
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=sources`);
    await page.waitForURL(/\/login\?next=/, { timeout: T });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.getByTestId('login-submit').click();
    await page.waitForURL(/\/hosts\/[^/]+\?tab=sources$/, { timeout: T });
  });

  await step('retention-preview', async () => {
    const row = page.locator('[data-testid="group-row"][data-group-name="docs"]');
    await row.waitFor({ timeout: T });
    await row.getByTestId('group-edit').click();
    const form = page.getByTestId('group-form');
    await form.waitFor();
    // the stored retention (keep last 5) keeps all three
    await form.getByTestId('rp-run').click();
    await h.waitFor(async () => (await form.locator('[data-testid="rp-row"][data-action="keep"]').count()) === 3, { timeout: T, what: 'all 3 kept under keep_last 5' });
    // typing keep last 1 previews again by itself (debounced)
    await form.getByLabel(/^Keep last/).fill('1');
    await h.waitFor(async () => (await form.locator('[data-testid="rp-row"][data-action="remove"]').count()) === 2, { timeout: T, what: '2 removed under keep_last 1' });
    const kept = form.locator('[data-testid="rp-row"][data-action="keep"]');
    assert.equal(await kept.count(), 1);
    assert.equal((await kept.locator('td').nth(1).textContent()).trim(), S.snaps[2], 'the newest is kept');
    assert.match(await kept.textContent(), /last snapshot/);
    const removed = form.locator('[data-testid="rp-row"][data-action="remove"]');
    const removedIds = (await removed.evaluateAll((rs) => rs.map((r) => r.children[1].textContent.trim()))).sort();
    assert.deepEqual(removedIds, [S.snaps[0], S.snaps[1]].sort());
    assert.match(await removed.first().textContent(), /no rule keeps it/);
    assert.equal(await form.getByTestId('rp-summary').textContent(), '1 kept · 2 removed');
    await screenshot(page, 'retention-preview');
    await form.getByTestId('group-cancel').click();
    assert.equal(h.resticSnapshots(S.repo, REPO_PW).length, 3, 'a preview removes nothing');
  });

  await step('repository-tab', async () => {
    await page.getByTestId('tab-repo').click();
    await page.waitForURL(/\?tab=repo$/);
    const health = page.getByTestId('repo-health');
    await health.waitFor({ timeout: T });
    assert.match(await page.getByTestId('repo-size').textContent(), /\d+(\.\d)? (KiB|MiB)/);
    assert.match(await page.getByTestId('repo-dedup').textContent(), /\d\.\d×/);
    assert.match(await page.getByTestId('repo-snapshots').textContent(), /3/);
    assert.match(await page.getByTestId('repo-last-check').textContent(), /never/);
    // three reports within a minute: honest, no forecast yet
    assert.match(await page.getByTestId('repo-forecast').textContent(), /No forecast yet/);
    S.sizePx = await assertChartPainted(page, 'repo-size-chart');
    S.backupPx = await assertChartPainted(page, 'repo-backup-chart');
    await screenshot(page, 'repository-new');
    // ten earlier days of reports (written into the server's database: nobody waits ten
    // days), then the 30-day range again: the forecast text appears
    const db = path.join(S.server.dataDir, 'restic-manager.db');
    // growing by a twentieth of the first backup's size a day up to its report
    const first = (await S.api.get(`/api/hosts/${S.hostId}/repo/history`)).body.points.find((p) => p.snapshot_count > 0);
    const size = first.size_bytes;
    const now = first.t;
    const rows = [];
    const inc = Math.floor(size / 20);
    for (let d = 10; d >= 1; d--) rows.push(`('${S.hostId}', ${now - d * 86400000}, ${size - d * inc}, ${Math.round(size * 1.6 - d * inc * 1.6)}, NULL, NULL, 3)`);
    execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, `INSERT INTO repo_history VALUES ${rows.join(',')}`]);
    await page.getByTestId('repo-range-7').click();
    await page.locator('[data-testid="repo-forecast"][data-ok="true"]').waitFor({ timeout: T });
    S.forecastText = await page.getByTestId('repo-forecast').textContent();
    assert.match(S.forecastText, /^\+\d+(\.\d)? (B|KiB)\/day; 1(\.0)? MiB in [\d,]+ days?$/);
    await assertChartPainted(page, 'repo-size-chart');
    await screenshot(page, 'repository');
  });

  await step('snapshots-tab', async () => {
    await page.getByTestId('tab-snapshots').click();
    const rows = page.getByTestId('snapshot-row');
    await h.waitFor(async () => (await rows.count()) === 3, { timeout: T, what: '3 snapshot rows' });
    for (const t of await rows.evaluateAll((rs) => rs.map((r) => [r.children[4].textContent.trim(), r.children[5].textContent.trim()]))) {
      assert.match(t[0], /^\d+(\.\d)? (B|KiB|MiB)$/, `size column: ${t}`);
      assert.match(t[1], /^\d+$/, `files column: ${t}`);
    }
  });

  await step('dashboard', async () => {
    await page.goto(`${base}/`);
    await page.getByTestId('fleet-chart').waitFor({ timeout: T });
    S.fleetPx = await assertChartPainted(page, 'fleet-chart');
    await screenshot(page, 'dashboard');
  });

  assert.deepEqual(errors, [], 'no console errors');
  console.log(`# painted pixels: size chart ${S.sizePx}, backup chart ${S.backupPx}, fleet chart ${S.fleetPx}; forecast "${S.forecastText}"`);
});
