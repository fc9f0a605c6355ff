// Placeholder build (replaced by the web UI build): copies web/src/index.html.
import fs from 'node:fs';
const out = process.argv[2] || 'build/web';
fs.mkdirSync(out, { recursive: true });
fs.copyFileSync('web/src/index.html', `${out}/index.html`);
