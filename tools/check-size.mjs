#!/usr/bin/env node
// make lint: no .c file in src/ over 700 lines, and no function over 80 lines unless a
// comment within the three lines above its signature gives the reason ("long: ...").
// Functions are found the way this tree writes them: the signature starts in column 0,
// the body opens with "{" alone in column 0 and closes with "}" alone in column 0.
import fs from 'node:fs';
import path from 'node:path';

const FILE_MAX = 700, FN_MAX = 80;
const root = process.argv[2] || 'src';
const problems = [];
function walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith('.c')) check(p);
  }
}
function check(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines.length > FILE_MAX) problems.push(`${file}: ${lines.length} lines (max ${FILE_MAX}): split it`);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '{') continue;
    let sig = i - 1;
    while (sig > 0 && /^\s/.test(lines[sig]) && lines[sig].trim() !== '') sig--; // wrapped parameters
    let end = i + 1;
    while (end < lines.length && lines[end] !== '}' && lines[end] !== '};') end++;
    const len = end - i - 1;
    if (len <= FN_MAX || /[=\]]\s*$/.test(lines[sig]) || lines[end] === '};') continue; // tables
    const above = lines.slice(Math.max(0, sig - 3), sig).join('\n');
    if (/\blong\b/i.test(above)) continue;
    const name = (/(\w+)\s*\(/.exec(lines[sig]) || [, lines[sig]])[1];
    problems.push(`${file}:${sig + 1}: ${name}() is ${len} lines (max ${FN_MAX}): split it or say why in a comment above it ("long: ...")`);
  }
}
walk(root);
for (const p of problems) console.error(p);
if (problems.length) { console.error(`check-size: ${problems.length} problem(s)`); process.exit(1); }
console.log('check-size: ok');
