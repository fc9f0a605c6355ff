// Small helpers for the benchmarks: server process, API client with cookie + CSRF, a
// minimal RFC 6455 client (Node 20 has no WebSocket client that can send a Cookie).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export async function waitFor(fn, { timeout = 10000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waitFor: timed out after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

export async function startServer({ bin, env = {} }) {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rm-bench-srv-'));
  const proc = spawn(path.join(bin, 'restic-manager-server'), [], {
    env: { ...process.env, RM_LISTEN: `127.0.0.1:${port}`, RM_DATA_DIR: dataDir, RM_COOKIE_SECURE: 'false', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (d) => { if (err.length < 1 << 20) err += d; });
  const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
  await waitFor(() => /listening/.test(err) || proc.exitCode !== null, { timeout: 20000, interval: 50 });
  if (proc.exitCode !== null) throw new Error(`server exited: ${err}`);
  const tok = /bootstrap token: (\S+)/.exec(err);
  return {
    url: `http://127.0.0.1:${port}`, port, dataDir, pid: proc.pid, proc, bootstrapToken: tok && tok[1],
    stderr: () => err,
    async stop() {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const r = await exited;
      clearTimeout(t);
      fs.rmSync(dataDir, { recursive: true, force: true });
      return r;
    },
  };
}

export class Api {
  constructor(base) { this.base = base; this.cookie = ''; this.csrf = ''; }
  cookieHeader() { return this.cookie; }
  async req(method, p, body, { noAuth = false } = {}) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (!noAuth && this.cookie) { headers.cookie = this.cookie; if (method !== 'GET') headers['x-csrf-token'] = this.csrf; }
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
    let r;
    try {
      r = await fetch(this.base + p, init);
    } catch (e) {
      // a pooled keep-alive socket the server closed while idle (long bare restic runs):
      // the request never reached the server, so one retry on a fresh socket is safe
      if (e.cause?.code !== 'UND_ERR_SOCKET') throw e;
      r = await fetch(this.base + p, init);
    }
    const sc = r.headers.get('set-cookie');
    if (sc && !noAuth) { const m = /rm_session=([^;]*)/.exec(sc); if (m) this.cookie = `rm_session=${m[1]}`; }
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    if (json && json.csrf_token && !noAuth) this.csrf = json.csrf_token;
    return { status: r.status, body: json };
  }
  get(p, o) { return this.req('GET', p, undefined, o); }
  post(p, b, o) { return this.req('POST', p, b ?? {}, o); }
  async bootstrap(token, username, password) {
    const r = await this.post('/api/bootstrap', { token, username, password });
    if (r.status !== 201) throw new Error(`bootstrap: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  }
}

export function wsConnect(url, protocol, cookie) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const msgHandlers = [];
    const closeHandlers = [];
    let frag = [];
    const api = {
      onMessage(f) { msgHandlers.push(f); },
      onClose(f) { closeHandlers.push(f); },
      close() { sock.destroy(); },
    };
    sock.on('connect', () => {
      sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocol}\r\n` +
        (cookie ? `Cookie: ${cookie}\r\n` : '') + '\r\n');
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        const head = buf.subarray(0, i).toString();
        if (!/^HTTP\/1\.1 101/.test(head)) { reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`)); sock.destroy(); return; }
        upgraded = true;
        buf = buf.subarray(i + 4);
        resolve(api);
      }
      for (;;) {
        if (buf.length < 2) return;
        const fin = buf[0] & 0x80; const op = buf[0] & 0x0f;
        let len = buf[1] & 0x7f; let o = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); o = 4; } else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); o = 10; }
        if (buf.length < o + len) return;
        const payload = buf.subarray(o, o + len);
        buf = buf.subarray(o + len);
        if (op === 8) { sock.end(); continue; }
        if (op === 1 || op === 0) { frag.push(payload); if (fin) { const t = Buffer.concat(frag).toString(); frag = []; msgHandlers.forEach((f) => f(t)); } }
      }
    });
    sock.on('close', () => { if (!upgraded) reject(new Error('closed before upgrade')); closeHandlers.forEach((f) => f()); });
    sock.on('error', () => {});
  });
}
