// Shared bits of the people pages (users, account, setup): a secret shown once with a
// Copy button, and role names.
import { html, nothing } from '../html.js';
import { copyText, toast } from '../util.js';

export const ROLES = ['viewer', 'operator', 'admin'];
export const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
export const PASSWORD_MIN = 12;

async function copy(ev, text) {
  const b = ev.currentTarget;
  const ok = await copyText(text);
  toast(ok ? 'Copied to clipboard' : 'Copy failed — select the text and copy it by hand', ok ? 'ok' : 'error', 2500);
  if (ok) { b.textContent = 'Copied'; setTimeout(() => { b.textContent = 'Copy'; }, 1500); }
}

// A secret the server shows only once: label, value, a Copy button and a dismiss button.
export const onceBox = (label, text, testid, note, onDismiss) => html`<div class="panel panel-warn once-box" role="status" data-testid=${`${testid}-box`}>
  <div class="snippet-head"><strong>${label}</strong>
  <span><button type="button" class="btn btn-sm" data-testid=${`copy-${testid}`} @click=${(ev) => copy(ev, text)}>Copy</button>
  <button type="button" class="btn btn-sm btn-ghost" data-testid=${`dismiss-${testid}`} @click=${onDismiss}>Done</button></span></div>
  <pre class="snippet mono" data-testid=${testid} tabindex="0">${text}</pre>
  <p class="muted small">${note}</p></div>`;

// label: an aria-label when no <label for=id> names the select (table rows).
export const roleSelect = (id, name, value, max, testid, onChange, label) => html`<select id=${id} name=${name} aria-label=${label || nothing} data-testid=${testid} @change=${onChange}>
  ${ROLES.filter((r) => ROLE_RANK[r] <= ROLE_RANK[max]).map((r) => html`<option value=${r} ?selected=${r === value}>${r}</option>`)}</select>`;
