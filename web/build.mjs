// Builds the single-page web UI into <outdir> (default build/web):
//   app-XXXXXXXX.js, app-XXXXXXXX.css (hashed, minified, no source maps), index.html,
//   chunk-XXXXXXXX.js (code split off behind a dynamic import(), e.g. the chart library),
//   install/install.sh (copied from deploy/install.sh when present).
// usage: node web/build.mjs <outdir>
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const out = path.resolve(process.argv[2] || path.join(root, 'build/web'));

// Markup is built only by lit-html templates (web/src/html.js), which escape every
// interpolated value by construction. Refuse the ways around that: string-to-HTML sinks,
// lit's unsafe directives, and lit imports that bypass html.js. Comments are skipped.
const BANNED = [
  [/\.(innerHTML|outerHTML)\s*\+?=/, 'assigns innerHTML/outerHTML'],
  [/\binsertAdjacentHTML\s*\(/, 'calls insertAdjacentHTML'],
  [/\bdocument\.write(ln)?\s*\(/, 'calls document.write'],
  [/\b(unsafeHTML|unsafeSVG|unsafeMathML|unsafeStatic)\b/, "uses a lit 'unsafe' directive"],
  [/\bcreateContextualFragment\b|\bDOMParser\b/, 'parses strings as HTML'],
];
const srcDir = path.join(here, 'src');
const problems = [];
for (const f of fs.readdirSync(srcDir, { recursive: true })) {
  if (!f.endsWith('.js')) continue;
  const rel = path.join('web/src', f);
  fs.readFileSync(path.join(srcDir, f), 'utf8').split('\n').forEach((line, i) => {
    const code = line.replace(/^\s*(\/\/|\/?\*).*$/, '');
    for (const [re, what] of BANNED) if (re.test(code)) problems.push(`${rel}:${i + 1}: ${what}`);
    if (f !== 'html.js' && /from\s+['"]lit-html/.test(code)) problems.push(`${rel}:${i + 1}: imports lit-html directly (use html.js)`);
  });
}
if (problems.length) {
  console.error(`web: markup must come from lit templates (docs/internals/web.md):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

fs.mkdirSync(out, { recursive: true });

// Drop stale bundles so the embedder only sees the current build.
for (const f of fs.readdirSync(out)) {
  if (/^(app|chunk)-[A-Za-z0-9]+\.(js|css)(\.map)?$/.test(f) || f === 'index.html') fs.rmSync(path.join(out, f));
}

const result = await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.js') },
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2020',
  sourcemap: false,
  legalComments: 'none',
  outdir: out,
  entryNames: '[name]-[hash]',
  // the chart library (uPlot) loads only when a page draws a chart
  splitting: true,
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const js = outputs.find((f) => /^app-.*\.js$/.test(f));
const css = outputs.find((f) => /^app-.*\.css$/.test(f));
if (!js) throw new Error('esbuild produced no app js');

let html = fs.readFileSync(path.join(here, 'src/index.html'), 'utf8');
html = html
  .replace('<!--CSS-->', css ? `<link rel="stylesheet" href="/${css}">` : '')
  .replace('<!--JS-->', `<script type="module" src="/${js}"></script>`);
fs.writeFileSync(path.join(out, 'index.html'), html);

const installSrc = path.join(root, 'deploy/install.sh');
if (fs.existsSync(installSrc)) {
  fs.mkdirSync(path.join(out, 'install'), { recursive: true });
  fs.copyFileSync(installSrc, path.join(out, 'install/install.sh'));
}

let raw = 0;
let gz = 0;
for (const f of [js, css, 'index.html'].filter(Boolean)) {
  const data = fs.readFileSync(path.join(out, f));
  raw += data.length;
  gz += zlib.gzipSync(data, { level: 9 }).length;
}
console.log(`web: ${[js, css].filter(Boolean).join(' ')} — ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzipped (${gz} bytes)`);
for (const f of outputs.filter((o) => /^chunk-.*\.js$/.test(o))) {
  const data = fs.readFileSync(path.join(out, f));
  console.log(`web: lazy ${f} — ${(data.length / 1024).toFixed(1)} KiB raw, ${(zlib.gzipSync(data, { level: 9 }).length / 1024).toFixed(1)} KiB gzipped`);
}
