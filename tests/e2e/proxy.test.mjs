// RM_TRUSTED_PROXY: X-Forwarded-For is believed only from a trusted peer; the audit log
// records the client address the server settled on. A bad CIDR stops the server at start.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, startServerWithAdmin, startServer, Api } from './lib/harness.mjs';

after(cleanup);

async function loginIp(env) {
  const password = 'correct horse battery';
  const { server, api } = await startServerWithAdmin({ env, password });
  const u = new Api(server.url);
  const r = await u.req('POST', '/api/auth/login', { username: 'admin', password },
    { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } });
  assert.equal(r.status, 200, r.text);
  const a = await api.get('/api/audit?action=login&limit=5');
  assert.equal(a.status, 200, a.text);
  const ip = a.body.entries[0].detail.ip;
  await server.stop();
  return ip;
}

test('X-Forwarded-For is ignored from an untrusted peer', async () => {
  assert.equal(await loginIp({}), '127.0.0.1');
});

test('X-Forwarded-For is honoured from a trusted proxy (right-most untrusted hop)', async () => {
  assert.equal(await loginIp({ RM_TRUSTED_PROXY: '127.0.0.0/8, ::1' }), '203.0.113.9');
});

test('an invalid RM_TRUSTED_PROXY stops the server with a clear error', async () => {
  await assert.rejects(startServer({ env: { RM_TRUSTED_PROXY: '10.0.0.0/99' } }), /prefix length|trusted proxy/);
});
