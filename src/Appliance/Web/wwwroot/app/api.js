// The API as the web app uses it: same origin, the session cookie sent by the browser, and the session's CSRF token
// on every request that changes state (the server refuses such a request without it).

let session = null; // { name, role, csrf }

export function current() { return session; }

/** Roles per policy, as README "Roles" and ApiAccess.Policies say: the UI only hides what the API would refuse. */
const policies = {
  search: ['administrator', 'supervisor', 'auditor', 'viewer'],
  listen: ['administrator', 'supervisor'],
  live: ['administrator', 'supervisor'],
  board: ['administrator', 'supervisor'],
  administer: ['administrator'],
};

export function may(policy) { return session !== null && policies[policy].includes(session.role); }

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && session?.csrf) headers['X-CSRF-Token'] = session.csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin',
  });
  if (response.status === 401 && path !== '/api/session') {
    session = null;
    window.dispatchEvent(new Event('signed-out'));
  }
  const text = await response.text();
  const json = text && (response.headers.get('Content-Type') || '').includes('json') ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json?.detail || json?.title || `${response.status} ${response.statusText}`);
  return json;
}

export const get = path => api('GET', path);

/** The session of the cookie, if there is one (null when signed out). */
export async function restore() {
  try {
    session = await api('GET', '/api/session');
  } catch (e) {
    if (e.status !== 401) throw e;
    session = null;
  }
  return session;
}

export async function signIn(token) {
  session = await api('POST', '/api/session', { token });
  return session;
}

export async function signOut() {
  try { await api('DELETE', '/api/session'); } finally { session = null; }
}
