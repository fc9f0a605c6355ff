// Browser coverage beyond the walk-through (browser.test.mjs), with a real server, real
// agents and real restic:
//   - the log viewer stops following when scrolled up and the "follow" button resumes;
//   - Cancel on the live job page while a (throttled) backup runs → cancelled state, no
//     Cancel button;
//   - a wrong repository password: host page shows init_failed with restic's error, and a
//     backup's job page shows the failure panel with the error;
//   - keyboard only: the Add-host form is filled and submitted with Tab/Enter, and every
//     form field on the visited pages has an accessible name (label);
//   - the dashboard with more than one 50-row chunk: a new agent's row appears and then
//     updates in place (online, repository ready) without disturbing the other rows;
//     markup in a tag shows as text on the dashboard and in the audit log.
// Fails on any browser console error. Screenshots: tests/e2e/artifacts/jobs/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 30000;
const ADMIN_PW = 'correct horse battery';
const REPO_PW = 'browser-jobs-repo-pw-7c1d';
const S = {};
const screenshot = (page, name) => shot(page, `jobs/${name}`);

// A restic that, for `backup` only, first writes 120 stderr lines over ~4.8 s (a log that
// overflows the viewer while the job runs), then runs the real restic throttled to 2 MiB/s.
function makeNoisySlowRestic() {
  const dir = h.tmpDir('rm-e2e-restic-noisy-');
  const file = path.join(dir, 'restic');
  fs.writeFileSync(file, `#!/bin/sh
case " $* " in *" backup "*)
  i=0
  while [ $i -lt 120 ]; do echo "e2e noise line $i" >&2; i=$((i+1)); sleep 0.04; done ;;
esac
exec '${h.RESTIC}' --limit-upload 2048 "$@"
`, { mode: 0o755 });
  return file;
}

const cmdline = (pid) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return []; } };

before(async () => {
  for (const b of ['restic-manager-server', 'restic-manager-agent']) {
    const p = path.join(h.binDir, b);
    if (!fs.existsSync(p)) throw new Error(`missing ${p} (set RM_BIN_DIR or build it)`);
  }
  fs.rmSync(path.join(artifactsDir, 'jobs'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  S.sample = h.makeSampleDir({ files: 4 });
  // 16 MiB at 2 MiB/s: ~8 s of restic after the noise
  S.big = h.makeSampleDir({ files: 6, bigFiles: 1, bigSize: 16 << 20 });
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.slowAgent, S.badAgent, S.liveAgent], server: S.server }));

// Wraps a step: on failure, screenshot + server/agent log tails in the message.
const step = stepper(S, screenshot, { agents: ['slowAgent', 'badAgent'] });

// Every form control has a non-empty accessible name (Chromium's accessibility tree).
async function assertFieldsLabelled(page, where, minFields) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const roles = new Set(['textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'spinbutton', 'listbox', 'slider', 'switch']);
    const fields = nodes.filter((n) => !n.ignored && roles.has(n.role?.value));
    const unnamed = fields.filter((n) => !String(n.name?.value || '').trim());
    assert.ok(fields.length >= minFields, `${where}: expected ≥ ${minFields} form fields in the accessibility tree, got ${fields.length}`);
    assert.deepEqual(unnamed.map((n) => `${n.role.value}#${n.backendDOMNodeId}`), [], `${where}: form fields without an accessible name`);
  } finally {
    await cdp.detach().catch(() => {});
  }
  // and the DOM side: every visible input/textarea/select is reachable from a <label> or aria
  const bad = await page.locator('input:not([type=hidden]), textarea, select').evaluateAll((els) => els
    .filter((e) => e.offsetParent !== null || e.getClientRects().length)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
    .map((e) => e.outerHTML.slice(0, 120)));
  assert.deepEqual(bad, [], `${where}: fields without a label`);
}

const activeId = (page) => page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.dataset.testid || document.activeElement.tagName));

test('keyboard only: sign in and add a host with Tab/Enter; every field is labelled', { timeout: 60000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  await step('login-keyboard', async () => {
    await page.goto(`${base}/hosts/new`);
    await page.waitForURL(/\/login\?next=%2Fhosts%2Fnew$/, { timeout: T });
    await page.getByLabel('Username').waitFor();
    await assertFieldsLabelled(page, 'login', 2);
    await page.getByLabel('Username').focus();
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    assert.equal(await activeId(page), 'li-pass');
    await page.keyboard.type(ADMIN_PW);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/hosts\/new$/, { timeout: T });
  });

  await step('add-host-keyboard', async () => {
    await page.getByTestId('add-host-form').waitFor({ timeout: T });
    await assertFieldsLabelled(page, 'add host', 6);
    // the labels the form must expose (accessible names)
    for (const [label, testid] of [['Hostname', 'add-hostname'], [/^Tags/, 'add-tags'], ['Repository URL', 'add-repo-url'],
      [/^Repository username/, 'add-repo-username'], [/^Repository password/, 'add-repo-password'], [/^Initial backup paths/, 'add-paths']]) {
      assert.equal(await page.getByLabel(label).getAttribute('data-testid'), testid, `label ${label}`);
    }
    // hostname has focus on arrival; Enter on an empty form shows the error and keeps focus
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'ah-hostname', null, { timeout: T });
    await page.keyboard.press('Enter');
    await page.getByText('Hostname is required.').waitFor({ timeout: T });
    assert.equal(await activeId(page), 'ah-hostname');
    await page.keyboard.type('kbd-host');
    const order = [['ah-tags', 'kbd, test'], ['ah-repo', path.join(h.tmpDir('rm-e2e-kbd-'), 'repo')], ['ah-ruser', ''], ['ah-rpass', ''], ['ah-paths', '/etc']];
    for (const [id, text] of order) {
      await page.keyboard.press('Tab');
      assert.equal(await activeId(page), id, `Tab reaches #${id}`);
      if (text) await page.keyboard.type(text);
    }
    await page.keyboard.press('Tab');
    assert.equal(await activeId(page), 'add-submit', 'Tab reaches the submit button');
    await screenshot(page, 'add-host-keyboard');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/hosts\/pending\/[^/]+$/, { timeout: T });
    await page.getByTestId('pending-awaiting').waitFor({ timeout: T });
    assert.ok(await page.getByTestId('generated-password').isVisible(), 'generated password shown (blank password field)');
    await assertFieldsLabelled(page, 'pending', 0);
    await screenshot(page, 'pending-keyboard');
  });

  await step('skip-links-keyboard', async () => {
    // the nav is reachable and operable by keyboard: Tab to "Dashboard", Enter
    await page.locator('body').focus();
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    let found = false;
    for (let i = 0; i < 8 && !found; i++) {
      await page.keyboard.press('Tab');
      found = (await activeId(page)) === 'nav-dashboard';
    }
    assert.ok(found, 'Tab reaches the Dashboard link');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/`, { timeout: T });
    await page.getByTestId('empty-state').waitFor({ timeout: T });
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});

test('live job: log follow stops on scroll up and resumes; Cancel ends the backup', { timeout: 90000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  await step('slow-host', async () => {
    const repo = path.join(h.tmpDir('rm-e2e-bj-repo-'), 'repo');
    const tok = await S.api.createEnrollment({ hostname: 'e2e-slow', repo_url: repo, repo_password: REPO_PW, initial_paths: [S.big] });
    S.slowAgent = await h.startAgent({ server: S.server, token: tok.token, restic: makeNoisySlowRestic() });
    const host = await h.waitRepoStatus(S.api, S.slowAgent.hostId, 'ready', T);
    assert.equal(host.repo_status, 'ready', `repo_status ${host.repo_status}: ${host.repo_error}`);
    await h.waitHostOnline(S.api, S.slowAgent.hostId, T);
    await page.goto(`${base}/hosts/${encodeURIComponent(S.slowAgent.hostId)}`);
    await page.locator('[data-testid="repo-status"][data-status="ready"]').waitFor({ timeout: T });
    await page.getByTestId('backup-now').click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: T });
    S.slowJob = decodeURIComponent(page.url().split('/').pop());
  });

  const log = page.getByTestId('log');
  const lineCount = () => page.locator('[data-testid="log"] .ln').count();
  const geom = () => log.evaluate((el) => ({ top: el.scrollTop, max: el.scrollHeight - el.clientHeight }));
  const follow = page.getByTestId('follow');

  await step('log-follow', async () => {
    await page.locator('[data-testid="job-status"][data-status="running"]').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('cancel-job').isVisible(), true, 'Cancel shown while running');
    // enough lines to overflow the viewer; it follows the tail meanwhile
    await page.waitForFunction(() => { const el = document.querySelector('[data-testid="log"]'); return el && el.scrollHeight > el.clientHeight * 1.5; }, null, { timeout: T });
    await h.waitFor(async () => { const g = await geom(); return g.max > 0 && g.max - g.top < 4; }, { timeout: 5000, what: 'log viewer at the tail' });
    assert.equal(await follow.isVisible(), false, 'no follow button while following');
    // the user scrolls up: following stops, the button appears, new lines do not move the view
    await log.hover();
    await page.mouse.wheel(0, -5000);
    await follow.waitFor({ state: 'visible', timeout: T });
    const n0 = await lineCount();
    const top0 = (await geom()).top;
    assert.ok(top0 < 50, `scrolled to the top (scrollTop ${top0})`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="log"] .ln').length >= n + 10, n0, { timeout: T });
    await page.waitForTimeout(100); // one more frame of appends
    const g1 = await geom();
    assert.ok(Math.abs(g1.top - top0) < 2 && g1.max - g1.top > 100, `view stays put while lines arrive (${JSON.stringify({ top0, ...g1 })})`);
    await screenshot(page, 'log-scrolled-up');
    // "follow" resumes: back at the tail, the button hides, and the tail keeps being followed
    await follow.click();
    await follow.waitFor({ state: 'hidden', timeout: T });
    const n1 = await lineCount();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="log"] .ln').length >= n + 5, n1, { timeout: T });
    await h.waitFor(async () => { const g = await geom(); return g.max - g.top < 4; }, { timeout: 3000, what: 'following the tail again' });
    // keyboard: Home in the log stops following; Enter on "follow" right away resumes it even
    // while Chromium's smooth keyboard-scroll animation is still running upwards
    await log.focus();
    await page.keyboard.press('Home');
    await follow.waitFor({ state: 'visible', timeout: T });
    await follow.focus();
    await page.keyboard.press('Enter');
    await follow.waitFor({ state: 'hidden', timeout: T });
    await page.waitForTimeout(800); // longer than the scroll animation
    const g2 = await geom();
    assert.ok(g2.max - g2.top < 4, `back at the tail after the keyboard scroll settled (${JSON.stringify(g2)})`);
    assert.equal(await follow.isVisible(), false, 'still following after the keyboard scroll settled');
  });

  await step('cancel', async () => {
    // wait until the real restic runs (the wrapper exec'd it), then cancel from the page
    await h.waitFor(() => S.slowAgent.children().some((p) => cmdline(p)[0] === h.RESTIC && cmdline(p).includes('backup')),
      { timeout: T, what: 'restic backup running under the agent' });
    await screenshot(page, 'job-running');
    const cancel = page.getByTestId('cancel-job');
    await cancel.click();
    await page.locator('[data-testid="job-status"][data-status="cancelled"]').waitFor({ timeout: T });
    await page.getByTestId('job-cancelled').waitFor({ timeout: T });
    await cancel.waitFor({ state: 'hidden', timeout: T });
    assert.match(await page.getByTestId('job-cancelled').textContent(), /stopped before completion after \S/);
    assert.equal(await page.getByTestId('job-failure').count(), 0, 'no failure panel for a cancelled job');
    assert.equal(await page.getByTestId('job-summary').count(), 0, 'no summary for a cancelled job');
    const job = await S.api.job(S.slowJob);
    assert.equal(job.status, 'cancelled', JSON.stringify(job));
    await screenshot(page, 'job-cancelled');
    // arriving after the end shows the same state
    await page.reload();
    await page.getByTestId('job-cancelled').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('cancel-job').isVisible(), false);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="log"] .ln').length === n, job.log_lines ?? (await S.api.logs(S.slowJob)).length, { timeout: T });
  });

  await step('host-after-cancel', async () => {
    await page.getByTestId('job-host-link').click();
    await page.waitForURL(/\/hosts\/[^/]+$/, { timeout: T });
    const row = page.locator(`[data-testid="job-row"][data-job-id="${S.slowJob}"]`);
    await row.waitFor({ timeout: T });
    await row.locator('.pill-cancelled').waitFor({ timeout: T });
    assert.equal(await page.locator('[data-testid="host-status"]').textContent(), 'online', 'host no longer shows a running job');
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});

test('wrong repository password: init_failed with restic\'s error; backup shows the failure panel', { timeout: 90000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  await step('bad-host', async () => {
    const repo = path.join(h.tmpDir('rm-e2e-bj-wrongpw-'), 'repo');
    h.resticInit(repo, 'the-real-password-123');
    const tok = await S.api.createEnrollment({ hostname: 'e2e-wrongpw', repo_url: repo, repo_password: 'not-the-password-456', initial_paths: [S.sample] });
    S.badAgent = await h.startAgent({ server: S.server, token: tok.token });
    await h.waitHostOnline(S.api, S.badAgent.hostId, T);
    // the host page updates live: open it before the init result arrives
    await page.goto(`${base}/hosts/${encodeURIComponent(S.badAgent.hostId)}`);
    await page.locator('[data-testid="repo-status"][data-status="init_failed"]').waitFor({ timeout: T });
    const err = await page.getByTestId('repo-error').textContent();
    assert.match(err, /wrong password|no key found/i, `repo error panel: ${err}`);
    const host = await S.api.host(S.badAgent.hostId);
    assert.ok(host.repo_error && err.includes(host.repo_error.split('\n')[0].trim()), `panel shows the server's repo_error (${host.repo_error})`);
    await screenshot(page, 'host-init-failed');
  });

  await step('failed-backup', async () => {
    await page.getByTestId('backup-now').click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: T });
    const id = decodeURIComponent(page.url().split('/').pop());
    await page.getByTestId('job-failure').waitFor({ timeout: T });
    assert.equal(await page.locator('[data-testid="job-status"]').getAttribute('data-status'), 'failed');
    const job = await S.api.job(id);
    assert.equal(job.status, 'failed');
    const text = await page.getByTestId('job-failure').textContent();
    assert.match(text, /wrong password|no key found/i, `failure panel: ${text}`);
    assert.ok(text.includes(job.error.trim().split('\n')[0]), `failure panel carries the job error (${job.error})`);
    assert.equal(await page.getByTestId('cancel-job').isVisible(), false, 'no Cancel on a failed job');
    assert.equal(await page.getByTestId('job-summary').count(), 0);
    await screenshot(page, 'job-failed');
    // reload: arriving after the end shows the failure too
    await page.reload();
    await page.getByTestId('job-failure').waitFor({ timeout: T });
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});

const XSS = '<img src=x onerror="window.__xss=1">';

test('dashboard: hosts in several chunks; a new agent appears and updates live', { timeout: 90000 }, async () => {
  const { page } = S.browser;
  const base = S.server.url;
  let total;
  await step('fleet', async () => {
    // 60 hosts enrolled through the API without an agent (never seen), as bench/ui-first-paint.mjs does;
    // the first carries markup in a tag, which every page must show as text
    for (let k = 0; k < 60; k++) {
      const hostname = `e2e-fleet-${String(k).padStart(2, '0')}`;
      const tok = await S.api.createEnrollment({ hostname, tags: k ? [] : [XSS], repo_url: `/srv/restic/${hostname}`, repo_password: 'fleet-repo-pw-5e2a', initial_paths: ['/etc'] });
      const r = await S.api.post('/api/agents/enroll', { token: tok.token, hostname, os: 'linux', arch: 'amd64', agent_version: '0.1.0', restic_version: '0.14.0' }, { csrf: false, cookies: false });
      assert.ok(r.status < 300, `enroll ${hostname}: ${r.status} ${r.text}`);
    }
    total = (await S.api.get('/api/hosts')).body.hosts.length;
    await page.goto(`${base}/`);
    if (/\/login/.test(page.url()) || await page.getByTestId('login-form').isVisible()) { // run on its own (--test-name-pattern)
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PW);
      await page.getByTestId('login-submit').click();
      await page.waitForURL(`${base}/`, { timeout: T });
    }
    await page.locator('[data-testid="host-count"]').filter({ hasText: `${total} hosts` }).waitFor({ timeout: T });
    assert.equal(await page.getByTestId('host-row').count(), total);
    assert.equal(await page.locator('.hchunk').count(), Math.ceil(total / 50));
    await page.locator('[data-testid="host-row"] .host-link', { hasText: 'e2e-fleet-59' }).waitFor();
  });

  await step('markup-is-text', async () => {
    assert.equal(await page.locator('[data-testid="host-row"] .tag', { hasText: '<img' }).textContent(), XSS);
    assert.equal(await page.locator('[data-testid="hosts-table"] img').count(), 0);
    await page.getByTestId('nav-audit').click();
    await page.getByTestId('audit-table').waitFor({ timeout: T });
    assert.ok((await page.getByTestId('audit-table').textContent()).includes(JSON.stringify(XSS)), 'audit detail shows the tag as text');
    assert.equal(await page.locator('[data-testid="audit-table"] img').count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected handler ran');
    await page.getByTestId('nav-dashboard').click();
    await page.locator('[data-testid="host-count"]').filter({ hasText: `${total} hosts` }).waitFor({ timeout: T });
  });

  await step('live-row', async () => {
    const repo = path.join(h.tmpDir('rm-e2e-bj-live-'), 'repo');
    const tok = await S.api.createEnrollment({ hostname: 'e2e-live', repo_url: repo, repo_password: REPO_PW, initial_paths: [S.sample] });
    S.liveAgent = await h.startAgent({ server: S.server, token: tok.token });
    const row = page.locator(`[data-testid="host-row"][data-host-id="${S.liveAgent.hostId}"]`);
    await row.waitFor({ timeout: T });
    await row.locator('.dot-online').waitFor({ timeout: T });
    await row.locator('.repo-ready').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('host-row').count(), total + 1);
    assert.equal(await page.getByTestId('host-count').textContent(), `${total + 1} hosts`);
    assert.equal(await page.locator('.hchunk').count(), Math.ceil((total + 1) / 50));
    // every host still has exactly one row
    const ids = await page.locator('[data-testid="host-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.hostId));
    assert.equal(new Set(ids).size, ids.length, 'no duplicate rows');
    await screenshot(page, 'dashboard-live');
  });
  assert.deepEqual(S.browser.errors, [], `browser console errors:\n${S.browser.errors.join('\n')}`);
});
