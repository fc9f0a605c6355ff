// Alert rules (admin): enable, severity and the bounded parameters of each built-in rule.
import { get, put, session } from '../api.js';
import { html, render, nothing } from '../html.js';
import { busy, toast } from '../util.js';

export const title = 'Alert rules';
export const navKey = 'alerts';

const param = (r, name, value) => {
  const b = r.bounds[name];
  return html`<label class="small">${name} <input class="mono" style="width:9em" name="${r.rule}.${name}" inputmode="decimal" .value=${String(value)}
  title="${b.help} (${b.min}…${b.max}, default ${b.default})" data-testid="rule-param-${r.rule}-${name}"></label> `;
};

const row = (r) => html`<tr data-testid="rule-row" data-rule=${r.rule}>
<td><label class="check"><input type="checkbox" name="${r.rule}.enabled" .checked=${r.enabled} data-testid="rule-enabled-${r.rule}"> <span class="mono">${r.rule}</span></label></td>
<td><select name="${r.rule}.severity" data-testid="rule-severity-${r.rule}">${['info', 'warning', 'critical'].map((s) => html`<option ?selected=${r.severity === s}>${s}</option>`)}</select></td>
<td class="small muted">${r.description}</td>
<td>${Object.entries(r.params).map(([k, v]) => param(r, k, v))}${Object.keys(r.params).length ? nothing : html`<span class="muted">—</span>`}</td></tr>`;

const view = (st, onSave) => html`<div class="page-head"><h1>Alert rules</h1><div class="row-actions"><a class="btn btn-ghost btn-sm" href="/alerts">Alerts</a></div></div>
<form class="card form" data-testid="rules-form" @submit=${onSave}><div class="table-wrap"><table class="table"><thead><tr><th>Rule</th><th>Severity</th><th>Raised when</th><th>Parameters</th></tr></thead>
<tbody>${st.rules.map(row)}</tbody></table></div>
<p class="form-error" role="alert" data-testid="rules-error">${st.error}</p>
<div class="actions"><button type="submit" class="btn" data-testid="rules-save">Save rules</button></div></form>`;

export async function mount(ctx) {
  if (!session.user || session.user.role !== 'admin') {
    render(html`<div class="empty"><h1>Alert rules</h1><p class="muted">Only administrators change alert rules.</p></div>`, ctx.el);
    return;
  }
  const st = { rules: (await get('/api/alert-rules')).rules, error: '' };
  if (!ctx.alive()) return;
  const paint = () => render(view(st, onSave), ctx.el);
  const onSave = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const rules = st.rules.map((r) => {
      const params = {};
      for (const k of Object.keys(r.params)) params[k] = Number(f.elements[`${r.rule}.${k}`].value);
      return { rule: r.rule, enabled: f.elements[`${r.rule}.enabled`].checked, severity: f.elements[`${r.rule}.severity`].value, params };
    });
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        st.rules = (await put('/api/alert-rules', { rules }, { quiet: true })).rules;
        st.error = '';
        toast('Rules saved.', 'ok');
      } catch (e) { st.error = e.message; }
      paint();
    });
  };
  paint();
}
