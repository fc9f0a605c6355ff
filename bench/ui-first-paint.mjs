// UI benchmark: seeds RM_BENCH_HOSTS (1,000) hosts through the API (enrollment tokens +
// /api/agents/enroll, 16 in parallel), then loads the dashboard in headless Chromium (cold
// cache, signed in) and measures first contentful paint, the time until the host count and
// the first screen of rows are painted (rows_ms), and the time from a keystroke in the
// search box / a click on a column head / a click on a status chip to the repainted rows.
//
// Server: RM_URL=http://127.0.0.1:8080 with RM_ADMIN_USER/RM_ADMIN_PASSWORD (or
// RM_BOOTSTRAP_TOKEN for a fresh server). Without RM_URL a server is started from
// RM_REL_BIN_DIR (default build/) on a free port with a temp data dir.
// Prints one JSON line: {"name":"ui_first_paint_1000_hosts","fcp_ms":..,"rows_ms":..,"search_ms":..,"sort_ms":..,"chip_ms":..}
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../tests/e2e/lib/browser.mjs';
import { startServer, cleanup, relBinDir } from '../tests/e2e/lib/harness.mjs';

const N = Number(process.env.RM_BENCH_HOSTS || 1000);
const RUNS = Number(process.env.RM_BENCH_RUNS || 3);
let url = process.env.RM_URL;
let user = process.env.RM_ADMIN_USER || 'admin';
let password = process.env.RM_ADMIN_PASSWORD || 'bench-password-1234';
let server = null;

if (!url) {
  server = await startServer({ bin: relBinDir, env: { RM_LOG_LEVEL: 'info' } });
  url = server.url;
  process.env.RM_BOOTSTRAP_TOKEN = server.bootstrapToken;
}

let cookie = '';
let csrf = '';
async function api(method, p, body, { auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && cookie) headers.Cookie = cookie;
  if (auth && csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const res = await fetch(url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const sc = res.headers.get('set-cookie');
  if (sc && /rm_session=/.test(sc)) cookie = sc.split(';')[0];
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${text.slice(0, 200)}`);
  return data;
}

async function signIn() {
  const st = await api('GET', '/api/bootstrap/status', undefined, { auth: false });
  let r;
  if (st.needed) {
    if (!process.env.RM_BOOTSTRAP_TOKEN) throw new Error('server needs bootstrap: set RM_BOOTSTRAP_TOKEN');
    r = await api('POST', '/api/bootstrap', { token: process.env.RM_BOOTSTRAP_TOKEN, username: user, password }, { auth: false });
  } else {
    r = await api('POST', '/api/auth/login', { username: user, password }, { auth: false });
  }
  csrf = r.csrf_token;
}

async function pool(items, width, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) { const k = i++; await fn(items[k], k); }
  }));
}

async function seed() {
  const have = (await api('GET', '/api/hosts')).hosts || [];
  const need = N - have.length;
  if (need <= 0) return have.length;
  const names = Array.from({ length: need }, (_, k) => `bench-ui-${String(have.length + k).padStart(5, '0')}`);
  await pool(names, 16, async (hostname, k) => {
    const t = await api('POST', '/api/enrollment-tokens', {
      hostname, tags: k % 3 ? ['prod'] : ['dev', 'db'], repo_url: `/srv/restic/${hostname}`, repo_password: 'bench-repo-password', initial_paths: ['/etc'],
    });
    await api('POST', '/api/agents/enroll', {
      token: t.token, hostname, os: 'linux', arch: k % 4 ? 'amd64' : 'arm64', agent_version: '0.1.0', restic_version: '0.14.0',
    }, { auth: false });
  });
  return (await api('GET', '/api/hosts')).hosts.length;
}

async function measure(browser) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const [name, value] = cookie.split('=');
  await context.addCookies([{ name, value, url }]);
  await context.addInitScript((want) => {
    try { localStorage.setItem('rm.signedIn', '1'); } catch { /* ignore */ }
    window.__rowsAt = null;
    // rows painted = the count line names every host and the first screen of rows exists
    // (the list is windowed: rows far below the fold are built when scrolled to)
    const label = `${want.toLocaleString('en-US')} host${want === 1 ? '' : 's'}`;
    const mo = new MutationObserver(() => {
      const count = document.querySelector('[data-testid="host-count"]');
      if (window.__rowsAt === null && count && count.textContent === label && document.querySelectorAll('[data-host-id]').length >= Math.min(want, 20)) {
        mo.disconnect();
        const t = performance.now();
        // the frame after the DOM holds every row is when they are painted
        requestAnimationFrame(() => setTimeout(() => { window.__rowsAt = Math.max(t, performance.now()); }, 0));
      }
    });
    // the whole list in: the filter bar is no longer busy (chips and search usable)
    window.__fullAt = null;
    const mo2 = new MutationObserver(() => {
      if (window.__fullAt === null && document.querySelector('[data-testid="dash-filters"][aria-busy="false"]')) {
        mo2.disconnect();
        requestAnimationFrame(() => setTimeout(() => { window.__fullAt = performance.now(); }, 0));
      }
    });
    document.addEventListener('DOMContentLoaded', () => {
      mo.observe(document.body, { childList: true, subtree: true });
      mo2.observe(document.body, { childList: true, subtree: true, attributes: true });
    });
  }, N);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${url}/`, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.__rowsAt !== null && window.__fullAt !== null, null, { timeout: 30000 });
  const r = await page.evaluate(() => ({
    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null,
    rows: window.__rowsAt,
    full: window.__fullAt,
    res: performance.getEntriesByType('resource').map((e) => `${e.name.replace(location.origin, '')} ${Math.round(e.startTime)}-${Math.round(e.responseEnd)} ${e.encodedBodySize}/${e.decodedBodySize}`),
  }));
  if (process.env.RM_BENCH_DEBUG) console.error(JSON.stringify(r));
  // keystroke / click to repainted rows: the input starts the clock (capture phase), the
  // first DOM change of the host list or the count after it, plus one frame, stops it
  const timed = async (act) => {
    await page.evaluate(() => {
      window.__lat = null;
      window.__t0 = null;
      const start = () => { if (window.__t0 === null) window.__t0 = performance.now(); };
      document.addEventListener('keydown', start, { capture: true, once: true });
      document.addEventListener('pointerdown', start, { capture: true, once: true });
      const mo = new MutationObserver(() => {
        if (window.__t0 === null) return;
        mo.disconnect();
        requestAnimationFrame(() => setTimeout(() => { window.__lat = performance.now() - window.__t0; }, 0));
      });
      mo.observe(document.querySelector('[data-testid="dashboard"]'), { childList: true, subtree: true, characterData: true, attributes: true });
    });
    await act();
    await page.waitForFunction(() => window.__lat !== null, null, { timeout: 10000 });
    return page.evaluate(() => window.__lat);
  };
  await page.locator('#dash-q').focus();
  r.search = await timed(() => page.keyboard.type('7'));
  r.sort = await timed(() => page.getByTestId('dash-sort-os').click());
  r.chip = await timed(() => page.getByTestId('dash-status-never').click());
  await page.waitForURL((u) => u.search.includes('status=never') && u.search.includes('sort=os'));
  await context.close();
  if (errors.length) throw new Error(`console errors: ${errors.join('; ')}`);
  return r;
}

let out;
try {
  await signIn();
  const hosts = await seed();
  if (hosts < N) throw new Error(`only ${hosts} hosts after seeding`);
  const browser = await chromium.launch({ executablePath: process.env.RM_CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const runs = [];
  try {
    await measure(browser); // warm the server's caches, not the browser's (new context each run)
    for (let i = 0; i < RUNS; i++) runs.push(await measure(browser));
  } finally { await browser.close(); }
  const med = (k) => { const v = runs.map((r) => r[k]).sort((a, b) => a - b); return Math.round(v[Math.floor(v.length / 2)]); };
  out = { name: `ui_first_paint_${N}_hosts`, fcp_ms: med('fcp'), rows_ms: med('rows'), full_ms: med('full'), search_ms: med('search'), sort_ms: med('sort'), chip_ms: med('chip'), hosts, runs: RUNS, target_ms: 1000 };
} finally {
  if (server) {
    await server.stop({ check: false }).catch(() => {});
    await cleanup();
  }
}
console.log(JSON.stringify(out));
