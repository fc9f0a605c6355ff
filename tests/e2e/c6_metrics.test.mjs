// C6 Prometheus: /metrics is opt-in (404 when not configured), guarded by a bearer token
// and/or a trusted CIDR (401/403), valid for Debian's `promtool check metrics`, scraped
// by a real `prometheus` (the last-backup query returns the host), and every metric the
// Grafana dashboard (deploy/grafana-dashboard.json) uses exists in the exposition.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const TOKEN = 'metrics-token-4b1f-' + 'x'.repeat(20);
const REPO_PW = 'metrics-repo-pw-8c3e';
const PROMTOOL = process.env.RM_PROMTOOL || '/usr/bin/promtool';
const PROMETHEUS = process.env.RM_PROMETHEUS || '/usr/bin/prometheus';

const get = (url, headers = {}) => h.httpRequest(url, { headers }).then((r) => ({ ...r, text: r.buf.toString('utf8') }));
const scrape = () => get(`${S.server.url}/metrics`, { authorization: `Bearer ${TOKEN}` });

// sample names (not families) in an exposition text
function sampleNames(text) {
  const names = new Set();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

before(async () => {
  ({ server: S.server, api: S.api } = await h.startServerWithAdmin({
    env: { RM_METRICS_TOKEN: TOKEN, RM_METRICS_TRUSTED_CIDR: '192.0.2.0/24' },
  }));
  S.sample = h.makeSampleDir({ files: 4 });
  S.repo = path.join(h.tmpDir('rm-e2e-metrics-repo-'), 'repo');
  const tok = await S.api.createEnrollment({ hostname: 'e2e-metrics', repo_url: S.repo, repo_password: REPO_PW, initial_paths: [S.sample] });
  S.agent = await h.startAgent({ server: S.server, token: tok.token });
  S.hostId = S.agent.hostId;
  await h.waitHostOnline(S.api, S.hostId);
  await h.waitRepoStatus(S.api, S.hostId, 'ready', 60000);
  const id = await S.api.runJob(S.hostId, { kind: 'backup', paths: [S.sample] });
  S.job = await S.api.waitJob(id, { timeout: 60000 });
  assert.equal(S.job.status, 'succeeded', JSON.stringify(S.job));
});

test('/metrics: 401 without or with a wrong token, 404 when not configured, 403 outside the CIDR', async () => {
  let r = await get(`${S.server.url}/metrics`);
  assert.equal(r.status, 401, r.text);
  assert.equal(JSON.parse(r.text).code, 'unauthenticated');
  assert.match(r.headers['www-authenticate'] || '', /^Bearer/);
  r = await get(`${S.server.url}/metrics`, { authorization: `Bearer ${TOKEN}x` });
  assert.equal(r.status, 401);
  r = await get(`${S.server.url}/metrics`, { authorization: `Basic ${TOKEN}` });
  assert.equal(r.status, 401);
  // a session cookie is not a way in
  r = await get(`${S.server.url}/metrics`, { cookie: S.api.cookieHeader() });
  assert.equal(r.status, 401);
  r = await get(`${S.server.url}/metrics`, { 'x-forwarded-for': '192.0.2.7' }); // no trusted proxy
  assert.equal(r.status, 401);

  const plain = await h.startServer();
  r = await get(`${plain.url}/metrics`);
  assert.equal(r.status, 404, r.text);
  assert.equal(JSON.parse(r.text).code, 'not_found');
  await plain.stop();

  const cidr = await h.startServer({ env: { RM_METRICS_TRUSTED_CIDR: '192.0.2.0/24, 2001:db8::/32' } });
  r = await get(`${cidr.url}/metrics`);
  assert.equal(r.status, 403, r.text);
  assert.equal(JSON.parse(r.text).code, 'forbidden');
  r = await get(`${cidr.url}/metrics`, { authorization: 'Bearer anything' });
  assert.equal(r.status, 403);
  cidr.env.RM_METRICS_TRUSTED_CIDR = '127.0.0.0/8';
  await cidr.restart();
  r = await get(`${cidr.url}/metrics`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /^rm_hosts 0$/m);
  await cidr.stop();
});

test('/metrics with the token: per-host, server and histogram families; promtool check metrics passes', async () => {
  const r = await h.waitFor(async () => {
    const x = await scrape();
    return x.status === 200 && /rm_host_snapshots\{[^}]*\} 1$/m.test(x.text) && x;
  }, { timeout: 20000, what: 'snapshot count 1 in /metrics' });
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const t = r.text;
  const hl = `host_id="${S.hostId}",host="e2e-metrics"`;
  assert.match(t, new RegExp(`^rm_host_online\\{${hl}\\} 1$`, 'm'));
  const ts = new RegExp(`^rm_host_last_backup_timestamp_seconds\\{${hl}\\} (\\S+)$`, 'm').exec(t);
  assert.ok(ts, t);
  assert.ok(Math.abs(Number(ts[1]) * 1000 - Date.parse(S.job.finished_at)) < 1000, `${ts[1]} vs ${S.job.finished_at}`);
  assert.match(t, new RegExp(`^rm_host_last_backup_success\\{${hl}\\} 1$`, 'm'));
  assert.match(t, new RegExp(`^rm_host_repo_size_bytes\\{${hl}\\} [1-9]\\d*$`, 'm'));
  assert.match(t, new RegExp(`^rm_host_info\\{${hl},os="linux",arch="[^"]+",agent_version="[^"]+"\\} 1$`, 'm'));
  assert.match(t, /^rm_agents_connected 1$/m);
  assert.match(t, /^rm_hosts 1$/m);
  assert.match(t, /^rm_build_info\{version="[^"]+",commit="[^"]+"\} 1$/m);
  assert.match(t, /^rm_job_duration_seconds_bucket\{kind="backup",status="succeeded",le="\+Inf"\} [1-9]/m);
  assert.match(t, /^rm_job_duration_seconds_count\{kind="backup",status="succeeded"\} [1-9]/m);
  assert.equal(t.includes(TOKEN), false);
  const pt = spawnSync(PROMTOOL, ['check', 'metrics'], { input: t, encoding: 'utf8', timeout: 30000 });
  assert.equal(pt.status, 0, `promtool check metrics: ${pt.status}\n${pt.stdout}${pt.stderr}`);
  assert.equal((pt.stdout + pt.stderr).trim(), '', 'no lint findings');
  S.exposition = t;
});

test('a real prometheus scrapes the server with the bearer token; the last-backup query returns the host', async () => {
  const dir = h.tmpDir('rm-e2e-prom-');
  const port = await h.freePort();
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const target = new URL(S.server.url).host;
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s',
    'scrape_configs:', '  - job_name: restic-manager', '    metrics_path: /metrics',
    '    authorization:', '      type: Bearer', `      credentials_file: ${tokenFile}`,
    '    static_configs:', `      - targets: ['${target}']`, '',
  ].join('\n'));
  const p = h.spawnTracked(PROMETHEUS, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { env: process.env, cwd: dir });
  const base = `http://127.0.0.1:${port}`;
  const query = async (q) => {
    const r = await get(`${base}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => null);
    return r && r.status === 200 ? JSON.parse(r.text) : null;
  };
  const res = await h.waitFor(async () => {
    const j = await query('rm_host_last_backup_timestamp_seconds');
    return j?.data?.result?.length ? j : null;
  }, { timeout: 30000, interval: 250, what: `prometheus result (stderr: ${p.err.slice(-1500)})` });
  assert.equal(res.status, 'success');
  const m = res.data.result[0];
  assert.equal(m.metric.host_id, S.hostId);
  assert.equal(m.metric.host, 'e2e-metrics');
  assert.equal(m.metric.job, 'restic-manager');
  assert.ok(Math.abs(Number(m.value[1]) * 1000 - Date.parse(S.job.finished_at)) < 1000);
  const up = await query('up{job="restic-manager"}');
  assert.equal(up.data.result[0].value[1], '1');
  const hist = await h.waitFor(async () => {
    const j = await query('sum by (kind) (rm_job_duration_seconds_count)');
    return j?.data?.result?.length ? j : null;
  }, { timeout: 10000, what: 'histogram via prometheus' });
  assert.equal(hist.data.result.find((x) => x.metric.kind === 'backup')?.value[1] >= '1', true);
  p.proc.kill('SIGTERM');
  await p.exited;
});

test('every metric the Grafana dashboard uses exists in the exposition', () => {
  assert.ok(S.exposition, 'needs the exposition of the previous test');
  const dash = JSON.parse(fs.readFileSync(path.join(h.repoRoot, 'deploy/grafana-dashboard.json'), 'utf8'));
  const exprs = [];
  const walk = (o) => {
    if (Array.isArray(o)) { o.forEach(walk); return; }
    if (o && typeof o === 'object') {
      for (const [k, v] of Object.entries(o)) {
        if ((k === 'expr' || k === 'query') && typeof v === 'string') exprs.push(v);
        else walk(v);
      }
    }
  };
  walk(dash);
  assert.ok(exprs.length >= 6, `dashboard expressions: ${exprs.length}`);
  const have = sampleNames(S.exposition);
  const used = new Set(exprs.flatMap((e) => e.match(/\brm_[a-z0-9_]+/g) || []));
  assert.ok(used.size >= 6, [...used].join(' '));
  for (const name of used) assert.ok(have.has(name), `dashboard uses ${name}, not in /metrics`);
});
