// JSON API client: same-origin cookies, CSRF header on mutations, 401 → sign-in,
// server errors surfaced as toasts.
import { toast } from './util.js';

export const session = { user: null, csrf: null };
const FLAG = 'rm.signedIn';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null; // 422 invalid_field / invalid_cron: the offending field
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export function setSession(data) {
  session.user = data ? data.user : null;
  session.csrf = data ? data.csrf_token : null;
  try {
    if (data) localStorage.setItem(FLAG, '1'); else localStorage.removeItem(FLAG);
  } catch { /* storage unavailable */ }
}

// Whether a session cookie probably exists (the cookie itself is HttpOnly). Lets the
// first load skip a /api/me round trip that would only answer 401.
export function maybeSignedIn() {
  try { return localStorage.getItem(FLAG) === '1'; } catch { return true; }
}

// opts.quiet: no toast; opts.auth === false: a 401 is an ordinary error (login forms).
export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) init.headers['X-CSRF-Token'] = session.csrf;
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    const err = new ApiError(0, 'network', `network error: ${e.message || e}`);
    if (!opts.quiet) toast(err.message);
    throw err;
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (res.status === 401 && opts.auth !== false) {
    setSession(null);
    onUnauthorized();
    throw new ApiError(401, 'unauthenticated', (data && data.error) || 'signed out');
  }
  if (!res.ok) {
    const err = new ApiError(res.status, (data && data.code) || 'http_error',
      (data && data.error) || `${res.status} ${res.statusText}`, data && typeof data.field === 'string' ? data.field : null);
    if (!opts.quiet) toast(err.message);
    throw err;
  }
  return data;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b === undefined ? {} : b, o);
export const put = (p, b, o) => api('PUT', p, b, o);
export const del = (p, o) => api('DELETE', p, undefined, o);

export function wsUrl(path) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}
