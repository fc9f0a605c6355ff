#!/usr/bin/env node
// Layer check (docs/internals/architecture.md): parses every `#include "..."` under src/,
// maps files to modules, and fails when
//   1. a module includes one that its row of LAYERS does not list (an upward or sideways
//      include, or server <-> agent),
//   2. a private header (*_int.h) is included from outside its directory,
//   3. compilation units (x.c with its x.h) depend on each other in a cycle, within a
//      module or across modules (e.g. ws/agent_hub <-> ws/event_hub): x.c depends on y
//      when it includes y.h directly or through other headers, and y.c exists.
// Usage: node tools/check-layers.mjs [--root DIR] [--graph]   (DIR defaults to ./src)
import fs from 'node:fs';
import path from 'node:path';

// module -> the modules it may include (besides itself). Keep in sync with the map in
// docs/internals/architecture.md.
const LAYERS = {
  common: [],
  'server/core': ['common'],                       // app.h (context struct), config
  'server/store': ['common'],
  'server/engine': ['common', 'server/core', 'server/store'],
  'server/http': ['common', 'server/core'],        // transport: calls up only via callbacks
  'server/api': ['common', 'server/core', 'server/store', 'server/engine', 'server/http'],
  'server/ws': ['common', 'server/core', 'server/store', 'server/engine', 'server/http'],
  'server/main': ['common', 'server/core', 'server/store', 'server/engine', 'server/http', 'server/api', 'server/ws'],
  'agent/core': ['common'],                        // config, secrets, hooks
  'agent/restic': ['common', 'agent/core'],
  'agent/runner': ['common', 'agent/core', 'agent/restic'],
  'agent/scheduler': ['common', 'agent/core', 'agent/restic', 'agent/runner'],
  'agent/ws': ['common', 'agent/core', 'agent/restic', 'agent/runner', 'agent/scheduler'],
  'agent/main': ['common', 'agent/core', 'agent/restic', 'agent/runner', 'agent/scheduler', 'agent/ws'],
};

const args = process.argv.slice(2);
const rootArg = args.indexOf('--root');
const root = path.resolve(rootArg >= 0 ? args[rootArg + 1] : path.join(path.dirname(new URL(import.meta.url).pathname), '../src'));

// src-relative path -> module name (null: not checked)
function moduleOf(rel) {
  const p = rel.split('/');
  if (p[0] === 'common') return 'common';
  if (p[0] === 'server') {
    if (p.length === 2) return p[1] === 'main.c' ? 'server/main' : 'server/core';
    return `server/${p[1]}`;
  }
  if (p[0] === 'agent') {
    if (p.length === 2) return /^(main|enroll|announce)\./.test(p[1]) ? 'agent/main' : 'agent/core';
    return `agent/${p[1]}`;
  }
  return null;
}

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) walk(f, out);
    else if (/\.[ch]$/.test(e.name)) out.push(f);
  }
  return out;
}

const files = walk(root).map((f) => path.relative(root, f).split(path.sep).join('/')).sort();
const known = new Set(files);
const problems = [];
const direct = new Map();    // file -> Set(included file)
const modEdges = new Map();
const unit = (rel) => rel.replace(/\.[ch]$/, '');

for (const rel of files) {
  const mod = moduleOf(rel);
  if (!mod) continue;
  if (!LAYERS[mod]) { problems.push(`${rel}: module ${mod} is not in the layer table (tools/check-layers.mjs)`); continue; }
  const lines = fs.readFileSync(path.join(root, rel), 'utf8').split('\n');
  lines.forEach((line, i) => {
    const m = /^\s*#\s*include\s+"([^"]+)"/.exec(line);
    if (!m) return;
    let target = m[1];
    if (!known.has(target)) {
      const local = path.posix.join(path.posix.dirname(rel), target);
      if (!known.has(local)) return; // generated or outside src/: not ours to check
      target = local;
    }
    const tmod = moduleOf(target);
    const where = `${rel}:${i + 1}`;
    if (/_int\.h$/.test(target) && path.posix.dirname(target) !== path.posix.dirname(rel)) {
      problems.push(`${where}: includes private header ${target}`);
    }
    if (tmod && tmod !== mod && !LAYERS[mod].includes(tmod)) {
      problems.push(`${where}: ${mod} may not include ${target} (${tmod}); allowed: ${LAYERS[mod].join(', ') || 'nothing'}`);
    }
    if (tmod && tmod !== mod) {
      if (!modEdges.has(mod)) modEdges.set(mod, new Set());
      modEdges.get(mod).add(tmod);
    }
    if (!direct.has(rel)) direct.set(rel, new Set());
    direct.get(rel).add(target);
  });
}

// unit dependencies: each .c file -> the units (with a .c) of every header it reaches
const unitEdges = new Map();
for (const c of files.filter((f) => f.endsWith('.c'))) {
  const seen = new Set(), todo = [...(direct.get(c) || [])], deps = new Set();
  while (todo.length) {
    const h = todo.pop();
    if (seen.has(h)) continue;
    seen.add(h);
    if (known.has(`${unit(h)}.c`) && unit(h) !== unit(c)) deps.add(unit(h));
    for (const n of direct.get(h) || []) todo.push(n);
  }
  unitEdges.set(unit(c), deps);
}

// Tarjan's strongly connected components: every component with more than one node is a cycle.
function cycles(edges) {
  let idx = 0;
  const index = new Map(), low = new Map(), on = new Set(), stack = [], out = [];
  const nodes = new Set([...edges.keys(), ...[...edges.values()].flatMap((s) => [...s])]);
  function strong(v) {
    index.set(v, idx); low.set(v, idx); idx++;
    stack.push(v); on.add(v);
    for (const w of edges.get(v) || []) {
      if (!index.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  }
  for (const v of [...nodes].sort()) if (!index.has(v)) strong(v);
  return out;
}
for (const c of cycles(modEdges)) problems.push(`module cycle: ${c.join(' <-> ')}`);
for (const c of cycles(unitEdges)) problems.push(`include cycle between units: ${c.join(' <-> ')}`);

if (args.includes('--graph')) {
  for (const [m, to] of [...modEdges].sort()) console.log(`${m} -> ${[...to].sort().join(', ')}`);
}
if (problems.length) {
  console.error(`check-layers: ${problems.length} problem(s) (see docs/internals/architecture.md)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`check-layers: ${files.length} files, no layer violations or include cycles`);
