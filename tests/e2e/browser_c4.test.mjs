// C4 in the browser, with a real server, a real agent and real restic: a failed backup
// appears on the alerts page and in the navigation count without a reload; acknowledge
// and resolve; the count follows live on another page; the channel page's test button
// sends a real webhook and shows the result and the delivery log; rules and audit pages
// (filters, sorting, CSV link). Fails on any browser console error. Screenshots:
// tests/e2e/artifacts/c4/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 30000;
const ADMIN_PW = 'correct horse battery';
const S = { got: [] };
const screenshot = (page, name) => shot(page, `c4/${name}`);

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'c4'), { recursive: true, force: true });
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({ password: ADMIN_PW, env: { RM_SWEEP_INTERVAL_MS: '500' } }));
  const port = await h.freePort();
  S.hook = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => { S.got.push({ headers: req.headers, body: b }); res.end('ok'); });
  });
  await new Promise((r) => S.hook.listen(port, '127.0.0.1', r));
  S.hookUrl = `http://127.0.0.1:${port}/hook`;
  const data = h.makeSampleDir({ files: 3 });
  const tok = await S.api.createEnrollment({ hostname: 'c4-browser', repo_url: path.join(h.tmpDir('rm-e2e-c4b-'), 'repo'), repo_password: 'c4-browser-pw-1234', initial_paths: [data] });
  S.agent = await h.startAgent({ server: S.server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(S.api, S.hostId);
  await h.waitRepoStatus(S.api, S.hostId);
  const g = await S.api.post(`/api/hosts/${S.hostId}/groups`, { name: 'broken', includes: ['/nonexistent/c4-browser'], retry_max: 0 });
  assert.equal(g.status, 201, g.text);
  S.broken = g.body.id;
  const c = await S.api.post('/api/channels', { name: 'team-hook', kind: 'webhook', config: { url: S.hookUrl }, secret: 'browser-hmac-secret' });
  assert.equal(c.status, 201, c.text);
  S.browser = await launchBrowser();
});

after(async () => {
  S.hook?.close();
  await closeAll({ browser: S.browser, agents: [S.agent], server: S.server });
});

const step = stepper(S, screenshot, {});

async function failBackup() {
  const r = await S.api.post(`/api/hosts/${S.hostId}/groups/${S.broken}/run`, {});
  assert.equal(r.status, 202, r.text);
  const j = await S.api.waitJob(r.body.job_id);
  assert.equal(j.status, 'failed');
}

const navCount = (page) => page.getByTestId('nav-alerts-count').textContent();

test('alerts page: a failure shows up live; ack and resolve; the nav count follows', { timeout: 120000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  await step('login', async () => {
    await page.goto(`${base}/alerts`);
    await page.waitForURL(/\/login/, { timeout: T });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/alerts$/, { timeout: T });
    await page.getByTestId('alerts-empty').waitFor({ timeout: T });
    assert.equal((await navCount(page)).trim(), '0');
  });
  await step('live-raise', async () => {
    await failBackup();
    // no reload: the row and the badge arrive over /api/events
    await page.locator('[data-testid="alert-row"][data-rule="backup_failed"]').waitFor({ timeout: T });
    await h.waitFor(async () => (await navCount(page)).trim() === '1', { timeout: T, what: 'nav count 1' });
    await screenshot(page, 'alerts-open');
  });
  await step('ack', async () => {
    await page.getByTestId('alert-ack').click();
    await page.locator('[data-testid="alert-row"][data-state="acked"]').waitFor({ timeout: T });
    await h.waitFor(async () => (await navCount(page)).trim() === '0', { timeout: T, what: 'nav count 0 after ack' });
    assert.match(await page.getByTestId('alert-state').textContent(), /acknowledged by admin/);
  });
  await step('resolve', async () => {
    await page.getByTestId('alert-resolve').click();
    await page.getByTestId('alerts-empty').waitFor({ timeout: T }); // active tab: gone
    await page.getByTestId('alerts-tab-resolved').click();
    await page.locator('[data-testid="alert-row"][data-state="resolved"]').waitFor({ timeout: T });
    assert.match(await page.getByTestId('alert-state').textContent(), /resolved by admin/);
    await screenshot(page, 'alerts-resolved');
  });
  await step('nav-count-live-elsewhere', async () => {
    await page.getByTestId('nav-dashboard').click();
    await page.waitForURL(`${base}/`, { timeout: T });
    await failBackup(); // resolved by hand before: a new alert
    await h.waitFor(async () => (await navCount(page)).trim() === '1', { timeout: T, what: 'nav count 1 on the dashboard' });
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});

test('channels page: test button sends a real message and shows the result and the log', { timeout: 60000 }, async () => {
  const { page } = S.browser;
  await step('channels', async () => {
    await page.goto(`${S.server.url}/alerts/channels`);
    const row = page.locator('[data-testid="channel-row"][data-name="team-hook"]');
    await row.waitFor({ timeout: T });
    assert.ok(!(await page.content()).includes('browser-hmac-secret'), 'secret never shown');
    const before = S.got.length;
    await row.getByTestId('channel-test').click();
    const res = page.getByTestId('channel-test-result');
    await res.waitFor({ timeout: T });
    assert.equal(await res.getAttribute('data-ok'), 'true', await res.textContent());
    assert.ok(S.got.length > before, 'the receiver got the test message');
    assert.equal(JSON.parse(S.got[S.got.length - 1].body).event, 'test');
    await row.getByTestId('channel-log').click();
    await page.getByTestId('deliveries').waitFor({ timeout: T });
    assert.ok(await page.getByTestId('delivery-row').count() >= 2, 'test + raised deliveries listed');
    await screenshot(page, 'channels');
  });
  await step('channel-form', async () => {
    await page.getByTestId('channel-new').click();
    await page.getByTestId('ch-name').fill('bad-one');
    await page.getByTestId('ch-url').fill('ftp://example.com/x');
    await page.getByTestId('channel-save').click();
    await h.waitFor(async () => /config\.url/.test(await page.getByTestId('channel-error').textContent()), { timeout: T, what: 'field error' });
  });
  await step('rules', async () => {
    await page.goto(`${S.server.url}/alerts/rules`);
    await page.locator('[data-testid="rule-row"][data-rule="backup_anomaly"]').waitFor({ timeout: T });
    await page.getByTestId('rule-param-backup_anomaly-factor').fill('12');
    await page.getByTestId('rules-save').click();
    await h.waitFor(async () => (await S.api.get('/api/alert-rules')).body.rules.find((r) => r.rule === 'backup_anomaly').params.factor === 12,
      { timeout: T, what: 'rule saved' });
  });
  await step('audit', async () => {
    await page.goto(`${S.server.url}/audit?action=channel.test`);
    await page.getByTestId('audit-table').waitFor({ timeout: T });
    const actions = await page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.action));
    assert.ok(actions.length >= 1 && actions.every((a) => a === 'channel.test'), actions.join());
    await page.getByTestId('audit-sort-actor').click();
    await page.waitForURL(/sort=actor/, { timeout: T });
    const href = await page.getByTestId('audit-csv').getAttribute('href');
    assert.match(href, /^\/api\/audit\.csv\?.*action=channel\.test/);
    const csv = await page.evaluate(async (u) => (await fetch(u)).text(), href);
    assert.match(csv, /^time,actor,action,target,detail\r\n/);
    await screenshot(page, 'audit');
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});
