// What to restore: the snapshot tree with multi-select (snapshot-tree.js, browsed through
// the agent's index) plus paths typed by hand (one per line) for when the host is offline or
// the path is known. pathPicker({hostId, snapshot, treeSel: Set, typed: [], onTree(Set),
// onTyped([])}) is a lit template; the selection is the union of both.
import { html } from '../html.js';
import { lines } from '../util.js';
import { snapshotTree } from './snapshot-tree.js';

export function pathPicker({ hostId, snapshot, treeSel, typed, onTree, onTyped }) {
  return html`<div class="field" data-testid="path-picker"><span class="label">Browse the snapshot and tick files or directories</span>
${snapshotTree({ hostId, snapshotId: snapshot.id, selectable: true, selected: treeSel, onChange: onTree })}</div>
<div class="field"><label for="pp-typed">Or type paths inside the snapshot <span class="muted">(absolute, one per line)</span></label>
<textarea id="pp-typed" class="mono" rows="3" spellcheck="false" data-testid="pick-paths" .value=${typed.join('\n')} @input=${(ev) => onTyped(lines(ev.currentTarget.value))}></textarea></div>`;
}
