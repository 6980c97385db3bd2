// Health: capture sources with their packets and drops, the recordings disk and the directory's last checkpoint
// (GET /api/health: the same counters /metrics exports), refreshed every 5 s.
import { get } from '../api.js';
import { fill, h, table, time, bytes, message } from '../dom.js';

export async function render(main) {
  const body = h('div');
  fill(main, h('h1', {}, 'Health'), body);
  async function refresh() {
    let v;
    try {
      v = await get('/api/health');
    } catch (err) {
      fill(body, message(err.message));
      return;
    }
    const n = x => x === null || x === undefined ? 'n/a' : x.toLocaleString();
    const d = v.disk;
    const used = d.totalBytes ? Math.round(100 * (1 - d.freeBytes / d.totalBytes)) : null;
    fill(body, 
      h('p', { class: v.ready ? 'ok' : 'error', role: 'status' }, v.ready ? 'Ready: every capture source runs.' : 'Not ready (starting or stopping).'),
      table(['Source', 'Kind', 'State', 'Packets', 'Bytes', 'Kernel drops', 'Interface drops', 'Queue drops', 'Calls now', 'Last progress'],
        v.sources.map(s => h('tr', { dataset: { source: s.name } },
          h('td', { class: 'mono' }, s.name), h('td', {}, s.live ? 'live interface' : 'replay'),
          h('td', {}, s.ended ? 'ended' : s.interfaceUp === false ? 'interface down' : 'capturing'),
          h('td', { class: 'num' }, n(s.packets)), h('td', { class: 'num' }, bytes(s.bytes)),
          h('td', { class: 'num' }, n(s.kernelDrops)), h('td', { class: 'num' }, n(s.interfaceDrops)), h('td', { class: 'num' }, n(s.queueDrops)),
          h('td', { class: 'num' }, n(s.activeCalls)), h('td', { class: 'num' }, s.ended ? '' : `${s.progressAgeSeconds} s ago`))), 'Capture sources'),
      table(['Recordings folder', 'Used', 'Free', 'Writes', 'Recordings written', 'Failed', 'Index'], [h('tr', {},
        h('td', { class: 'mono' }, d.folder), h('td', {}, used === null ? 'unknown' : `${used} % of ${bytes(d.totalBytes)}`), h('td', {}, bytes(d.freeBytes)),
        h('td', { class: d.writeFailing ? 'error' : '' }, d.writeFailing ? 'failing' : 'ok'), h('td', { class: 'num' }, n(d.recordingsWritten)),
        h('td', { class: 'num' }, n(d.recordingsFailed)), h('td', {}, d.indexing ? 'rebuilding' : 'ready'))], 'Disk'),
      v.directory ? table(['Last checkpoint', 'Checkpoints', 'Devices', 'Logged in', 'Event-stream clients'], [h('tr', {},
        h('td', {}, v.directory.lastCheckpoint ? time(v.directory.lastCheckpoint) : 'not yet'),
        h('td', { class: v.directory.checkpointFailing ? 'error' : '' }, v.directory.checkpointFailing ? 'failing' : 'ok'),
        h('td', { class: 'num' }, n(v.directory.devices)), h('td', { class: 'num' }, n(v.directory.loggedIn)), h('td', { class: 'num' }, n(v.eventClients)))], 'Directory') : null);
  }
  await refresh();
  const timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}
