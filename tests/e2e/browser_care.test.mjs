// Browser coverage of the host page's Maintenance tab (C2 repository care) with a real
// server, agent and restic: the cadences with their defaults and next runs, a saved change,
// a cadence the server refuses shown next to its row, Run now (unlock) opening its job, the
// lock list after it, and the admin credential form (write-only: the password is never
// shown back, only "Set."). Fails on any console error other than the expected 422.
// Screenshots: tests/e2e/artifacts/care/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 30000;
const ADMIN_PW = 'correct horse battery';
const SLOT_PW = 'browser-admin-slot-pw-71c2';
const S = {};
const screenshot = (page, name) => shot(page, `care/${name}`);

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'care'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  const repo = path.join(h.tmpDir('rm-e2e-care-b-'), 'repo');
  const tok = await api.createEnrollment({ hostname: 'e2e-care', repo_url: repo, repo_password: 'care-browser-repo-pw-1', initial_paths: [h.makeSampleDir({ files: 2 })] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  const host = await h.waitRepoStatus(api, S.hostId, 'ready', T);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.agent], server: S.server }));

test('maintenance tab: cadences, run now, locks, admin slot (write-only)', { timeout: 120000 }, async () => {
  const { page, errors } = S.browser;
  const base = S.server.url;
  try {
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=maintenance`);
    await page.waitForURL(/\/login\?next=/, { timeout: T });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('cadences-form').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('cron-forget').inputValue(), '0 3 * * *');
    assert.equal(await page.getByTestId('cron-prune').inputValue(), '0 4 * * 0');
    assert.equal(await page.getByTestId('subset-check').inputValue(), '5%');
    assert.ok(await page.getByTestId('enabled-check').isChecked());
    await screenshot(page, 'maintenance');

    // the server's refusal lands on the row
    const n0 = errors.length;
    await page.getByTestId('cron-prune').fill('0 4 * * 9');
    await page.getByTestId('cadences-save').click();
    await page.getByTestId('cadence-err-prune').waitFor({ timeout: T });
    errors.splice(n0, errors.length - n0, ...errors.slice(n0).filter((e) => !/status of 422/.test(e)));
    await page.getByTestId('cron-prune').fill('30 2 * * 6');
    await page.getByTestId('subset-check').fill('1/10');
    await page.getByTestId('cadences-save').click();
    await h.waitFor(async () => {
      const m = (await S.api.get(`/api/hosts/${S.hostId}/maintenance`)).body;
      return m.prune.cron === '30 2 * * 6' && m.check.read_data_subset === '1/10';
    }, { timeout: T, what: 'cadences saved' });

    // admin slot: saved, never shown back
    await page.getByTestId('adm-url').fill('rest:http://127.0.0.1:9/admin');
    await page.getByTestId('adm-user').fill('admin');
    await page.getByTestId('adm-pw').fill(SLOT_PW);
    await page.getByTestId('adm-save').click();
    await page.getByTestId('admin-set').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('adm-pw').inputValue(), '');
    assert.ok(!(await page.content()).includes(SLOT_PW), 'the admin password is not in the page');
    await page.getByTestId('adm-delete').click();
    await page.getByTestId('admin-unset').waitFor({ timeout: T });

    // run now: unlock opens its job; the lock list shows what it read
    await page.getByTestId('run-unlock').click();
    await page.waitForURL(/\/jobs\//, { timeout: T });
    const jobId = decodeURIComponent(page.url().split('/jobs/')[1]);
    const j = await S.api.waitJob(jobId, { timeout: 60000 });
    assert.equal(j.status, 'succeeded', JSON.stringify(j));
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=maintenance`);
    await page.getByTestId('locks-empty').waitFor({ timeout: T });
    await screenshot(page, 'maintenance-after');
    assert.deepEqual(errors, []);
  } catch (e) {
    await screenshot(page, 'FAILED').catch(() => {});
    throw e;
  }
});
