// End-to-end test harness: real server, real agent, real restic, real sshd.
//
// Every process is spawned in its own process group and registered; cleanup() (call it from
// an after() hook) kills whatever is still running and removes temp dirs. Every wait is
// bounded. Binaries: $RM_BIN_DIR (default <repo>/build/asan) and $RM_REL_BIN_DIR (default
// <repo>/build).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const binDir = path.resolve(process.env.RM_BIN_DIR || path.join(repoRoot, 'build/asan'));
export const relBinDir = path.resolve(process.env.RM_REL_BIN_DIR || path.join(repoRoot, 'build'));
export const RESTIC = process.env.RM_TEST_RESTIC || '/usr/bin/restic';

// Sanitizer defaults when the tests are run outside `make` (make exports the same values).
export const sanEnv = {
  ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=0:halt_on_error=1',
  UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1',
  LSAN_OPTIONS: process.env.LSAN_OPTIONS ||
    `suppressions=${path.join(repoRoot, 'tests/lsan.supp')}:print_suppressions=0`,
};

export const SANITIZER_RE = /ERROR: AddressSanitizer|LeakSanitizer|runtime error:/;

// ------------------------------------------------------------------ registry + cleanup
const procs = new Set();
const tmpDirs = new Set();

function killGroup(proc, sig = 'SIGKILL') {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
    // leader gone; the group may still hold children (restic)
  }
  try { process.kill(-proc.pid, sig); } catch { /* ESRCH */ }
  try { proc.kill(sig); } catch { /* gone */ }
}

export async function cleanup() {
  for (const p of procs) killGroup(p, 'SIGKILL');
  const deadline = Date.now() + 5000;
  for (const p of procs) {
    while (p.exitCode === null && p.signalCode === null && Date.now() < deadline) await sleepMs(20);
  }
  procs.clear();
  if (!process.env.RM_KEEP_TMP) {
    for (const d of tmpDirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* */ } }
  }
  tmpDirs.clear();
}
// Last resort: the test process dies before after() ran.
process.on('exit', () => { for (const p of procs) killGroup(p, 'SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { for (const p of procs) killGroup(p, 'SIGKILL'); process.exit(130); });
}

export function tmpDir(prefix = 'rm-e2e-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(d);
  return d;
}

function sleepMs(ms) { return new Promise((r) => setTimeout(r, ms)); }

// Bounded polling: resolves with fn()'s first truthy value; throws with `what` and the last
// value / error on timeout. fn may be async and may throw (treated as "not yet").
export async function waitFor(fn, { timeout = 10000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last, lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { lastErr = e; }
    if (Date.now() > end) {
      const detail = lastErr ? ` (last error: ${lastErr.message})` : (last !== undefined ? ` (last value: ${JSON.stringify(last)})` : '');
      throw new Error(`waitFor: timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleepMs(interval);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
  });
}

// Spawns a registered process in its own group (killed by cleanup()); collects stderr (and
// stdout) text.
export function spawnTracked(cmd, args, { env, cwd, stdout = 'pipe' } = {}) {
  const proc = spawn(cmd, args, { env, cwd, detached: true, stdio: ['ignore', stdout, 'pipe'] });
  procs.add(proc);
  const h = { proc, err: '', out: '' };
  const cap = 64 << 20;
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { if (h.err.length < cap) h.err += d; });
  if (proc.stdout) { proc.stdout.setEncoding('utf8'); proc.stdout.on('data', (d) => { if (h.out.length < cap) h.out += d; }); }
  h.exited = new Promise((res) => proc.on('close', (code, signal) => { procs.delete(proc); res({ code, signal }); }));
  proc.on('error', (e) => { h.err += `\nspawn error: ${e.message}\n`; });
  return h;
}

function alive(proc) { return proc && proc.exitCode === null && proc.signalCode === null; }

export function assertNoSanitizer(text, who) {
  const m = SANITIZER_RE.exec(text);
  if (m) {
    const i = Math.max(0, m.index - 200);
    assert.fail(`${who}: sanitizer report in stderr:\n${text.slice(i, i + 4000)}`);
  }
}

// SIGTERM, bounded wait, then exit code 0 and no sanitizer output.
async function stopProc(h, who, { timeout = 20000, check = true } = {}) {
  if (!alive(h.proc)) {
    const r = await h.exited;
    if (check) {
      assertNoSanitizer(h.err, who);
      assert.fail(`${who} had already exited (code ${r.code}, signal ${r.signal}); stderr tail:\n${h.err.slice(-3000)}`);
    }
    return r;
  }
  h.proc.kill('SIGTERM');
  let timer;
  const r = await Promise.race([h.exited, new Promise((res) => { timer = setTimeout(() => res(null), timeout); })]);
  clearTimeout(timer);
  if (!r) {
    killGroup(h.proc, 'SIGKILL');
    await h.exited;
    if (check) assert.fail(`${who} did not exit within ${timeout} ms of SIGTERM; stderr tail:\n${h.err.slice(-3000)}`);
    return { code: null, signal: 'SIGKILL' };
  }
  killGroup(h.proc, 'SIGKILL'); // stray children of the group
  if (check) {
    assertNoSanitizer(h.err, who);
    assert.equal(r.code, 0, `${who} exit code ${r.code} (signal ${r.signal}); stderr tail:\n${h.err.slice(-3000)}`);
  }
  return r;
}

async function kill9Proc(h) {
  killGroup(h.proc, 'SIGKILL');
  let timer;
  await Promise.race([h.exited, new Promise((res) => { timer = setTimeout(res, 10000); })]);
  clearTimeout(timer);
}

// ------------------------------------------------------------------ server
export async function startServer({ env = {}, dataDir, port, bin = binDir } = {}) {
  port = port || await freePort();
  dataDir = dataDir || tmpDir('rm-e2e-srv-');
  const fullEnv = {
    ...process.env, ...sanEnv,
    RM_LISTEN: `127.0.0.1:${port}`, RM_DATA_DIR: dataDir, RM_COOKIE_SECURE: 'false',
    RM_ARGON2_CHEAP: '1', RM_LOG_LEVEL: 'debug', ...env,
  };
  const exe = path.join(bin, 'restic-manager-server');
  let allErr = '';
  let h;
  const srv = {
    url: `http://127.0.0.1:${port}`, port, dataDir, bootstrapToken: null, env: fullEnv,
    get proc() { return h.proc; },
    get pid() { return h.proc.pid; },
    stderr: () => h.err,
    allStderr: () => allErr + h.err,
    alive: () => alive(h.proc),
    async start() {
      if (h) allErr += h.err;
      h = spawnTracked(exe, [], { env: fullEnv });
      await waitFor(() => /(?<!not )listening/.test(h.err) || !alive(h.proc),
        { timeout: 30000, interval: 50, what: 'server "listening" line' });
      if (!alive(h.proc)) {
        throw new Error(`server exited during start (code ${h.proc.exitCode}):\n${h.err.slice(-4000)}`);
      }
      const tok = /bootstrap token: (\S+)/.exec(h.err);
      if (tok) srv.bootstrapToken = tok[1];
      await waitFor(() => portAccepts(port), { timeout: 10000, interval: 50, what: `server port ${port}` });
      return srv;
    },
    stop: (opts) => stopProc(h, 'server', opts),
    kill9: () => kill9Proc(h),
    async restart() { if (alive(h.proc)) await srv.stop(); return srv.start(); },
  };
  return srv.start();
}

// ------------------------------------------------------------------ HTTP API client
// node:http without keep-alive: no stale pooled sockets across server kill -9/restart.
export function httpRequest(url, { method = 'GET', headers = {}, body, timeout = 15000 } = {}) {
  if (body !== undefined) {
    body = Buffer.isBuffer(body) ? body : Buffer.from(body);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) headers = { ...headers, 'content-length': body.length };
  }
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method,
      headers: { connection: 'close', ...headers }, agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, buf: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`HTTP ${method} ${url}: timed out after ${timeout} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export class Api {
  constructor(base) { this.base = base.replace(/\/$/, ''); this.jar = new Map(); this.csrf = ''; }

  cookieHeader() { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '); }
  sessionToken() { return this.jar.get('rm_session') || ''; }

  storeCookies(setCookie) {
    for (const c of setCookie || []) {
      const [nv, ...attrs] = c.split(';');
      const eq = nv.indexOf('=');
      const name = nv.slice(0, eq).trim();
      const value = nv.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) ||
        attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
      if (!value || expired) this.jar.delete(name); else this.jar.set(name, value);
    }
  }

  // Returns {status, body (parsed JSON or null), text, headers}.
  async req(method, p, body, { csrf = true, cookies = true, headers = {}, rawBody } = {}) {
    const h = { accept: 'application/json', ...headers };
    let payload = rawBody;
    if (body !== undefined && payload === undefined) { payload = JSON.stringify(body); }
    if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['content-type'] = 'application/json';
    }
    if (cookies && this.jar.size) h.cookie = this.cookieHeader();
    if (csrf && this.csrf && method !== 'GET') h['x-csrf-token'] = this.csrf;
    const r = await httpRequest(this.base + p, { method, headers: h, body: payload });
    this.storeCookies(r.headers['set-cookie']);
    const text = r.buf.toString('utf8');
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (json && typeof json.csrf_token === 'string' && json.csrf_token) this.csrf = json.csrf_token;
    return { status: r.status, body: json, text, headers: r.headers };
  }
  get(p, opts) { return this.req('GET', p, undefined, opts); }
  post(p, body = {}, opts) { return this.req('POST', p, body, opts); }
  del(p, opts) { return this.req('DELETE', p, undefined, opts); }

  async bootstrap(token, username = 'admin', password = 'correct horse battery') {
    const r = await this.post('/api/bootstrap', { token, username, password });
    assert.equal(r.status, 201, `bootstrap: ${r.status} ${r.text}`);
    return r;
  }
  async login(username = 'admin', password = 'correct horse battery') {
    const r = await this.post('/api/auth/login', { username, password });
    assert.equal(r.status, 200, `login: ${r.status} ${r.text}`);
    return r;
  }
  // POST /api/enrollment-tokens; returns the response body (asserts 201).
  async createEnrollment(opts) {
    const r = await this.post('/api/enrollment-tokens', { tags: [], initial_paths: [], ...opts });
    assert.equal(r.status, 201, `enrollment token: ${r.status} ${r.text}`);
    return r.body;
  }
  async host(id) {
    const r = await this.get(`/api/hosts/${id}`);
    assert.equal(r.status, 200, `GET host ${id}: ${r.status} ${r.text}`);
    return r.body;
  }
  async job(id) {
    const r = await this.get(`/api/jobs/${id}`);
    assert.equal(r.status, 200, `GET job ${id}: ${r.status} ${r.text}`);
    return r.body;
  }
  // POST a job; asserts 202; returns job_id.
  async runJob(hostId, body) {
    const r = await this.post(`/api/hosts/${hostId}/jobs`, body);
    assert.equal(r.status, 202, `POST job: ${r.status} ${r.text}`);
    assert.ok(r.body && r.body.job_id, `POST job: no job_id in ${r.text}`);
    return r.body.job_id;
  }
  // Polls until the job is terminal (or matches `until`), bounded.
  async waitJob(id, { timeout = 60000, until } = {}) {
    const done = until || ((j) => ['succeeded', 'failed', 'cancelled'].includes(j.status));
    let last;
    try {
      return await waitFor(async () => { last = await this.job(id); return done(last) && last; },
        { timeout, interval: 150, what: `job ${id}` });
    } catch (e) {
      e.message += `\nlast job state: ${JSON.stringify(last)}`;
      throw e;
    }
  }
  async logs(id) {
    const all = [];
    let after = 0;
    for (let i = 0; i < 1000; i++) {
      const r = await this.get(`/api/jobs/${id}/logs?after_seq=${after}&limit=1000`);
      assert.equal(r.status, 200, `GET logs: ${r.status} ${r.text}`);
      const lines = r.body.lines || [];
      all.push(...lines);
      if (lines.length === 0) break;
      const mx = Math.max(...lines.map((l) => l.seq));
      if (mx <= after) break;
      after = mx;
    }
    return all;
  }
}

// Seqs strictly increasing by one, no duplicates.
export function assertContiguous(lines, what = 'log lines') {
  const seqs = lines.map((l) => l.seq);
  assert.ok(seqs.length > 0, `${what}: no lines`);
  const uniq = new Set(seqs);
  assert.equal(uniq.size, seqs.length, `${what}: duplicate seqs in ${JSON.stringify(seqs)}`);
  const sorted = [...seqs].sort((a, b) => a - b);
  assert.deepEqual(seqs, sorted, `${what}: not in seq order: ${JSON.stringify(seqs)}`);
  for (let i = 1; i < sorted.length; i++) {
    assert.equal(sorted[i], sorted[i - 1] + 1, `${what}: gap between seq ${sorted[i - 1]} and ${sorted[i]}`);
  }
}

// Shortcut used by most tests: fresh server bootstrapped, logged in as admin.
export async function startServerWithAdmin({ env = {}, password = 'correct horse battery' } = {}) {
  const server = await startServer({ env });
  const api = new Api(server.url);
  assert.ok(server.bootstrapToken, `no "bootstrap token:" line in server stderr:\n${server.stderr().slice(-2000)}`);
  await api.bootstrap(server.bootstrapToken, 'admin', password);
  return { server, api };
}

export async function createEnrollment(api, opts) { return api.createEnrollment(opts); }

// ------------------------------------------------------------------ agent
function readAgentConfig(file) {
  const txt = fs.readFileSync(file, 'utf8');
  const get = (k) => { const m = new RegExp(`^\\s*${k}\\s*:\\s*"?([^"\\n]*?)"?\\s*$`, 'm').exec(txt); return m ? m[1] : null; };
  return { text: txt, hostId: get('host_id'), bearer: get('bearer') };
}

export async function enrollAgent({ server, token, dir, restic, env = {}, bin = binDir, extraArgs = [] }) {
  const url = typeof server === 'string' ? server : server.url;
  dir = dir || tmpDir('rm-e2e-agent-');
  const config = path.join(dir, 'agent.yaml');
  const stateDir = path.join(dir, 'state');
  const args = ['enroll', '--server', url, '--token', token, '--config', config, '--state-dir', stateDir, ...extraArgs];
  if (restic) args.push('--restic', restic);
  const h = spawnTracked(path.join(bin, 'restic-manager-agent'), args, { env: { ...process.env, ...sanEnv, RM_LOG_LEVEL: 'debug', ...env } });
  let timer;
  const r = await Promise.race([h.exited, new Promise((res) => { timer = setTimeout(() => res(null), 30000); })]);
  clearTimeout(timer);
  if (!r) { killGroup(h.proc); throw new Error(`agent enroll hung:\n${h.err}`); }
  return { code: r.code, stderr: h.err, stdout: h.out, dir, config, stateDir };
}

// enroll + run. Returns {proc, stderr(), stop(), kill9(), restart(), hostId, bearer, ...}.
export async function startAgent({ server, token, dir, restic, env = {}, bin = binDir, enroll = true } = {}) {
  dir = dir || tmpDir('rm-e2e-agent-');
  const config = path.join(dir, 'agent.yaml');
  const stateDir = path.join(dir, 'state');
  let enrollErr = '';
  if (enroll) {
    const e = await enrollAgent({ server, token, dir, restic, env, bin });
    enrollErr = e.stderr;
    assertNoSanitizer(e.stderr, 'agent enroll');
    assert.equal(e.code, 0, `agent enroll exit ${e.code}:\n${e.stderr}`);
    const st = fs.statSync(config);
    assert.equal(st.mode & 0o077, 0, `agent config mode ${(st.mode & 0o777).toString(8)} (want 0600)`);
  }
  const cfg = readAgentConfig(config);
  const runEnv = { ...process.env, ...sanEnv, RM_LOG_LEVEL: 'debug', RM_AGENT_HEARTBEAT_S: '1', ...env };
  let allErr = enrollErr;
  let h;
  const agent = {
    dir, config, stateDir, hostId: cfg.hostId, bearer: cfg.bearer, configText: cfg.text,
    get proc() { return h.proc; },
    get pid() { return h.proc.pid; },
    stderr: () => h.err,
    allStderr: () => allErr + h.err,
    alive: () => alive(h.proc),
    start() {
      if (h) allErr += h.err;
      const args = ['run', '--config', config, '--state-dir', stateDir];
      if (restic) args.push('--restic', restic);
      h = spawnTracked(path.join(bin, 'restic-manager-agent'), args, { env: runEnv });
      return agent;
    },
    stop: (opts) => stopProc(h, 'agent', opts),
    kill9: () => kill9Proc(h),
    // pids of the agent's live (non-zombie) direct children: restic while a job runs
    children() { return childPids(h.proc.pid).filter((p) => procState(p) !== 'Z'); },
    // children that exited but were never reaped by the agent
    zombies() { return childPids(h.proc.pid).filter((p) => procState(p) === 'Z'); },
    async restart() { if (alive(h.proc)) await agent.stop(); return agent.start(); },
  };
  return agent.start();
}

function childPids(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch { return []; }
}

// single-letter process state from /proc/<pid>/stat, or null when the pid does not exist
export function procState(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
  } catch { return null; }
}

// Waits until the host is online (hello processed) and returns the host object.
export async function waitHostOnline(api, hostId, timeout = 30000) {
  return waitFor(async () => { const r = await api.get(`/api/hosts/${hostId}`); return r.status === 200 && r.body.status === 'online' && r.body; },
    { timeout, what: `host ${hostId} online` });
}

export async function waitRepoStatus(api, hostId, want = 'ready', timeout = 60000) {
  let last;
  try {
    return await waitFor(async () => {
      last = (await api.get(`/api/hosts/${hostId}`)).body;
      return last && last.repo_status !== 'unknown' && last;
    }, { timeout, what: `host ${hostId} repo_status != unknown` });
  } finally {
    if (last && last.repo_status !== want) {
      // surfaced by the caller's assertion; keep the host in the message
    }
  }
}

// ------------------------------------------------------------------ data + restic
// Creates a small tree of files (and optional big random files). Returns the dir path.
export function makeSampleDir({ files = 5, bigFiles = 0, bigSize = 0, dir } = {}) {
  dir = dir || tmpDir('rm-e2e-sample-');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) {
    fs.writeFileSync(path.join(dir, i % 2 ? 'sub' : '', `file-${i}.txt`), `sample file ${i}\n${crypto.randomBytes(512).toString('hex')}\n`);
  }
  for (let i = 0; i < bigFiles; i++) {
    const fd = fs.openSync(path.join(dir, `big-${i}.bin`), 'w');
    const chunk = 8 << 20;
    for (let off = 0; off < bigSize; off += chunk) fs.writeSync(fd, crypto.randomBytes(Math.min(chunk, bigSize - off)));
    fs.closeSync(fd);
  }
  return dir;
}

// Runs restic directly (not through the agent). Returns {code, stdout, stderr}.
export function restic(args, { password, repo, restic: exe = RESTIC, timeout = 60000 } = {}) {
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: os.tmpdir() };
  if (password !== undefined) env.RESTIC_PASSWORD = password;
  const full = repo ? ['-r', repo, '--no-cache', ...args] : args;
  const r = spawnSync(exe, full, { env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout || '', stderr: (r.stderr || '') + (r.error ? String(r.error) : '') };
}

export function resticSnapshots(repo, password, { restic: exe } = {}) {
  const r = restic(['snapshots', '--json'], { repo, password, restic: exe });
  assert.equal(r.code, 0, `restic snapshots on ${repo}: exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout || '[]');
}

export function resticInit(repo, password, opts = {}) {
  const r = restic(['init'], { repo, password, ...opts });
  assert.equal(r.code, 0, `restic init ${repo}: ${r.stderr}`);
}

export function resticLocks(repo, password, opts = {}) {
  const r = restic(['list', 'locks', '--no-lock'], { repo, password, ...opts });
  assert.equal(r.code, 0, `restic list locks: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

// A restic "binary" that is the real restic with fixed extra global options (e.g.
// --limit-upload to make a backup last, or -o sftp.command=...). exec keeps the pid, so
// the agent's signals reach restic itself.
export function makeResticWrapper(extraArgs, dir = tmpDir('rm-e2e-restic-')) {
  const file = path.join(dir, 'restic');
  fs.writeFileSync(file, `#!/bin/sh\nexec ${shq(RESTIC)} ${extraArgs.map(shq).join(' ')} "$@"\n`, { mode: 0o755 });
  return file;
}

// ------------------------------------------------------------------ sshd
// A private sshd on 127.0.0.1 with key auth. OpenSSH ignores $HOME (it reads the passwd
// entry), so the agent's HOME=<state dir> cannot carry ~/.ssh/config; restic is instead
// given `-o sftp.command="ssh -F <cfg> rmtest -s sftp"` through a wrapper (see
// makeResticWrapper) and repositories are addressed as sftp:rmtest:/path.
export async function startSshd() {
  const dir = tmpDir('rm-e2e-sshd-');
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const keygen = (f) => {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, `ssh-keygen: ${r.stderr}`);
  };
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'id_ed25519');
  keygen(hostKey);
  keygen(clientKey);
  fs.copyFileSync(`${clientKey}.pub`, path.join(dir, 'authorized_keys'));
  const port = await freePort();
  const user = os.userInfo().username;
  const sshdConfig = path.join(dir, 'sshd_config');
  fs.writeFileSync(sshdConfig, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, 'StrictModes no', 'UsePAM no',
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp', 'LogLevel VERBOSE', '',
  ].join('\n'));
  const clientConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(clientConfig, [
    'Host rmtest', '  HostName 127.0.0.1', `  Port ${port}`, `  User ${user}`, `  IdentityFile ${clientKey}`,
    '  IdentitiesOnly yes', `  UserKnownHostsFile ${path.join(dir, 'known_hosts')}`,
    '  StrictHostKeyChecking accept-new', '  BatchMode yes', '  LogLevel ERROR', '',
  ].join('\n'));
  const h = spawnTracked('/usr/sbin/sshd', ['-D', '-e', '-f', sshdConfig], { env: { PATH: process.env.PATH } });
  await waitFor(() => !alive(h.proc) || portAccepts(port), { timeout: 15000, interval: 50, what: 'sshd listening' });
  if (!alive(h.proc)) throw new Error(`sshd exited:\n${h.err}`);
  const sftpCommand = `ssh -F ${clientConfig} rmtest -s sftp`;
  // sanity: the client config really reaches this sshd
  const probe = spawnSync('ssh', ['-F', clientConfig, 'rmtest', 'true'], { encoding: 'utf8', timeout: 15000 });
  if (probe.status !== 0) throw new Error(`ssh probe to private sshd failed: ${probe.stderr}\nsshd: ${h.err}`);
  return {
    dir, port, user, clientConfig, clientKey, sftpCommand,
    resticArgs: ['-o', `sftp.command=${sftpCommand}`],
    repoUrl: (absPath) => `sftp:rmtest:${absPath}`,
    stderr: () => h.err,
    stop: () => stopProc(h, 'sshd', { check: false }),
  };
}

// ------------------------------------------------------------------ WebSocket client
// Minimal RFC 6455 client over net.Socket (Node 20 has no WebSocket that can send Cookie /
// Authorization headers). Resolves after the 101; rejects with err.status/err.body otherwise.
// onMessage: called with each parsed message instead of keeping it in ws.messages (for
// long streams, e.g. the benchmarks).
export function wsConnect(url, { protocol, headers = {}, timeout = 10000, onMessage } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url.replace(/^ws/, 'http'));
    const sock = net.connect(Number(u.port), u.hostname);
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`ws connect ${url}: timed out`)); }, timeout);
    const ws = {
      messages: [], raw: [], protocol: null, closeCode: null, closeReason: null, closed: null,
      send(obj) { sendFrame(1, Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj))); },
      close(code = 1000) { const b = Buffer.alloc(2); b.writeUInt16BE(code); try { sendFrame(8, b); } catch { /* */ } setTimeout(() => sock.destroy(), 500).unref(); },
      destroy() { sock.destroy(); },
      // bounded wait for a message matching pred (searching all received so far)
      waitMessage(pred, t = 10000, what = 'ws message') { return waitFor(() => ws.messages.find(pred), { timeout: t, interval: 20, what }); },
      waitClosed(t = 10000) {
        let tm;
        return Promise.race([ws.closed, new Promise((_, rej) => { tm = setTimeout(() => rej(new Error(`ws not closed within ${t} ms`)), t); })]).finally(() => clearTimeout(tm));
      },
    };
    let closedResolve;
    ws.closed = new Promise((r) => { closedResolve = r; });
    let frag = null, fragOp = 0;
    function sendFrame(op, payload) {
      const mask = crypto.randomBytes(4);
      let hdr;
      if (payload.length < 126) { hdr = Buffer.alloc(2); hdr[1] = 0x80 | payload.length; }
      else if (payload.length < 65536) { hdr = Buffer.alloc(4); hdr[1] = 0x80 | 126; hdr.writeUInt16BE(payload.length, 2); }
      else { hdr = Buffer.alloc(10); hdr[1] = 0x80 | 127; hdr.writeBigUInt64BE(BigInt(payload.length), 2); }
      hdr[0] = 0x80 | op;
      const masked = Buffer.alloc(payload.length);
      for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ mask[i & 3];
      sock.write(Buffer.concat([hdr, mask, masked]));
    }
    function onFrames() {
      for (;;) {
        if (buf.length < 2) return;
        const fin = buf[0] & 0x80, op = buf[0] & 0x0f, masked = buf[1] & 0x80;
        let len = buf[1] & 0x7f, off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        const mk = masked ? buf.subarray(off, off + 4) : null;
        if (masked) off += 4;
        if (buf.length < off + len) return;
        let payload = Buffer.from(buf.subarray(off, off + len));
        buf = buf.subarray(off + len);
        if (mk) for (let i = 0; i < payload.length; i++) payload[i] ^= mk[i & 3];
        if (op === 0) { frag = Buffer.concat([frag || Buffer.alloc(0), payload]); if (!fin) continue; payload = frag; frag = null; }
        else if ((op === 1 || op === 2) && !fin) { frag = payload; fragOp = op; continue; }
        const effOp = op === 0 ? fragOp : op;
        if (effOp === 1 || effOp === 2) {
          const s = payload.toString('utf8');
          let m; try { m = JSON.parse(s); } catch { m = s; }
          if (onMessage) onMessage(m);
          else { ws.raw.push(s); ws.messages.push(m); }
        } else if (op === 8) {
          ws.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          ws.closeReason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
          try { sendFrame(8, payload.subarray(0, 2)); } catch { /* */ }
          sock.end();
          setTimeout(() => sock.destroy(), 1000).unref();
          closedResolve({ code: ws.closeCode, reason: ws.closeReason });
        } else if (op === 9) { sendFrame(10, payload); }
      }
    }
    sock.on('connect', () => {
      const hdrs = {
        Host: `${u.hostname}:${u.port}`, Upgrade: 'websocket', Connection: 'Upgrade',
        'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', ...headers,
      };
      if (protocol) hdrs['Sec-WebSocket-Protocol'] = protocol;
      sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\n${Object.entries(hdrs).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.[01] (\d+)/.exec(head)?.[1]);
        if (status !== 101) {
          // collect whatever body arrives, then reject
          setTimeout(() => {
            clearTimeout(timer);
            const e = new Error(`ws upgrade ${url}: HTTP ${status}`);
            e.status = status; e.head = head; e.body = buf.subarray(end + 4).toString('utf8');
            sock.destroy(); reject(e);
          }, 200);
          upgraded = null;
          return;
        }
        const accept = /sec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
        const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        if (accept !== want) { clearTimeout(timer); sock.destroy(); reject(new Error(`ws: bad Sec-WebSocket-Accept in\n${head}`)); return; }
        ws.protocol = /sec-websocket-protocol:\s*(\S+)/i.exec(head)?.[1] || null;
        ws.head = head;
        upgraded = true;
        buf = buf.subarray(end + 4);
        clearTimeout(timer);
        resolve(ws);
      }
      if (upgraded) onFrames();
    });
    sock.on('close', () => { clearTimeout(timer); closedResolve({ code: ws.closeCode, reason: ws.closeReason }); if (upgraded === false) reject(new Error(`ws ${url}: closed before upgrade`)); });
    sock.on('error', (e) => { if (upgraded === false) { clearTimeout(timer); reject(e); } });
  });
}

// Reads /api/jobs/{id}/stream until the server closes it (bounded).
export async function readJobStream(api, jobId, { afterSeq, timeout = 60000 } = {}) {
  const q = afterSeq !== undefined ? `?after_seq=${afterSeq}` : '';
  const ws = await wsConnect(`${api.base.replace(/^http/, 'ws')}/api/jobs/${jobId}/stream${q}`,
    { protocol: 'rm-stream.v1', headers: { Cookie: api.cookieHeader(), Origin: api.base } });
  const c = await ws.waitClosed(timeout);
  return { ws, messages: ws.messages, close: c };
}

// Secret scan helper: returns the secrets that appear in text.
export function leakedSecrets(text, secrets) {
  return secrets.filter((s) => s && s.length >= 8 && text.includes(s));
}

export function sleep(ms) { return sleepMs(ms); }
