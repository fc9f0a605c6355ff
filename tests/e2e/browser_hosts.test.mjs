// Browser coverage of the host page's Manage tab (C6) with a real server, agent and restic:
// rename (the machine's name shown beside it, flagged), a name the server refuses shown next
// to its field, the password rotation with its live state until "old_removed", and delete
// with the typed confirmation (the button stays disabled until the name is typed; history
// kept: the host page says deleted; a dashboard open in another tab drops the row live). Fails on any console error other than the expected 400 and
// the deleted host's configuration 404s.
// Screenshots: tests/e2e/artifacts/hosts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 30000;
const ADMIN_PW = 'correct horse battery';
const REPO_PW = 'browser-hosts-repo-pw-5c1e';
const S = {};
const screenshot = (page, name) => shot(page, `hosts/${name}`);

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'hosts'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  S.repo = path.join(h.tmpDir('rm-e2e-hosts-b-'), 'repo');
  const tok = await api.createEnrollment({ hostname: 'e2e-hosts', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [h.makeSampleDir({ files: 2 })] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  const host = await h.waitRepoStatus(api, S.hostId, 'ready', T);
  assert.equal(host.repo_status, 'ready', host.repo_error);
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.agent], server: S.server }));

test('manage tab: rename with mismatch flag, rotate with live state, delete with typed confirmation', { timeout: 120000 }, async () => {
  const { page, errors } = S.browser;
  const base = S.server.url;
  try {
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=manage`);
    await page.waitForURL(/\/login\?next=/, { timeout: T });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('host-edit-form').waitFor({ timeout: T });

    // a name the server refuses: its message next to the field, nothing saved
    const n0 = errors.length;
    await page.getByTestId('he-hostname').fill('web.example');
    await page.getByTestId('he-tags').fill('a, a');
    await page.getByTestId('he-save').click();
    await h.waitFor(async () => (await page.getByTestId('he-tags-err').textContent()).includes('repeat'), { timeout: T, what: 'tags error shown' });
    errors.splice(n0, errors.length - n0, ...errors.slice(n0).filter((e) => !/status of 400/.test(e)));
    assert.equal((await S.api.host(S.hostId)).hostname, 'e2e-hosts');

    await page.getByTestId('he-tags').fill('prod, web');
    await page.getByTestId('he-save').click();
    await page.getByTestId('hostname-mismatch').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('host-name').textContent(), 'web.example');
    assert.deepEqual((await S.api.host(S.hostId)).tags, ['prod', 'web']);
    await screenshot(page, 'renamed');

    // rotation, live until done
    await page.getByTestId('rot-start').click();
    await page.locator('[data-testid="rot-state"][data-state="old_removed"][data-active="0"]').waitFor({ timeout: 60000 });
    assert.equal(h.restic(['cat', 'config'], { repo: S.repo, password: REPO_PW }).code, 1, 'the old password is retired');
    await screenshot(page, 'rotated');

    // delete: disabled until the exact name is typed; a dashboard open elsewhere drops the
    // row live
    const dash = await page.context().newPage();
    await dash.goto(`${base}/`);
    const row = dash.locator(`[data-testid="host-row"][data-host-id="${S.hostId}"]`);
    await row.waitFor({ timeout: T });
    assert.ok(await page.getByTestId('hd-submit').isDisabled());
    await page.getByTestId('hd-confirm').fill('web.exampl');
    assert.ok(await page.getByTestId('hd-submit').isDisabled());
    await page.getByTestId('hd-confirm').fill('web.example');
    await page.getByTestId('hd-submit').click();
    await page.waitForURL((u) => new URL(u).pathname === '/', { timeout: T });
    await row.waitFor({ state: 'detached', timeout: T });
    await dash.close();
    const n1 = errors.length;
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}`);
    await page.getByTestId('host-deleted-banner').waitFor({ timeout: T });
    // a deleted host's configuration (groups, schedules, settings, drill) answers 404; its
    // history still loads
    errors.splice(n1, errors.length - n1, ...errors.slice(n1).filter((e) => !/status of 404/.test(e)));
    await screenshot(page, 'deleted');
    await page.goto(`${base}/hosts/deleted`);
    await page.locator(`[data-testid="deleted-host-row"][data-host-id="${S.hostId}"]`).waitFor({ timeout: T });
    assert.ok((await S.api.host(S.hostId)).deleted_at);
    assert.deepEqual(errors, []);
  } catch (e) {
    await screenshot(page, 'FAILED').catch(() => {});
    throw e;
  }
});
