// restic-manager web UI entry: history-API router, chrome, auth gating.
import './style.css';
import { session, setSession, maybeSignedIn, get, post, setUnauthorizedHandler } from './api.js';
import { html, render, nothing, keyed } from './html.js';
import { refreshRelTimes, busy } from './util.js';
import { setNavigator, currentPath, safeNext } from './router.js';
import * as bootstrapPage from './pages/bootstrap.js';
import * as loginPage from './pages/login.js';
import * as dashboardPage from './pages/dashboard.js';
import * as hostNewPage from './pages/host-new.js';
import * as pendingPage from './pages/pending.js';
import * as hostPage from './pages/host.js';
import * as hostsDeletedPage from './pages/hosts-deleted.js';
import * as jobPage from './pages/job.js';
import * as auditPage from './pages/audit.js';
import * as restorePage from './pages/restore-wizard.js';
import * as snapshotPage from './pages/snapshot.js';
import * as snapshotDiffPage from './pages/snapshot-diff.js';
import * as usersPage from './pages/users.js';
import * as accountPage from './pages/account.js';
import * as setupPage from './pages/setup.js';
import * as alertsPage from './pages/alerts.js';
import * as channelsPage from './pages/channels.js';
import * as rulesPage from './pages/rules.js';
import * as fleetUpdatePage from './pages/fleet-update.js';
import * as pendingHostsPage from './pages/pending-hosts.js';
import { attachPendingCount, detachPendingCount } from './pendingcount.js';
import { attachAlertCount, detachAlertCount } from './alertcount.js';

const routes = [
  [/^\/bootstrap$/, bootstrapPage, { public: true }],
  [/^\/login$/, loginPage, { public: true }],
  [/^\/setup$/, setupPage, { public: true }],
  [/^\/$/, dashboardPage, {}],
  [/^\/hosts\/new$/, hostNewPage, {}],
  [/^\/hosts\/pending\/([^/]+)$/, pendingPage, {}],
  [/^\/hosts\/deleted$/, hostsDeletedPage, {}],
  [/^\/hosts\/([^/]+)\/restore$/, restorePage, {}],
  [/^\/hosts\/([^/]+)$/, hostPage, {}],
  [/^\/hosts\/([^/]+)\/snapshots\/([^/]+)$/, snapshotPage, {}],
  [/^\/hosts\/([^/]+)\/diff$/, snapshotDiffPage, {}],
  [/^\/jobs\/([^/]+)$/, jobPage, {}],
  [/^\/audit$/, auditPage, {}],
  [/^\/users$/, usersPage, {}],
  [/^\/account$/, accountPage, {}],
  [/^\/alerts$/, alertsPage, {}],
  [/^\/alerts\/channels$/, channelsPage, {}],
  [/^\/alerts\/rules$/, rulesPage, {}],
  [/^\/fleet\/update$/, fleetUpdatePage, {}],
  [/^\/pending-hosts$/, pendingHostsPage, {}],
];

const app = document.getElementById('app');
let cleanups = [];
let navSeq = 0;
let bootstrapNeeded = null;

function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search && !replace) { route(); return; }
  if (replace) history.replaceState(null, '', to); else history.pushState(null, '', to);
  requeryOrRoute();
}

// A page that keeps its state in the query (ctx.onQuery, the dashboard) takes a change of
// query alone (back/forward, a link to the same path) without being mounted again.
let current = null; // { path, ctx } of the mounted page
function requeryOrRoute() {
  if (current && current.ctx.onQuery && current.ctx.alive() && current.path === location.pathname) {
    current.ctx.query = new URLSearchParams(location.search);
    current.ctx.onQuery(current.ctx.query);
    return;
  }
  route();
}

function runCleanups() {
  const cs = cleanups;
  cleanups = [];
  for (const fn of cs) { try { fn(); } catch { /* ignore */ } }
}

async function checkBootstrap() {
  if (bootstrapNeeded === false) return false;
  try {
    const r = await get('/api/bootstrap/status', { quiet: true });
    bootstrapNeeded = !!(r && r.needed);
  } catch { bootstrapNeeded = false; }
  return bootstrapNeeded;
}

let meLoaded = false;
let mePromise = null;
function loadMe() {
  if (!mePromise) {
    mePromise = (async () => {
      if (!maybeSignedIn()) return;
      if (location.pathname === '/') dashboardPage.prefetch();
      try { setSession(await get('/api/me', { quiet: true, auth: false })); } catch { setSession(null); }
    })().finally(() => { meLoaded = true; });
  }
  return mePromise;
}

async function signOut(ev) {
  let out = null;
  await busy(ev.currentTarget, async () => {
    try { out = await post('/api/auth/logout', {}, { auth: false }); } catch { /* toast shown */ }
  });
  setSession(null);
  detachAlertCount();
  detachPendingCount();
  // single sign-on: also end the provider's session (RP-initiated logout)
  if (out && out.redirect_url && /^https?:\/\//.test(out.redirect_url)) { location.assign(out.redirect_url); return; }
  navigate('/login', { replace: true });
}

function chrome(active) {
  const u = session.user;
  const link = (href, label, key, testid) => html`<a href=${href} class="nav-link${active === key ? ' active' : ''}" aria-current=${active === key ? 'page' : nothing} data-testid=${testid}>${label}</a>`;
  return html`<header class="topbar">
  <a href="/" class="brand" aria-label="restic-manager home"><span class="brand-mark" aria-hidden="true"></span>restic-manager</a>
  <nav class="nav" aria-label="main">
    ${link('/', 'Dashboard', 'dashboard', 'nav-dashboard')}
    ${u ? html`<a href="/alerts" class="nav-link${active === 'alerts' ? ' active' : ''}" aria-current=${active === 'alerts' ? 'page' : nothing} data-testid="nav-alerts">Alerts <span id="nav-alerts-slot"></span></a>` : nothing}
    ${!u || u.role !== 'viewer' ? link('/hosts/new', 'Add host', 'add', 'nav-add-host') : nothing}
    ${u && u.role !== 'viewer' ? html`<a href="/pending-hosts" class="nav-link${active === 'pending' ? ' active' : ''}" aria-current=${active === 'pending' ? 'page' : nothing} data-testid="nav-pending">Pending <span id="nav-pending-slot"></span></a>` : nothing}
    ${u && u.role === 'admin' ? link('/users', 'Users', 'users', 'nav-users') : nothing}
    ${u && u.role === 'admin' ? link('/audit', 'Audit', 'audit', 'nav-audit') : nothing}
    ${u && u.role === 'admin' ? link('/fleet/update', 'Updates', 'updates', 'nav-updates') : nothing}
  </nav>
  <div class="who">${u ? html`<a href="/account" class="mono muted nav-link${active === 'account' ? ' active' : ''}" data-testid="whoami" title="Account: password, sessions, API tokens">${u.username} · ${u.role}</a>
    <button type="button" class="btn btn-ghost btn-sm" data-testid="signout" @click=${signOut}>Sign out</button>` : nothing}</div>
</header><main id="main" class="main" tabindex="-1"></main>`;
}

const publicShell = html`<main id="main" class="main main-center" tabindex="-1"></main>`;

// Every navigation builds the shell anew (keyed on the navigation), as a full page load
// would: no element, listener or focus survives into the next page.
const mountShell = (seq, tpl) => {
  render(keyed(seq, tpl), app);
  attachAlertCount(document.getElementById('nav-alerts-slot'));
  attachPendingCount(document.getElementById('nav-pending-slot'));
  return document.getElementById('main');
};

async function route() {
  const seq = ++navSeq;
  runCleanups();
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const query = new URLSearchParams(location.search);
  let match = null;
  for (const [re, mod, meta] of routes) {
    const m = path.match(re);
    if (m) { match = { mod, meta, params: m.slice(1).map(decodeURIComponent) }; break; }
  }
  if (!meLoaded && maybeSignedIn() && match && !match.meta.public) {
    // paint the shell right away; the page fills in once /api/me answers
    mountShell(seq, chrome(match.mod.navKey || ''));
  }
  await loadMe();
  if (seq !== navSeq) return;

  if (!match) {
    render(html`<div class="empty"><h1>Not found</h1><p class="muted">No page at <span class="mono">${path}</span>.</p><a class="btn" href="/">Back to dashboard</a></div>`,
      mountShell(seq, chrome('')));
    document.title = 'Not found · restic-manager';
    return;
  }
  const isLogin = match.mod === loginPage;
  if (!session.user && (!match.meta.public || isLogin)) {
    if (await checkBootstrap()) {
      if (seq !== navSeq) return;
      if (match.mod !== bootstrapPage) { navigate('/bootstrap', { replace: true }); return; }
    } else if (!match.meta.public) {
      if (seq !== navSeq) return;
      const next = currentPath();
      navigate(next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`, { replace: true });
      return;
    }
  }
  if (seq !== navSeq) return;
  if (session.user && (isLogin || match.mod === bootstrapPage)) {
    navigate(safeNext(query.get('next')), { replace: true });
    return;
  }

  const main = mountShell(seq, match.meta.public ? publicShell : chrome(match.mod.navKey || ''));
  const ctx = {
    el: main,
    params: match.params,
    query,
    alive: () => seq === navSeq,
    onCleanup: (fn) => { if (seq === navSeq) cleanups.push(fn); else fn(); },
  };
  current = { path: location.pathname, ctx };
  try {
    await match.mod.mount(ctx);
  } catch (e) {
    if (seq === navSeq && e && e.status !== 401) {
      render(html`<div class="empty" data-testid="page-error"><h1>Could not load this page</h1><p class="muted">${String(e.message || e)}</p></div>`, main);
    }
  }
  if (seq === navSeq) {
    document.title = `${ctx.title || match.mod.title || 'restic-manager'} · restic-manager`;
  }
}

setUnauthorizedHandler(() => {
  const here = currentPath();
  if (location.pathname === '/login' || location.pathname === '/bootstrap') return;
  navigate(`/login?next=${encodeURIComponent(here)}`, { replace: true });
});

// Link interception: same-origin, plain left clicks, no download/target.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest && ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/install/')) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});

setNavigator(navigate);
window.addEventListener('popstate', requeryOrRoute);
setInterval(() => refreshRelTimes(), 30000);
document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshRelTimes(); });

route();
