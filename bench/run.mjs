// make bench: measures what SPEC §5 promises. Starts every server/agent it needs on
// 127.0.0.1 with temp data dirs, bounds every loop, stops everything, appends JSON lines to
// bench/results/<date>-<commit>.jsonl and prints a table.
//
//   N=2000 (fleet size)  M=20 (log agents)  LINES=50000 (per log agent)
//   HB_MS=1000 (simulated heartbeat interval)  BENCH_SMALL=1 (small dataset for the overhead run)  ONLY=fleet,logs,... (subset)
//   BROWSE_FILES=1000000 BROWSE_DIRS=1000 BROWSE_BIG_MIB=1024 BROWSE_SAMPLES=300 (bench/browse.mjs)
//   STORM_N=10000 (schedule storm agents)  STORM_SPREAD_MS=0 (spread of the storm's starts)
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, Api, wsConnect, waitFor, cleanup } from '../tests/e2e/lib/harness.mjs';
import { benchBrowse } from './browse.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = process.env.RM_BENCH_BIN || path.join(root, 'build');
const N = Number(process.env.N || 2000);
const M = Number(process.env.M || 20);
const LINES = Number(process.env.LINES || 50000);
const SMALL = process.env.BENCH_SMALL === '1';
const HB_MS = Number(process.env.HB_MS || 1000); // simulated heartbeat interval (agents default to 30 s)
const ONLY = (process.env.ONLY || 'fleet,logs,dispatch,api,overhead,ui,storm,browse').split(',');
const STORM_N = Number(process.env.STORM_N || 10000);
const STORM_SPREAD_MS = Number(process.env.STORM_SPREAD_MS || 0);

const commit = (() => { try { return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root }).toString().trim(); } catch { return 'unknown'; } })();
const date = new Date().toISOString().slice(0, 10);
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
const resultsFile = path.join(root, `bench/results/${date}-${commit}.jsonl`);
const machine = { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() };
const rows = [];

// A measurement that did not happen (the simulator's -1, NaN from no samples, samples: 0)
// never meets its target, e.g. a heartbeat p99 of -1 when the agents never came online.
function measured(value, extra) {
  if (extra.samples === 0) return false;
  if (typeof value === 'boolean') return true;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function verdict(r) {
  if (r.met === null) return 'n/a';
  if (r.failed_measurement) return 'NOT met (no measurement)';
  return r.met ? 'met' : 'NOT met';
}

function record(name, value, unit, target, met, extra = {}) {
  const failed = met !== null && !measured(value, extra);
  const r = { name, value, unit, target, met: failed ? false : met, commit, date, machine, ...extra };
  if (failed) r.failed_measurement = true;
  fs.appendFileSync(resultsFile, JSON.stringify(r) + '\n');
  rows.push(r);
  console.error(`  ${name}: ${value} ${unit} (target ${target}: ${verdict(r)})`);
}

function pct(arr, p) {
  if (!arr.length) return NaN;
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
}
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function procStat(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const tck = 100; // sysconf(_SC_CLK_TCK) is 100 on Linux
  return { cpu_s: (Number(f[11]) + Number(f[12])) / tck };
}
function rssKiB(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : NaN;
}
function statusKiB(pid, field) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`));
    return m ? Number(m[1]) : NaN;
  } catch { return NaN; }
}
// Seconds the process's threads were runnable but waiting for a CPU (the share of the
// 2 cores that other load on the machine took), from /proc/<pid>/task/*/schedstat.
function runqWaitS(pid) {
  try {
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[1]);
    return ns / 1e9;
  } catch { return NaN; }
}
function privateDirtyKiB(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(s.match(/Private_Dirty:\s+(\d+)/)[1]);
  } catch { return NaN; }
}

async function enrollHosts(api, n, opts = {}) {
  const creds = [];
  const conc = 16;
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const t = await api.post('/api/enrollment-tokens', { hostname: `bench-${i}`, tags: ['bench'], repo_url: opts.repo || `/tmp/rm-bench-none/${i}`, repo_password: 'bench-password-1234', initial_paths: ['/tmp'] });
      if (t.status !== 201) throw new Error(`enrollment token: ${t.status} ${JSON.stringify(t.body)}`);
      const e = await api.post('/api/agents/enroll', { token: t.body.token, hostname: `bench-${i}`, os: 'linux', arch: 'amd64', agent_version: 'agentsim', restic_version: '0.14.0' }, { cookies: false, csrf: false });
      if (e.status !== 201) throw new Error(`enroll: ${e.status} ${JSON.stringify(e.body)}`);
      creds[i] = `${e.body.host_id} ${e.body.bearer}`;
    }
  }
  await Promise.all(Array.from({ length: conc }, worker));
  return creds;
}

function startSim(args) {
  const p = spawn(path.join(bin, 'bench/agentsim'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const runLines = [];
  p.stdout.on('data', (d) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      if (line.startsWith('RUN ')) {
        const [, id, us] = line.split(' ');
        runLines.push({ id, us: Number(us) });
      } else if (line.startsWith('{')) p.result = JSON.parse(line);
    }
  });
  p.stderr.on('data', (d) => { err += d; });
  p.done = new Promise((res) => p.on('exit', res));
  p.runLines = runLines;
  p.errText = () => err;
  return p;
}

let lastServer = null; // its stderr is printed when a benchmark throws

async function bootstrapped(extraEnv = {}) {
  const srv = await startServer({ bin, env: { RM_LOG_LEVEL: 'info', ...extraEnv } });
  lastServer = srv;
  const api = new Api(srv.url);
  await api.bootstrap(srv.bootstrapToken, 'admin', 'bench-admin-password');
  return { srv, api };
}

async function benchFleet() {
  console.error(`fleet: ${N} simulated agents, heartbeat every ${HB_MS} ms`);
  const { srv, api } = await bootstrapped();
  const t0 = Date.now();
  const creds = await enrollHosts(api, N);
  console.error(`  enrolled ${N} hosts in ${Date.now() - t0} ms`);
  const credFile = path.join(srv.dataDir, 'creds.txt');
  fs.writeFileSync(credFile, creds.join('\n') + '\n');
  const rssBefore = rssKiB(srv.pid);
  const sim = startSim(['--url', srv.url, '--creds', credFile, '--n', String(N), '--hb-ms', String(HB_MS), '--duration-s', '180']);
  let online = 0;
  const tc = Date.now();
  await waitFor(async () => {
    const h = await api.get('/api/hosts');
    online = h.body.hosts.filter((x) => x.status === 'online').length;
    return online === N;
  }, { timeout: 120000, interval: 500 }).catch(() => {});
  const connectMs = Date.now() - tc;
  // steady state: 10 s window of heartbeats
  await new Promise((r) => setTimeout(r, 3000));
  const c0 = procStat(srv.pid).cpu_s;
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, Math.max(10000, 3 * HB_MS)));
  const cpuPerS = (procStat(srv.pid).cpu_s - c0) / ((Date.now() - w0) / 1000);
  const rssAfter = rssKiB(srv.pid);
  sim.kill('SIGINT');
  await sim.done;
  const res = sim.result || {};
  await srv.stop();
  const perAgent = (rssAfter - rssBefore) / N;
  record('fleet_all_online', online === N, 'bool', `${N} online`, online === N, { online, agents: N });
  record('fleet_connect_all_ms', connectMs, 'ms', 'n/a', null, { sim_connect_all_ms: res.connect_all_ms });
  record('fleet_rss_per_agent', round(perAgent), 'KiB', '<= 16 KiB', perAgent <= 16, { rss_before_kib: rssBefore, rss_after_kib: rssAfter });
  record('fleet_server_cpu', round(cpuPerS, 3), 'cpu-s/s', 'n/a', null, { agents: N, heartbeat_ms: HB_MS });
  record('fleet_heartbeat_rtt_p50', res.hb_rtt_p50_ms, 'ms', 'n/a', null, { samples: res.heartbeats });
  record('fleet_heartbeat_rtt_p99', res.hb_rtt_p99_ms, 'ms', '<= 10 ms', res.hb_rtt_p99_ms <= 10, { samples: res.heartbeats, agents: N, heartbeat_ms: HB_MS });
}

async function benchLogsAndDispatch() {
  const { srv, api } = await bootstrapped();
  const hostsN = Math.max(M, 10);
  const creds = await enrollHosts(api, hostsN);
  const hostIds = creds.map((c) => c.split(' ')[0]);
  const credFile = path.join(srv.dataDir, 'creds.txt');
  if (ONLY.includes('logs')) {
    fs.writeFileSync(credFile, creds.slice(0, M).join('\n') + '\n');
    const runLogs = async (lines, rate) => {
      const sim = startSim(['--url', srv.url, '--creds', credFile, '--n', String(M), '--hb-ms', '30000', '--mode', 'logs', '--lines', String(lines), '--rate', String(rate), '--duration-s', '300']);
      await waitFor(async () => (await api.get('/api/hosts')).body.hosts.filter((h) => h.status === 'online' && h.repo_status === 'ready' && !h.running_job).length >= M, { timeout: 60000, interval: 200 });
      const lat = [];
      let delivered = 0;
      let firstT = 0;
      let lastT = 0;
      const subs = [];
      const t0 = Date.now();
      for (const id of hostIds.slice(0, M)) {
        const r = await api.post(`/api/hosts/${id}/jobs`, { kind: 'backup', paths: ['/tmp'] });
        if (r.status !== 202) throw new Error(`dispatch ${r.status} ${JSON.stringify(r.body)}`);
        subs.push(new Promise((resolve, reject) => {
          const onMessage = (m) => {
            if (m.type === 'log') {
              const now = Date.now() * 1000;
              for (const l of m.lines) {
                const t = Number(/^t=(\d+)/.exec(l.payload)?.[1]);
                if (t) lat.push((now - t) / 1000);
                delivered++;
              }
              if (!firstT) firstT = Date.now();
              lastT = Date.now();
            }
            if (m.type === 'end') resolve();
          };
          wsConnect(`${srv.url.replace('http', 'ws')}/api/jobs/${r.body.job_id}/stream`,
            { protocol: 'rm-stream.v1', headers: { cookie: api.cookieHeader() }, onMessage })
            .then((ws) => ws.closed.then(resolve), reject);
        }));
      }
      await Promise.race([Promise.all(subs), new Promise((r) => setTimeout(r, 240000))]);
      const wall = (Date.now() - t0) / 1000;
      sim.kill('SIGINT');
      await sim.done;
      return { persisted: (sim.result || {}).lines_acked || 0, wall, delivered, lat, span: Math.max(0.001, (lastT - firstT) / 1000) };
    };
    console.error(`logs: ${M} agents x ${LINES} lines as fast as acknowledged, one stream subscriber per job`);
    const sat = await runLogs(LINES, 0);
    record('logs_persisted_lines_per_s', Math.round(sat.persisted / sat.wall), 'lines/s', '>= 50000', sat.persisted / sat.wall >= 50000, { lines: sat.persisted, wall_s: round(sat.wall), agents: M });
    record('logs_delivered_lines_per_s', Math.round(sat.delivered / sat.span), 'lines/s', '>= 50000', sat.delivered / sat.span >= 50000, { delivered: sat.delivered });
    record('logs_saturated_latency_p50', round(pct(sat.lat, 0.5)), 'ms', 'n/a (queueing under saturation)', null);
    const rate = Number(process.env.LOG_RATE || 1000);
    console.error(`logs: ${M} agents paced at ${rate} lines/s each for 10 s (viewer latency)`);
    const paced = await runLogs(rate * 10, rate);
    record('logs_viewer_latency_p50', round(pct(paced.lat, 0.5)), 'ms', 'n/a', null, { total_rate: rate * M });
    record('logs_viewer_latency_p99', round(pct(paced.lat, 0.99)), 'ms', '<= 100 ms', pct(paced.lat, 0.99) <= 100, { total_rate: rate * M, samples: paced.lat.length });
  }
  if (ONLY.includes('dispatch')) {
    console.error('dispatch: 1000 run-now calls over 10 simulated agents');
    const dHosts = creds.slice(0, 10);
    fs.writeFileSync(credFile, dHosts.join('\n') + '\n');
    const sim = startSim(['--url', srv.url, '--creds', credFile, '--n', '10', '--hb-ms', '30000', '--mode', 'dispatch', '--duration-s', '300']);
    const ids = dHosts.map((c) => c.split(' ')[0]);
    await waitFor(async () => (await api.get('/api/hosts')).body.hosts.filter((h) => ids.includes(h.id) && h.status === 'online' && !h.running_job).length === 10, { timeout: 60000, interval: 200 });
    const sent = new Map();
    for (let i = 0; i < 1000; i++) {
      const id = ids[i % 10];
      for (let attempt = 0; attempt < 200; attempt++) {
        const t = Date.now() * 1000;
        const r = await api.post(`/api/hosts/${id}/jobs`, { kind: 'backup', paths: ['/tmp'] });
        if (r.status === 202) { sent.set(r.body.job_id, t); break; }
        if (r.status !== 409) throw new Error(`dispatch ${r.status} ${JSON.stringify(r.body)}`);
        await new Promise((res) => setTimeout(res, 2));
      }
    }
    await waitFor(() => sim.runLines.filter((l) => sent.has(l.id)).length >= sent.size, { timeout: 30000, interval: 50 }).catch(() => {});
    sim.kill('SIGINT');
    await sim.done;
    const lat = sim.runLines.filter((l) => sent.has(l.id)).map((l) => (l.us - sent.get(l.id)) / 1000);
    record('dispatch_latency_p50', round(pct(lat, 0.5)), 'ms', 'n/a', null, { samples: lat.length });
    record('dispatch_latency_p99', round(pct(lat, 0.99)), 'ms', '<= 20 ms', pct(lat, 0.99) <= 20, { samples: lat.length });
  }
  await srv.stop();
}

async function benchApi() {
  console.error('api: GET /api/hosts with 1,000 hosts (wrk -t2 -c8 -d10s)');
  const { srv, api } = await bootstrapped();
  await enrollHosts(api, 1000);
  const wrk = execFileSync('wrk', ['-t2', '-c8', '-d10s', '--latency', '-H', `Cookie: ${api.cookieHeader()}`, `${srv.url}/api/hosts`]).toString();
  const ms = (s) => { const m = /([\d.]+)(us|ms|s)/.exec(s); return m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN; };
  // anchored to the latency-distribution lines: the "+/- Stdev" column also ends in "NN.50%"
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(wrk)[1]);
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(wrk)[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk)[1]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(wrk);
  record('api_hosts_1000_p50', p50, 'ms', 'n/a', null);
  record('api_hosts_1000_p99', p99, 'ms', '<= 20 ms', p99 <= 20 && !non2xx, { non_2xx: non2xx ? Number(non2xx[1]) : 0 });
  record('api_hosts_1000_rps', rps, 'req/s', 'n/a', null);
  if (ONLY.includes('ui') && fs.existsSync(path.join(root, 'bench/ui-first-paint.mjs'))) {
    try {
      const out = execFileSync('node', [path.join(root, 'bench/ui-first-paint.mjs')], { env: { ...process.env, RM_URL: srv.url, RM_ADMIN_USER: 'admin', RM_ADMIN_PASSWORD: 'bench-admin-password', RM_BENCH_RUNS: '3' }, timeout: 120000 }).toString();
      const r = JSON.parse(out.trim().split('\n').pop());
      record('ui_dashboard_1000_rows_painted', r.rows_ms, 'ms', '<= 1000 ms', r.rows_ms <= 1000, { fcp_ms: r.fcp_ms, full_ms: r.full_ms, search_ms: r.search_ms, sort_ms: r.sort_ms, chip_ms: r.chip_ms });
    } catch (e) { console.error('  ui first paint failed:', e.message.split('\n')[0]); }
  }
  await srv.stop();
  if (ONLY.includes('ui')) benchUi10k();
}

// C6: the dashboard with 10,000 hosts (its own server; seeding takes ~30-60 s)
function benchUi10k() {
  if (!fs.existsSync(path.join(root, 'bench/ui-first-paint.mjs'))) return;
  console.error('ui: dashboard with 10,000 hosts (first screen, whole list, search / sort / chip latency)');
  try {
    const env = { ...process.env, RM_BENCH_HOSTS: '10000', RM_BENCH_RUNS: '3', RM_REL_BIN_DIR: bin };
    delete env.RM_URL;
    const out = execFileSync('node', [path.join(root, 'bench/ui-first-paint.mjs')], { env, timeout: 300000 }).toString();
    const r = JSON.parse(out.trim().split('\n').pop());
    record('ui_dashboard_10000_rows_painted', r.rows_ms, 'ms', '<= 1000 ms', r.rows_ms <= 1000, { fcp_ms: r.fcp_ms, full_ms: r.full_ms });
    record('ui_dashboard_10000_search_ms', r.search_ms, 'ms', 'n/a', null);
    record('ui_dashboard_10000_sort_ms', r.sort_ms, 'ms', 'n/a', null);
    record('ui_dashboard_10000_chip_ms', r.chip_ms, 'ms', 'n/a', null);
  } catch (e) { console.error('  ui 10k failed:', e.message.split('\n')[0]); }
}

function makeDataset(dir, totalMiB) {
  if (fs.existsSync(path.join(dir, '.complete'))) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // mixed: one large file (60 %), many small ones (40 %), partly compressible
  const big = Math.floor(totalMiB * 0.6);
  const chunk = Buffer.alloc(1 << 20);
  const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
  for (let i = 0; i < big; i++) {
    if (i % 2) crypto.getRandomValues(new Uint8Array(chunk.buffer, 0, 65536)); else chunk.fill(i & 0xff);
    for (let j = 65536; j < chunk.length && i % 2; j += 65536) crypto.getRandomValues(new Uint8Array(chunk.buffer, j, 65536));
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
  const small = Math.floor(((totalMiB - big) << 20) / 32768);
  for (let i = 0; i < small; i++) {
    const d = path.join(dir, `d${i % 64}`);
    fs.mkdirSync(d, { recursive: true });
    const b = Buffer.alloc(32768);
    crypto.getRandomValues(new Uint8Array(b.buffer, 0, 16384));
    fs.writeFileSync(path.join(d, `f${i}.dat`), b);
  }
  fs.writeFileSync(path.join(dir, '.complete'), '');
}

async function benchOverhead() {
  const mib = SMALL ? 64 : 2048;
  console.error(`overhead: ${mib} MiB dataset, bare restic vs agent, median of 3, alternating`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rm-bench-ovh-'));
  const data = path.join(os.tmpdir(), `rm-bench-dataset-${mib}`);
  makeDataset(data, mib);
  const { srv, api } = await bootstrapped();
  const bare = [];
  const agent = [];
  let idle = null;
  let agentCpu = [];
  const restic = 'restic';
  const env = { PATH: process.env.PATH, HOME: work, RESTIC_PASSWORD: 'bench-password-1234', RESTIC_CACHE_DIR: path.join(work, 'cache-bare') };
  // alternate the order (bare first, then agent first, ...) and flush dirty pages before
  // each measured run so one run's writeback does not slow the next
  const runBare = async (run) => {
    // bare
    const repoB = path.join(work, `bare-${run}`);
    execFileSync(restic, ['-r', repoB, 'init'], { env, stdio: 'ignore' });
    execFileSync('sync');
    const t = process.hrtime.bigint();
    execFileSync(restic, ['-r', repoB, 'backup', '--json', '--host', 'bench', data], { env, stdio: 'ignore', maxBuffer: 1 << 30 });
    bare.push(Number(process.hrtime.bigint() - t) / 1e6);
    // repositories of earlier runs left on disk (GiBs each) slow later runs: drop them
    fs.rmSync(repoB, { recursive: true, force: true });
  };
  const runAgent = async (run) => {
    // agent (fresh repo, fresh host)
    const repoA = path.join(work, `agent-${run}`);
    const tok = await api.post('/api/enrollment-tokens', { hostname: `ovh-${run}`, repo_url: repoA, repo_password: 'bench-password-1234', initial_paths: [data] });
    const st = path.join(work, `agent-state-${run}`);
    const cfg = path.join(work, `agent-${run}.yaml`);
    execFileSync(path.join(bin, 'restic-manager-agent'), ['enroll', '--server', srv.url, '--token', tok.body.token, '--config', cfg, '--state-dir', st], { stdio: 'ignore' });
    const ag = spawn(path.join(bin, 'restic-manager-agent'), ['run', '--config', cfg, '--state-dir', st], { stdio: ['ignore', 'ignore', 'pipe'] });
    ag.stderr.on('data', () => {});
    let hostId;
    await waitFor(async () => {
      const st2 = (await api.get(`/api/enrollment-tokens/${tok.body.token}`)).body;
      if (!st2.host_id) return false;
      hostId = st2.host_id;
      const h = (await api.get(`/api/hosts/${hostId}`)).body;
      return h.status === 'online' && h.repo_status === 'ready' && !h.running_job;
    }, { timeout: 60000, interval: 100 });
    if (!idle) {
      await new Promise((r) => setTimeout(r, 3000));
      const c0 = procStat(ag.pid).cpu_s;
      await new Promise((r) => setTimeout(r, 5000));
      idle = { rss_kib: rssKiB(ag.pid), private_dirty_kib: privateDirtyKiB(ag.pid), cpu_s_per_s: round((procStat(ag.pid).cpu_s - c0) / 5, 4) };
    }
    const c0 = procStat(ag.pid).cpu_s;
    execFileSync('sync');
    const t = process.hrtime.bigint();
    const r = await api.post(`/api/hosts/${hostId}/jobs`, { kind: 'backup', paths: [data] });
    let job;
    await waitFor(async () => { job = (await api.get(`/api/jobs/${r.body.job_id}`)).body; return ['succeeded', 'failed', 'cancelled'].includes(job.status); }, { timeout: 600000, interval: 20 });
    const wall = Number(process.hrtime.bigint() - t) / 1e6;
    agentCpu.push(procStat(ag.pid).cpu_s - c0);
    if (job.status !== 'succeeded') throw new Error(`agent backup ${job.status}: ${job.error}`);
    // the backup step through the agent: from spawning `restic backup` to spawning the
    // follow-up `restic snapshots` (agent timestamps on its event lines)
    const logs = (await api.get(`/api/jobs/${r.body.job_id}/logs?limit=10000`)).body;
    const lines = Array.isArray(logs) ? logs : logs.lines;
    const ev = (re) => lines.find((l) => l.stream === 'event' && re.test(l.payload));
    const b = ev(/^\$ .*restic.* backup /);
    const f = ev(/^\$ .*restic.* snapshots/);
    if (!b || !f) throw new Error('agent job log lacks the backup/snapshots command lines');
    agent.push(Date.parse(f.ts) - Date.parse(b.ts));
    fs.rmSync(repoA, { recursive: true, force: true });
    (agent.jobWall ||= []).push(Math.round(wall));
    ag.kill('SIGTERM');
    await new Promise((res) => ag.on('exit', res));
  };
  for (let run = 0; run < 3; run++) {
    if (run % 2 === 0) { await runBare(run); await runAgent(run); } else { await runAgent(run); await runBare(run); }
  }
  await srv.stop();
  fs.rmSync(work, { recursive: true, force: true });
  const mb = pct(bare, 0.5);
  const ma = pct(agent, 0.5);
  const ratio = ma / mb;
  record('agent_overhead_ratio', round(ratio, 3), 'x bare restic', '<= 1.02', ratio <= 1.02, { bare_ms: bare.map(Math.round), agent_ms: agent.map(Math.round), job_wall_ms: agent.jobWall, dataset_mib: mib, note: 'agent = restic backup spawned and reaped by the agent (job log event timestamps); job_wall adds dispatch, the snapshots+stats follow-ups and 20 ms polling' });
  record('agent_backup_cpu', round(pct(agentCpu, 0.5), 3), 'cpu-s (agent process, excl. restic)', 'n/a', null);
  record('agent_idle_rss', idle.rss_kib, 'KiB', '<= 8192 KiB', idle.rss_kib <= 8192);
  record('agent_idle_private_dirty', idle.private_dirty_kib, 'KiB', '<= 2048 KiB', idle.private_dirty_kib <= 2048);
  record('agent_idle_cpu', idle.cpu_s_per_s, 'cpu-s/s', '~0', idle.cpu_s_per_s < 0.01);
}


// The schedule storm: STORM_N agents each deliver one scheduled backup's whole event
// sequence at the same moment (a cron minute); the server must drain it within 60 s and
// keep every row and line.
function fdLimits() {
  const sh = (c) => { try { return Number(execFileSync('sh', ['-c', c]).toString().trim()); } catch { return NaN; } };
  return { soft: sh('ulimit -n'), hard: sh('ulimit -Hn') };
}

// A release server started here rather than by the harness: at RM_LOG_LEVEL=warn it does
// not print the "listening" line the harness waits for.
async function startQuietServer(srv) {
  const proc = spawn(path.join(bin, 'restic-manager-server'), [], { env: { ...srv.env, RM_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-20000); });
  proc.done = new Promise((res) => proc.on('exit', res));
  proc.errText = () => err;
  const api = new Api(srv.url);
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`server exited: ${err.slice(-2000)}`);
    try { return (await api.get('/healthz')).status > 0; } catch { return false; }
  }, { timeout: 30000, interval: 100, what: 'quiet server' });
  return proc;
}

async function stopProcBounded(p, ms = 20000) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  const t = await Promise.race([p.done.then(() => 'exited'), new Promise((r) => setTimeout(() => r('timeout'), ms))]);
  if (t === 'timeout') { p.kill('SIGKILL'); await p.done; }
}

function sqlite(db, sql) {
  return execFileSync('sqlite3', ['-readonly', '-separator', ' ', db, sql], { timeout: 60000 }).toString().trim();
}

async function benchStorm() {
  const fd = fdLimits();
  // each side holds one socket per agent plus its own files (db, WAL, listen, pipes)
  const fits = Math.max(0, Math.min(fd.soft, fd.hard) - 512);
  const n = Math.min(STORM_N, fits);
  if (n < STORM_N) console.error(`storm: fd limit ${fd.soft} (hard ${fd.hard}) fits ${n} agents, not ${STORM_N}: raise ulimit -Hn`);
  console.error(`storm: ${n} simulated agents, one scheduled backup each (job.started, 10 job.progress, 50 log lines, job.finished, snapshots.report), starts spread over ${STORM_SPREAD_MS} ms`);
  const { srv, api } = await bootstrapped();
  const t0 = Date.now();
  const creds = await enrollHosts(api, n);
  console.error(`  enrolled ${n} hosts in ${Date.now() - t0} ms`);
  const credFile = path.join(srv.dataDir, 'storm-creds.txt');
  fs.writeFileSync(credFile, creds.join('\n') + '\n');
  await srv.stop();
  const server = await startQuietServer(srv);
  let sim;
  const samples = [];
  let stormAt = null;
  let rssAtStorm = NaN;
  let lastSim = {};
  try {
    sim = startSim(['--url', srv.url, '--creds', credFile, '--n', String(n), '--mode', 'storm', '--hb-ms', '30000',
      '--conc', '96', '--spread-ms', String(STORM_SPREAD_MS), '--ready-timeout-s', '240', '--storm-timeout-s', '180', '--duration-s', '600']);
    const deadline = Date.now() + 660000;
    while (sim.exitCode === null && sim.signalCode === null && Date.now() < deadline) {
      const t = Date.now();
      const cpu = procStat(server.pid).cpu_s;
      const wait = runqWaitS(server.pid);
      const simWait = runqWaitS(sim.pid);
      const simCpu = (() => { try { return procStat(sim.pid).cpu_s; } catch { return NaN; } })();
      if (Number.isFinite(simWait)) lastSim = { wait: simWait, cpu: simCpu };
      samples.push({ t, cpu, hwm: statusKiB(server.pid, 'VmHWM'), rss: statusKiB(server.pid, 'VmRSS') });
      if (!stormAt && /agentsim: storm:/.test(sim.errText())) {
        stormAt = { t, cpu, wait, simWait, simCpu };
        rssAtStorm = statusKiB(server.pid, 'VmRSS');
        console.error(`  ${sim.errText().match(/agentsim: storm:.*/)[0].slice(10)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (sim.exitCode === null && sim.signalCode === null) { sim.kill('SIGKILL'); console.error('  agentsim did not exit in time: killed'); }
    await sim.done;
  } finally {
    if (sim && sim.exitCode === null && sim.signalCode === null) sim.kill('SIGKILL');
  }
  const end = { t: Date.now(), cpu: procStat(server.pid).cpu_s, wait: runqWaitS(server.pid) };
  const hwm = statusKiB(server.pid, 'VmHWM');
  await stopProcBounded(server);
  const res = sim.result || {};
  if (!sim.result) console.error(`  agentsim gave no result; stderr tail:\n${sim.errText().slice(-2000)}`);
  // busiest second of the storm, from the 250 ms samples
  let peakCpu = 0;
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (j < samples.length && samples[j].t - samples[i].t < 1000) j++;
    if (j < samples.length && stormAt && samples[i].t >= stormAt.t) peakCpu = Math.max(peakCpu, (samples[j].cpu - samples[i].cpu) / ((samples[j].t - samples[i].t) / 1000));
  }
  const stormCpu = stormAt ? end.cpu - stormAt.cpu : NaN;
  const stormWall = stormAt ? (end.t - stormAt.t) / 1000 : NaN;
  const db = path.join(srv.dataDir, 'restic-manager.db');
  const q = (sql) => Number(sqlite(db, sql));
  const v = {
    jobs: q("SELECT count(*) FROM jobs WHERE created_by = 'schedule'"),
    succeeded: q("SELECT count(*) FROM jobs WHERE created_by = 'schedule' AND status = 'succeeded' AND finished_at IS NOT NULL"),
    hosts: q("SELECT count(DISTINCT host_id) FROM jobs WHERE created_by = 'schedule'"),
    with_schedule: q("SELECT count(*) FROM jobs j JOIN schedules s ON s.id = j.schedule_id WHERE j.created_by = 'schedule'"),
    lines: q("SELECT count(*) FROM job_logs WHERE job_id IN (SELECT id FROM jobs WHERE created_by = 'schedule')"),
    complete_jobs: q("SELECT count(*) FROM (SELECT l.job_id FROM job_logs l JOIN jobs j ON j.id = l.job_id WHERE j.created_by = 'schedule' GROUP BY l.job_id HAVING count(*) = 50 AND min(l.seq) = 2 AND max(l.seq) = 51)"),
    snapshots: q('SELECT count(*) FROM snapshots'),
    snapshot_hosts: q('SELECT count(DISTINCT host_id) FROM snapshots'),
  };
  console.error(`  db: ${JSON.stringify(v)}`);
  const lines = res.lines_per_job || 50;
  const allRows = v.jobs === n && v.succeeded === n && v.hosts === n && v.lines === n * lines && v.complete_jobs === n && v.snapshots === n && v.snapshot_hosts === n && res.jobs_acked === n;
  const drainS = res.drain_ms / 1000;
  record('storm_drain', round(drainS, 1), 's', n < STORM_N ? `<= 60 s (${n} of ${STORM_N} agents: fd limit)` : '<= 60 s', res.jobs_acked === n && drainS <= 60, { agents: n, requested_agents: STORM_N, fd_soft: fd.soft, fd_hard: fd.hard, spread_ms: STORM_SPREAD_MS, jobs_sent: res.jobs_sent, jobs_acked: res.jobs_acked, send_s: round(res.send_ms / 1000, 1), job_p50_ms: res.job_p50_ms, job_p99_ms: res.job_p99_ms, connected_at_start: res.connected_at_start, connect_all_ms: res.connect_all_ms, sim_cpu_s: res.sim_cpu_s, failures: res.failures, failed_hosts: res.failed_hosts });
  record('storm_rows_and_lines', allRows, 'bool', `${n} jobs succeeded, ${n * lines} lines, ${n} snapshots`, allRows, { ...v, expected_lines: n * lines });
  record('storm_server_cpu', round(stormCpu / stormWall, 2), 'cpu-s/s', 'n/a', null, { cpu_s: round(stormCpu, 1), wall_s: round(stormWall, 1), busiest_second: round(peakCpu, 2), runq_wait_s: stormAt ? round(end.wait - stormAt.wait, 1) : NaN, sim_cpu_s: stormAt ? round(lastSim.cpu - stormAt.simCpu, 1) : NaN, sim_runq_wait_s: stormAt ? round(lastSim.wait - stormAt.simWait, 1) : NaN });
  record('storm_server_peak_rss', Math.round(hwm / 1024), 'MiB', 'n/a', null, { vmhwm_kib: hwm, rss_at_storm_start_kib: rssAtStorm, rss_peak_sampled_kib: Math.max(...samples.map((x) => x.rss).filter(Number.isFinite)) });
}

const t0 = Date.now();
try {
  if (ONLY.includes('fleet')) await benchFleet();
  if (ONLY.includes('logs') || ONLY.includes('dispatch')) await benchLogsAndDispatch();
  if (ONLY.includes('api')) await benchApi();
  if (ONLY.includes('overhead')) await benchOverhead();
  if (ONLY.includes('storm')) await benchStorm();
  if (ONLY.includes('browse')) await benchBrowse({ bin, record });
} catch (e) {
  if (lastServer) {
    console.error(`server ${lastServer.alive() ? 'still running' : `exited (${lastServer.proc.exitCode ?? lastServer.proc.signalCode})`}; its stderr ends with:`);
    console.error(lastServer.stderr().slice(-4000));
  }
  throw e;
} finally {
  await cleanup();
  console.log(`\nrestic-manager bench — ${commit} — ${date} — ${machine.cpus} cores ${machine.cpu_model}`);
  console.log('| benchmark | value | unit | target | met |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.name} | ${r.value} | ${r.unit} | ${r.target} | ${r.met === null ? '—' : r.met ? 'met' : r.failed_measurement ? '**not met** (no measurement)' : '**not met**'} |`);
  console.log(`\nresults: ${path.relative(root, resultsFile)} (${Math.round((Date.now() - t0) / 1000)} s)`);
}
