// Playwright helpers for the browser end-to-end tests and the UI benchmark. Server, agent
// and data helpers live in ./harness.mjs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { cleanup } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const artifactsDir = path.join(repoRoot, 'tests/e2e/artifacts');

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-gpu', '--no-first-run', '--disable-sync', '--disable-dev-shm-usage'];

// Fresh user-data-dir per launch; returns { context, page, errors, close }.
export async function launchBrowser({ viewport = { width: 1360, height: 900 } } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rm-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.RM_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timeout: 30000,
  });
  context.setDefaultTimeout(20000);
  context.setDefaultNavigationTimeout(20000);
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  const watch = (p) => {
    p.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text()} @ ${p.url()}`); });
    p.on('pageerror', (e) => errors.push(`pageerror: ${e.message} @ ${p.url()}`));
  };
  watch(page);
  context.on('page', watch);
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, page, errors, close };
}

export async function screenshot(page, name) {
  const file = path.join(artifactsDir, `${name}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
}

// The end of a browser test: the browser and any extra contexts closed, the agents and the
// server still running stopped (their clean exit is asserted by the harness), then the
// harness's cleanup, whatever failed before.
export async function closeAll({ browser, contexts = [], agents = [], server } = {}) {
  try {
    if (browser) await browser.close();
    for (const c of contexts) if (c) await c.close();
    for (const a of agents) if (a && a.alive()) await a.stop();
    if (server && server.alive()) await server.stop();
  } finally {
    await cleanup();
  }
}

// step(name, fn[, page]) or step(name, page, fn) runs one step of a scenario; when it fails, the page (default
// S.browser.page) is screenshotted as FAILED-<name> (through shot) and the error gets the
// page's URL and the tails of the server's stderr and of each agent named in agents
// (keys of S, read when the step fails: S is filled in by before()).
export function stepper(S, shot, { agents = [], tail = 3000 } = {}) {
  return async (name, a, b) => {
    const [fn, page] = typeof a === 'function' ? [a, b || S.browser.page] : [b, a]; // (name, page, fn) too
    try { await fn(); } catch (e) {
      await shot(page, `FAILED-${name}`).catch(() => {});
      let msg = `\n[step ${name}] url=${page.url()}\n--- server ---\n${S.server.stderr().slice(-tail)}`;
      for (const k of agents) msg += `\n--- ${k} ---\n${S[k] ? S[k].allStderr().slice(-tail) : '(none)'}`;
      e.message += msg;
      throw e;
    }
  };
}
