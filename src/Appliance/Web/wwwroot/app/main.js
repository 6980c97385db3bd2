// The shell: sign-in, the navigation and a hash router (#/recordings, #/call/<id>, #/live, #/directory, #/health).
// Each page is a module exporting render(main, params) and optionally returning a function that stops its timers.
import { current, may, restore, signIn, signOut } from './api.js';
import { fill, h, field, message } from './dom.js';
import * as recordings from './pages/recordings.js';
import * as call from './pages/call.js';
import * as live from './pages/live.js';
import * as directory from './pages/directory.js';
import * as health from './pages/health.js';

const pages = { recordings, call, live, directory, health };
const main = document.getElementById('main');
let stop = null;

function signInPage(problem) {
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'Sign in with your API token (an administrator creates one for you with a role). The browser keeps only a session; sign out when you leave.'),
    field('API token', token),
    h('button', { type: 'submit' }, 'Sign in'),
    problem ? message(problem) : null);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    try {
      await signIn(token.value);
      token.value = '';
      shell();
      if (!location.hash || location.hash === '#/sign-in') location.hash = '#/recordings';
      else route();
    } catch (err) {
      form.querySelector('[role=alert]')?.remove();
      form.append(message(err.status === 401 ? 'That token was refused.' : err.message));
    }
  });
  fill(main, form);
  token.focus();
}

function shell() {
  const s = current();
  document.getElementById('nav').hidden = !s;
  document.getElementById('sign-out').hidden = !s;
  document.getElementById('who').textContent = s ? `${s.name} (${s.role})` : '';
  for (const link of document.querySelectorAll('#nav a[data-needs]')) link.hidden = !may(link.dataset.needs);
}

async function route() {
  if (stop) { stop(); stop = null; }
  if (!current()) { signInPage(); return; }
  const [, name = 'recordings', ...rest] = (location.hash || '#/recordings').split('/');
  const [page, query = ''] = name.split('?');
  const module = pages[page] || recordings;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  const params = new URLSearchParams(query || (rest.join('/').split('?')[1] ?? ''));
  const id = rest.join('/').split('?')[0];
  fill(main, h('p', {}, 'Loading…'));
  try {
    stop = (await module.render(main, { id, params })) || null;
  } catch (err) {
    fill(main, message(err.message));
  }
}

document.getElementById('sign-out').addEventListener('click', async () => {
  await signOut().catch(() => {});
  shell();
  location.hash = '#/sign-in';
  signInPage();
});
window.addEventListener('signed-out', () => { shell(); signInPage('Your session has ended: sign in again.'); });
window.addEventListener('hashchange', route);

(async () => {
  try { await restore(); } catch (err) { fill(main, message(err.message)); return; }
  shell();
  route();
})();
