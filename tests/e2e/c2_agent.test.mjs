// C2 agent end to end, without the real server: the agent talks to a raw WebSocket
// "server" written here (net + RFC 6455 framing), gets a schedule.set with a `* * * * *`
// schedule and runs the backup on its own: job.started with origin "schedule" arrives
// within 90 s, hooks run, and a real restic snapshot tagged with the group exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(async () => { S.srv?.close(); for (const c of S.conns || []) c.sock.destroy(); await h.cleanup(); });

const S = { conns: [] };
const REPO_PW = 'c2-agent-repo-pw-81f0';
const HOOK_TOKEN = 'hook-token-5a9e77d1';

// ------------------------------------------------------------------ a tiny ws server
function frame(op, payload) {
  const n = payload.length;
  const hdr = n < 126 ? Buffer.from([0x80 | op, n])
    : n < 65536 ? Buffer.from([0x80 | op, 126, n >> 8, n & 255])
      : (() => { const b = Buffer.alloc(10); b[0] = 0x80 | op; b[1] = 127; b.writeBigUInt64BE(BigInt(n), 2); return b; })();
  return Buffer.concat([hdr, payload]);
}

function startWsServer(port) {
  const srv = net.createServer((sock) => {
    const c = { sock, messages: [], upgraded: false, buf: Buffer.alloc(0), frag: null };
    c.send = (obj) => sock.write(frame(1, Buffer.from(JSON.stringify(obj))));
    c.env = (type, payload) => { const id = crypto.randomBytes(8).toString('hex'); c.send({ type, id, ts: new Date().toISOString(), payload }); return id; };
    S.conns.push(c);
    sock.on('error', () => {});
    sock.on('data', (d) => {
      c.buf = Buffer.concat([c.buf, d]);
      if (!c.upgraded) {
        const end = c.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = c.buf.subarray(0, end).toString('latin1');
        c.buf = c.buf.subarray(end + 4);
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1];
        c.auth = /authorization:\s*(.*)\r?$/im.exec(head)?.[1];
        const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: rm-agent.v1\r\n\r\n`);
        c.upgraded = true;
      }
      for (;;) {
        const b = c.buf;
        if (b.length < 2) return;
        const fin = b[0] & 0x80, op = b[0] & 0x0f;
        let len = b[1] & 0x7f, off = 2;
        if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; } else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); off = 10; }
        if (b.length < off + 4 + len) return;
        const mk = b.subarray(off, off + 4);
        const p = Buffer.from(b.subarray(off + 4, off + 4 + len));
        for (let i = 0; i < p.length; i++) p[i] ^= mk[i & 3];
        c.buf = b.subarray(off + 4 + len);
        let data = p;
        if (op === 0 || ((op === 1) && !fin)) { c.frag = Buffer.concat([c.frag || Buffer.alloc(0), p]); if (!fin) continue; data = c.frag; c.frag = null; }
        if (op === 8) { sock.end(frame(8, p.subarray(0, 2))); return; }
        if (op === 9) { sock.write(frame(10, p)); continue; }
        if (op !== 1 && op !== 0) continue;
        const m = JSON.parse(data.toString('utf8'));
        c.messages.push(m);
        // acknowledge everything, like the real server once committed
        if (m.type !== 'job.progress') c.env('ack', { ids: [m.id] });
      }
    });
  });
  return new Promise((res) => srv.listen(port, '127.0.0.1', () => res(srv)));
}

const latest = () => S.conns[S.conns.length - 1];
const waitMsg = (pred, timeout, what) => h.waitFor(() => S.conns.flatMap((c) => c.messages).find(pred), { timeout, interval: 50, what });

function schedule(version, cron, extra = {}) {
  return {
    version,
    schedules: [{ id: 'sch-1', cron, group_ids: ['grp-1'] }],
    groups: [{
      id: 'grp-1', name: 'docs', includes: [S.sample], excludes: ['*.skip'], exclude_caches: true,
      pre_hook: `echo pre-ran group=$RM_GROUP # ${HOOK_TOKEN}`,
      post_hook: 'echo post-ran status=$RM_JOB_STATUS snap=$RM_SNAPSHOT_ID',
      ...extra,
    }],
    settings: { hook_shell: '/bin/sh', hook_timeout_s: 60 },
  };
}

before(async () => {
  const port = await h.freePort();
  S.srv = await startWsServer(port);
  const dir = h.tmpDir('rm-e2e-c2agent-');
  S.repo = path.join(dir, 'repo');
  h.resticInit(S.repo, REPO_PW);
  S.sample = h.makeSampleDir({ files: 3 });
  fs.writeFileSync(path.join(S.sample, 'noise.skip'), 'excluded\n');
  fs.writeFileSync(path.join(dir, 'agent.yaml'),
    `server: "http://127.0.0.1:${port}"\nhost_id: "01HC2AGENTE2E"\nbearer: "c2-e2e-bearer-0123456789"\n` +
    `secrets_key: "${crypto.randomBytes(32).toString('hex')}"\n`, { mode: 0o600 });
  S.agent = await h.startAgent({ dir, enroll: false, restic: h.RESTIC });
});

test('hello carries timezone, utc_offset_s and schedule_version 0', async () => {
  const hello = await waitMsg((m) => m.type === 'hello', 20000, 'hello');
  assert.equal(typeof hello.payload.timezone, 'string');
  assert.ok(Number.isInteger(hello.payload.utc_offset_s), JSON.stringify(hello.payload));
  assert.equal(hello.payload.schedule_version, 0);
  assert.equal(latest().auth, 'Bearer c2-e2e-bearer-0123456789');
  latest().env('config.update', { slot: 'repo', repo_url: S.repo, repo_password: REPO_PW });
});

test('schedule.set → schedule.ack; an invalid one → error schedule_invalid, last good kept', async () => {
  latest().env('schedule.set', schedule(1, '* * * * *'));
  const ack = await waitMsg((m) => m.type === 'schedule.ack', 10000, 'schedule.ack');
  assert.equal(ack.payload.version, 1);
  assert.match(ack.payload.applied_at, /^\d{4}-\d\d-\d\dT/);
  const bad = latest().env('schedule.set', schedule(2, '* * * * *', { includes: ['relative/path'] }));
  const err = await waitMsg((m) => m.type === 'error' && m.payload.ref_id === bad, 10000, 'schedule_invalid');
  assert.equal(err.payload.code, 'schedule_invalid');
  assert.match(err.payload.message, /includes\[0\].*absolute/);
  const st = fs.statSync(path.join(S.agent.stateDir, 'schedule.enc'));
  assert.equal(st.mode & 0o777, 0o600);
  assert.ok(!fs.readFileSync(path.join(S.agent.stateDir, 'schedule.enc'), 'utf8').includes(HOOK_TOKEN), 'hooks encrypted at rest');
});

test('the schedule fires on its own: job.started origin schedule, hooks, tagged snapshot', async () => {
  const started = await waitMsg((m) => m.type === 'job.started' && m.payload.origin === 'schedule', 90000, 'scheduled job.started');
  const p = started.payload;
  assert.equal(p.kind, 'backup');
  assert.equal(p.schedule_id, 'sch-1');
  assert.equal(p.group_id, 'grp-1');
  assert.equal(p.group, 'docs');
  assert.equal(p.attempt, 1);
  assert.match(p.job_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.deepEqual(p.args, { paths: [S.sample], tags: ['docs'], excludes: ['*.skip'] });
  const fin = await waitMsg((m) => m.type === 'job.finished' && m.payload.job_id === p.job_id, 60000, 'job.finished');
  assert.equal(fin.payload.status, 'succeeded', JSON.stringify(fin.payload) + '\n' + S.agent.stderr().slice(-3000));
  const lines = S.conns.flatMap((c) => c.messages).filter((m) => m.type === 'log.stream' && m.payload.job_id === p.job_id).flatMap((m) => m.payload.lines);
  const hook = lines.filter((l) => l.stream === 'hook').map((l) => l.payload);
  assert.ok(hook.includes('pre-hook: pre-ran group=docs'), JSON.stringify(hook));
  assert.ok(hook.includes(`post-hook: post-ran status=succeeded snap=${fin.payload.stats.snapshot_id}`), JSON.stringify(hook));
  const snaps = h.resticSnapshots(S.repo, REPO_PW);
  const mine = snaps.filter((s) => (s.tags || []).includes('docs'));
  assert.ok(mine.length >= 1, JSON.stringify(snaps));
  assert.deepEqual(mine[0].paths, [S.sample]);
  assert.ok(!S.agent.stderr().includes(HOOK_TOKEN), 'hook text never in the agent log');
  assert.ok(!JSON.stringify(lines).includes(HOOK_TOKEN), 'hook text never in the job log');
});

test('run-now with hooks from command.run: a failing pre-hook fails the job, restic does not run', async () => {
  latest().env('command.run', { job_id: 'run-now-hook-1', kind: 'backup', args: {
    paths: [S.sample], tags: ['docs'], group_id: 'grp-1', group: 'docs', excludes: [],
    pre_hook: 'echo checking; exit 3', post_hook: 'echo never', hook_shell: '/bin/sh', hook_timeout_s: 30 } });
  const res = await waitMsg((m) => m.type === 'command.result' && m.payload.job_id === 'run-now-hook-1', 10000, 'command.result');
  assert.equal(res.payload.accepted, true);
  const fin = await waitMsg((m) => m.type === 'job.finished' && m.payload.job_id === 'run-now-hook-1', 90000, 'job.finished');
  assert.equal(fin.payload.status, 'failed');
  assert.equal(fin.payload.error, 'pre-hook exited 3');
  const lines = S.conns.flatMap((c) => c.messages).filter((m) => m.type === 'log.stream' && m.payload.job_id === 'run-now-hook-1').flatMap((m) => m.payload.lines);
  assert.ok(lines.some((l) => l.stream === 'hook' && l.payload === 'pre-hook: checking'), JSON.stringify(lines));
  assert.ok(!lines.some((l) => l.payload.includes('restic backup')), 'restic did not run');
});

test('after a restart the stored spec is in force: hello schedule_version 1', async () => {
  const before = S.conns.length;
  await S.agent.restart();
  const hello = await h.waitFor(() => S.conns.slice(before).flatMap((c) => c.messages).find((m) => m.type === 'hello'), { timeout: 20000, what: 'hello after restart' });
  assert.equal(hello.payload.schedule_version, 1);
  await S.agent.stop();
  h.assertNoSanitizer(S.agent.allStderr(), 'agent');
});

test('missed windows while down: ONE catch-up on start, none again after a crash', async () => {
  const stateFile = path.join(S.agent.stateDir, 'schedule-state.json');
  const st = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  assert.ok(st.last_fired['sch-1'] > 0, JSON.stringify(st));
  fs.writeFileSync(stateFile, JSON.stringify({ last_fired: { 'sch-1': Math.floor(Date.now() / 1000) - 3 * 3600 } }));
  const seen = () => S.conns.flatMap((c) => c.messages).filter((m) => m.type === 'job.started' && m.payload.origin === 'catch_up');
  const n0 = seen().length;
  S.agent.start();
  const cu = await h.waitFor(() => seen().length > n0 && seen()[n0], { timeout: 20000, what: 'catch_up job.started' });
  assert.equal(cu.payload.schedule_id, 'sch-1');
  assert.equal(cu.payload.group, 'docs');
  const lf = JSON.parse(fs.readFileSync(stateFile, 'utf8')).last_fired['sch-1'];
  assert.ok(Date.now() / 1000 - lf < 60, `last_fired recorded at the catch-up (${lf})`);
  // a crash right after: the restarted agent does not catch up again
  await S.agent.kill9();
  const c0 = S.conns.length;
  S.agent.start();
  await h.waitFor(() => S.conns.slice(c0).some((c) => c.messages.some((m) => m.type === 'hello')), { timeout: 20000, what: 'hello after kill -9' });
  await h.sleep(3000);
  assert.equal(seen().length, n0 + 1, 'exactly one catch-up');
  await S.agent.stop();
  h.assertNoSanitizer(S.agent.allStderr(), 'agent');
});
