// Snapshot tree: the children of one directory at a time, fetched lazily from
// GET /api/hosts/{id}/snapshots/{snap}/tree?path=&cursor= (the agent answers from its
// on-disk index), with optional multi-select (the restore wizard) and download links.
//
//   snapshotTree({ hostId, snapshotId, selectable, selected, onChange, downloadable })
//     selected: a Set of absolute paths; onChange(newSet) is called with a NEW Set on every
//     change (the caller keeps it and passes it back). downloadable defaults to !selectable.
//
// The returned template holds one <rm-snapshot-tree> element that keeps its own state
// (expanded directories, loaded pages) and renders itself into its light DOM, so the
// caller re-renders only when it wants to (selection changes).
import { get } from '../api.js';
import { html, render, nothing } from '../html.js';
import { fmtBytes, fmtNum, absTime } from '../util.js';

const PAGE = 1000;

const join = (dir, name) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

export function treeUrl(hostId, snapshotId, path, cursor) {
  const q = new URLSearchParams({ path, limit: String(PAGE) });
  if (cursor) q.set('cursor', cursor);
  return `/api/hosts/${encodeURIComponent(hostId)}/snapshots/${encodeURIComponent(snapshotId)}/tree?${q}`;
}

export function downloadUrl(hostId, snapshotId, path, format) {
  const q = new URLSearchParams({ path });
  if (format) q.set('format', format);
  return `/api/hosts/${encodeURIComponent(hostId)}/snapshots/${encodeURIComponent(snapshotId)}/download?${q}`;
}

class SnapshotTree extends HTMLElement {
  constructor() {
    super();
    this.opts = {};
    this.dirs = new Map(); // path -> { entries, next, total, loading, error }
    this.open = new Set(['/']);
    this.key = '';
  }

  set config(o) {
    const key = `${o.hostId}\u0000${o.snapshotId}`;
    this.opts = o;
    if (key !== this.key) {
      this.key = key;
      this.dirs = new Map();
      this.open = new Set(['/']);
      this.load('/');
    }
    this.update();
  }

  connectedCallback() { this.update(); }

  async load(path, more) {
    const d = this.dirs.get(path) || { entries: [], next: null, total: null };
    if (d.loading) return;
    d.loading = true;
    d.error = null;
    this.dirs.set(path, d);
    this.update();
    const key = this.key;
    try {
      const r = await get(treeUrl(this.opts.hostId, this.opts.snapshotId, path, more ? d.next : null), { quiet: true });
      if (key !== this.key) return;
      d.entries = more ? d.entries.concat(r.entries || []) : (r.entries || []);
      d.next = r.next_cursor || null;
      d.total = r.total ?? null;
    } catch (e) {
      if (key !== this.key) return;
      if ((e.code === 'agent_timeout' || e.code === 'busy') && (d.retries = (d.retries || 0) + 1) <= 10) {
        // a very large snapshot is still being indexed on the host: ask again
        d.loading = false;
        d.note = 'still indexing this snapshot on the host…';
        this.update();
        setTimeout(() => { if (key === this.key) this.load(path, more); }, 2000);
        return;
      }
      d.error = e.code === 'host_offline' ? 'The host is offline: browsing needs its agent.' : (e.message || 'failed');
    }
    d.note = null;
    d.loading = false;
    this.update();
  }

  toggle(path) {
    if (this.open.has(path)) this.open.delete(path);
    else {
      this.open.add(path);
      if (!this.dirs.has(path)) this.load(path);
    }
    this.update();
  }

  select(path, on) {
    const s = new Set(this.opts.selected || []);
    if (on) s.add(path); else s.delete(path);
    this.opts = { ...this.opts, selected: s };
    if (this.opts.onChange) this.opts.onChange(s);
    this.update();
  }

  row(dir, e, depth) {
    const o = this.opts;
    const path = join(dir, e.name);
    const isDir = e.type === 'dir';
    const isOpen = isDir && this.open.has(path);
    const dl = o.downloadable ?? !o.selectable;
    const sel = o.selected && o.selected.has(path);
    return html`<li class="tree-row" role="treeitem" aria-expanded=${isDir ? String(isOpen) : nothing} data-testid="tree-row" data-path=${path} data-type=${e.type}>
<div class="tree-line" style="padding-left:${depth * 1.1}rem">
${isDir ? html`<button type="button" class="tree-toggle" data-testid="tree-toggle" aria-label=${`${isOpen ? 'Collapse' : 'Expand'} ${e.name}`} @click=${() => this.toggle(path)}>${isOpen ? '▾' : '▸'}</button>` : html`<span class="tree-toggle"></span>`}
${o.selectable ? html`<input type="checkbox" data-testid="tree-select" aria-label=${`Select ${e.name}`} .checked=${!!sel} @change=${(ev) => this.select(path, ev.target.checked)}>` : nothing}
<span class="tree-name mono${isDir ? ' tree-dir' : ''}">${e.name}${isDir ? '/' : ''}${e.type === 'symlink' ? html` <span class="muted small">(symlink)</span>` : nothing}</span>
<span class="tree-size num muted">${e.type === 'file' ? fmtBytes(e.size || 0) : ''}</span>
<span class="tree-mtime muted small">${e.mtime ? absTime(e.mtime) : ''}</span>
${dl && (e.type === 'file' || isDir) ? html`<span class="tree-dl">${e.type === 'file'
    ? html`<a class="btn btn-sm" data-testid="download-file" href=${downloadUrl(o.hostId, o.snapshotId, path)} download>Download</a>`
    : html`<a class="btn btn-sm" data-testid="download-tgz" href=${downloadUrl(o.hostId, o.snapshotId, path, 'tar.gz')} download>.tar.gz</a> <a class="btn btn-sm" data-testid="download-zip" href=${downloadUrl(o.hostId, o.snapshotId, path, 'zip')} download>.zip</a>`}</span>` : nothing}
</div>
${isOpen ? this.children(path, depth + 1) : nothing}</li>`;
  }

  children(path, depth) {
    const d = this.dirs.get(path);
    if (!d || ((d.loading || d.note) && !d.entries.length)) return html`<div class="tree-msg muted small" style="padding-left:${depth * 1.1 + 1.5}rem" data-testid="tree-loading"><span class="spinner" aria-hidden="true"></span> ${(d && d.note) || 'loading…'}</div>`;
    if (d.error) return html`<div class="tree-msg error small" style="padding-left:${depth * 1.1 + 1.5}rem" data-testid="tree-error">${d.error} <button type="button" class="btn btn-sm" @click=${() => this.load(path)}>Retry</button></div>`;
    if (!d.entries.length) return html`<div class="tree-msg muted small" style="padding-left:${depth * 1.1 + 1.5}rem">empty directory</div>`;
    return html`<ul class="tree" role="group">${d.entries.map((e) => this.row(path, e, depth))}</ul>
${d.next ? html`<div class="tree-msg small" style="padding-left:${depth * 1.1 + 1.5}rem"><button type="button" class="btn btn-sm" data-testid="tree-more" ?disabled=${d.loading} @click=${() => this.load(path, true)}>Load more</button> <span class="muted">${fmtNum(d.entries.length)}${d.total != null ? ` of ${fmtNum(d.total)}` : ''} shown</span></div>` : nothing}`;
  }

  update() {
    if (!this.isConnected || !this.key) return;
    render(html`<div class="snap-tree" role="tree" data-testid="snapshot-tree">${this.children('/', 0)}</div>`, this);
  }
}

if (!customElements.get('rm-snapshot-tree')) customElements.define('rm-snapshot-tree', SnapshotTree);

export function snapshotTree({ hostId, snapshotId, selectable = false, selected = new Set(), onChange = null, downloadable } = {}) {
  return html`<rm-snapshot-tree .config=${{ hostId, snapshotId, selectable, selected, onChange, downloadable }}></rm-snapshot-tree>`;
}
