// Alert channels (admin): webhook, ntfy, SMTP. Create and edit (secrets are write-only:
// the form shows whether one is set and replaces it only when typed), send a test message
// and see its result, read the delivery log.
import { get, post, put, del, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { absTime, busy, toast } from '../util.js';
import { relEl } from '../components.js';

export const title = 'Alert channels';
export const navKey = 'alerts';

const SECRET_LABEL = { webhook: 'HMAC secret (optional)', ntfy: 'Token, or password with a username', smtp: 'Password' };

const input = (id, label, value, attrs = {}) => html`<div class="field"><label for="ch-${id}">${label}</label>
<input id="ch-${id}" name=${id} class="mono" autocomplete="off" spellcheck="false" .value=${value ?? ''} placeholder=${attrs.placeholder || ''} type=${attrs.type || 'text'} data-testid="ch-${id}"></div>`;

function kindFields(kind, c) {
  if (kind === 'webhook') return input('url', 'URL (http or https)', c.url, { placeholder: 'https://example.com/hook' });
  if (kind === 'ntfy') return html`${input('url', 'Server URL', c.url, { placeholder: 'https://ntfy.sh' })}${input('topic', 'Topic', c.topic)}${input('username', 'Username (basic auth, optional)', c.username)}`;
  return html`${input('host', 'SMTP host', c.host)}${input('port', 'Port', c.port, { placeholder: '587' })}
<div class="field"><label for="ch-tls">Security</label><select id="ch-tls" name="tls" data-testid="ch-tls">
${['starttls', 'tls', 'none'].map((t) => html`<option value=${t} ?selected=${(c.tls || 'starttls') === t}>${t === 'tls' ? 'implicit TLS' : t}</option>`)}</select></div>
${input('username', 'Username (optional)', c.username)}${input('from', 'From', c.from, { placeholder: 'backups@example.com' })}${input('to', 'To (comma separated)', (c.to || []).join(', '))}`;
}

function form(st, h) {
  const e = st.editing;
  const c = e.config || {};
  return html`<form class="card form" data-testid="channel-form" novalidate @submit=${h.save}>
<h2>${e.id ? `Edit ${e.name}` : 'New channel'}</h2>
<div class="grid4">${input('name', 'Name', e.name)}
<div class="field"><label for="ch-kind">Kind</label><select id="ch-kind" name="kind" data-testid="ch-kind" ?disabled=${!!e.id} @change=${h.kind}>
${['webhook', 'ntfy', 'smtp'].map((k) => html`<option value=${k} ?selected=${e.kind === k}>${k}</option>`)}</select></div>
<div class="field"><label for="ch-min_severity">Minimum severity</label><select id="ch-min_severity" name="min_severity" data-testid="ch-min_severity">
${['info', 'warning', 'critical'].map((k) => html`<option value=${k} ?selected=${(e.min_severity || 'info') === k}>${k}</option>`)}</select></div>
${input('host_tags', 'Only hosts tagged (comma separated, empty = all)', (e.host_tags || []).join(', '))}
${kindFields(e.kind, c)}
<div class="field"><label for="ch-secret">${SECRET_LABEL[e.kind]} ${e.has_secret ? html`<span class="muted">(set; leave empty to keep)</span>` : nothing}</label>
<input id="ch-secret" name="secret" type="password" autocomplete="new-password" data-testid="ch-secret"></div>
<label class="check"><input type="checkbox" name="enabled" .checked=${e.enabled !== false} data-testid="ch-enabled"> enabled</label></div>
<p class="form-error" role="alert" data-testid="channel-error">${st.error}</p>
<div class="actions"><button type="submit" class="btn" data-testid="channel-save">Save channel</button>
<button type="button" class="btn btn-ghost" @click=${h.cancel}>Cancel</button></div></form>`;
}

const testResult = (r) => (r ? html`<span class="small ${r.ok ? 'sync sync-ok' : 'sync sync-behind'}" data-testid="channel-test-result" data-ok=${r.ok ? 'true' : 'false'}>${r.ok ? `sent (${r.status || 'ok'}, ${r.elapsed_ms} ms)` : `failed: ${r.error}`}</span>` : nothing);

const deliveries = (list) => html`<table class="table small" data-testid="deliveries"><thead><tr><th>When</th><th>Event</th><th>Status</th><th>Attempts</th><th>Last error</th></tr></thead>
<tbody>${list.map((d) => html`<tr data-testid="delivery-row"><td title=${absTime(d.created_at)}>${relEl(d.created_at)}</td><td class="mono">${d.event}</td><td><span class="pill pill-${d.status === 'sent' ? 'succeeded' : d.status === 'failed' ? 'failed' : 'running'}" data-status=${d.status}>${d.status}</span></td><td class="num">${d.attempts}</td><td class="mono small">${d.last_error || ''}</td></tr>`)}</tbody></table>`;

function row(c, st, h) {
  const target = c.kind === 'smtp' ? `${c.config.host}:${c.config.port} → ${(c.config.to || []).join(', ')}` : c.kind === 'ntfy' ? `${c.config.url} / ${c.config.topic}` : c.config.url;
  return html`<tr data-testid="channel-row" data-name=${c.name}><td>${c.name}</td><td class="mono">${c.kind}</td><td class="mono small">${target}</td>
<td>${c.enabled ? 'on' : 'off'} · ≥ ${c.min_severity}${c.has_secret ? html` · <span class="muted">secret set</span>` : nothing}</td>
<td class="actions-cell"><button type="button" class="btn btn-sm" data-testid="channel-test" @click=${(ev) => h.test(ev, c)}>Send test</button>
<button type="button" class="btn btn-sm btn-ghost" data-testid="channel-edit" @click=${() => h.edit(c)}>Edit</button>
<button type="button" class="btn btn-sm btn-ghost" data-testid="channel-log" @click=${() => h.log(c)}>Delivery log</button>
<button type="button" class="btn btn-sm btn-danger" data-testid="channel-delete" @click=${(ev) => h.remove(ev, c)}>Delete</button>
${testResult(st.results[c.id])}</td></tr>
${st.logFor === c.id ? html`<tr><td colspan="5">${st.log.length ? deliveries(st.log) : html`<p class="muted">No deliveries yet.</p>`}</td></tr>` : nothing}`;
}

const view = (st, h) => html`<div class="page-head"><h1>Alert channels</h1><div class="row-actions"><a class="btn btn-ghost btn-sm" href="/alerts">Alerts</a>
<button type="button" class="btn btn-sm" data-testid="channel-new" @click=${h.create}>New channel</button></div></div>
${st.editing ? form(st, h) : nothing}
${st.channels.length ? html`<div class="table-wrap"><table class="table" data-testid="channels-table"><thead><tr><th>Name</th><th>Kind</th><th>Target</th><th>Filter</th><th></th></tr></thead>
<tbody>${st.channels.map((c) => row(c, st, h))}</tbody></table></div>` : html`<div class="empty empty-sm"><p class="muted">No channels: alerts are only shown here.</p></div>`}`;

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

export async function mount(ctx) {
  if (!session.user || session.user.role !== 'admin') {
    render(html`<div class="empty"><h1>Alert channels</h1><p class="muted">Only administrators manage channels.</p></div>`, ctx.el);
    return;
  }
  const st = { channels: [], editing: null, error: '', results: {}, logFor: null, log: [] };
  const h = {};
  const paint = () => { if (ctx.alive()) render(view(st, h), ctx.el); };
  const load = async () => { st.channels = (await get('/api/channels')).channels; paint(); };
  h.create = () => { st.editing = { kind: 'webhook', enabled: true, config: {} }; st.error = ''; paint(); };
  h.edit = (c) => { st.editing = JSON.parse(JSON.stringify(c)); st.error = ''; paint(); };
  h.cancel = () => { st.editing = null; paint(); };
  h.kind = (ev) => { st.editing = { ...st.editing, kind: ev.currentTarget.value, config: {} }; paint(); };
  h.save = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const v = (n) => (f.elements[n] ? f.elements[n].value.trim() : '');
    const kind = st.editing.kind;
    const config = kind === 'webhook' ? { url: v('url') } : kind === 'ntfy' ? { url: v('url'), topic: v('topic'), username: v('username') || undefined }
      : { host: v('host'), port: v('port') ? Number(v('port')) : undefined, tls: v('tls'), username: v('username') || undefined, from: v('from'), to: list(v('to')) };
    const body = { name: v('name'), kind, min_severity: v('min_severity'), host_tags: list(v('host_tags')), enabled: f.elements.enabled.checked, config };
    if (f.elements.secret.value) body.secret = f.elements.secret.value;
    if (kind !== 'smtp' && !/^https?:\/\/[^\s]+$/i.test(config.url)) {
      st.error = 'config.url: must be an http:// or https:// URL';
      paint();
      f.elements.url.focus();
      return;
    }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        if (st.editing.id) await put(`/api/channels/${st.editing.id}`, body, { quiet: true });
        else await post('/api/channels', body, { quiet: true });
        st.editing = null;
        toast('Channel saved.', 'ok');
        await load();
      } catch (e) { st.error = e.field ? `${e.field}: ${e.message}` : e.message; paint(); }
    });
  };
  h.test = (ev, c) => busy(ev.currentTarget, async () => {
    try { st.results[c.id] = await post(`/api/channels/${c.id}/test`, {}, { quiet: true }); } catch (e) { st.results[c.id] = { ok: false, error: e.message }; }
    if (st.logFor === c.id) st.log = (await get(`/api/channels/${c.id}/deliveries?limit=50`)).deliveries;
    paint();
  });
  h.log = async (c) => {
    if (st.logFor === c.id) { st.logFor = null; paint(); return; }
    st.log = (await get(`/api/channels/${c.id}/deliveries?limit=50`)).deliveries;
    st.logFor = c.id;
    paint();
  };
  h.remove = (ev, c) => busy(ev.currentTarget, async () => {
    if (!window.confirm(`Delete channel ${c.name}?`)) return;
    try { await del(`/api/channels/${c.id}`); } catch { /* toast shown */ }
    await load();
  });
  await load();
}
