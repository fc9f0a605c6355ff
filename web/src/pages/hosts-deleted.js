// Deleted hosts (C6): hosts deleted with their history kept — jobs, logs and snapshot lists
// stay readable from here; an admin can delete a host's history for good (confirmed).
import { get, del, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, toast, fmtNum } from '../util.js';
import { relEl, tagList } from '../components.js';

export const title = 'Deleted hosts';

const row = (h, admin, onPurge) => html`<tr data-testid="deleted-host-row" data-host-id=${h.id}>
<td class="mono"><a href="/hosts/${encodeURIComponent(h.id)}">${h.hostname}</a></td><td>${tagList(h.tags)}</td>
<td>${relEl(h.deleted_at)}</td><td class="num">${fmtNum(h.snapshot_count || 0)}</td>
<td class="actions">${admin ? html`<button type="button" class="btn btn-sm btn-danger" data-testid="purge-host" @click=${(ev) => onPurge(ev, h)}>Delete history…</button>` : nothing}</td></tr>`;

export async function mount(ctx) {
  const admin = session.user && session.user.role === 'admin';
  let hosts = (await get('/api/deleted-hosts')).hosts || [];
  if (!ctx.alive()) return;
  const onPurge = async (ev, h) => {
    const typed = window.prompt(`Delete every job, log and snapshot record of ${h.hostname}? Type the host's name to confirm.`);
    if (typed !== h.hostname) return;
    await busy(ev.currentTarget, async () => {
      try {
        await del(`/api/hosts/${encodeURIComponent(h.id)}?history=delete`, { quiet: true });
        hosts = hosts.filter((x) => x.id !== h.id);
        toast(`History of ${h.hostname} deleted`, 'ok', 3000);
        update();
      } catch (e) { if (e.status !== 401) toast(e.message); }
    });
  };
  const update = () => render(html`<nav class="crumbs" aria-label="breadcrumb"><a href="/">Fleet</a> / Deleted hosts</nav>
<h1>Deleted hosts</h1>
<p class="muted">Deleted with their history kept: their agents can no longer connect; jobs, logs and snapshot lists stay readable. The repositories were not touched.</p>
${hosts.length ? html`<div class="table-wrap"><table class="table" data-testid="deleted-hosts"><thead><tr><th>Name</th><th>Tags</th><th>Deleted</th><th class="num">Snapshots</th><th><span class="sr-only">Actions</span></th></tr></thead>
<tbody>${hosts.map((h) => row(h, admin, onPurge))}</tbody></table></div>` : html`<div class="empty" data-testid="deleted-hosts-empty"><p class="muted">No deleted hosts.</p></div>`}`, ctx.el);
  update();
}
