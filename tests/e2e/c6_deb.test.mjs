// C6 packages: scripts/build-deb.sh (what `make deb` runs) builds the server and agent .debs
// from the release binaries; lintian reports no errors; unpacking them into a scratch dpkg
// root lays out the binaries, the systemd units, the conffile, man pages and docs, and
// dpkg registers /etc/restic-manager/server.yaml as a conffile. Maintainer scripts are
// checked for syntax and for the keep-on-remove / delete-on-purge contract (they are not
// run: that would need a chroot with a shell and systemd).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

after(h.cleanup);

const S = {};
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts });

before(() => {
  S.out = h.tmpDir('rm-e2e-deb-');
  const version = fs.readFileSync(path.join(h.repoRoot, 'VERSION'), 'utf8').trim();
  const debs = run(path.join(h.repoRoot, 'scripts/build-deb.sh'), [h.relBinDir, S.out, version, 'test'])
    .trim().split('\n');
  S.server = debs.find((d) => /restic-manager-server_/.test(d));
  S.agent = debs.find((d) => /restic-manager-agent_/.test(d));
  assert.ok(S.server && S.agent, debs.join('\n'));
  S.version = `${version}-1`;
});

test('lintian: no errors on either package (warnings listed)', () => {
  const r = spawnSync('lintian', ['--fail-on', 'error', '--pedantic', '--info', S.server, S.agent], { encoding: 'utf8', timeout: 120000 });
  const tags = (r.stdout + r.stderr).split('\n').filter((l) => /^[EWIPX]: /.test(l));
  assert.equal(r.status, 0, `lintian failed (${r.status}):\n${r.stdout}${r.stderr}`);
  assert.deepEqual(tags.filter((t) => t.startsWith('E: ')), []);
  // the only accepted warning: the first changelog entry closes no ITP bug
  const unexpected = tags.filter((t) => !/initial-upload-closes-no-bugs/.test(t));
  assert.deepEqual(unexpected, [], 'unexpected lintian tags');
});

test('control fields: dependencies, conffiles, maintainer scripts', () => {
  const f = (deb, field) => run('dpkg-deb', ['-f', deb, field]).trim();
  assert.equal(f(S.server, 'Version'), S.version);
  assert.match(f(S.server, 'Depends'), /libsqlite3-0/);
  assert.match(f(S.server, 'Depends'), /adduser/);
  assert.match(f(S.agent, 'Depends'), /\brestic\b/);
  assert.match(f(S.agent, 'Depends'), /libwebsockets-evlib-uv/);
  const ctl = h.tmpDir('rm-e2e-deb-ctl-');
  for (const [name, deb] of [['server', S.server], ['agent', S.agent]]) {
    const d = path.join(ctl, name);
    run('dpkg-deb', ['-e', deb, d]);
    for (const s of ['postinst', 'prerm', 'postrm']) {
      const p = path.join(d, s);
      assert.ok(fs.statSync(p).mode & 0o111, `${name} ${s} executable`);
      run('sh', ['-n', p]);
    }
    const postinst = fs.readFileSync(path.join(d, 'postinst'), 'utf8');
    assert.match(postinst, /deb-systemd-invoke \$_?\w*\s*start|deb-systemd-invoke start/, `${name} postinst starts the unit`);
    const postrm = fs.readFileSync(path.join(d, 'postrm'), 'utf8');
    // data is deleted only under "purge"
    const purge = postrm.slice(postrm.indexOf('if [ "$1" = purge ]'));
    assert.match(purge, /rm -rf \/var\/lib\/restic-manager/, `${name} purge removes its state`);
    assert.doesNotMatch(postrm.slice(0, postrm.indexOf('if [ "$1" = purge ]')), /rm -rf/, `${name} remove keeps data`);
  }
  assert.equal(fs.readFileSync(path.join(ctl, 'server/conffiles'), 'utf8'), '/etc/restic-manager/server.yaml\n');
  assert.match(fs.readFileSync(path.join(ctl, 'server/postinst'), 'utf8'), /adduser --system/);
});

test('unpacked into a scratch dpkg root: binaries, units, conffile, man pages, docs', () => {
  const root = h.tmpDir('rm-e2e-deb-root-');
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), '');
  // --unpack runs no maintainer script (there is no preinst): no chroot needed
  run('dpkg', ['--root', root, '--force-depends', '--force-not-root', '--unpack', S.server, S.agent]);
  const status = run('dpkg', ['--root', root, '-s', 'restic-manager-server']);
  assert.match(status, /Status: install ok unpacked/);
  assert.match(status, /Conffiles:\n \/etc\/restic-manager\/server\.yaml (newconffile|[0-9a-f]{32})$/m);
  const must = [
    'usr/bin/restic-manager-server', 'usr/bin/restic-manager-agent',
    'lib/systemd/system/restic-manager-server.service', 'lib/systemd/system/restic-manager-agent.service',
    // a conffile stays <name>.dpkg-new until configure moves it into place
    'etc/restic-manager/server.yaml.dpkg-new',
    'usr/share/man/man8/restic-manager-server.8.gz', 'usr/share/man/man8/restic-manager-agent.8.gz',
    'usr/share/doc/restic-manager-server/copyright', 'usr/share/doc/restic-manager-agent/copyright',
    'usr/share/doc/restic-manager-server/changelog.Debian.gz',
    'usr/share/doc/restic-manager-server/examples/grafana-dashboard.json',
  ];
  for (const m of must) assert.ok(fs.existsSync(path.join(root, m)), `missing /${m}`);
  assert.equal(fs.statSync(path.join(root, 'usr/bin/restic-manager-server')).mode & 0o777, 0o755);
  const ver = run(path.join(root, 'usr/bin/restic-manager-server'), ['--version']);
  assert.match(ver, /^restic-manager-server \d+\.\d+\.\d+/);
  const su = fs.readFileSync(path.join(root, 'lib/systemd/system/restic-manager-server.service'), 'utf8');
  assert.match(su, /^ExecStart=\/usr\/bin\/restic-manager-server --config \/etc\/restic-manager\/server\.yaml$/m);
  assert.match(su, /^User=restic-manager$/m);
  assert.match(su, /^StateDirectory=restic-manager-server$/m);
  assert.match(su, /^ProtectSystem=strict$/m);
  const au = fs.readFileSync(path.join(root, 'lib/systemd/system/restic-manager-agent.service'), 'utf8');
  assert.match(au, /^ExecStart=\/usr\/bin\/restic-manager-agent run$/m);
  assert.match(au, /^ConditionPathExists=\/etc\/restic-manager\/agent\.yaml$/m);
  assert.doesNotMatch(su + au, /\/usr\/local\//);
  // the shipped config is the documented example and parses
  const cfg = run(path.join(root, 'usr/bin/restic-manager-server'), ['--config', path.join(root, 'etc/restic-manager/server.yaml.dpkg-new'), '--print-config']);
  assert.match(cfg, /listen/);
  // the unit files pass systemd's own checker (ExecStart pointed at the unpacked binaries:
  // verify wants them executable)
  const sadir = h.tmpDir('rm-e2e-deb-units-');
  for (const [u, text] of [['restic-manager-server', su], ['restic-manager-agent', au]]) {
    fs.writeFileSync(path.join(sadir, `${u}.service`), text.replace(/^ExecStart=\/usr\/bin\//m, `ExecStart=${root}/usr/bin/`));
  }
  const sa = spawnSync('systemd-analyze', ['verify', path.join(sadir, 'restic-manager-server.service'), path.join(sadir, 'restic-manager-agent.service')], { encoding: 'utf8', timeout: 30000 });
  assert.equal(sa.status, 0, `systemd-analyze verify: ${sa.stderr}`);
  assert.equal(sa.stderr.trim(), '', sa.stderr);
  // man pages render without warnings
  for (const m of ['restic-manager-server', 'restic-manager-agent']) {
    const r = spawnSync('man', ['--warnings', '-l', path.join(root, `usr/share/man/man8/${m}.8.gz`)], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '' }, timeout: 30000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', `${m}.8 warnings: ${r.stderr}`);
    assert.match(r.stdout, /SYNOPSIS/);
  }
});

test('the server hands out the agent package at /agent/deb (install.sh prefers it on Debian)', async () => {
  const dir = h.tmpDir('rm-e2e-deb-serve-');
  const arch = run('dpkg', ['--print-architecture']).trim();
  const srv = await h.startServer({ env: { RM_AGENT_BINARY_DIR: dir } });
  let r = await h.httpRequest(`${srv.url}/agent/deb?arch=${arch}`);
  assert.equal(r.status, 404, 'no package placed yet');
  fs.copyFileSync(S.agent, path.join(dir, `restic-manager-agent-linux-${arch}.deb`));
  r = await h.httpRequest(`${srv.url}/agent/deb?arch=${arch}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/vnd.debian.binary-package');
  assert.ok(r.buf.equals(fs.readFileSync(S.agent)), 'served bytes = the package');
  r = await h.httpRequest(`${srv.url}/agent/deb`);
  assert.equal(r.status, 200, 'default: the server\'s own arch');
  for (const bad of ['sparc', '../x', 'amd64%2F..']) {
    r = await h.httpRequest(`${srv.url}/agent/deb?arch=${bad}`);
    assert.equal(r.status, 404, bad);
  }
  const sh = (await h.httpRequest(`${srv.url}/install/install.sh`)).buf.toString();
  assert.match(sh, /\/agent\/deb\?arch=/);
  assert.match(sh, /apt-get install -y -q "\$debdir\/restic-manager-agent.deb"/);
  await srv.stop();
});

// No container engine runs here; this checks what can be checked without one: the
// image's runtime packages cover the server's shared-library dependencies (the ones
// dpkg-shlibdeps found for the .deb), it runs as non-root with a volume and a healthcheck.
test('deploy/Containerfile: runtime packages cover the server libraries; non-root, volume, healthcheck', () => {
  const cf = fs.readFileSync(path.join(h.repoRoot, 'deploy/Containerfile'), 'utf8');
  const stages = cf.split(/^FROM /m).slice(1);
  assert.equal(stages.length, 2, 'multi-stage');
  assert.match(stages[0], /^docker\.io\/library\/debian:12 AS build/);
  const runStage = stages[1];
  assert.match(runStage, /^docker\.io\/library\/debian:12-slim/);
  const installed = new Set(/apt-get install[^\n]*\n((?:[^\n]*\\\n)*)/.exec(runStage)[1].split(/[\s\\]+/).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w)));
  const deps = run('dpkg-deb', ['-f', S.server, 'Depends']).split(',').map((d) => d.trim().split(' ')[0]);
  for (const d of deps) {
    if (d === 'libc6' || d === 'adduser') continue;
    assert.ok(installed.has(d), `runtime stage lacks ${d} (has ${[...installed].join(' ')})`);
  }
  assert.match(runStage, /^USER 10001:10001$/m);
  assert.match(runStage, /^VOLUME \["\/var\/lib\/restic-manager-server"\]$/m);
  assert.match(runStage, /HEALTHCHECK[^\n]*\\\n\s*CMD curl -fsS[^\n]*\/healthz/);
  assert.match(runStage, /RM_LISTEN=0\.0\.0\.0:8080/);
  assert.ok(installed.has('curl'), 'the healthcheck needs curl');
});
