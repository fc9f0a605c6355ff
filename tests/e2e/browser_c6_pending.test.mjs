// Browser check of the C6 Pending hosts page: an announced host shows its fingerprint
// (the string the agent prints) and a nav badge counts it; Accept opens the form for
// name/tags/repository and lands on the new host's page; Reject asks first; outstanding
// enrollment tokens are listed and can be revoked. The announcer is a node Ed25519 key
// (the real agent's side is covered by c6_announce.test.mjs).
// Screenshots: tests/e2e/artifacts/c6-pending/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launchBrowser, screenshot as shot, artifactsDir, closeAll } from './lib/browser.mjs';
import * as h from './lib/harness.mjs';

const PW = 'correct horse battery';
const S = {};
const screenshot = (page, name) => shot(page, `c6-pending/${name}`);

function announce(hostname) {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  return new h.Api(S.server.url).post('/api/agents/announce', { pubkey: raw.toString('base64'), hostname, os: 'linux', arch: 'amd64' });
}

before(async () => {
  fs.rmSync(path.join(artifactsDir, 'c6-pending'), { recursive: true, force: true });
  const { server, api } = await h.startServerWithAdmin({ password: PW });
  Object.assign(S, { server, api });
  S.browser = await launchBrowser();
});

after(() => closeAll({ browser: S.browser, server: S.server }));

test('pending hosts: fingerprint, badge, accept form -> host page, reject with confirmation, tokens revoke', { timeout: 90000 }, async () => {
  const page = S.browser.page;
  const a = await announce('web-announced');
  const b = await announce('to-reject');
  assert.equal(a.status, 201, a.text);
  const tok = await S.api.createEnrollment({ hostname: 'tok-host', repo_url: '/tmp/rm-c6-tok' });
  try {
    await page.goto(`${S.server.url}/login?next=${encodeURIComponent('/pending-hosts')}`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(PW);
    await page.getByTestId('login-submit').click();
    await page.waitForURL((u) => u.pathname === '/pending-hosts');
    await page.getByTestId('nav-pending-count').filter({ hasText: '2' }).waitFor();
    const card = page.getByTestId('pending-host').filter({ hasText: 'web-announced' });
    assert.equal((await card.getByTestId('pending-fingerprint').textContent()).trim(), a.body.fingerprint);
    await page.getByTestId('token-row').filter({ hasText: 'tok-host' }).waitFor();
    await screenshot(page, 'pending');

    // reject asks first; dismissing changes nothing, accepting the dialog rejects
    const reject = page.getByTestId('pending-host').filter({ hasText: 'to-reject' }).getByTestId('pending-reject');
    page.once('dialog', (d) => d.dismiss());
    await reject.click();
    assert.equal((await S.api.get('/api/pending-hosts')).body.pending.length, 2);
    page.once('dialog', (d) => d.accept());
    await reject.click();
    await page.getByTestId('pending-host').filter({ hasText: 'to-reject' }).waitFor({ state: 'detached' });
    const rows = (await S.api.get('/api/pending-hosts?state=all')).body.pending;
    assert.equal(rows.find((r) => r.id === b.body.id).state, 'rejected');

    await card.getByTestId('pending-accept').click();
    const form = page.getByTestId('accept-form');
    assert.equal(await form.getByLabel('Name', { exact: true }).inputValue(), 'web-announced');
    await form.getByLabel('Name', { exact: true }).fill('web-01');
    await form.getByLabel(/^Tags/).fill('prod, web');
    await form.getByLabel('Repository URL').fill('/tmp/rm-c6-browser-repo');
    await form.getByLabel(/^Repository password/).fill('c6-browser-repo-pw');
    await screenshot(page, 'accept-form');
    await page.getByTestId('accept-submit').click();
    await page.waitForURL((u) => /^\/hosts\/[0-9A-Z]{26}$/.test(u.pathname));
    const hostId = new URL(page.url()).pathname.split('/').pop();
    const host = await S.api.host(hostId);
    assert.equal(host.hostname, 'web-01');
    assert.deepEqual(host.tags, ['prod', 'web']);

    await page.goto(`${S.server.url}/pending-hosts`);
    await page.getByTestId('pending-empty').waitFor();
    page.once('dialog', (d) => d.accept());
    await page.getByTestId('token-row').filter({ hasText: 'tok-host' }).getByTestId('token-revoke').click();
    await page.getByTestId('tokens-empty').waitFor();
    const en = await new h.Api(S.server.url).post('/api/agents/enroll', { token: tok.token, hostname: 'x' });
    assert.equal(en.status, 401, en.text);
    await screenshot(page, 'done');

    // recovery: an expired token's page offers a new token in place
    const old = await S.api.createEnrollment({ hostname: 'late-host', repo_url: '/tmp/rm-c6-late' });
    execFileSync('sqlite3', [path.join(S.server.dataDir, 'restic-manager.db'), `UPDATE enrollment_tokens SET expires_at = 1 WHERE id = '${old.id}'`]);
    await page.goto(`${S.server.url}/hosts/pending/${encodeURIComponent(old.token)}`);
    await page.getByTestId('pending-expired').waitFor();
    await page.getByTestId('token-regenerate').click();
    await page.waitForURL((u) => u.pathname.startsWith('/hosts/pending/') && !u.pathname.endsWith(encodeURIComponent(old.token)));
    const fresh = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    await page.getByTestId('pending-awaiting').waitFor();
    assert.ok((await page.getByTestId('install-command').textContent()).includes(fresh));
    assert.equal((await new h.Api(S.server.url).post('/api/agents/enroll', { token: old.token, hostname: 'x' })).status, 401);
    const ok = await new h.Api(S.server.url).post('/api/agents/enroll', { token: fresh, hostname: 'x' });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await S.api.host(ok.body.host_id)).hostname, 'late-host');
  } catch (e) {
    await screenshot(page, 'FAILED').catch(() => {});
    e.message += `\nurl=${page.url()}\n--- server ---\n${S.server.stderr().slice(-3000)}`;
    throw e;
  }
  assert.deepEqual(S.browser.errors.filter((x) => !/status of (400|401|404|409)/.test(x)), []);
});
