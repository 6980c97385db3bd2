// Directory: devices with their lines and addresses, the hot-desk board (who is logged in where), locate, and the login
// history of a device or user. Administrators log users in and out (and remotely out) from here.
import { api, get, may } from '../api.js';
import { fill, h, field, table, time, message } from '../dom.js';

export async function render(main, { params }) {
  const problems = h('div', { 'aria-live': 'assertive' });
  const board = h('section', { 'aria-labelledby': 'board-title' });
  const devices = h('section', { 'aria-labelledby': 'devices-title' });
  const located = h('div', { 'aria-live': 'polite' });
  const history = h('section', { 'aria-labelledby': 'history-title' });
  const fail = err => fill(problems, message(err.message));

  async function refresh() {
    const [logins, all] = await Promise.all([get('/api/logins'), get('/api/devices')]);
    fill(board, h('h2', { id: 'board-title' }, 'Hot-desk board'), table(['User', 'Device', 'Extensions', 'Kind', 'Since', ''],
      logins.map(l => h('tr', { dataset: { user: l.user, device: l.hostDevice } },
        h('td', {}, l.user), h('td', {}, l.hostDevice), h('td', {}, (l.guest || []).join(', ')), h('td', {}, l.kind), h('td', {}, time(l.since)),
        h('td', {}, may('administer') ? h('button', { type: 'button', onclick: () => act(`/api/users/${encodeURIComponent(l.user)}/logout`) }, `Log ${l.user} out`) : null))),
      `${logins.length} logged in`));
    fill(devices, h('h2', { id: 'devices-title' }, 'Devices'), table(['Device', 'Name', 'Protocol', 'Registered', 'Addresses', 'Lines', 'Logged in', ''],
      all.map(d => h('tr', { dataset: { device: d.id } },
        h('td', { class: 'mono' }, d.id), h('td', {}, d.name ?? ''), h('td', {}, d.protocol), h('td', {}, d.registered ? 'yes' : 'no'),
        h('td', { class: 'mono' }, d.ips.join(', ')),
        h('td', {}, (d.lines.length ? d.lines.map(l => `${l.number}: ${l.extension}`) : d.configuredExtensions).join(', ')),
        h('td', {}, d.login ? d.login.user : ''),
        h('td', {},
          h('button', { type: 'button', class: 'link', onclick: () => showHistory('device', d.id) }, 'History'),
          may('administer') && d.login ? h('button', { type: 'button', onclick: () => act(`/api/devices/${encodeURIComponent(d.id)}/logout`) }, 'Log out device') : null))),
      `${all.length} devices`));
  }

  async function act(path, body) {
    try {
      await api('POST', path, body);
      fill(problems);
    } catch (err) {
      fail(err);
    }
    await refresh().catch(fail);
  }

  async function showHistory(kind, id) {
    try {
      const entries = await get(`/api/logins/history?${kind}=${encodeURIComponent(id)}&limit=100`);
      fill(history, h('h2', { id: 'history-title' }, `History of ${kind} ${id}`), table(['User', 'Device', 'Kind', 'From', 'Until', 'Ended by'],
        entries.map(e => h('tr', {}, h('td', {}, e.user), h('td', {}, e.hostDevice), h('td', {}, e.kind), h('td', {}, time(e.since)),
          h('td', {}, e.until ? time(e.until) : 'now'), h('td', {}, e.endReason ?? '')))));
    } catch (err) {
      fail(err);
    }
  }

  const what = h('select', { name: 'what' }, h('option', { value: 'extension' }, 'extension'), h('option', { value: 'user' }, 'user'));
  const who = h('input', { name: 'who', required: true });
  const locate = h('form', { class: 'inline', 'aria-label': 'Locate' }, field('Locate', what), field('Extension or user', who), h('button', { type: 'submit' }, 'Locate'),
    h('button', { type: 'button', onclick: () => who.value && showHistory(what.value === 'user' ? 'user' : 'device', who.value) }, 'History of this user'));
  locate.addEventListener('submit', async e => {
    e.preventDefault();
    try {
      const l = await get(`/api/locate/${what.value}/${encodeURIComponent(who.value.trim())}`);
      fill(located, l.found
        ? h('p', { role: 'status' }, `${l.extension ?? l.user}: ${l.loggedIn ? `user ${l.user} logged in (${l.kind}) ` : ''}at device ${l.hostDevice}`,
          l.ips.length ? ` (${l.ips.join(', ')})` : '', l.guest.length ? `, extensions ${l.guest.join(', ')}` : '', l.since ? ` since ${time(l.since)}` : '')
        : message('Not found.', 'note'));
    } catch (err) {
      fill(located, message(err.message));
    }
  });

  let login = null;
  if (may('administer')) {
    const user = h('input', { name: 'user', required: true }), device = h('input', { name: 'device', required: true });
    const pin = h('input', { name: 'pin', type: 'password', autocomplete: 'off' }), replace = h('input', { name: 'replace', type: 'checkbox' });
    login = h('form', { class: 'inline', 'aria-label': 'Log a user in' }, field('User', user), field('Device', device), field('PIN', pin),
      h('label', { class: 'check' }, replace, ' replace whoever is there'), h('button', { type: 'submit' }, 'Log in'));
    login.addEventListener('submit', e => {
      e.preventDefault();
      act('/api/logins', { user: user.value.trim(), device: device.value.trim(), pin: pin.value || null, replace: replace.checked });
    });
  }

  fill(main, h('h1', {}, 'Directory'), problems, login ? h('section', {}, h('h2', {}, 'Log a user in'), login) : null,
    board, h('section', {}, h('h2', {}, 'Locate'), locate, located), devices, history);
  await refresh();
  if (params.get('device')) showHistory('device', params.get('device'));
  if (params.get('user')) showHistory('user', params.get('user'));
  const timer = setInterval(() => refresh().catch(fail), 5000);
  return () => clearInterval(timer);
}
