// C3 browsing in the browser, with a real server, agent and restic: from the host's
// Snapshots tab to the snapshot browser (lazy expansion down to a file, download links),
// then the diff page with its change-type filters. Fails on any browser console error.
// Screenshots: tests/e2e/artifacts/c3/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const ADMIN_PW = 'correct horse battery';
const REPO_PW = 'browser-c3-repo-pw-19be';
const S = {};
const screenshot = (page, name) => shot(page, `c3/${name}`);

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'c3'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  S.data = path.join(h.tmpDir('rm-e2e-c3b-'), 'data');
  fs.mkdirSync(path.join(S.data, 'docs/deep'), { recursive: true });
  fs.writeFileSync(path.join(S.data, 'docs/readme.txt'), 'readme\n');
  fs.writeFileSync(path.join(S.data, 'docs/deep/notes.txt'), 'notes\n');
  fs.writeFileSync(path.join(S.data, 'gone.txt'), 'gone\n');
  fs.writeFileSync(path.join(S.data, 'edit.txt'), 'v1\n');
  const tok = await api.createEnrollment({ hostname: 'e2e-c3-browser', repo_url: path.join(h.tmpDir('rm-e2e-c3b-repo-'), 'repo'), repo_password: REPO_PW, initial_paths: [S.data] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(api, S.hostId);
  await h.waitRepoStatus(api, S.hostId, 'ready', 60000);
  assert.equal((await api.waitJob(await api.runJob(S.hostId, { kind: 'backup', paths: [S.data] }))).status, 'succeeded');
  fs.rmSync(path.join(S.data, 'gone.txt'));
  fs.writeFileSync(path.join(S.data, 'edit.txt'), 'v2, longer\n');
  fs.writeFileSync(path.join(S.data, 'docs/added.txt'), 'added\n');
  assert.equal((await api.waitJob(await api.runJob(S.hostId, { kind: 'backup', paths: [S.data] }))).status, 'succeeded');
  await h.waitFor(async () => (await api.get(`/api/hosts/${S.hostId}/snapshots`)).body?.snapshots?.length === 2, { timeout: 20000, what: 'two snapshots' });
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.agent], server: S.server }));

const step = stepper(S, screenshot, { agents: ['agent'] });

test('snapshot browser: lazy tree down to a file, downloads; diff with filters', { timeout: 120000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  await step('login', async () => {
    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(`${base}/`);
  });
  await step('snapshots-tab', async () => {
    await page.goto(`${base}/hosts/${S.hostId}?tab=snapshots`);
    await page.getByTestId('snapshot-row').first().waitFor();
    // newest first: the first row has a Diff link (to the older one), the last has none
    assert.equal(await page.getByTestId('snapshot-diff').count(), 1);
    await page.getByTestId('snapshot-browse').first().click();
    await page.waitForURL(/\/hosts\/[^/]+\/snapshots\/[0-9a-f]+$/);
  });
  await step('tree', async () => {
    const parts = S.data.split('/').filter(Boolean);
    let cur = '';
    for (const p of parts) {
      cur += `/${p}`;
      const row = page.locator(`[data-testid="tree-row"][data-path="${cur}"]`);
      await row.waitFor({ timeout: 60000 }); // the first expansion indexes the snapshot
      await row.getByTestId('tree-toggle').first().click();
    }
    const file = page.locator(`[data-testid="tree-row"][data-path="${S.data}/docs"]`);
    await file.getByTestId('tree-toggle').first().click();
    const notes = page.locator(`[data-testid="tree-row"][data-path="${S.data}/docs/readme.txt"]`);
    await notes.waitFor();
    const href = await notes.getByTestId('download-file').getAttribute('href');
    assert.match(href, /\/download\?path=/);
    const r = await page.evaluate(async (u) => { const x = await fetch(u); return { s: x.status, t: await x.text() }; }, href);
    assert.deepEqual(r, { s: 200, t: 'readme\n' });
    const tgz = await page.locator(`[data-testid="tree-row"][data-path="${S.data}/docs"]`).getByTestId('download-tgz').first().getAttribute('href');
    assert.match(tgz, /format=tar\.gz/);
    await screenshot(page, 'tree');
  });
  await step('diff', async () => {
    await page.getByTestId('diff-prev').click();
    await page.waitForURL(/\/diff\?from=/);
    await page.getByTestId('diff-list').waitFor({ timeout: 60000 });
    const rows = async (kind) => page.locator(`[data-testid="diff-row"][data-kind="${kind}"]`).allTextContents();
    const files = (l) => l.filter((t) => !t.endsWith('/'));
    assert.deepEqual(files(await rows('added')), [`+ ${S.data}/docs/added.txt`]);
    assert.deepEqual(files(await rows('removed')), [`− ${S.data}/gone.txt`]);
    assert.deepEqual(files(await rows('changed')), [`M ${S.data}/edit.txt`]);
    await page.getByTestId('filter-changed').uncheck();
    await page.getByTestId('filter-removed').uncheck();
    assert.equal((await rows('changed')).length, 0);
    assert.equal((await rows('removed')).length, 0);
    assert.deepEqual(files(await rows('added')), [`+ ${S.data}/docs/added.txt`]);
    await screenshot(page, 'diff');
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});
