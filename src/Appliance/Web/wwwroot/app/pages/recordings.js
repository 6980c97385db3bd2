// Recordings: the search of GET /api/recordings (time range, extension, user, device, call id, direction, duration),
// sorted by start or duration, paged forward with the API's keyset cursor ("next" passed back as "after").
// Legal holds placed or released and deletions show in the listed rows as they happen (GET /api/events).
import { get, may } from '../api.js';
import { fill, h, field, table, time, seconds, party, message } from '../dom.js';

const filters = ['from', 'to', 'extension', 'user', 'device', 'callId', 'direction', 'minDuration', 'maxDuration', 'sort', 'order'];

export async function render(main, { params }) {
  const inputs = {
    from: h('input', { type: 'datetime-local', name: 'from', step: 1 }),
    to: h('input', { type: 'datetime-local', name: 'to', step: 1 }),
    extension: h('input', { name: 'extension', inputmode: 'numeric' }),
    user: h('input', { name: 'user' }),
    device: h('input', { name: 'device' }),
    callId: h('input', { name: 'callId' }),
    direction: h('select', { name: 'direction' }, h('option', { value: '' }, 'any'), h('option', { value: 'internal' }, 'internal'),
      h('option', { value: 'external' }, 'external'), h('option', { value: 'unknown' }, 'unknown')),
    minDuration: h('input', { name: 'minDuration', type: 'number', min: 0, step: 1 }),
    maxDuration: h('input', { name: 'maxDuration', type: 'number', min: 0, step: 1 }),
    sort: h('select', { name: 'sort' }, h('option', { value: 'startedAt' }, 'start time'), h('option', { value: 'duration' }, 'duration')),
    order: h('select', { name: 'order' }, h('option', { value: 'desc' }, 'descending'), h('option', { value: 'asc' }, 'ascending')),
  };
  for (const name of filters) {
    const value = params.get(name);
    if (value === null) continue;
    inputs[name].value = name === 'from' || name === 'to' ? local(value) : value;
  }

  const form = h('form', { class: 'search', role: 'search', 'aria-label': 'Search recordings' },
    field('From', inputs.from), field('To', inputs.to), field('Extension', inputs.extension), field('User', inputs.user),
    field('Device', inputs.device), field('Call-ID', inputs.callId), field('Direction', inputs.direction),
    field('Min. seconds', inputs.minDuration), field('Max. seconds', inputs.maxDuration),
    field('Sort by', inputs.sort), field('Order', inputs.order),
    h('button', { type: 'submit' }, 'Search'));
  const results = h('section', { 'aria-live': 'polite', 'aria-label': 'Results' });
  fill(main, h('h1', {}, 'Recordings'), form, results);

  form.addEventListener('submit', e => {
    e.preventDefault();
    const query = new URLSearchParams();
    for (const name of filters) {
      let value = inputs[name].value.trim();
      if (!value) continue;
      if (name === 'from' || name === 'to') value = new Date(value).toISOString();
      query.set(name, value);
    }
    const hash = `#/recordings?${query}`;
    if (location.hash === hash) search(results, query, null, []); else location.hash = hash;
  });

  // The stream only updates the rows listed: no new search (each search is an audit entry). It needs the live policy
  // (administrators, supervisors); others see a hold at their next search.
  const source = may('live') ? new EventSource('/api/events?types=recording.held,recording.released,recording.deleted') : null;
  if (source) {
    source.addEventListener('stream.open', () => { results.dataset.events = 'open'; });
    const row = e => results.querySelector(`tr[data-id="${CSS.escape(JSON.parse(e.data).recordingId)}"]`);
    source.addEventListener('recording.held', e => row(e)?.querySelector('.legal-hold')?.removeAttribute('hidden'));
    source.addEventListener('recording.released', e => row(e)?.querySelector('.legal-hold')?.setAttribute('hidden', ''));
    source.addEventListener('recording.deleted', e => row(e)?.classList.add('deleted'));
  }

  const query = new URLSearchParams();
  for (const name of filters) if (params.get(name)) query.set(name, params.get(name));
  await search(results, query, null, []);

  function sortBy(name) {
    const q = new URLSearchParams(query);
    const order = q.get('sort') === name || (!q.get('sort') && name === 'startedAt') ? (q.get('order') === 'asc' ? 'desc' : 'asc') : 'desc';
    q.set('sort', name);
    q.set('order', order);
    location.hash = `#/recordings?${q}`;
  }

  async function search(into, q, after, previous) {
    const page = new URLSearchParams(q);
    page.set('limit', '50');
    if (after) page.set('after', after);
    let list;
    try {
      list = await get(`/api/recordings?${page}`);
    } catch (err) {
      fill(into, message(err.message));
      return;
    }
    const sorted = q.get('sort') || 'startedAt';
    const arrow = name => sorted === name ? (q.get('order') === 'asc' ? ' ▲' : ' ▼') : '';
    const rows = list.items.map(r => h('tr', { dataset: { id: r.id } },
      h('td', {}, h('a', { href: `#/call/${r.id}` }, time(r.startedAt))),
      h('td', { class: 'num' }, seconds(r.durationSeconds)),
      h('td', {}, party(r.parties.find(p => p.channel === 'left'))),
      h('td', {}, party(r.parties.find(p => p.channel === 'right'))),
      h('td', {}, r.protocol),
      h('td', { class: 'mono' }, r.callId),
      h('td', {}, r.hasAudio ? '' : 'no audio', h('span', { class: 'badge legal-hold', hidden: !r.legalHold }, 'legal hold'),
        r.appliance ? h('span', { class: 'badge', title: 'the appliance holding it (central index)' }, r.site ? `${r.appliance} (${r.site})` : r.appliance) : null)));
    const headers = [
      h('button', { type: 'button', class: 'link', onclick: () => sortBy('startedAt'), 'aria-label': 'Sort by start time' }, 'Started' + arrow('startedAt')),
      h('button', { type: 'button', class: 'link', onclick: () => sortBy('duration'), 'aria-label': 'Sort by duration' }, 'Duration' + arrow('duration')),
      'Local party (left)', 'Remote party (right)', 'Protocol', 'Call-ID', ''];
    const more = list.next
      ? h('button', { type: 'button', onclick: () => search(into, q, list.next, [...previous, after]) }, 'Next page')
      : null;
    const back = previous.length
      ? h('button', { type: 'button', onclick: () => search(into, q, previous.at(-1), previous.slice(0, -1)) }, 'Previous page')
      : null;
    fill(into, 
      list.indexing ? message('The index is being rebuilt: older recordings may be missing for now.', 'note') : null,
      list.scope === 'local' && !q.get('scope') ? message('The central index does not answer: only this appliance\'s recordings are listed.', 'note') : null,
      table(headers, rows, `${list.count} recording${list.count === 1 ? '' : 's'}${previous.length ? ` (page ${previous.length + 1})` : ''}`),
      h('div', { class: 'pager' }, back, more));
  }

  return () => source?.close();
}

// An ISO time as a datetime-local input value (local time, to the second).
function local(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
