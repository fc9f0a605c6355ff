// Issue 8 regressions: the HTTP and WebSocket surface under hostile clients. Raw sockets,
// every wait bounded. Functional checks run on the ASan build; the memory and latency
// figures on the release build (ASan's shadow memory would swamp them). Figures are printed
// as "# figure: ..." lines.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const figure = (s) => console.log(`# figure: ${s}`);

// Sends raw bytes, collects everything until the server closes or `ms` passes.
function rawExchange(port, bytes, ms = 1500) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks = [];
    let closed = false;
    const t = setTimeout(() => { s.destroy(); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed }); }, ms);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => { closed = true; clearTimeout(t); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed }); });
  });
}
const statuses = (text) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

async function timedGet(url, timeout = 3000) {
  const t0 = performance.now();
  const r = await h.httpRequest(url, { timeout });
  return { status: r.status, ms: performance.now() - t0 };
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

test('finding 1: a POST pipelined behind a GET never hangs the server (20 tries, fresh servers)', async () => {
  const pipelined = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' +
    'POST /api/agents/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{"token":"x"}';
  for (let srvN = 0; srvN < 5; srvN++) {
    const server = await h.startServer();
    for (let i = 0; i < 4; i++) {
      const r = await rawExchange(server.port, pipelined, 3000);
      const st = statuses(r.text);
      assert.equal(st.length, 2, `try ${srvN}.${i}: two responses to two pipelined requests, got ${JSON.stringify(st)}:\n${r.text.slice(0, 800)}`);
      assert.equal(st[0], 200);
      assert.ok(st[1] >= 400 && st[1] < 500, `enroll with a bogus token: ${st[1]}`);
      const hz = await timedGet(`${server.url}/healthz`);
      assert.equal(hz.status, 200, 'healthz after the pipelined POST');
    }
    await server.stop();
  }
});

test('findings 2: Transfer-Encoding is refused (TE+CL 400, TE alone 411), no smuggled second response', async () => {
  const server = await h.startServer();
  const smuggled = 'GET /api/bootstrap/status HTTP/1.1\r\nHost: x\r\n\r\n';
  const chunked = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
  let r = await rawExchange(server.port, `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
  assert.deepEqual(statuses(r.text), [400], `TE.CL: exactly one 400:\n${r.text}`);
  assert.ok(r.closed, 'connection closed after the 400');
  assert.match(r.text, /"code":\s*"bad_request"/);
  r = await rawExchange(server.port, `POST /api/agents/enroll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
  assert.deepEqual(statuses(r.text), [411], `TE alone: exactly one 411:\n${r.text}`);
  // two different Content-Length values
  r = await rawExchange(server.port, 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde');
  assert.deepEqual(statuses(r.text), [400], r.text);
  // other malformed heads get clear statuses and never crash
  const cases = [
    ['BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 501],
    ['GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['GET /healthz HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\nHost: x\n\n', 400],
    [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 431],
    ['GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ];
  for (const [raw, want] of cases) {
    r = await rawExchange(server.port, raw);
    assert.deepEqual(statuses(r.text), [want], `${JSON.stringify(raw.slice(0, 60))}: ${r.text.slice(0, 300)}`);
    assert.match(r.text, /"code":/, 'JSON error body');
  }
  assert.equal((await timedGet(`${server.url}/healthz`)).status, 200);
  await server.stop();
});

test('finding 3: 300 slow clients (slow body and slowloris heads) do not stop /healthz or agent reconnects', async () => {
  const server = await h.startServer({ bin: h.relBinDir });
  const api = new h.Api(server.url);
  await api.bootstrap(server.bootstrapToken);
  const tok = await api.createEnrollment({ hostname: 'slow-host', repo_url: '/tmp/rm-e2e-unused-repo' });
  const en = await new h.Api(server.url).post('/api/agents/enroll', { token: tok.token, hostname: 'slow-host', os: 'linux', arch: 'amd64', agent_version: '0.0.0', restic_version: '0.14.0' });
  assert.equal(en.status, 201, en.text);
  const socks = [];
  let serverClosed = 0;
  const open = (head) => {
    const s = net.connect(server.port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => { serverClosed++; });
    s.on('connect', () => s.write(head));
    socks.push(s);
    return s;
  };
  for (let i = 0; i < 150; i++) open('POST /api/agents/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
  for (let i = 0; i < 150; i++) open('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write(s.bytesWritten % 2 ? ' ' : 'X-A: b\r\n'.slice(0, 1)); }, 5000);
  try {
    const lat = [];
    let wsOk = 0;
    const end = Date.now() + 15000;
    while (Date.now() < end) {
      const r = await timedGet(`${server.url}/healthz`, 2000);
      assert.equal(r.status, 200);
      lat.push(r.ms);
      const ws = await h.wsConnect(`${server.url.replace(/^http/, 'ws')}/ws/agent`, { protocol: 'rm-agent.v1', headers: { Authorization: `Bearer ${en.body.bearer}` }, timeout: 2000 });
      wsOk++;
      ws.destroy();
      await h.sleep(700);
    }
    lat.sort((a, b) => a - b);
    figure(`300 slow clients: /healthz ${lat.length}/${lat.length} answered, p50 ${lat[lat.length >> 1].toFixed(1)} ms, max ${lat[lat.length - 1].toFixed(1)} ms; agent reconnects ${wsOk}/${wsOk}`);
    assert.ok(lat[lat.length - 1] < 1000, `healthz max latency ${lat[lat.length - 1]} ms`);
    // the server sheds them by itself: per-address eviction + head/body deadlines
    await h.waitFor(() => serverClosed >= 300, { timeout: 20000, what: `server closing the slow clients (${serverClosed}/300)` });
    figure(`slow clients closed by the server: ${serverClosed}/300`);
  } finally {
    clearInterval(drip);
    for (const s of socks) s.destroy();
  }
  await server.stop();
});

test('finding 4: 1,000 non-reading /agent/binary downloads pin well under 256 MiB', async () => {
  const binDir = h.tmpDir('rm-e2e-bin-');
  const size = 32 << 20;
  const blob = crypto.randomBytes(size);
  fs.writeFileSync(path.join(binDir, 'restic-manager-agent'), blob);
  const server = await h.startServer({ bin: h.relBinDir, env: { RM_AGENT_BINARY_DIR: binDir } });
  // one real download first: complete and byte-identical
  const full = await h.httpRequest(`${server.url}/agent/binary`, { timeout: 20000 });
  assert.equal(full.status, 200);
  assert.equal(full.buf.length, size);
  assert.ok(full.buf.equals(blob), 'downloaded binary is byte-identical');
  const rss0 = rssKiB(server.pid);
  const socks = [];
  const seen = { 200: 0, 503: 0, other: 0 };
  for (let i = 0; i < 1000; i++) {
    const s = net.connect(server.port, '127.0.0.1');
    s.on('error', () => {});
    s.once('data', (d) => {
      const st = Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1]);
      if (st === 200) seen[200]++; else if (st === 503) seen[503]++; else seen.other++;
      s.pause(); // never read the body
    });
    s.on('connect', () => s.write('GET /agent/binary HTTP/1.1\r\nHost: x\r\n\r\n'));
    socks.push(s);
  }
  await h.waitFor(() => seen[200] + seen[503] + seen.other >= 1000, { timeout: 30000, what: `1,000 response heads (${JSON.stringify(seen)})` });
  await h.sleep(1000);
  const rss1 = rssKiB(server.pid);
  figure(`1,000 non-reading binary downloads (${size >> 20} MiB file): ${seen[200]} streaming, ${seen[503]} told to retry (cap); server RSS ${(rss0 / 1024).toFixed(1)} -> ${(rss1 / 1024).toFixed(1)} MiB`);
  assert.equal(seen.other, 0, JSON.stringify(seen));
  assert.ok(seen[200] >= 200, `at least the cap streams: ${JSON.stringify(seen)}`);
  assert.ok(rss1 < 128 * 1024, `server RSS ${rss1} KiB under 128 MiB`);
  // and the server still answers
  assert.equal((await timedGet(`${server.url}/healthz`)).status, 200);
  for (const s of socks) s.destroy();
  await server.stop();
});

test('finding 5: log downloads stream (bounded memory, no loop stall) and stay complete', async () => {
  const { server, api } = await h.startServerWithAdmin();
  const tok = await api.createEnrollment({ hostname: 'log-host', repo_url: '/tmp/rm-e2e-unused-repo' });
  const en = await new h.Api(server.url).post('/api/agents/enroll', { token: tok.token, hostname: 'log-host', os: 'linux', arch: 'amd64', agent_version: '0.0.0', restic_version: '0.14.0' });
  assert.equal(en.status, 201, en.text);
  await server.stop();
  const N = 150000;
  const jobId = '01JAAAAAAAAAAAAAAAAAAAAAAA';
  execFileSync('sqlite3', [path.join(server.dataDir, 'restic-manager.db'), `
    INSERT INTO jobs (id, host_id, kind, status, created_at, log_lines) VALUES ('${jobId}', '${en.body.host_id}', 'backup', 'succeeded', 1700000000000, ${N});
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N})
    INSERT INTO job_logs (job_id, seq, ts, stream, payload) SELECT '${jobId}', i, 1700000000000 + i, 'stdout', printf('line %08d %s', i, hex(randomblob(40))) FROM n;`]);
  // release build for the figures
  const rel = await h.startServer({ bin: h.relBinDir, dataDir: server.dataDir });
  const api2 = new h.Api(rel.url);
  await api2.login();
  const cookie = api2.cookieHeader();
  // a complete download: every line, in order, once
  const full = await h.httpRequest(`${rel.url}/api/jobs/${jobId}/log.txt`, { headers: { cookie }, timeout: 60000 });
  assert.equal(full.status, 200);
  const lines = full.buf.toString('utf8').trimEnd().split('\n');
  assert.equal(lines.length, N);
  assert.match(lines[0], /\[stdout\] line 00000001 /);
  assert.match(lines[N - 1], new RegExp(`\\[stdout\\] line ${String(N).padStart(8, '0')} `));
  const rss0 = rssKiB(rel.pid);
  // 10 viewers that never read + 5 that read at full speed, while /healthz is probed
  const stalled = [];
  for (let i = 0; i < 10; i++) {
    const s = net.connect(rel.port, '127.0.0.1');
    s.on('error', () => {});
    s.once('data', () => s.pause());
    s.on('connect', () => s.write(`GET /api/jobs/${jobId}/log.ndjson HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\n\r\n`));
    stalled.push(s);
  }
  const readers = Array.from({ length: 5 }, () => h.httpRequest(`${rel.url}/api/jobs/${jobId}/log.ndjson`, { headers: { cookie }, timeout: 120000 }));
  const lat = [];
  let done = false;
  Promise.all(readers).finally(() => { done = true; });
  const end = Date.now() + 60000;
  while (!done && Date.now() < end) {
    lat.push((await timedGet(`${rel.url}/healthz`)).ms);
    await h.sleep(20);
  }
  const got = await Promise.all(readers);
  for (const r of got) {
    assert.equal(r.status, 200);
    assert.equal(r.buf.toString('utf8').trimEnd().split('\n').length, N);
  }
  const rss1 = rssKiB(rel.pid);
  lat.sort((a, b) => a - b);
  const mb = (full.buf.length / 1048576).toFixed(1);
  figure(`log downloads (${mb} MiB log, 10 stalled + 5 reading): /healthz p50 ${lat[lat.length >> 1].toFixed(1)} ms, max ${lat[lat.length - 1].toFixed(1)} ms over ${lat.length} probes; RSS ${(rss0 / 1024).toFixed(1)} -> ${(rss1 / 1024).toFixed(1)} MiB`);
  assert.ok(lat[lat.length - 1] < 250, `healthz max latency ${lat[lat.length - 1]} ms while streaming`);
  assert.ok(rss1 - rss0 < 64 * 1024, `RSS grew by ${rss1 - rss0} KiB`);
  for (const s of stalled) s.destroy();
  await rel.stop();
});

// Raw WebSocket client able to send what well-behaved libraries refuse to.
function rawWs(port, pathq, protocol, headers = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let up = false;
    const ws = { sock: s, frames: [], closed: false };
    s.on('error', () => {});
    s.on('close', () => { ws.closed = true; if (!up) reject(new Error('closed before upgrade')); });
    s.on('connect', () => {
      const hd = { Host: `127.0.0.1:${port}`, Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Protocol': protocol, ...headers };
      s.write(`GET ${pathq} HTTP/1.1\r\n${Object.entries(hd).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!up) {
        const e = buf.indexOf('\r\n\r\n');
        if (e < 0) return;
        const head = buf.subarray(0, e).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(head)) { setTimeout(() => reject(new Error(buf.toString('latin1'))), 100); up = null; return; }
        up = true;
        buf = buf.subarray(e + 4);
        resolve(ws);
      }
      while (buf.length >= 2) {
        let len = buf[1] & 0x7f, off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        if (buf.length < off + len) return;
        ws.frames.push({ op: buf[0] & 0x0f, payload: buf.subarray(off, off + len) });
        buf = buf.subarray(off + len);
      }
    });
  });
}
const closeCode = (ws) => { const f = ws.frames.find((x) => x.op === 8); return f && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null; };

test('finding 7: binary and unmasked WebSocket frames are refused with a close code', async () => {
  const { server, api } = await h.startServerWithAdmin();
  const headers = { Cookie: api.cookieHeader(), Origin: server.url };
  // binary frame (masked) -> 1003
  let ws = await rawWs(server.port, '/api/events', 'rm-events.v1', headers);
  const mask = Buffer.from([1, 2, 3, 4]);
  const pl = Buffer.from('{"x":1}');
  const masked = Buffer.from(pl.map((b, i) => b ^ mask[i & 3]));
  ws.sock.write(Buffer.concat([Buffer.from([0x82, 0x80 | pl.length]), mask, masked]));
  await h.waitFor(() => closeCode(ws), { timeout: 5000, what: 'close frame after a binary frame' });
  assert.equal(closeCode(ws), 1003);
  await h.waitFor(() => ws.closed, { timeout: 5000, what: 'TCP close after 1003' });
  // unmasked text frame -> 1002
  ws = await rawWs(server.port, '/api/events', 'rm-events.v1', headers);
  ws.sock.write(Buffer.concat([Buffer.from([0x81, pl.length]), pl]));
  await h.waitFor(() => closeCode(ws), { timeout: 5000, what: 'close frame after an unmasked frame' });
  assert.equal(closeCode(ws), 1002);
  await h.waitFor(() => ws.closed, { timeout: 5000, what: 'TCP close after 1002' });
  // invalid UTF-8 in a text frame -> 1007
  ws = await rawWs(server.port, '/api/events', 'rm-events.v1', headers);
  const bad = Buffer.from([0xc3, 0x28]);
  ws.sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | bad.length]), mask, Buffer.from(bad.map((b, i) => b ^ mask[i & 3]))]));
  await h.waitFor(() => closeCode(ws), { timeout: 5000, what: 'close frame after invalid UTF-8' });
  assert.equal(closeCode(ws), 1007);
  assert.equal((await timedGet(`${server.url}/healthz`)).status, 200);
  await server.stop();
});
