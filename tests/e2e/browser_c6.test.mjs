// Browser coverage of the C6 dashboard at fleet scale, with a real server and one real
// agent (online, one successful backup) beside four hosts enrolled through the API that
// never connected:
//   - status, last-backup and backup-age chips (with counts), tag chips (every tag given must match),
//     free-text search (OS, tag, name), sort by a column both ways (ties by name, hosts
//     without a value last either way);
//   - every step is in the URL: reload restores it (search box included), Back and
//     Forward step through the changes without remounting, bad parameters are ignored;
//   - live toggle off: a new host does not appear until "N changes — refresh";
//   - keyboard: chips and column heads are buttons, the search box has a label.
// Fails on any browser console error. Screenshots: tests/e2e/artifacts/c6/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 20000;
const ADMIN_PW = 'correct horse battery';
const REPO_PW = 'c6-dash-repo-pw-41ab';
const S = {};
const screenshot = (page, name) => shot(page, `c6/${name}`);

// hosts enrolled through the API (never seen, so no OS or versions yet): name, tags
const FLEET = [
  ['c6-db-1', ['db', 'prod']],
  ['c6-db-2', ['db', 'prod', 'eu']],
  ['c6-web-2', ['web', 'dev']],
  ['c6-cache', []],
];

async function enrollApiHost(hostname, tags) {
  const tok = await S.api.createEnrollment({ hostname, tags, repo_url: `/srv/restic/${hostname}`, repo_password: REPO_PW, initial_paths: ['/etc'] });
  const r = await S.api.post('/api/agents/enroll', { token: tok.token, hostname, os: 'linux', arch: 'amd64', agent_version: '0.1.0', restic_version: '0.14.0' }, { csrf: false, cookies: false });
  assert.equal(r.status, 201, r.text);
  return r.body.host_id;
}

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'c6'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  for (const f of FLEET) await enrollApiHost(...f);
  const sample = h.makeSampleDir({ files: 3 });
  const tok = await api.createEnrollment({ hostname: 'c6-web-1', tags: ['web', 'prod'], repo_url: path.join(h.tmpDir('rm-e2e-c6-'), 'repo'), repo_password: REPO_PW, initial_paths: [sample] });
  S.agent = await h.startAgent({ server, token: tok.token });
  await h.waitRepoStatus(api, S.agent.hostId, 'ready', 60000);
  const job = await api.waitJob(await api.runJob(S.agent.hostId, { kind: 'backup', paths: [sample] }), { timeout: 60000 });
  assert.equal(job.status, 'succeeded');
  S.agentName = (await api.get(`/api/hosts/${S.agent.hostId}`)).body.hostname;
  // the first page the dashboard paints a large fleet from: the first N by name + the size
  const first = await api.get('/api/hosts?limit=2');
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.body.hosts.map((x) => x.hostname), ['c6-cache', 'c6-db-1']);
  assert.equal(first.body.total, 5);
  for (const bad of ['0', '1001', 'x']) assert.equal((await api.get(`/api/hosts?limit=${bad}`)).status, 400);
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.agent], server: S.server }));

const step = stepper(S, screenshot, { tail: 2000 });

const names = (page) => page.locator('[data-testid="host-row"] .host-link').allTextContents();
const query = (page) => new URL(page.url()).search;
async function expectRows(page, want, what) {
  await h.waitFor(async () => JSON.stringify(await names(page)) === JSON.stringify(want), { timeout: T, what: `${what}: rows ${JSON.stringify(want)} (have ${JSON.stringify(await names(page))})` });
}
const chipCount = async (page, id) => (await page.getByTestId(id).locator('.fchip-n').textContent()).trim();

test('dashboard: filter, search and sort in the URL; reload, back and forward; live off', { timeout: 60000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  const web1 = S.agentName;

  await step('sign-in', page, async () => {
    await page.goto(`${base}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.getByTestId('login-submit').click();
    await page.locator('[data-testid="host-count"]').filter({ hasText: '5 hosts' }).waitFor({ timeout: T });
    await expectRows(page, ['c6-cache', 'c6-db-1', 'c6-db-2', web1, 'c6-web-2'].sort(), 'default: by name');
    assert.equal(await chipCount(page, 'dash-status-online'), '1');
    assert.equal(await chipCount(page, 'dash-status-never'), '4');
    assert.equal(await chipCount(page, 'dash-backup-ok'), '1');
    assert.equal(await chipCount(page, 'dash-backup-none'), '4');
    // the agent's own hostname beside the operator's name when they differ
    const agentHost = (await S.api.get(`/api/hosts/${S.agent.hostId}`)).body;
    const flag = page.locator(`[data-host-id="${S.agent.hostId}"] [data-testid="host-mismatch"]`);
    if (agentHost.reported_hostname && agentHost.reported_hostname !== agentHost.hostname) assert.equal(await flag.textContent(), `≠ ${agentHost.reported_hostname}`);
    else assert.equal(await flag.count(), 0);
    assert.equal(await page.getByTestId('host-mismatch').count(), agentHost.reported_hostname && agentHost.reported_hostname !== agentHost.hostname ? 1 : 0);
  });

  await step('status-and-backup', page, async () => {
    await page.getByTestId('dash-status-online').click();
    await expectRows(page, [web1], 'online');
    assert.equal(query(page), '?status=online');
    assert.equal(await page.getByTestId('dash-status-online').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.getByTestId('host-count').textContent(), '1 of 5 hosts');
    await page.getByTestId('dash-status-online').click(); // again: off
    // fleet health: last backup within 24 h (the agent's) / never (the others)
    assert.equal(await chipCount(page, 'dash-age-1d'), '1');
    assert.equal(await chipCount(page, 'dash-age-never'), '4');
    assert.equal(await chipCount(page, 'dash-age-old'), '0');
    await page.getByTestId('dash-age-1d').click();
    await expectRows(page, [web1], 'backed up within 24 h');
    assert.equal(query(page), '?age=1d');
    await page.getByTestId('dash-age-1d').click();
    await page.getByTestId('dash-backup-none').click();
    await expectRows(page, ['c6-cache', 'c6-db-1', 'c6-db-2', 'c6-web-2'], 'no backup');
    assert.equal(query(page), '?backup=none');
  });

  await step('tags-and-search', page, async () => {
    await page.getByTestId('dash-tag').filter({ hasText: /^db/ }).click();
    await expectRows(page, ['c6-db-1', 'c6-db-2'], 'tag db');
    await page.getByTestId('dash-tag').filter({ hasText: /^eu/ }).click();
    await expectRows(page, ['c6-db-2'], 'tags db+eu');
    assert.equal(query(page), '?backup=none&tag=db&tag=eu');
    await page.getByTestId('dash-clear').click();
    await expectRows(page, ['c6-cache', 'c6-db-1', 'c6-db-2', web1, 'c6-web-2'].sort(), 'cleared');
    // search by OS (only the agent reported one), by tag text, by name
    await page.getByLabel('Search hosts').fill('linux');
    await expectRows(page, [web1], 'search linux');
    await page.getByLabel('Search hosts').fill('eu');
    await expectRows(page, ['c6-db-2'], 'search eu (a tag)');
    await page.getByLabel('Search hosts').fill('web');
    await expectRows(page, [web1, 'c6-web-2'].sort(), 'search web');
    assert.equal(query(page), '?q=web');
  });

  await step('sort', page, async () => {
    await page.getByLabel('Search hosts').fill('');
    await expectRows(page, ['c6-cache', 'c6-db-1', 'c6-db-2', web1, 'c6-web-2'].sort(), 'search cleared');
    const never = ['c6-cache', 'c6-db-1', 'c6-db-2', 'c6-web-2'];
    await page.getByTestId('dash-sort-status').click();
    await expectRows(page, [web1, ...never], 'status asc: online first');
    assert.equal(query(page), '?sort=status');
    assert.equal(await page.locator('[role="columnheader"][aria-sort="ascending"] [data-sort="status"]').count(), 1);
    await page.getByTestId('dash-sort-status').click();
    await expectRows(page, [...never, web1], 'status desc: ties stay by name');
    assert.equal(query(page), '?sort=status&dir=desc');
    await page.getByTestId('dash-sort-name').click();
    await expectRows(page, [...never, web1].sort(), 'name asc');
    await page.getByTestId('dash-sort-name').click();
    await expectRows(page, [...never, web1].sort().reverse(), 'name desc');
    assert.equal(query(page), '?dir=desc');
    // the last backup: the one host that has one first, the others (none) after it, either way
    await page.getByTestId('dash-sort-last_backup').click();
    await expectRows(page, [web1, 'c6-cache', 'c6-db-1', 'c6-db-2', 'c6-web-2'], 'last backup asc, none last');
    await page.getByTestId('dash-sort-last_backup').click();
    await expectRows(page, [web1, 'c6-cache', 'c6-db-1', 'c6-db-2', 'c6-web-2'], 'last backup desc, none still last');
  });

  await step('url-state: reload, back, forward, bad params', page, async () => {
    await page.getByTestId('dash-tag').filter({ hasText: /^prod/ }).click();
    await page.getByLabel('Search hosts').fill('db');
    await expectRows(page, ['c6-db-1', 'c6-db-2'], 'prod + db');
    const q = query(page);
    assert.equal(q, '?tag=prod&q=db&sort=last_backup&dir=desc');
    await page.reload();
    await page.locator('[data-testid="host-count"]').filter({ hasText: '2 of 5 hosts' }).waitFor({ timeout: T });
    await expectRows(page, ['c6-db-1', 'c6-db-2'], 'after reload');
    assert.equal(await page.getByLabel('Search hosts').inputValue(), 'db');
    assert.equal(await page.getByTestId('dash-tag').filter({ hasText: /^prod/ }).getAttribute('aria-pressed'), 'true');
    assert.equal(query(page), q);
    // Back: the search typed as one step, then the tag, then the sort direction
    await page.goBack();
    await h.waitFor(async () => query(page) === '?tag=prod&sort=last_backup&dir=desc', { timeout: T, what: 'back to tag only' });
    await expectRows(page, [web1, 'c6-db-1', 'c6-db-2'], 'back: tag prod');
    assert.equal(await page.getByLabel('Search hosts').inputValue(), '');
    await page.goBack();
    await h.waitFor(async () => query(page) === '?sort=last_backup&dir=desc', { timeout: T, what: 'back to no tag' });
    await expectRows(page, [web1, 'c6-cache', 'c6-db-1', 'c6-db-2', 'c6-web-2'], 'back: all');
    await page.goForward();
    await expectRows(page, [web1, 'c6-db-1', 'c6-db-2'], 'forward: tag prod');
    await page.goto(`${base}/?status=bogus&backup=&tag=&sort=nope&dir=sideways&live=maybe&q=`);
    await expectRows(page, ['c6-cache', 'c6-db-1', 'c6-db-2', web1, 'c6-web-2'].sort(), 'bad params ignored');
    await screenshot(page, 'dashboard');
  });

  await step('keyboard', page, async () => {
    await page.getByLabel('Search hosts').focus();
    await page.keyboard.press('Tab'); // the "All" chip
    await page.keyboard.press('Tab'); // Online
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'dash-status-online');
    await page.keyboard.press('Enter');
    await expectRows(page, [web1], 'online by keyboard');
    await page.keyboard.press('Space');
    await expectRows(page, ['c6-cache', 'c6-db-1', 'c6-db-2', web1, 'c6-web-2'].sort(), 'online off by keyboard');
    const unlabelled = await page.locator('input, select, textarea').evaluateAll((els) => els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.outerHTML.slice(0, 100)));
    assert.deepEqual(unlabelled, []);
  });

  await step('live-off', page, async () => {
    await page.getByLabel('Search hosts').fill('c6-new');
    await page.locator('[data-testid="dash-nomatch"]:not([hidden])').waitFor({ timeout: T });
    await page.getByTestId('dash-live').uncheck();
    await h.waitFor(async () => query(page).includes('live=0'), { timeout: T, what: 'live=0 in the URL' });
    await enrollApiHost('c6-new-1', ['new']);
    await page.getByTestId('dash-pending').filter({ hasText: '1 change — refresh' }).waitFor({ timeout: T });
    assert.deepEqual(await names(page), [], 'frozen: the new host is not shown');
    assert.equal(await page.getByTestId('host-count').textContent(), '0 of 5 hosts');
    await page.getByTestId('dash-pending').click();
    await expectRows(page, ['c6-new-1'], 'after refresh');
    assert.equal(await page.getByTestId('host-count').textContent(), '1 of 6 hosts');
    assert.equal(await page.getByTestId('dash-pending').count(), 0);
    // live again: the next host shows up by itself
    await page.getByTestId('dash-live').check();
    assert.ok(!query(page).includes('live=0'));
    await enrollApiHost('c6-new-2', ['new']);
    await expectRows(page, ['c6-new-1', 'c6-new-2'], 'live again');
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});
