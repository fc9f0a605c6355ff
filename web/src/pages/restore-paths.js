// What to restore: the snapshot's paths as quick picks plus any path typed by hand (one per
// line). pathPicker({hostId, snapshot, selected: Set, onChange(Set)}) is a lit template; the
// snapshot tree browser (snapshot-tree.js) plugs in here when it is available.
import { html } from '../html.js';
import { lines } from '../util.js';

export function pathPicker({ snapshot, selected, onChange }) {
  const roots = (snapshot && snapshot.paths) || [];
  const typed = [...selected].filter((p) => !roots.includes(p));
  const toggle = (p) => (ev) => {
    const next = new Set(selected);
    if (ev.currentTarget.checked) next.add(p); else next.delete(p);
    selected = next;
    onChange(next);
  };
  const onText = (ev) => {
    const next = new Set([...selected].filter((p) => roots.includes(p)));
    for (const p of lines(ev.currentTarget.value)) next.add(p);
    selected = next;
    onChange(next);
  };
  return html`<fieldset class="field" data-testid="path-picker"><legend>Backed-up paths</legend>
${roots.map((p, i) => html`<label class="check"><input type="checkbox" id="pp-root-${i}" .checked=${selected.has(p)} @change=${toggle(p)} data-testid="pick-root" data-path=${p}> <span class="mono">${p}</span></label>`)}</fieldset>
<div class="field"><label for="pp-typed">Files or directories inside the snapshot <span class="muted">(absolute, one per line)</span></label>
<textarea id="pp-typed" class="mono" rows="4" spellcheck="false" data-testid="pick-paths" .value=${typed.join('\n')} @input=${onText}></textarea></div>`;
}
