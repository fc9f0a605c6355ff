// Every route of the server's ONE route table, generated from `--print-routes`, checked for
// 401 (no session), 403 (role too low, or a cookie mutation without the CSRF header) and
// access for every role that is high enough. Users for the lower roles are added straight
// into the SQLite store (C1 has no user management API yet), sharing the admin's
// Argon2id hash so they sign in through the real login route.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { binDir, cleanup, startServerWithAdmin, Api } from './lib/harness.mjs';

after(cleanup);

const ROLES = { public: 0, viewer: 1, operator: 2, admin: 3 };
const routes = execFileSync(path.join(binDir, 'restic-manager-server'), ['--print-routes'])
  .toString().trim().split('\n').map((l) => JSON.parse(l));
const fill = (p) => p.replace(/\{[a-z_]+\}/g, '01JZZZZZZZZZZZZZZZZZZZZZZZ');

test('the route table is non-trivial and every route has a known role', () => {
  assert.ok(routes.length >= 20, `only ${routes.length} routes`);
  for (const r of routes) assert.ok(r.role in ROLES, `${r.method} ${r.pattern}: role ${r.role}`);
  assert.ok(routes.some((r) => r.role === 'admin'));
  assert.ok(routes.some((r) => r.role === 'operator'));
});

test('every route: 401 without a session, 403 below its role, allowed at or above it', async () => {
  const password = 'correct horse battery';
  const { server, api: admin } = await startServerWithAdmin({ password });
  const db = path.join(server.dataDir, 'restic-manager.db');
  for (const role of ['viewer', 'operator']) {
    execFileSync('sqlite3', [db, `INSERT INTO users (id, username, role, pw_hash, created_at, updated_at)
      SELECT '01JROLE${role.toUpperCase().padEnd(18, 'X').slice(0, 18)}', '${role}', '${role}', pw_hash, created_at, updated_at
      FROM users WHERE username = 'admin'`]);
  }
  const sessions = { admin };
  for (const role of ['viewer', 'operator']) {
    sessions[role] = new Api(server.url);
    await sessions[role].login(role, password);
  }
  const anon = new Api(server.url);
  const body = (r) => (r.method === 'GET' ? undefined : {});
  let checked = 0;
  for (const r of routes) {
    const p = fill(r.pattern);
    const need = ROLES[r.role];
    const a = await anon.req(r.method, p, body(r));
    if (need === ROLES.public) {
      // public routes may still refuse bad credentials of their own (enroll: bad_token)
      assert.notEqual(a.body && a.body.code, 'unauthenticated', `${r.method} ${p} is public: ${a.text}`);
      assert.notEqual(a.status, 403, `${r.method} ${p} is public but answered 403`);
    } else {
      assert.equal(a.status, 401, `${r.method} ${p} without a session: ${a.status} ${a.text}`);
      assert.equal(a.body && a.body.code, 'unauthenticated', `${r.method} ${p}: ${a.text}`);
    }
    for (const [role, api] of Object.entries(sessions)) {
      if (r.pattern === '/api/auth/logout') continue; // would end the session under test
      const res = await api.req(r.method, p, body(r));
      if (ROLES[role] < need) {
        assert.equal(res.status, 403, `${r.method} ${p} as ${role}: ${res.status} ${res.text}`);
        assert.equal(res.body && res.body.code, 'forbidden', `${r.method} ${p} as ${role}: ${res.text}`);
      } else {
        const code = res.body && res.body.code;
        assert.ok(!['unauthenticated', 'forbidden', 'csrf'].includes(code) && res.status !== 403,
          `${r.method} ${p} as ${role} (route needs ${r.role}): ${res.status} ${res.text}`);
      }
      if (r.method !== 'GET' && need > ROLES.public && ROLES[role] >= need) {
        const noCsrf = await api.req(r.method, p, body(r), { csrf: false });
        assert.equal(noCsrf.status, 403, `${r.method} ${p} as ${role} without CSRF: ${noCsrf.status}`);
        assert.equal(noCsrf.body && noCsrf.body.code, 'csrf');
      }
      checked++;
    }
  }
  assert.ok(checked >= routes.length * 2);
  // logout is checked last, for each role
  for (const api of Object.values(sessions)) {
    const r = await api.post('/api/auth/logout', {});
    assert.ok(r.status === 204 || r.status === 200, `logout: ${r.status}`);
    assert.equal((await api.get('/api/me')).status, 401);
  }
  await server.stop();
});
