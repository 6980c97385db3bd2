// Live: calls in progress (GET /api/calls), refreshed from the event stream (GET /api/events, with the session cookie).
// Supervisors and administrators pause and resume a call's recording (POST /api/calls/{id}/pause|resume, PCI DSS).
import { api, get, may } from '../api.js';
import { fill, h, table, time, party, message } from '../dom.js';

export async function render(main) {
  const list = h('section', { 'aria-live': 'polite', 'aria-label': 'Calls in progress' });
  const state = h('p', { class: 'note', role: 'status' }, 'Connecting to the event stream…');
  const problems = h('div');
  fill(main, h('h1', {}, 'Live calls'), state, problems, list);

  async function refresh() {
    let calls;
    try {
      calls = await get('/api/calls');
    } catch (err) {
      fill(problems, message(err.message));
      return;
    }
    const rows = calls.map(c => h('tr', { dataset: { id: c.id, paused: String(!!c.paused) } },
      h('td', {}, time(c.startedAt)),
      h('td', {}, party(c.left)),
      h('td', {}, party(c.right)),
      h('td', {}, c.protocol),
      h('td', {}, (c.codecs || []).join(', ')),
      h('td', {}, c.paused ? h('span', { class: 'badge', dataset: c.pausedAt ? { since: c.pausedAt, by: c.pausedBy || '' } : undefined },
        pausedText(c.pausedBy, c.pausedAt)) : c.answeredAt ? 'recording' : 'ringing'),
      h('td', {}, may('live')
        ? h('button', { type: 'button', onclick: () => toggle(c) }, c.paused ? 'Resume recording' : 'Pause recording')
        : null)));
    fill(list, table(['Started', 'Local party (left)', 'Remote party (right)', 'Protocol', 'Codecs', 'State', ''], rows,
      `${calls.length} call${calls.length === 1 ? '' : 's'} in progress`));
  }

  async function toggle(c) {
    try {
      await api('POST', `/api/calls/${c.id}/${c.paused ? 'resume' : 'pause'}`);
      fill(problems);
    } catch (err) {
      fill(problems, message(err.message));
    }
    refresh();
  }

  // Every call event refreshes the list (coalesced): the list is the truth, the stream only says when to look.
  let pending = null;
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 150); };
  const source = new EventSource('/api/events?types=call,recording,stream');
  source.addEventListener('stream.open', () => { state.textContent = 'Updating live.'; soon(); });
  for (const name of ['call.started', 'call.ended', 'call.paused', 'call.resumed', 'recording.written', 'recording.failed']) {
    source.addEventListener(name, soon);
  }
  source.onerror = () => { state.textContent = 'The event stream is reconnecting…'; };
  await refresh();
  const poll = setInterval(refresh, 10000); // a second look in case a reconnect missed an event
  // How long each pause has lasted, counted here every second (no request: the pause's start does not change).
  const tick = setInterval(() => {
    for (const badge of list.querySelectorAll('.badge[data-since]')) badge.textContent = pausedText(badge.dataset.by, badge.dataset.since);
  }, 1000);
  return () => { source.close(); clearInterval(poll); clearInterval(tick); clearTimeout(pending); };
}

// "paused by <name> since HH:MM:SS (N s)": the pause's start in the browser's time zone, and the seconds since.
function pausedText(by, since) {
  const text = `paused${by ? ' by ' + by : ''}`;
  const at = since ? new Date(since) : null;
  if (!at || Number.isNaN(at.getTime())) return text;
  const pad = n => String(n).padStart(2, '0');
  const lasted = Math.max(0, Math.floor((Date.now() - at.getTime()) / 1000));
  return `${text} since ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())} (${lasted} s)`;
}
