// Browser coverage of C5 people and access with a real server:
//   - Users page (admin): add a user, the setup link is shown once; the link opens the
//     setup page, which names the user, refuses a weak password and signs them in;
//   - the viewer's UI hides what a viewer cannot do (Add host, Users, Audit, Back up now,
//     group and schedule editors), and the server refuses it anyway;
//   - Account page: change password (other sessions end), sessions list, create an API
//     token (shown once, works as Bearer), revoke it;
//   - Users page: the last admin's demotion is refused with the server's message; disable
//     signs the user's open browser session out; every form field has a label.
// Fails on any browser console error other than the expected 4xx answers.
// Screenshots: tests/e2e/artifacts/c5/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 20000;
const ADMIN_PW = 'correct horse battery';
const VIEWER_PW = 'viewer browser pass 1';
const S = {};
const screenshot = (page, name) => shot(page, `c5/${name}`);

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'c5'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  // a host without a running agent: enough for the host page's role-dependent parts
  const tok = await api.createEnrollment({ hostname: 'c5-browser-host', repo_url: '/tmp/rm-c5-none', repo_password: 'c5-browser-pw-1', initial_paths: ['/srv'] });
  const en = await new h.Api(server.url).post('/api/agents/enroll', { token: tok.token, hostname: 'c5-browser-host', os: 'linux', arch: 'amd64', agent_version: '0.0.0', restic_version: '0.14.0' });
  assert.equal(en.status, 201, en.text);
  S.hostId = en.body.host_id;
  S.browser = await launchBrowser();
  S.admin = S.browser.page;
});

after(() => closeAll({ browser: S.browser, contexts: [S.viewerCtx], server: S.server }));

const step = stepper(S, screenshot, {});

// Expected refusals (400 weak password, 409 last admin, 401 after disable) are logged by
// Chromium as failed loads; drop exactly those.
function dropExpected(errors, from) {
  const keep = errors.splice(from).filter((e) => !/status of (400|401|409|429)/.test(e));
  errors.push(...keep);
}

async function assertFieldsLabelled(page, where) {
  const bad = await page.locator('input:not([type=hidden]):not([hidden]), textarea, select').evaluateAll((els) => els
    .filter((e) => e.offsetParent !== null || e.getClientRects().length)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
    .map((e) => e.outerHTML.slice(0, 120)));
  assert.deepEqual(bad, [], `${where}: fields without a label`);
}

async function login(page, username, password, to = '/') {
  await page.goto(`${S.server.url}/login?next=${encodeURIComponent(to)}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL((u) => u.pathname === to, { timeout: T });
}

test('users page: add a viewer, the setup link signs them in; the viewer\'s UI hides what a viewer cannot do', { timeout: 120000 }, async () => {
  const page = S.admin;
  const { errors } = S.browser;
  const mark = errors.length;
  await step('admin-users', page, async () => {
    await login(page, 'admin', ADMIN_PW, '/users');
    await page.getByTestId('users-table').waitFor();
    assert.equal(await page.getByTestId('user-row').count(), 1);
    await assertFieldsLabelled(page, 'users page');
    await page.getByTestId('user-add-username').fill('Bad Name');
    await page.getByTestId('user-add-submit').click();
    await page.getByText('Username: 1–64 of a–z').waitFor();
    await page.getByTestId('user-add-username').fill('vera');
    await page.getByTestId('user-add-role').selectOption('viewer');
    await page.getByTestId('user-add-submit').click();
    await page.getByTestId('setup-link').waitFor();
    S.link = (await page.getByTestId('setup-link').textContent()).trim();
    assert.match(S.link, /\/setup#token=[A-Za-z0-9_-]{43}$/);
    await page.locator('[data-testid="user-row"][data-username="vera"] [data-testid="user-status"]').filter({ hasText: 'setup pending' }).waitFor();
    await screenshot(page, 'users-added');
    await page.getByTestId('dismiss-setup-link').click();
    assert.equal(await page.getByTestId('setup-link').count(), 0, 'shown once');
  });

  // the viewer in their own browser profile
  const ctx = await (await import('playwright-core')).chromium.launch({ executablePath: process.env.RM_CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  S.viewerCtx = ctx;
  const vpage = await ctx.newPage();
  const verrors = [];
  vpage.on('pageerror', (e) => verrors.push(e.message));
  await step('setup-page', vpage, async () => {
    await vpage.goto(S.link);
    await vpage.getByTestId('setup-username').waitFor();
    assert.equal(await vpage.getByTestId('setup-username').textContent(), 'vera');
    await assertFieldsLabelled(vpage, 'setup page');
    await vpage.getByTestId('setup-password').fill('password1234');
    await vpage.getByTestId('setup-password2').fill('password1234');
    await vpage.getByTestId('setup-submit').click();
    await vpage.getByText('password is too common').waitFor();
    await vpage.getByTestId('setup-password').fill(VIEWER_PW);
    await vpage.getByTestId('setup-password2').fill(VIEWER_PW);
    await vpage.getByTestId('setup-submit').click();
    await vpage.waitForURL((u) => u.pathname === '/' && !u.hash, { timeout: T });
    assert.equal((await vpage.getByTestId('whoami').textContent()).trim(), 'vera · viewer');
    await screenshot(vpage, 'viewer-dashboard');
  });
  await step('viewer-hides-mutations', vpage, async () => {
    for (const id of ['nav-add-host', 'nav-users', 'nav-audit']) assert.equal(await vpage.getByTestId(id).count(), 0, `${id} hidden`);
    await vpage.goto(`${S.server.url}/hosts/${S.hostId}`);
    await vpage.getByText('c5-browser-host').first().waitFor();
    assert.equal(await vpage.getByTestId('backup-form').isVisible(), false, 'Back up now hidden');
    await screenshot(vpage, 'viewer-host');
    await vpage.goto(`${S.server.url}/hosts/${S.hostId}?tab=sources`);
    await vpage.getByTestId('tab-sources-body').waitFor();
    assert.equal(await vpage.getByTestId('group-new').count(), 0, 'no new group');
    await vpage.goto(`${S.server.url}/hosts/${S.hostId}?tab=schedules`);
    await vpage.getByTestId('tab-schedules-body').waitFor();
    assert.equal(await vpage.getByTestId('schedule-new').count(), 0, 'no new schedule');
    await vpage.goto(`${S.server.url}/users`);
    await vpage.getByText('Only administrators can manage users.').waitFor();
    assert.equal(await vpage.getByTestId('users-table').count(), 0);
    await screenshot(vpage, 'viewer-users');
    // and the server refuses anyway
    const r = await vpage.evaluate(async () => (await fetch('/api/users')).status);
    assert.equal(r, 403);
  });
  S.vpage = vpage;
  S.verrors = verrors;
  dropExpected(errors, mark);
  assert.deepEqual(errors, []);
});

test('account page: password change, sessions, API token shown once and revoked', { timeout: 90000 }, async () => {
  const vpage = S.vpage;
  await step('account', vpage, async () => {
    await vpage.getByTestId('whoami').click();
    await vpage.waitForURL((u) => u.pathname === '/account');
    await vpage.getByTestId('sessions-table').waitFor();
    await assertFieldsLabelled(vpage, 'account page');
    assert.equal(await vpage.locator('[data-testid="session-row"][data-current="1"]').count(), 1);
    // the token form offers no role above the user's
    assert.deepEqual(await vpage.getByTestId('token-role').locator('option').allTextContents(), ['viewer']);
    await vpage.getByTestId('token-name').fill('grafana');
    await vpage.getByTestId('token-days').fill('30');
    await vpage.getByTestId('token-create').click();
    await vpage.getByTestId('new-token').waitFor();
    const token = (await vpage.getByTestId('new-token').textContent()).trim();
    assert.match(token, /^rmt_/);
    await vpage.locator('[data-testid="token-row"][data-name="grafana"]').waitFor();
    const viaToken = await new h.Api(S.server.url).get('/api/hosts', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(viaToken.status, 200);
    await screenshot(vpage, 'account-token');
    await vpage.getByTestId('dismiss-new-token').click();
    assert.equal(await vpage.getByTestId('new-token').count(), 0);
    await vpage.getByTestId('token-revoke').click();
    await vpage.getByTestId('tokens-empty').waitFor();
    assert.equal((await new h.Api(S.server.url).get('/api/hosts', { headers: { authorization: `Bearer ${token}` } })).status, 401);
  });
  await step('password', vpage, async () => {
    const other = new h.Api(S.server.url);
    await other.login('vera', VIEWER_PW);
    await vpage.reload();
    await vpage.getByTestId('sessions-table').waitFor();
    await h.waitFor(async () => (await vpage.getByTestId('session-row').count()) === 2, { what: 'two sessions listed' });
    await vpage.getByTestId('password-current').fill('not my password');
    await vpage.getByTestId('password-new').fill('a new viewer password');
    await vpage.getByTestId('password-new2').fill('a new viewer password');
    await vpage.getByTestId('password-submit').click();
    await vpage.getByTestId('password-error').filter({ hasText: 'current password' }).waitFor();
    await vpage.getByTestId('password-current').fill(VIEWER_PW);
    await vpage.getByTestId('password-new').fill('a new viewer password');
    await vpage.getByTestId('password-new2').fill('a new viewer password');
    await vpage.getByTestId('password-submit').click();
    await h.waitFor(async () => (await vpage.getByTestId('session-row').count()) === 1, { what: 'other session ended' });
    assert.equal((await other.get('/api/me')).status, 401);
    await screenshot(vpage, 'account');
  });
  assert.deepEqual(S.verrors, []);
});

test('users page: last-admin guard shows the server\'s refusal; disable signs the viewer out', { timeout: 90000 }, async () => {
  const page = S.admin;
  const { errors } = S.browser;
  const mark = errors.length;
  await step('last-admin', page, async () => {
    await page.goto(`${S.server.url}/users`);
    const me = page.locator('[data-testid="user-row"][data-username="admin"]');
    await me.waitFor();
    await me.getByTestId('user-role').selectOption('operator');
    await page.getByText('last enabled admin').first().waitFor();
    assert.equal(await me.getByTestId('user-role').inputValue(), 'admin', 'the select shows the role the server kept');
    assert.equal((await S.api.get('/api/me')).body.user.role, 'admin');
  });
  await step('disable', page, async () => {
    const vera = page.locator('[data-testid="user-row"][data-username="vera"]');
    await vera.getByTestId('user-toggle').click();
    await vera.getByTestId('user-status').filter({ hasText: 'disabled' }).waitFor();
    await screenshot(page, 'users-disabled');
    await S.vpage.goto(`${S.server.url}/account`);
    await S.vpage.waitForURL(/\/login/, { timeout: T });
  });
  dropExpected(errors, mark);
  assert.deepEqual(errors, []);
});
