// The public API, with the token that the person pasted in. The token lives
// in this tab's sessionStorage only and travels only in the Authorization
// header: never in a URL, a cookie, localStorage or a log.

const TOKEN_KEY = 'coolingd.console.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(t) {
  sessionStorage.setItem(TOKEN_KEY, t);
}
export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// kind: 'no_token', 'network', or 'http' (with status, and the API's
// error code, field and message; retryAfter in seconds on a 503/429).
export class ApiError extends Error {
  constructor(kind, { status = 0, code = '', field = '', message = '', retryAfter = null, path = '' } = {}) {
    super(message || kind);
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.field = field;
    this.apiMessage = message;
    this.retryAfter = retryAfter;
    this.path = path;
  }
}

// The database's "now" decides; the Date header of the last answer tells
// how far this browser's clock is from the server's (to the second).
let skewMs = 0;
export function serverNow() {
  return Date.now() + skewMs;
}

export const seg = (s) => encodeURIComponent(s);

// GET path ('/v1/...') → the decoded JSON body, or throws ApiError.
export async function get(path) {
  return call('GET', path, undefined);
}

// POST path with a JSON body: for what must stay out of URLs (an IIN).
export async function post(path, body) {
  return call('POST', path, body);
}

async function call(method, path, payload) {
  const t = token();
  if (!t) throw new ApiError('no_token');
  const headers = { Authorization: `Bearer ${t}`, Accept: 'application/json' };
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError('network', { path });
  }
  const date = Date.parse(res.headers.get('Date') ?? '');
  if (!Number.isNaN(date)) {
    const d = date - Date.now();
    skewMs = Math.abs(d) > 2000 ? d : 0;
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body?.error ?? {};
    const ra = Number.parseInt(res.headers.get('Retry-After') ?? '', 10);
    throw new ApiError('http', {
      status: res.status,
      code: e.code ?? '',
      field: e.field ?? '',
      message: e.message ?? '',
      retryAfter: Number.isNaN(ra) ? null : ra,
      path,
    });
  }
  if (body === null) throw new ApiError('http', { status: res.status, message: 'not JSON', path });
  return body;
}

// An error of the API in words, never a blank page.
export function explain(err, t) {
  if (!(err instanceof ApiError)) return t('error.unexpected', { message: String(err?.message ?? err) });
  if (err.kind === 'no_token') return t('error.no_token');
  if (err.kind === 'network') return t('error.network');
  const message = err.apiMessage || '';
  switch (err.status) {
    case 401:
      return t('error.401');
    case 403:
      return t('error.403');
    case 404:
      return t('error.404');
    case 422:
      return t('error.422', { field: err.field || '?', message });
    case 429:
      return t('error.429', { seconds: err.retryAfter ?? '?' });
    case 503:
      return err.retryAfter !== null ? t('error.503_retry', { seconds: err.retryAfter }) : t('error.503');
    default:
      return t('error.other', { status: err.status, message });
  }
}
