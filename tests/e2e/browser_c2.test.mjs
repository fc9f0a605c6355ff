// Browser coverage of C2 policies with a real server, a real agent and real restic:
//   - Sources tab: the enrollment's "default" group is listed; a new group is created in the
//     editor, which validates as you type (name pattern, absolute paths, number ranges,
//     restic durations) and puts the server's refusal (409 name_taken) next to the field;
//     the hook badge shows; an edit changes the retention summary; host settings (bandwidth,
//     intermittent, hook shell) are saved;
//   - Schedules tab: the cron field is checked as you type through POST /api/cron/preview
//     (the server's "minute: 61 is out of range 0-59" next to the field, else the next 5
//     runs), presets, the group checkboxes, the saved schedule's next run, the enabled
//     toggle, the time zones, and "agent in sync" once the agent acknowledged the push;
//   - the overview tile and the dashboard row show the next run and the sync state;
//   - Run now on a group opens its job; restic's summary line reads as one line of figures
//     while the .ndjson download keeps it raw; hook lines (if any) are styled apart;
//   - delete with confirmation; every field on the editors has a label;
//   - Run now while the host is offline offers to queue the job, which runs when the agent
//     returns.
// Fails on any browser console error other than the expected 409/422 answers.
// Screenshots: tests/e2e/artifacts/c2/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll, stepper } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const T = 30000;
const ADMIN_PW = 'correct horse battery';
const S = {};
const screenshot = (page, name) => shot(page, `c2/${name}`);

before(async () => {
  for (const b of ['restic-manager-server', 'restic-manager-agent']) {
    const p = path.join(h.binDir, b);
    if (!fs.existsSync(p)) throw new Error(`missing ${p} (set RM_BIN_DIR or build it)`);
  }
  fs.rmSync(path.join(artifactsDir, 'c2'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: ADMIN_PW });
  Object.assign(S, { server, api });
  S.sample = h.makeSampleDir({ files: 5 });
  S.sample2 = h.makeSampleDir({ files: 3 });
  const repo = path.join(h.tmpDir('rm-e2e-c2-repo-'), 'repo');
  const tok = await api.createEnrollment({ hostname: 'e2e-c2', repo_url: repo, repo_password: 'c2-browser-repo-pw-3f9a', initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server, token: tok.token });
  S.hostId = S.agent.hostId;
  const host = await h.waitRepoStatus(api, S.hostId, 'ready', T);
  assert.equal(host.repo_status, 'ready', `repo_status ${host.repo_status}: ${host.repo_error}`);
  await h.waitHostOnline(api, S.hostId, T);
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, agents: [S.agent], server: S.server }));

const step = stepper(S, screenshot, { agents: ['agent'] });

// The server's expected refusals (409 name taken, 422 invalid cron) are logged by Chromium
// as failed resource loads; drop exactly those.
function dropExpected(errors, from) {
  const keep = errors.splice(from).filter((e) => !/status of (409|422)/.test(e));
  errors.push(...keep);
}

// Every form control has a non-empty accessible name (as in browser_jobs.test.mjs).
async function assertFieldsLabelled(page, where, minFields) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const roles = new Set(['textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'spinbutton', 'listbox', 'slider', 'switch']);
    const fields = nodes.filter((n) => !n.ignored && roles.has(n.role?.value));
    const unnamed = fields.filter((n) => !String(n.name?.value || '').trim());
    assert.ok(fields.length >= minFields, `${where}: expected ≥ ${minFields} form fields, got ${fields.length}`);
    assert.deepEqual(unnamed.map((n) => `${n.role.value}#${n.backendDOMNodeId}`), [], `${where}: form fields without an accessible name`);
  } finally {
    await cdp.detach().catch(() => {});
  }
  const bad = await page.locator('input:not([type=hidden]), textarea, select').evaluateAll((els) => els
    .filter((e) => e.offsetParent !== null || e.getClientRects().length)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
    .map((e) => e.outerHTML.slice(0, 120)));
  assert.deepEqual(bad, [], `${where}: fields without a label`);
}

const activeId = (page) => page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.dataset.testid || document.activeElement.tagName));
const errText = (page, n) => page.getByTestId(`gf-${n}-err`).textContent();
// the group editor (the host settings form below it has fields with the same labels)
const groupForm = (page) => page.getByTestId('group-form');

test('sources: create and edit a group, validated as you type; the server\'s refusal lands next to the field', { timeout: 90000 }, async () => {
  const { page, errors } = S.browser;
  const gform = groupForm(page);
  const base = S.server.url;
  await step('login', async () => {
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=sources`);
    await page.waitForURL(/\/login\?next=/, { timeout: T });
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PW);
    await page.getByTestId('login-submit').click();
    await page.waitForURL(/\/hosts\/[^/]+\?tab=sources$/, { timeout: T });
    await page.getByTestId('tab-sources-body').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('tab-sources').getAttribute('aria-current'), 'page');
  });

  await step('default-group', async () => {
    const def = page.locator('[data-testid="group-row"][data-group-name="default"]');
    await def.waitFor({ timeout: T });
    assert.equal(await def.getByTestId('group-retention').textContent(), 'daily 7 · weekly 4 · monthly 12');
    assert.ok((await def.textContent()).includes(S.sample), 'default group includes the initial path');
    await screenshot(page, 'sources');
  });

  await step('editor-validation', async () => {
    await page.getByTestId('group-new').click();
    await gform.waitFor();
    assert.equal(await activeId(page), 'gf-name', 'focus on the name field');
    await assertFieldsLabelled(page, 'group editor', 16);
    // as you type: each field's message appears next to it and goes when fixed
    await gform.getByLabel(/^Name/).fill('Bad Name');
    assert.match(await errText(page, 'name'), /Lower-case/);
    assert.equal(await gform.getByLabel(/^Name/).getAttribute('aria-invalid'), 'true');
    await gform.getByLabel(/^Name/).fill('-x');
    assert.match(await errText(page, 'name'), /Start with/);
    await gform.getByLabel(/^Include paths/).fill('relative/dir');
    assert.match(await errText(page, 'includes'), /Paths must be absolute: relative\/dir/);
    await gform.getByLabel(/^Include paths/).fill(`${S.sample2}\n/srv/../etc`);
    assert.match(await errText(page, 'includes'), /No “\.\.” segments/);
    await gform.getByLabel(/^Include paths/).fill(S.sample2);
    assert.equal(await errText(page, 'includes'), '');
    await gform.getByLabel(/^Exclude patterns/).fill('*.tmp\n*.cache');
    await gform.getByLabel('Daily', { exact: true }).fill('99999');
    assert.match(await errText(page, 'keep_daily'), /whole number from 0 to 10,000/);
    await gform.getByLabel('Daily', { exact: true }).fill('14');
    assert.equal(await errText(page, 'keep_daily'), '');
    await gform.getByLabel(/^Keep within/).fill('forever');
    assert.match(await errText(page, 'keep_within'), /restic duration/);
    await gform.getByLabel(/^Keep within/).fill('30d');
    await gform.getByLabel(/^Retries/).fill('11');
    assert.match(await errText(page, 'retry_max'), /0 to 10/);
    await gform.getByLabel(/^Retries/).fill('2');
    await gform.getByLabel(/^Upload limit/).fill('4096');
    // hooks: an admin sees and sets them
    await gform.getByLabel('Pre-backup hook').fill('echo "pre-hook ran for $RM_GROUP"');
    // submitting with a client-side error keeps the form and focuses the field
    await page.getByTestId('group-save').click();
    assert.equal(await activeId(page), 'gf-name');
    assert.match(await page.getByTestId('group-form-error').textContent(), /Fix the highlighted fields/);
    await screenshot(page, 'group-editor-errors');
  });

  await step('server-refusal', async () => {
    // a name the server refuses (taken): its answer is shown next to the name field
    const before = errors.length;
    await gform.getByLabel(/^Name/).fill('default');
    assert.equal(await errText(page, 'name'), '');
    await page.getByTestId('group-save').click();
    await page.waitForFunction(() => /already has a group|Another group/.test(document.querySelector('[data-testid="gf-name-err"]').textContent), null, { timeout: T });
    assert.equal(await activeId(page), 'gf-name');
    dropExpected(errors, before);
  });

  await step('create', async () => {
    await gform.getByLabel(/^Name/).fill('etc-data');
    await page.getByTestId('group-save').click();
    const row = page.locator('[data-testid="group-row"][data-group-name="etc-data"]');
    await row.waitFor({ timeout: T });
    assert.equal(await page.getByTestId('group-form').count(), 0, 'editor closed');
    // a new group starts from the enrollment's retention (daily 7, weekly 4, monthly 12)
    assert.equal(await row.getByTestId('group-retention').textContent(), 'daily 14 · weekly 4 · monthly 12 · within 30d');
    assert.equal(await row.locator('td.num').textContent(), '2', 'two excludes');
    assert.equal(await row.getByTestId('hook-badge').textContent(), 'pre-hook set');
    const g = (await S.api.get(`/api/hosts/${S.hostId}/groups`)).body.groups.find((x) => x.name === 'etc-data');
    assert.ok(g, 'the server has the group');
    assert.deepEqual(g.includes, [S.sample2]);
    assert.deepEqual(g.excludes, ['*.tmp', '*.cache']);
    assert.equal(g.retention.keep_daily, 14);
    assert.equal(g.retention.keep_within, '30d');
    assert.equal(g.retry_max, 2);
    assert.equal(g.limit_upload_kib, 4096);
    assert.equal(g.limit_download_kib, null);
    assert.equal(g.pre_hook_set, true);
    assert.equal(g.post_hook_set, false);
    S.groupId = g.id;
    await screenshot(page, 'sources-created');
  });

  await step('edit', async () => {
    const row = page.locator('[data-testid="group-row"][data-group-name="etc-data"]');
    await row.getByTestId('group-edit').click();
    await page.getByTestId('group-form').waitFor();
    assert.equal(await gform.getByLabel(/^Include paths/).inputValue(), S.sample2);
    assert.equal(await gform.getByLabel('Pre-backup hook').inputValue(), 'echo "pre-hook ran for $RM_GROUP"');
    await gform.getByLabel('Weekly', { exact: true }).fill('8');
    await gform.getByLabel('Monthly', { exact: true }).fill('');
    await page.getByTestId('group-save').click();
    await page.getByTestId('group-form').waitFor({ state: 'detached', timeout: T });
    await row.getByTestId('group-retention').filter({ hasText: 'daily 14 · weekly 8 · within 30d' }).waitFor({ timeout: T });
  });

  await step('host-settings', async () => {
    const before = errors.length;
    const sf = page.getByTestId('settings-form');
    await sf.waitFor();
    await assertFieldsLabelled(page, 'host settings', 5);
    await sf.getByLabel(/^Upload limit/).fill('12x');
    assert.match(await page.getByTestId('hs-limit_upload_kib-err').textContent(), /whole number/);
    await sf.getByLabel(/^Upload limit/).fill('8192');
    assert.equal(await page.getByTestId('hs-limit_upload_kib-err').textContent(), '');
    await sf.getByLabel('Availability').selectOption('intermittent');
    await sf.getByLabel(/^Hook shell/).fill('bash');
    assert.match(await page.getByTestId('hs-hook_shell-err').textContent(), /absolute path/);
    await sf.getByLabel(/^Hook shell/).fill('/bin/sh');
    await sf.getByLabel(/^Hook timeout/).fill('120');
    await page.getByTestId('settings-save').click();
    await h.waitFor(async () => (await S.api.get(`/api/hosts/${S.hostId}/settings`)).body.limit_upload_kib === 8192, { timeout: T, what: 'settings saved' });
    const st = (await S.api.get(`/api/hosts/${S.hostId}/settings`)).body;
    assert.deepEqual({ up: st.limit_upload_kib, down: st.limit_download_kib, mode: st.mode, shell: st.hook_shell, timeout: st.hook_timeout_s },
      { up: 8192, down: null, mode: 'intermittent', shell: '/bin/sh', timeout: 120 });
    // the saved values show after a reload
    await page.reload();
    await page.getByTestId('settings-form').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('hs-limit_upload_kib').inputValue(), '8192');
    assert.equal(await page.getByTestId('hs-mode').inputValue(), 'intermittent');
    await screenshot(page, 'sources-settings');
    dropExpected(errors, before);
  });
  assert.deepEqual(errors, [], `browser console errors:\n${errors.join('\n')}`);
});

test('schedules: cron checked as you type, presets, groups; next run and "agent in sync"', { timeout: 90000 }, async () => {
  const { page, errors } = S.browser;
  const base = S.server.url;
  await step('tab', async () => {
    await page.getByTestId('tab-schedules').click();
    await page.waitForURL(/\?tab=schedules$/);
    await page.getByTestId('tab-schedules-body').waitFor();
    const tz = await page.getByTestId('tz-info').textContent();
    assert.match(tz, /Host time zone/);
    assert.match(tz, /this browser/);
    // the enrollment's daily schedule of the default group
    await page.getByTestId('schedule-row').first().waitFor({ timeout: T });
    assert.equal(await page.getByTestId('schedule-row').count(), 1);
    await page.getByTestId('sync-state').waitFor();
  });

  await step('cron-as-you-type', async () => {
    const before = errors.length;
    await page.getByTestId('schedule-new').click();
    await page.getByTestId('schedule-form').waitFor();
    assert.equal(await activeId(page), 'sf-cron', 'focus on the cron field');
    await assertFieldsLabelled(page, 'schedule editor', 4);
    await page.keyboard.type('61 * * * *');
    await page.getByTestId('cron-error').filter({ hasText: 'minute: 61 is out of range 0-59' }).waitFor({ timeout: T });
    assert.equal(await page.getByLabel(/^Cron expression/).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByTestId('preview-run').count(), 0);
    await screenshot(page, 'cron-error');
    await page.getByLabel(/^Cron expression/).fill('*/5 * * * *');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="preview-run"]').length === 5, null, { timeout: T });
    assert.equal(await page.getByTestId('cron-error').textContent(), '');
    const runs = await page.getByTestId('preview-run').allTextContents();
    for (const r of runs) assert.match(r, /\d{4}-\d\d-\d\d \d\d:[0-5][05] host/, `a run in host time: ${r}`);
    // a preset fills the field and previews it
    await page.getByTestId('preset').filter({ hasText: '@hourly' }).click();
    assert.equal(await page.getByLabel(/^Cron expression/).inputValue(), '@hourly');
    await page.waitForFunction(() => {
      const xs = Array.from(document.querySelectorAll('[data-testid="preview-run"]'));
      return xs.length === 5 && xs.every((x) => /:00 host/.test(x.textContent));
    }, null, { timeout: T });
    // saved as @weekly: an hourly schedule could fire while the next test runs a backup
    await page.getByTestId('preset').filter({ hasText: '@weekly' }).click();
    await page.waitForFunction(() => {
      const xs = Array.from(document.querySelectorAll('[data-testid="preview-run"]'));
      return xs.length === 5 && new Set(xs.map((x) => x.textContent.slice(0, 10))).size === 5;
    }, null, { timeout: T });
    dropExpected(errors, before);
  });

  await step('create-schedule', async () => {
    // two groups and none picked: a schedule must back something up
    await page.getByTestId('schedule-save').click();
    assert.match(await page.getByTestId('groups-error').textContent(), /Pick at least one source group/);
    await page.locator('[data-testid="schedule-group"][data-group-name="etc-data"]').check();
    assert.equal(await page.getByTestId('groups-error').textContent(), '');
    await screenshot(page, 'schedule-editor');
    // Enter in the cron field submits
    await page.getByLabel(/^Cron expression/).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('schedule-form').waitFor({ state: 'detached', timeout: T });
    const row = page.locator('[data-testid="schedule-row"]').filter({ hasText: '@weekly' });
    await row.waitFor({ timeout: T });
    assert.equal(await row.getAttribute('data-enabled'), 'true');
    assert.match(await row.textContent(), /etc-data/);
    assert.match(await row.getByTestId('schedule-next').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d host.*\((in \d+[mhd]|just now)\)$/);
    const sc = (await S.api.get(`/api/hosts/${S.hostId}/schedules`)).body;
    const mine = sc.schedules.find((x) => x.cron === '@weekly');
    assert.ok(mine, 'the server has the schedule');
    assert.deepEqual(mine.group_ids, [S.groupId]);
    S.scheduleId = mine.id;
  });

  await step('in-sync', async () => {
    // the agent acknowledges the pushed schedule version
    await page.locator('[data-testid="sync-state"][data-in-sync="true"]').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('sync-state').textContent(), 'agent in sync');
    const sc = (await S.api.get(`/api/hosts/${S.hostId}/schedules`)).body;
    assert.equal(sc.in_sync, true);
    assert.equal(sc.schedule_acked_version, sc.schedule_version);
    await screenshot(page, 'schedules-in-sync');
  });

  await step('toggle', async () => {
    const def = page.locator('[data-testid="schedule-row"]').filter({ hasNotText: '@weekly' });
    await def.getByTestId('schedule-enabled').uncheck();
    await page.locator('[data-testid="schedule-row"][data-enabled="false"]').waitFor({ timeout: T });
    assert.match(await page.locator('[data-testid="schedule-row"][data-enabled="false"] [data-testid="schedule-next"]').textContent(), /disabled/);
    const sc = (await S.api.get(`/api/hosts/${S.hostId}/schedules`)).body;
    assert.equal(sc.schedules.find((x) => x.cron !== '@weekly').enabled, false);
    // a change bumps the version; the agent acknowledges it again
    await page.locator('[data-testid="sync-state"][data-in-sync="true"]').waitFor({ timeout: T });
  });

  await step('overview-and-dashboard', async () => {
    await page.getByTestId('tab-overview').click();
    await page.getByTestId('backup-paths').waitFor();
    // the earliest enabled schedule is the new weekly one (the default one is disabled)
    const next = Date.parse((await S.api.get(`/api/hosts/${S.hostId}/schedules`)).body.schedules.find((x) => x.cron === '@weekly').next_runs[0]);
    const tile = page.getByTestId('vital-next-run');
    assert.match(await tile.textContent(), /in \d+[mhd]/);
    assert.equal(Date.parse(await tile.locator('time').getAttribute('datetime')), next);
    await page.locator('[data-testid="vital-sync"][data-in-sync="true"]').waitFor({ timeout: T });
    await page.getByTestId('nav-dashboard').click();
    const row = page.locator(`[data-testid="host-row"][data-host-id="${S.hostId}"]`);
    await row.waitFor({ timeout: T });
    const cell = row.getByTestId('host-next-run');
    assert.match(await cell.textContent(), /in \d+[mhd]/);
    assert.equal(Date.parse(await cell.locator('time').getAttribute('datetime')), next, 'the dashboard shows the host\'s next run');
    await row.locator('[data-testid="host-sync"][data-in-sync="true"]').waitFor({ timeout: T });
    await screenshot(page, 'dashboard');
  });
  assert.deepEqual(errors, [], `browser console errors:\n${errors.join('\n')}`);
});

test('run now on a group: readable summary in the log, raw in the .ndjson; delete with confirmation', { timeout: 90000 }, async () => {
  const { page, errors } = S.browser;
  const base = S.server.url;
  await step('run-now', async () => {
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=sources`);
    const row = page.locator('[data-testid="group-row"][data-group-name="etc-data"]');
    await row.waitFor({ timeout: T });
    await row.getByTestId('group-run').click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: T });
    S.jobId = decodeURIComponent(page.url().split('/').pop());
    await page.getByTestId('job-summary').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('job-group').textContent(), 'group etc-data');
  });

  await step('readable-log', async () => {
    const sum = page.locator('[data-testid="log"] .ln-summary .ln-p');
    await sum.waitFor({ timeout: T });
    const text = await sum.textContent();
    const job = await S.api.job(S.jobId);
    const sid = String(job.stats.snapshot_id).slice(0, 8);
    assert.match(text, new RegExp(`^Added \\S+ \\S*B in \\d+ files? \\(\\d+ new, \\d+ changed\\), .+, snapshot ${sid}$`), `summary line: ${text}`);
    assert.ok((await sum.getAttribute('title')).includes('"message_type":"summary"'), 'the raw line stays in the title');
    assert.equal(await page.locator('[data-testid="log"] .ln-p').filter({ hasText: '"message_type"' }).count(), 0, 'no raw restic JSON in the viewer');
    // hook output, when the agent ran hooks, is styled apart
    const lines = await S.api.logs(S.jobId);
    assert.equal(await page.locator('[data-testid="log"] .ln-hook').count(), lines.filter((l) => l.stream === 'hook').length);
    // the download keeps restic's JSON as it was
    const r = await page.request.get(`${base}/api/jobs/${encodeURIComponent(S.jobId)}/log.ndjson`);
    assert.equal(r.status(), 200);
    assert.ok((await r.text()).includes('\\"message_type\\":\\"summary\\"'), 'ndjson carries the raw summary line');
    await screenshot(page, 'job-readable-log');
  });

  await step('delete', async () => {
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=sources`);
    const row = page.locator('[data-testid="group-row"][data-group-name="etc-data"]');
    await row.waitFor({ timeout: T });
    await row.getByTestId('group-delete').click();
    const confirm = row.getByTestId('group-delete-confirm');
    await confirm.waitFor();
    assert.equal(await activeId(page), 'group-delete-confirm', 'focus on the confirmation');
    await screenshot(page, 'group-delete-confirm');
    await page.keyboard.press('Enter');
    await row.waitFor({ state: 'detached', timeout: T });
    const groups = (await S.api.get(`/api/hosts/${S.hostId}/groups`)).body.groups;
    assert.deepEqual(groups.map((g) => g.name), ['default']);
    // the schedule no longer lists the group
    await page.getByTestId('tab-schedules').click();
    const sc = page.locator(`[data-testid="schedule-row"][data-schedule-id="${S.scheduleId}"]`);
    await sc.waitFor({ timeout: T });
    assert.doesNotMatch(await sc.textContent(), /etc-data/);
  });
  assert.deepEqual(errors, [], `browser console errors:\n${errors.join('\n')}`);
});

test('run now while the host is offline: the row offers to queue it; the job runs when the agent returns', { timeout: 90000 }, async () => {
  const { page, errors } = S.browser;
  const base = S.server.url;
  await step('offline', async () => {
    await S.agent.stop();
    await h.waitFor(async () => (await S.api.host(S.hostId)).status === 'offline', { timeout: T, what: 'host offline' });
    await page.goto(`${base}/hosts/${encodeURIComponent(S.hostId)}?tab=sources`);
    await page.locator('[data-testid="host-status"][data-status="offline"]').waitFor({ timeout: T });
  });

  await step('queue', async () => {
    const before = errors.length;
    const row = page.locator('[data-testid="group-row"][data-group-name="default"]');
    await row.getByTestId('group-run').click();
    const queue = row.getByTestId('group-run-queue');
    await queue.waitFor({ timeout: T });
    assert.match(await row.textContent(), /Host offline/);
    dropExpected(errors, before); // the 409 host_offline
    await screenshot(page, 'run-offline');
    await queue.click();
    await page.waitForURL(/\/jobs\/[^/]+$/, { timeout: T });
    await page.locator('[data-testid="job-status"][data-status="queued"]').waitFor({ timeout: T });
    assert.equal(await page.getByTestId('progress-percent').textContent(), 'queued');
  });

  await step('agent-returns', async () => {
    S.agent.start();
    await page.getByTestId('job-summary').waitFor({ timeout: 2 * T });
    assert.equal(await page.getByTestId('job-group').textContent(), 'group default');
    await page.locator('[data-testid="log"] .ln-summary').waitFor({ timeout: T });
    await screenshot(page, 'run-offline-done');
  });
  assert.deepEqual(errors, [], `browser console errors:\n${errors.join('\n')}`);
});
