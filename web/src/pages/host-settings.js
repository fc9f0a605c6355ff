// Host page, Sources tab: host-wide settings (bandwidth caps, always-on vs intermittent,
// and for admins the hook shell and timeout). Same form rules as the group editor: checked
// as you type, the server's 422 field next to the field.
import { put } from '../api.js';
import { html, nothing, keyed } from '../html.js';
import { busy, toast, fmtNum } from '../util.js';

const NUMS = { limit_upload_kib: [0, 10000000, true], limit_download_kib: [0, 10000000, true], hook_timeout_s: [1, 86400, false] };
const FIELDS = ['limit_upload_kib', 'limit_download_kib', 'mode', 'hook_shell', 'hook_timeout_s'];

function check(form, n) {
  const el = form.elements[n];
  if (!el) return '';
  const t = el.value.trim();
  if (n === 'hook_shell') return t && !t.startsWith('/') ? 'An absolute path, e.g. /bin/sh.' : '';
  const spec = NUMS[n];
  if (!spec) return '';
  if (!t) return spec[2] ? '' : 'Required.';
  return /^\d+$/.test(t) && Number(t) >= spec[0] && Number(t) <= spec[1] ? '' : `A whole number from ${fmtNum(spec[0])} to ${fmtNum(spec[1])}.`;
}

const err = (st, n) => st.errors[n] || '';
const numField = (st, n, label, value, hint) => html`<div class="field"><label for="hs-${n}">${label} <span class="muted">${hint}</span></label>
<input id="hs-${n}" name=${n} class="mono" inputmode="numeric" autocomplete="off" .value=${value === null || value === undefined ? '' : String(value)}
  aria-invalid=${err(st, n) ? 'true' : 'false'} aria-describedby="hs-${n}-err" data-testid="hs-${n}"><p class="field-err" id="hs-${n}-err" data-testid="hs-${n}-err">${err(st, n)}</p></div>`;

function form(st, v, h) {
  return html`<form class="card form" data-testid="settings-form" novalidate aria-labelledby="hs-h" @submit=${h.onSubmit} @input=${h.onInput}>
<h2 id="hs-h">Host settings</h2>
<fieldset class="fs-plain" ?disabled=${!h.operator}>
<div class="grid4">${numField(st, 'limit_upload_kib', 'Upload limit', v.limit_upload_kib, '(KiB/s, empty = unlimited)')}${numField(st, 'limit_download_kib', 'Download limit', v.limit_download_kib, '(KiB/s, empty = unlimited)')}
<div class="field"><label for="hs-mode">Availability <span class="muted">(intermittent: catches up, no offline alerts)</span></label><select id="hs-mode" name="mode" data-testid="hs-mode">
<option value="always_on" ?selected=${v.mode !== 'intermittent'}>always on</option><option value="intermittent" ?selected=${v.mode === 'intermittent'}>intermittent</option></select></div><div></div>
${h.admin ? html`<div class="field"><label for="hs-hook_shell">Hook shell <span class="muted">(admins only)</span></label>
<input id="hs-hook_shell" name="hook_shell" class="mono" autocomplete="off" spellcheck="false" .value=${v.hook_shell || ''} aria-invalid=${err(st, 'hook_shell') ? 'true' : 'false'} aria-describedby="hs-hook_shell-err" data-testid="hs-hook_shell">
<p class="field-err" id="hs-hook_shell-err" data-testid="hs-hook_shell-err">${err(st, 'hook_shell')}</p></div>
${numField(st, 'hook_timeout_s', 'Hook timeout', v.hook_timeout_s, '(s, admins only)')}` : nothing}</div>
<p class="form-error" role="alert" data-testid="settings-error">${st.error}</p>
${h.operator ? html`<div class="actions"><button type="submit" class="btn" data-testid="settings-save">Save settings</button></div>` : nothing}
</fieldset></form>`;
}

// s.settings: GET .../settings (null when unavailable); this module owns s.hset ({ key, errors, error }).
export function createSettings(s, env) {
  const { enc, update, afterChange } = env;
  s.hset = { key: 1, errors: {}, error: '' };
  const h = { admin: env.admin, operator: env.operator };
  h.onInput = (ev) => {
    const n = ev.target.name;
    const m = check(ev.currentTarget, n);
    if ((s.hset.errors[n] || '') !== m) { s.hset.errors = { ...s.hset.errors, [n]: m }; update(); }
  };
  h.onSubmit = async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    const st = s.hset;
    st.errors = {};
    for (const n of FIELDS) { const m = check(f, n); if (m) st.errors[n] = m; }
    const first = FIELDS.find((n) => st.errors[n]);
    st.error = first ? 'Fix the highlighted fields.' : '';
    update();
    if (first) { f.elements[first].focus(); return; }
    const num = (n) => { const t = f.elements[n].value.trim(); return t ? Number(t) : null; };
    const b = { limit_upload_kib: num('limit_upload_kib'), limit_download_kib: num('limit_download_kib'), mode: f.elements.mode.value };
    if (h.admin) {
      if (f.elements.hook_shell.value.trim() !== (s.settings.hook_shell || '')) b.hook_shell = f.elements.hook_shell.value.trim();
      if (num('hook_timeout_s') !== s.settings.hook_timeout_s) b.hook_timeout_s = num('hook_timeout_s');
    }
    await busy(f.querySelector('button[type=submit]'), async () => {
      try {
        s.settings = await put(`/api/hosts/${enc}/settings`, b, { quiet: true });
        s.hset = { key: st.key + 1, errors: {}, error: '' };
        toast('Host settings saved', 'ok', 3000);
        await afterChange();
      } catch (e) {
        if (e.status === 401 || s.hset !== st) return;
        if (e.field && FIELDS.includes(e.field)) { st.errors = { ...st.errors, [e.field]: e.message }; st.error = 'The server refused a field.'; } else st.error = e.message;
        update();
        if (e.field && f.elements[e.field]) f.elements[e.field].focus();
      }
    });
  };
  const view = () => (s.settings ? keyed(s.hset.key, form(s.hset, s.settings, h)) : nothing);
  return { view };
}
