// Browser: the restore wizard end to end with a real server, agent and restic — host page
// → "Restore files…" → snapshot → browse the snapshot tree and tick a directory and a file
// → new directory → confirm → the live
// job page shows the restore's summary; the files are on disk with the original bytes.
// Then the drill card: run a drill now, its job page says restorable, the host page shows
// "last proven restorable". Fails on any browser console error.
// Screenshots: tests/e2e/artifacts/restore/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 30000;
const ADMIN_PW = 'correct horse battery';
const S = {};
const screenshot = (page, name) => shot(page, `restore/${name}`);

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'restore'), { recursive: true, force: true });
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({ password: ADMIN_PW }));
  S.src = h.tmpDir('rm-e2e-bres-src-');
  fs.mkdirSync(path.join(S.src, 'keep/inner'), { recursive: true });
  fs.mkdirSync(path.join(S.src, 'also'), { recursive: true });
  fs.mkdirSync(path.join(S.src, 'skip'), { recursive: true });
  fs.writeFileSync(path.join(S.src, 'keep/inner/a.txt'), 'alpha\n'.repeat(1000));
  fs.writeFileSync(path.join(S.src, 'also/b.bin'), Buffer.alloc(50000, 9));
  fs.writeFileSync(path.join(S.src, 'skip/c.txt'), 'not selected');
  const repo = path.join(h.tmpDir('rm-e2e-bres-repo-'), 'repo');
  const tok = await S.api.createEnrollment({ hostname: 'e2e-bres', repo_url: repo, repo_password: 'bres-repo-pw-4411', initial_paths: [S.src] });
  S.agent = await h.startAgent({ server: S.server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(S.api, S.hostId);
  await h.waitRepoStatus(S.api, S.hostId, 'ready', 60000);
  const job = await S.api.waitJob(await S.api.runJob(S.hostId, { kind: 'backup', paths: [S.src] }), { timeout: 60000 });
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  await h.waitFor(async () => (await S.api.get(`/api/hosts/${S.hostId}/snapshots`)).body?.snapshots?.length === 1, { timeout: 20000, what: 'snapshot listed' });
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.agent], server: S.server }));

const step = stepper(S, screenshot, { agents: ['agent'] });

test('restore wizard: browse, select, restore, watch the job', { timeout: 120000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  const target = path.join(h.tmpDir('rm-e2e-bres-out-'), 'restored');
  await step('login', async () => {
    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/`, { timeout: T });
  });
  await step('host-page', async () => {
    await page.goto(`${base}/hosts/${S.hostId}`);
    await page.getByTestId('drill-card').waitFor();
    await page.getByTestId('restore-start').click();
    await page.waitForURL(/\/restore$/, { timeout: T });
  });
  await step('snapshot', async () => {
    await page.getByTestId('restore-wizard').waitFor();
    await page.getByTestId('wizard-next').click();
    await page.getByText('Pick a snapshot.').waitFor();
    await page.getByTestId('wizard-snapshot-row').first().locator('input[type=radio]').check();
    await screenshot(page, '1-snapshot');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('path-picker').waitFor();
  });
  await step('paths', async () => {
    await page.getByTestId('wizard-next').click();
    await page.getByText('Select at least one file or directory.').waitFor();
    // browse the snapshot tree down to the source and tick a directory and a file
    const row = (p) => page.locator(`[data-testid="tree-row"][data-path="${p}"]`);
    const parts = S.src.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/');
      await row(p).locator('[data-testid="tree-toggle"]').first().click();
    }
    await row(path.join(S.src, 'keep')).locator('[data-testid="tree-select"]').first().check();
    await row(path.join(S.src, 'also')).locator('[data-testid="tree-toggle"]').first().click();
    await row(path.join(S.src, 'also/b.bin')).locator('[data-testid="tree-select"]').first().check();
    await page.getByTestId('selected-count').filter({ hasText: '2 selected' }).waitFor();
    await screenshot(page, '2-paths');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('target-new').waitFor();
  });
  await step('target', async () => {
    assert.equal(await page.getByTestId('target-new').isChecked(), true, 'new directory is the default');
    await page.getByTestId('target-path').fill('relative/dir');
    await page.getByTestId('wizard-next').click();
    await page.getByText('The directory must be an absolute path').waitFor();
    // in place needs the typed host name
    await page.getByTestId('target-in-place').check();
    await page.getByTestId('confirm-hostname').fill('wrong-host');
    await page.getByTestId('wizard-next').click();
    await page.getByText('Type the host name (e2e-bres) to confirm.').waitFor();
    await page.getByTestId('target-new').check();
    await page.getByTestId('target-path').fill(target);
    await screenshot(page, '3-target');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('restore-summary').waitFor();
    assert.equal(await page.getByTestId('summary-target').textContent(), target);
    await screenshot(page, '4-confirm');
  });
  let jobId;
  await step('start-and-watch', async () => {
    await page.getByTestId('wizard-next').click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: T });
    jobId = page.url().split('/').pop();
    await page.locator('[data-testid="job-status"][data-status="succeeded"]').waitFor({ timeout: 60000 });
    await page.getByTestId('job-summary').waitFor();
    assert.equal(await page.getByTestId('sum-files-restored').locator('dd').textContent(), '2');
    assert.equal(await page.getByTestId('sum-target').locator('dd').textContent(), target);
    await screenshot(page, '5-job');
  });
  assert.equal(fs.readFileSync(path.join(target, S.src, 'keep/inner/a.txt'), 'utf8'), 'alpha\n'.repeat(1000));
  assert.deepEqual(fs.readFileSync(path.join(target, S.src, 'also/b.bin')), Buffer.alloc(50000, 9));
  assert.equal(fs.existsSync(path.join(target, S.src, 'skip')), false);
  const job = await S.api.job(jobId);
  assert.equal(job.kind, 'restore');
  assert.deepEqual(job.args.includes, [path.join(S.src, 'keep'), path.join(S.src, 'also/b.bin')]);
  assert.deepEqual(S.browser.errors, [], 'browser console errors');
});

test('drill card: run a drill now, then the host shows last proven restorable', { timeout: 120000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  await step('drill', async () => {
    await page.goto(`${base}/hosts/${S.hostId}`);
    await page.getByTestId('last-proven').filter({ hasText: 'never' }).waitFor();
    await page.getByTestId('drill-run').click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: T });
    await page.locator('[data-testid="job-status"][data-status="succeeded"]').waitFor({ timeout: 60000 });
    await page.getByTestId('drill-summary').filter({ hasText: 'Restorable' }).waitFor();
    assert.equal(await page.getByTestId('sum-mismatches').locator('dd').textContent(), '0');
    await screenshot(page, '6-drill-job');
    await page.goto(`${base}/hosts/${S.hostId}`);
    await page.getByTestId('last-proven').locator('time').waitFor();
    await page.getByTestId('vital-restorable').locator('time').waitFor();
    await page.goto(`${base}/`);
    await page.getByTestId('host-restorable').locator('time').waitFor();
    await screenshot(page, '7-dashboard');
  });
  assert.deepEqual(S.browser.errors, [], 'browser console errors');
});

test('a snapshot row\'s Restore link opens the wizard on that snapshot', { timeout: 60000 }, async () => {
  const { page } = S.browser;
  await step('snapshot-restore-link', async () => {
    await page.goto(`${S.server.url}/hosts/${S.hostId}`);
    await page.getByTestId('snapshot-restore').first().click();
    await page.waitForURL(/\/restore\?snapshot=[0-9a-f]+$/, { timeout: T });
    await page.getByTestId('path-picker').waitFor();
    assert.equal(await page.getByTestId('step-paths').getAttribute('aria-current'), 'step');
    await page.getByTestId('snapshot-tree').waitFor();
  });
  assert.deepEqual(S.browser.errors, [], 'browser console errors');
});
