// Snapshot browser: one snapshot of one host as a lazily expanded tree (snapshot-tree.js),
// with downloads for operators and a link to the diff against the previous snapshot.
import { get, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { absTime } from '../util.js';
import { tagList } from '../components.js';
import { snapshotTree } from './snapshot-tree.js';

export const title = 'Snapshot';
export const navKey = 'hosts';

const byTime = (a, b) => String(a.time).localeCompare(String(b.time));

export async function mount(ctx) {
  const [hostId, snapId] = ctx.params;
  const enc = encodeURIComponent(hostId);
  const [host, list] = await Promise.all([get(`/api/hosts/${enc}`), get(`/api/hosts/${enc}/snapshots`)]);
  if (!ctx.alive()) return;
  const snaps = (list.snapshots || []).slice().sort(byTime);
  const i = snaps.findIndex((s) => s.id === snapId || s.short_id === snapId);
  const snap = i >= 0 ? snaps[i] : null;
  const prev = i > 0 ? snaps[i - 1] : null;
  ctx.title = `Snapshot ${snap ? snap.short_id || snap.id.slice(0, 8) : snapId}`;
  const canDownload = session.user && session.user.role !== 'viewer';
  render(html`<div class="page-head"><h1>Snapshot <span class="mono">${snap ? snap.short_id || snap.id.slice(0, 8) : snapId}</span>
  <span class="muted small">of <a href="/hosts/${enc}?tab=snapshots">${host.hostname}</a></span></h1></div>
${snap ? html`<section class="card" data-testid="snapshot-meta"><p><span class="muted">Taken</span> <span class="mono">${absTime(snap.time)}</span>
  · <span class="muted">paths</span> <span class="mono">${(snap.paths || []).join(' · ')}</span> ${tagList(snap.tags)}</p>
  ${prev ? html`<p><a class="btn btn-sm" data-testid="diff-prev" href="/hosts/${enc}/diff?from=${encodeURIComponent(prev.id)}&to=${encodeURIComponent(snap.id)}">Compare with the previous snapshot</a></p>` : nothing}</section>`
    : html`<section class="card"><p class="error" data-testid="snapshot-unknown">This snapshot is not in the host's list (forgotten, or not reported yet).</p></section>`}
${snap ? html`<section class="card" aria-labelledby="tree-h"><h2 id="tree-h">Files</h2>
  ${host.status !== 'online' ? html`<p class="muted small" data-testid="host-offline-note">The host is ${host.status}: browsing asks its agent, so it needs to be online.</p>` : nothing}
  ${snapshotTree({ hostId, snapshotId: snap.id, downloadable: canDownload })}</section>` : nothing}`, ctx.el);
}
