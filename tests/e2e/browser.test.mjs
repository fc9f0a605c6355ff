// Browser walk-through of C1 with a real server, a real agent and real restic:
// first run → empty dashboard → add host → agent enrolls → pending flips to connected →
// host page → back up now → live job page → summary → snapshot listed → audit → sign out
// → session expiry → sign in returns to the page. Fails on any browser console error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchBrowser, screenshot, artifactsDir, closeAll } from './lib/browser.mjs';
import { startServer, startAgent, makeSampleDir, tmpDir, cleanup, binDir } from './lib/harness.mjs';

const T = 30000;
let server;
let agent;
let browser;
let sample;
let repoParent;

function requireBins() {
  for (const b of ['restic-manager-server', 'restic-manager-agent']) {
    const p = path.join(binDir, b);
    if (!fs.existsSync(p)) throw new Error(`missing ${p} (set RM_BIN_DIR or build it)`);
  }
}

before(async () => {
  requireBins();
  // only this file's screenshots (top level); other browser_*.test.mjs files run in
  // parallel and write into subdirectories
  if (fs.existsSync(artifactsDir)) {
    for (const f of fs.readdirSync(artifactsDir)) if (f.endsWith('.png')) fs.rmSync(path.join(artifactsDir, f), { force: true });
  }
  server = await startServer();
  sample = makeSampleDir({ files: 6 });
  repoParent = tmpDir('rm-e2e-repo-');
  browser = await launchBrowser();
});

after(() => closeAll({ browser, agents: [agent], server }));

test('operator walk-through in Chromium', { timeout: 240000 }, async (t) => {
  const { page, errors } = browser;
  const base = server.url;
  const adminPass = 'correct-horse-battery';
  const diag = () => `\n--- server log (tail) ---\n${server.stderr().slice(-4000)}\n--- agent log (tail) ---\n${agent ? agent.allStderr().slice(-4000) : '(none)'}`;
  const step = async (name, fn) => {
    try { await fn(); } catch (e) {
      await screenshot(page, `FAILED-${name}`).catch(() => {});
      e.message += `\n[step ${name}] url=${page.url()}${diag()}`;
      throw e;
    }
  };

  await step('bootstrap', async () => {
    assert.ok(server.bootstrapToken, 'server printed a bootstrap token');
    await page.goto(`${base}/`);
    await page.waitForURL(/\/bootstrap$/, { timeout: T });
    await page.getByLabel('Bootstrap token').fill(server.bootstrapToken);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('short');
    const hint = page.getByTestId('password-hint');
    assert.match(await hint.textContent(), /12 characters/);
    await screenshot(page, 'bootstrap');
    await page.getByLabel('Password', { exact: true }).fill(adminPass);
    await page.getByLabel('Confirm password').fill(adminPass);
    await page.getByTestId('bootstrap-submit').click();
  });

  await step('dashboard-empty', async () => {
    await page.waitForURL(`${base}/`, { timeout: T });
    await page.getByTestId('empty-state').waitFor({ timeout: T });
    await page.getByTestId('tile-hosts').waitFor();
    await screenshot(page, 'dashboard-empty');
  });

  const repo = path.join(repoParent, 'repo');
  let token;
  await step('add-host', async () => {
    await page.getByTestId('empty-add-host').click();
    await page.waitForURL(/\/hosts\/new$/);
    await page.getByLabel('Hostname').fill('e2e-host');
    await page.getByLabel(/^Tags/).fill('e2e, test');
    await page.getByLabel('Repository URL').fill(repo);
    await page.getByLabel(/^Initial backup paths/).fill(sample);
    await screenshot(page, 'add-host');
    await page.getByTestId('add-submit').click();
    await page.waitForURL(/\/hosts\/pending\/[^/]+$/, { timeout: T });
    token = decodeURIComponent(page.url().split('/').pop());
    await page.getByTestId('pending-awaiting').waitFor({ timeout: T });
    const install = await page.getByTestId('install-command').textContent();
    assert.ok(install.includes(token), 'install command carries the token');
    const enroll = await page.getByTestId('enroll-command').textContent();
    assert.ok(enroll.includes(token), 'enroll command carries the token');
    await page.getByTestId('generated-password').waitFor();
    await screenshot(page, 'pending');
  });

  await step('agent-connects', async () => {
    agent = await startAgent({ server, token });
    await page.locator('[data-testid="pending-connected"][data-host-status="online"]').waitFor({ timeout: T });
    await screenshot(page, 'pending-connected');
    await page.getByTestId('open-host').click();
    await page.waitForURL(/\/hosts\/[^/]+$/, { timeout: T });
  });

  await step('host', async () => {
    await page.getByTestId('host-header').waitFor();
    // the agent reports its real hostname on hello; either name is fine
    assert.ok(['e2e-host', os.hostname()].includes(await page.getByTestId('host-name').textContent()));
    await page.locator('[data-testid="host-status"][data-status="online"]').waitFor({ timeout: T });
    // the repository is initialised on first connect
    await page.locator('[data-testid="repo-status"][data-status="ready"]').waitFor({ timeout: T });
    assert.equal((await page.getByTestId('backup-paths').inputValue()).trim(), sample);
    await screenshot(page, 'host');
    await page.getByTestId('backup-now').click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: T });
  });

  await step('job', async () => {
    await page.getByTestId('job-header').waitFor();
    await page.getByTestId('progress-bar').waitFor();
    await page.locator('[data-testid="log"] .ln').first().waitFor({ timeout: T });
    await screenshot(page, 'job-live');
    await page.getByTestId('job-summary').waitFor({ timeout: T });
    assert.equal(await page.locator('[data-testid="job-status"]').getAttribute('data-status'), 'succeeded');
    assert.match(await page.getByTestId('sum-files-new').textContent(), /\d/);
    assert.equal(await page.getByTestId('progress-percent').textContent(), '100.0%');
    assert.ok(await page.locator('[data-testid="log"] .ln').count() > 0, 'log lines rendered');
    assert.equal(await page.getByTestId('cancel-job').isVisible(), false, 'no cancel after the end');
    await screenshot(page, 'job-done');
  });

  await step('job-after-end', async () => {
    // Arriving after the end shows everything: reload the finished job.
    const n = await page.locator('[data-testid="log"] .ln').count();
    await page.reload();
    await page.getByTestId('job-summary').waitFor({ timeout: T });
    await page.waitForFunction((want) => document.querySelectorAll('[data-testid="log"] .ln').length >= want, n, { timeout: T });
  });

  await step('snapshot', async () => {
    await page.getByTestId('job-host-link').click();
    await page.waitForURL(/\/hosts\/[^/]+$/);
    await page.getByTestId('snapshot-row').first().waitFor({ timeout: T });
    assert.match(await page.getByTestId('snapshots-table').textContent(), new RegExp(sample.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await page.getByTestId('job-row').first().waitFor();
    await screenshot(page, 'host-snapshot');
  });

  await step('dashboard', async () => {
    await page.getByTestId('nav-dashboard').click();
    const row = page.getByTestId('host-row');
    await row.first().waitFor({ timeout: T });
    assert.equal(await row.count(), 1);
    await page.locator('[data-testid="host-row"] .pill-succeeded').waitFor({ timeout: T });
    await screenshot(page, 'dashboard');
  });

  await step('audit', async () => {
    await page.getByTestId('nav-audit').click();
    await page.getByTestId('audit-table').waitFor({ timeout: T });
    const actions = await page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.action));
    for (const a of ['bootstrap', 'enrollment_token.create', 'host.enroll', 'job.dispatch']) {
      assert.ok(actions.includes(a), `audit shows ${a} (got ${actions.join(', ')})`);
    }
    await screenshot(page, 'audit');
  });

  await step('signout-signin', async () => {
    await page.getByTestId('signout').click();
    await page.waitForURL(/\/login$/, { timeout: T });
    await screenshot(page, 'login');
    await page.goto(`${base}/audit`);
    await page.waitForURL(/\/login\?next=%2Faudit$/, { timeout: T });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(adminPass);
    await page.getByTestId('login-submit').click();
    await page.waitForURL(/\/audit$/, { timeout: T });
    await page.getByTestId('audit-table').waitFor();
  });

  await step('session-expiry', async () => {
    // The server forgets the session (cookie gone): the next API call answers 401 and the
    // app returns to sign-in, then back to the page. Chromium logs the 401 itself.
    const before = errors.length;
    await browser.context.clearCookies();
    await page.getByTestId('nav-dashboard').click();
    await page.waitForURL(/\/login\?next=%2F/, { timeout: T });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(adminPass);
    await page.getByTestId('login-submit').click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: T });
    // Every request the dashboard had in flight when the cookie went (hosts, fleet chart,
    // alert count) answers 401, some only after the sign-in page is up: all 401s until the
    // new sign-in are expected; anything else still fails the test.
    const expected = errors.splice(before).filter((e) => !/status of 401/.test(e));
    errors.push(...expected);
  });

  assert.deepEqual(errors, [], `browser console errors:\n${errors.join('\n')}`);
  t.diagnostic(`screenshots in tests/e2e/artifacts/`);
});
