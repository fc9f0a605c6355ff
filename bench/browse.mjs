// make bench, C3 browsing (issue 12): a generated snapshot of BROWSE_FILES files (default
// 1,000,000: BROWSE_DIRS directories of small files) plus one BROWSE_BIG_MIB random file.
//   - first tree expansion through the API (the agent runs `restic ls --json` and builds its
//     index) beside bare `restic ls --json` on the same snapshot and restic cache (target
//     within 1.2x);
//   - agent peak RSS while indexing (VmHWM; target <= 64 MiB);
//   - later expansions at the API, p99 over BROWSE_SAMPLES random directories (target
//     <= 100 ms);
//   - download of the big file through the server vs `restic dump` to disk (target >= 0.9x),
//     with the server's and agent's RSS growth.
// Everything lives under one temp dir in /tmp, removed at the end.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, startAgent, Api, waitFor, tmpDir, httpRequest } from '../tests/e2e/lib/harness.mjs';

const FILES = Number(process.env.BROWSE_FILES || 1000000);
const DIRS = Number(process.env.BROWSE_DIRS || 1000);
const BIG_MIB = Number(process.env.BROWSE_BIG_MIB || 1024);
const SAMPLES = Number(process.env.BROWSE_SAMPLES || 300);
const RESTIC = process.env.RM_TEST_RESTIC || '/usr/bin/restic';
const PW = 'bench-browse-repo-pw';

function statusKiB(pid, field) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`));
    return m ? Number(m[1]) : NaN;
  } catch { return NaN; }
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))]; };
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function generate(root) {
  const per = Math.ceil(FILES / DIRS);
  let n = 0;
  for (let d = 0; d < DIRS && n < FILES; d++) {
    const dir = path.join(root, `d${String(Math.floor(d / 100)).padStart(2, '0')}`, `dir-${String(d).padStart(5, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < per && n < FILES; i++, n++) {
      // most files empty (no data blobs: the snapshot is mostly tree metadata), some small
      const fd = fs.openSync(path.join(dir, `file-${String(i).padStart(6, '0')}.txt`), 'w');
      if (i % 50 === 0) fs.writeSync(fd, `file ${d}/${i}\n`);
      fs.closeSync(fd);
    }
  }
  const big = path.join(root, 'big.bin');
  const fd = fs.openSync(big, 'w');
  const chunk = crypto.randomBytes(8 << 20);
  for (let i = 0; i < BIG_MIB / 8; i++) { chunk.writeUInt32LE(i, 0); fs.writeSync(fd, chunk); }
  fs.closeSync(fd);
  return { files: n, big };
}

function timed(cmd, args, env, outFile) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const out = outFile ? fs.openSync(outFile, 'w') : 'ignore';
    const p = spawn(cmd, args, { env, stdio: ['ignore', out, 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => {
      if (outFile) fs.closeSync(out);
      if (code) reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.slice(-500)}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  });
}

function downloadTo(url, cookie, file) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http.get(url, { headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`download: ${res.statusCode}`)); res.resume(); return; }
      const ws = fs.createWriteStream(file);
      res.pipe(ws);
      ws.on('finish', () => resolve(Number(process.hrtime.bigint() - t0) / 1e9));
      ws.on('error', reject);
    }).on('error', reject);
  });
}

export async function benchBrowse({ bin, record }) {
  const top = tmpDir('rm-bench-browse-');
  try {
    const data = path.join(top, 'data');
    console.error(`  browse: generating ${FILES} files in ${DIRS} directories + a ${BIG_MIB} MiB file...`);
    const g = generate(data);
    const srv = await startServer({ bin, env: { RM_LOG_LEVEL: 'info' } });
    const api = new Api(srv.url);
    await api.bootstrap(srv.bootstrapToken, 'admin', 'bench-admin-password');
    const repo = path.join(top, 'repo');
    const tok = await api.createEnrollment({ hostname: 'bench-browse', repo_url: repo, repo_password: PW, initial_paths: [data] });
    const agent = await startAgent({ server: srv, token: tok.token, bin, env: { RM_LOG_LEVEL: 'info' } });
    const hostId = agent.hostId;
    await waitFor(async () => (await api.get(`/api/hosts/${hostId}`)).body?.repo_status === 'ready', { timeout: 120000, what: 'repo ready' });
    console.error('  browse: backing up through the agent...');
    const tb = Date.now();
    const jr = await api.post(`/api/hosts/${hostId}/jobs`, { kind: 'backup', paths: [data] });
    const job = await waitFor(async () => { const j = (await api.get(`/api/jobs/${jr.body.job_id}`)).body; return ['succeeded', 'failed'].includes(j?.status) && j; }, { timeout: 3600000, interval: 2000, what: 'backup' });
    if (job.status !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(job)}`);
    const backupS = (Date.now() - tb) / 1000;
    const snaps = await waitFor(async () => { const r = await api.get(`/api/hosts/${hostId}/snapshots`); return r.body?.snapshots?.length && r.body.snapshots; }, { timeout: 60000, what: 'snapshot' });
    const snap = snaps[0].id;
    const env = { PATH: process.env.PATH, HOME: top, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: PW, RESTIC_CACHE_DIR: path.join(agent.stateDir, 'cache') };

    // bare restic ls (same repository, same restic cache as the agent), twice: take the faster
    const ls1 = await timed(RESTIC, ['--no-lock', 'ls', '--json', snap], env);
    const ls2 = await timed(RESTIC, ['--no-lock', 'ls', '--json', snap], env);
    const lsS = Math.min(ls1, ls2);
    const hwmBefore = statusKiB(agent.pid, 'VmHWM');
    const t0 = process.hrtime.bigint();
    let first;
    for (let i = 0; i < 20; i++) { // a 504 (the RPC's 120 s) means the agent is still indexing
      const r = await httpRequest(`${srv.url}/api/hosts/${hostId}/snapshots/${snap}/tree?path=/`,
        { headers: { cookie: api.cookieHeader(), accept: 'application/json' }, timeout: 300000 });
      first = { status: r.status, text: r.buf.toString() };
      if (first.status !== 504) break;
    }
    const firstS = Number(process.hrtime.bigint() - t0) / 1e9;
    if (first.status !== 200) throw new Error(`first expansion: ${first.status} ${first.text}`);
    const hwm = statusKiB(agent.pid, 'VmHWM');
    const ratio = firstS / lsS;
    record('browse_first_expansion', round(firstS, 2), 's', `<= 1.2x bare restic ls (${round(lsS, 2)} s)`, ratio <= 1.2, { ratio: round(ratio, 2), restic_ls_s: round(lsS, 2), restic_ls_runs_s: [round(ls1, 2), round(ls2, 2)], files: g.files, dirs: DIRS, backup_s: round(backupS, 1) });
    record('browse_agent_peak_rss', round(hwm / 1024, 1), 'MiB', '<= 64 MiB', hwm <= 64 * 1024, { vmhwm_kib: hwm, vmhwm_before_kib: hwmBefore, files: g.files });

    // later expansions: random leaf directories (1,000 entries each) and their parents
    const base = data;
    const lat = [];
    for (let i = 0; i < SAMPLES; i++) {
      const d = Math.floor(Math.random() * DIRS);
      const p = i % 4 === 0 ? path.join(base, `d${String(Math.floor(d / 100)).padStart(2, '0')}`)
        : path.join(base, `d${String(Math.floor(d / 100)).padStart(2, '0')}`, `dir-${String(d).padStart(5, '0')}`);
      const ts = process.hrtime.bigint();
      const r = await api.get(`/api/hosts/${hostId}/snapshots/${snap}/tree?path=${encodeURIComponent(p)}`);
      lat.push(Number(process.hrtime.bigint() - ts) / 1e6);
      if (r.status !== 200) throw new Error(`expansion ${p}: ${r.status} ${r.text}`);
    }
    const p99 = pct(lat, 0.99);
    record('browse_later_expansion_p99', round(p99, 1), 'ms', '<= 100 ms', p99 <= 100, { p50_ms: round(pct(lat, 0.5), 1), max_ms: round(Math.max(...lat), 1), samples: lat.length, entries_per_leaf_dir: Math.ceil(FILES / DIRS) });

    // download vs restic dump to disk
    const dumpS = await timed(RESTIC, ['--no-lock', 'dump', snap, g.big], env, path.join(top, 'dump.out'));
    fs.rmSync(path.join(top, 'dump.out'));
    const srvBefore = statusKiB(srv.proc.pid, 'VmRSS');
    const agBefore = statusKiB(agent.pid, 'VmRSS');
    let srvPeak = srvBefore;
    let agPeak = agBefore;
    const sampler = setInterval(() => { srvPeak = Math.max(srvPeak, statusKiB(srv.proc.pid, 'VmRSS')); agPeak = Math.max(agPeak, statusKiB(agent.pid, 'VmRSS')); }, 50);
    const out = path.join(top, 'download.out');
    const dlS = await downloadTo(`${srv.url}/api/hosts/${hostId}/snapshots/${snap}/download?path=${encodeURIComponent(g.big)}`, api.cookieHeader(), out);
    clearInterval(sampler);
    const size = fs.statSync(out).size;
    fs.rmSync(out);
    const mibs = (BIG_MIB) / dlS;
    const dumpMibs = BIG_MIB / dumpS;
    record('browse_download_throughput', round(mibs, 1), 'MiB/s', `>= 0.9x restic dump to disk (${round(dumpMibs, 1)} MiB/s)`, size === BIG_MIB << 20 && mibs >= 0.9 * dumpMibs,
      { ratio: round(mibs / dumpMibs, 2), restic_dump_mibs: round(dumpMibs, 1), bytes: size, server_rss_growth_mib: round((srvPeak - srvBefore) / 1024, 1), agent_rss_growth_mib: round((agPeak - agBefore) / 1024, 1) });
    await agent.stop();
    await srv.stop();
  } finally {
    try { execFileSync('chmod', ['-R', 'u+w', top]); } catch { /* best effort */ }
    fs.rmSync(top, { recursive: true, force: true });
  }
}
