// C3 browse / download / diff end to end, against real restic: the agent indexes a snapshot
// with `restic ls --json` on the first tree request and answers later ones from the index;
// a file and a directory (.tar.gz and .zip) download through the server with the same
// bytes; a diff of two snapshots lists exactly the added, removed and changed test files;
// bad input is refused; an offline host answers 409 at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as h from './lib/harness.mjs';

after(async () => {
  if (process.env.RM_E2E_DEBUG) console.log(`server:\n${S.server?.stderr().slice(-6000)}\nagent:\n${S.agent?.allStderr().slice(-6000)}`);
  await h.cleanup();
});

const S = {};
const REPO_PW = 'c3-browse-repo-pw-3a7c';

function writeTree(root, files) {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
}

const tree = (snap, p, q = '') => S.api.get(`/api/hosts/${S.hostId}/snapshots/${snap}/tree?path=${encodeURIComponent(p)}${q}`);

async function download(snap, p, format) {
  const q = new URLSearchParams({ path: p });
  if (format) q.set('format', format);
  return h.httpRequest(`${S.server.url}/api/hosts/${S.hostId}/snapshots/${snap}/download?${q}`,
    { headers: { cookie: S.api.cookieHeader() }, timeout: 60000 });
}

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin());
  S.data = path.join(h.tmpDir('rm-e2e-c3-'), 'data');
  S.big = crypto.randomBytes(3 << 20); // 3 MiB: several windows of the stream protocol
  writeTree(S.data, {
    'a.txt': 'alpha\n',
    'big.bin': S.big,
    'd1/f1.txt': 'one\n',
    'd1/sub/f2.txt': 'two\n',
    'd2/keep.txt': 'keep\n',
    'odd name "q".txt': 'odd\n',
  });
  S.repo = path.join(h.tmpDir('rm-e2e-c3-repo-'), 'repo');
  const tok = await S.api.createEnrollment({ hostname: 'e2e-c3', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.data] });
  S.agent = await h.startAgent({ server: S.server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(S.api, S.hostId);
  const host = await h.waitRepoStatus(S.api, S.hostId, 'ready', 60000);
  assert.equal(host.repo_status, 'ready', `repo: ${host.repo_error}`);
  const j1 = await S.api.waitJob(await S.api.runJob(S.hostId, { kind: 'backup', paths: [S.data] }));
  assert.equal(j1.status, 'succeeded', JSON.stringify(j1));
  // second snapshot: one changed, one removed, one added file
  fs.writeFileSync(path.join(S.data, 'a.txt'), 'alpha changed\n');
  fs.rmSync(path.join(S.data, 'd1/f1.txt'));
  fs.writeFileSync(path.join(S.data, 'd2/new.txt'), 'new\n');
  const j2 = await S.api.waitJob(await S.api.runJob(S.hostId, { kind: 'backup', paths: [S.data] }));
  assert.equal(j2.status, 'succeeded', JSON.stringify(j2));
  const snaps = await h.waitFor(async () => {
    const r = await S.api.get(`/api/hosts/${S.hostId}/snapshots`);
    return r.body?.snapshots?.length === 2 && r.body.snapshots;
  }, { timeout: 20000, what: 'two snapshots in the API' });
  snaps.sort((a, b) => a.time.localeCompare(b.time));
  [S.snap1, S.snap2] = snaps.map((s) => s.id);
});

test('browse: the first expansion indexes the snapshot, later ones come from the index', async () => {
  const t0 = Date.now();
  let r = await tree(S.snap2, '/');
  assert.equal(r.status, 200, r.text);
  const first = Date.now() - t0;
  // walk down to the backed-up directory, one level at a time
  const parts = S.data.split('/').filter(Boolean);
  let cur = '';
  for (const p of parts) {
    r = await tree(S.snap2, cur || '/');
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.entries.some((e) => e.name === p && e.type === 'dir'), `${p} in ${cur || '/'}: ${r.text}`);
    cur += `/${p}`;
  }
  const t1 = Date.now();
  r = await tree(S.snap2, S.data);
  const later = Date.now() - t1;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.path, S.data);
  assert.equal(r.body.next_cursor, null);
  const byName = Object.fromEntries(r.body.entries.map((e) => [e.name, e]));
  assert.deepEqual(Object.keys(byName).sort(), ['a.txt', 'big.bin', 'd1', 'd2', 'odd name "q".txt']);
  assert.equal(byName['big.bin'].type, 'file');
  assert.equal(byName['big.bin'].size, S.big.length);
  assert.equal(byName.d1.type, 'dir');
  assert.match(byName['a.txt'].mtime, /^\d{4}-\d\d-\d\dT/);
  assert.equal(byName['a.txt'].mode, fs.statSync(path.join(S.data, 'a.txt')).mode & 0o7777);
  r = await tree(S.snap2, `${S.data}/d1/sub`);
  assert.deepEqual(r.body.entries.map((e) => e.name), ['f2.txt']);
  assert.ok(later < 2000, `later expansion took ${later} ms (first ${first} ms)`);
  assert.ok(fs.readdirSync(path.join(S.agent.stateDir, 'index')).some((f) => f.endsWith('.idx')), 'on-disk index');
  // paging: one entry per page
  const seen = [];
  let cursor = '';
  for (let i = 0; i < 10; i++) {
    r = await tree(S.snap2, S.data, `&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    seen.push(...r.body.entries.map((e) => e.name));
    if (!r.body.next_cursor) break;
    cursor = r.body.next_cursor;
  }
  assert.deepEqual(seen, Object.keys(byName).sort());
});

test('browse: bad input is refused, unknown snapshot and path are 404', async () => {
  let r = await tree('deadbeefdeadbeef', '/');
  assert.equal(r.status, 404, r.text);
  assert.equal(r.body.code, 'unknown_snapshot');
  r = await tree(S.snap2, `${S.data}/nope`);
  assert.equal(r.status, 404, r.text);
  for (const bad of [`${S.data}/../etc`, 'relative', `${S.data}/./d1`, `${S.data}\u0000x`]) {
    r = await tree(S.snap2, bad);
    assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
  }
  r = await tree(S.snap2, `${S.data}/a.txt`);
  assert.equal(r.status, 422, r.text);
  r = await tree(S.snap2, S.data, '&cursor=garbage');
  assert.equal(r.status, 400, r.text);
  r = await tree(S.snap2, S.data, '&limit=0');
  assert.equal(r.status, 400, r.text);
});

test('download: a file as itself, a directory as .tar.gz and .zip with the same contents', async () => {
  let r = await download(S.snap2, `${S.data}/big.bin`);
  assert.equal(r.status, 200, r.buf.toString().slice(0, 300));
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.match(r.headers['content-disposition'], /filename="big\.bin"/);
  assert.ok(r.buf.equals(S.big), `file bytes differ (${r.buf.length} vs ${S.big.length})`);

  r = await download(S.snap2, S.data, 'tar.gz'); // 3 MiB through gzip: several windows
  assert.equal(r.status, 200, r.buf.toString().slice(0, 300));
  assert.equal(r.headers['content-type'], 'application/gzip');
  assert.match(r.headers['content-disposition'], /filename="data\.tar\.gz"/);
  const out = h.tmpDir('rm-e2e-c3-untar-');
  fs.writeFileSync(path.join(out, 'data.tar.gz'), r.buf);
  execFileSync('tar', ['xzf', 'data.tar.gz'], { cwd: out });
  assert.ok(fs.readFileSync(path.join(out, S.data.replace(/^\//, ''), 'big.bin')).equals(S.big), 'big.bin through tar.gz');
  const rel = S.data.replace(/^\//, '');
  assert.equal(fs.readFileSync(path.join(out, rel, 'd1/sub/f2.txt'), 'utf8'), 'two\n');
  assert.ok(!fs.existsSync(path.join(out, rel, 'd1/f1.txt')), 'removed file not in the second snapshot');

  r = await download(S.snap1, S.data, 'zip');
  assert.equal(r.status, 200, r.buf.toString().slice(0, 300));
  assert.equal(r.headers['content-type'], 'application/zip');
  const zout = h.tmpDir('rm-e2e-c3-unzip-');
  fs.writeFileSync(path.join(zout, 'data.zip'), r.buf);
  execFileSync('unzip', ['-q', 'data.zip'], { cwd: zout });
  assert.equal(fs.readFileSync(path.join(zout, rel, 'a.txt'), 'utf8'), 'alpha\n');
  assert.equal(fs.readFileSync(path.join(zout, rel, 'd1/f1.txt'), 'utf8'), 'one\n');
  assert.ok(fs.readFileSync(path.join(zout, rel, 'big.bin')).equals(S.big));

  r = await download(S.snap2, `${S.data}/missing.txt`);
  assert.equal(r.status, 404, r.buf.toString());
  r = await download(S.snap2, '/../x');
  assert.equal(r.status, 400);
  const audit = await S.api.get('/api/audit?limit=20&action=snapshot.download');
  assert.ok(audit.body.entries.some((e) => JSON.stringify(e).includes('big.bin')), `audited: ${audit.text}`);
});

test('diff lists exactly the added, removed and changed files', async () => {
  const r = await S.api.get(`/api/hosts/${S.hostId}/snapshots/diff?from=${S.snap1}&to=${S.snap2}`);
  assert.equal(r.status, 200, r.text);
  const files = (l) => l.filter((p) => !p.endsWith('/'));
  assert.deepEqual(files(r.body.added), [`${S.data}/d2/new.txt`]);
  assert.deepEqual(files(r.body.removed), [`${S.data}/d1/f1.txt`]);
  assert.deepEqual(files(r.body.changed), [`${S.data}/a.txt`]);
  assert.equal(r.body.truncated, false);
  assert.equal(r.body.stats.added.files, 1);
  assert.equal(r.body.stats.removed.files, 1);
  assert.equal(r.body.stats.changed_files, 1);
  const bad = await S.api.get(`/api/hosts/${S.hostId}/snapshots/diff?from=${S.snap1}&to=cafebabecafebabe`);
  assert.equal(bad.status, 404, bad.text);
});

test('an offline host answers 409 host_offline at once', async () => {
  await S.agent.stop();
  await h.waitFor(async () => (await S.api.host(S.hostId)).status === 'offline', { timeout: 15000, what: 'host offline' });
  for (const get of [() => tree(S.snap2, '/'), () => S.api.get(`/api/hosts/${S.hostId}/snapshots/diff?from=${S.snap1}&to=${S.snap2}`)]) {
    const t0 = Date.now();
    const r = await get();
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.code, 'host_offline');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  }
  const d = await download(S.snap2, `${S.data}/a.txt`);
  assert.equal(d.status, 409);
  h.assertNoSanitizer(S.agent.allStderr(), 'agent');
});
