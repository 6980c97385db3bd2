// A call: its parties, the events on a timeline, and (for roles that may listen) a two-lane player. The recording is
// stereo Ogg Opus, local party left and remote party right: the audio element's output is split per channel
// (ChannelSplitter), each lane goes through its own GainNode (mute) and AnalyserNode (live level), and is merged back.
// The level strip of each lane is computed once from the decoded file (decodeAudioData).
import { api, get, may, current } from '../api.js';
import { fill, h, table, time, seconds, message } from '../dom.js';

const lanes = [
  { channel: 'left', index: 0, title: 'Local party (left)' },
  { channel: 'right', index: 1, title: 'Remote party (right)' },
];

export async function render(main, { id }) {
  const sidecar = await get(`/api/recordings/${encodeURIComponent(id)}`);
  const duration = Math.max(sidecar.mediaDurationSeconds || 0, sidecar.durationSeconds || 0, 0.001);
  const events = timelineEvents(sidecar);
  const hold = holdIndicator(sidecar, id);

  const parties = table(['Channel', 'Extension', 'Name', 'Device', 'User', 'Host device', 'Login kind', 'Address'],
    sidecar.parties.map(p => h('tr', { dataset: { channel: p.channel } },
      h('td', {}, p.channel), h('td', {}, p.extension ?? ''), h('td', {}, p.name ?? ''), h('td', {}, p.device ?? ''),
      h('td', {}, p.user ?? ''), h('td', {}, p.hostDevice ?? ''), h('td', {}, p.login ?? ''),
      h('td', { class: 'mono' }, p.ip ? `${p.ip}${p.port ? ':' + p.port : ''}` : ''))));

  const markers = h('ol', { class: 'timeline', 'aria-label': 'Events on the timeline' },
    events.map(e => h('li', { class: `event event-${e.type}`, style: undefined, dataset: { type: e.type, offset: e.offset } },
      h('button', { type: 'button', class: 'marker', title: `${e.type} at ${seconds(e.offset)}`, onclick: () => seek(e.offset) },
        h('span', { class: 'marker-label' }, label(e))))));
  for (const li of markers.children) li.firstChild.style.setProperty('--at', `${Math.min(100, (Number(li.dataset.offset) / duration) * 100)}%`);
  const playhead = h('div', { class: 'playhead', 'aria-hidden': 'true' });
  const timeline = h('div', { class: 'timeline-box' }, h('div', { class: 'track' }, markers, playhead));
  const eventList = table(['At', 'Event', 'Detail'],
    events.map(e => h('tr', {}, h('td', { class: 'num' }, seconds(e.offset)), h('td', {}, e.type), h('td', {}, e.detail ?? ''))), 'Events');

  const downloads = h('p', { class: 'downloads' },
    may('listen') && sidecar.file ? h('a', { href: `/api/recordings/${id}/audio`, download: `${id}.opus` }, 'Download audio') : null, ' ',
    h('a', { href: `/api/recordings/${id}`, download: `${id}.json` }, 'Download sidecar (JSON)'));

  const header = h('header', { class: 'call-head' },
    h('h1', {}, `Call ${sidecar.parties.map(p => p.extension || p.ip).join(' ↔ ')}`),
    h('p', {}, `${time(sidecar.startedAt)} · ${seconds(sidecar.durationSeconds)} · ${sidecar.protocol} · ${sidecar.codecs.join(', ')} · end: ${sidecar.endReason}`),
    h('p', { class: 'mono' }, `Call-ID ${sidecar.callId}`), hold);

  let player = null;
  let stop = null;
  if (!may('listen')) {
    player = message(`Your role (${current().role}) may see this call's metadata but not play its audio.`, 'note');
  } else if (!sidecar.file) {
    player = message(`This recording has no audio (end reason: ${sidecar.endReason}).`, 'note');
  } else {
    ({ element: player, stop } = twoLanePlayer(id, duration, playhead));
  }

  fill(main, header, player, h('section', { 'aria-label': 'Timeline' }, h('h2', {}, 'Timeline'), timeline, eventList),
    h('section', {}, h('h2', {}, 'Parties'), parties), downloads);

  function seek(offset) {
    const audio = main.querySelector('audio');
    if (audio) { audio.currentTime = offset; audio.play(); }
  }
  return stop;
}

function label(e) {
  return e.type === 'dtmf' ? `DTMF ${e.detail}` : e.type;
}

// The sidecar's events and DTMF digits by their offset into the recording.
function timelineEvents(sidecar) {
  const events = sidecar.events.map(e => ({
    type: e.type, detail: e.detail,
    offset: e.offsetSeconds ?? Math.max(0, (new Date(e.at) - new Date(sidecar.mediaStartedAt || sidecar.startedAt)) / 1000),
  }));
  for (const d of sidecar.dtmf) events.push({ type: 'dtmf', detail: d.digit, offset: d.offsetSeconds });
  return events.sort((a, b) => a.offset - b.offset);
}

// Legal hold (retention): shown to everyone, toggled by administrators (PUT/DELETE /api/recordings/{id}/hold). In an
// estate the sidecar names the appliance holding the recording; a hold asked for here is placed there by this appliance.
function holdIndicator(sidecar, id) {
  const state = h('span', { class: sidecar.legalHold ? 'badge' : 'badge off', id: 'legal-hold' }, sidecar.legalHold ? 'Legal hold' : 'No legal hold');
  const box = h('p', {}, state);
  if (sidecar.appliance) {
    box.append(' ', h('span', { class: 'badge', id: 'recording-appliance', title: 'the appliance holding the recording and its legal hold (central index)' },
      `on ${sidecar.site ? `${sidecar.appliance} (${sidecar.site})` : sidecar.appliance}`));
  }
  if (may('administer')) {
    const button = h('button', { type: 'button', id: 'legal-hold-toggle' }, sidecar.legalHold ? 'Release hold' : 'Place legal hold');
    button.addEventListener('click', async () => {
      const on = !sidecar.legalHold;
      box.querySelector('[role=alert]')?.remove();
      button.disabled = true;
      try {
        const summary = await api(on ? 'PUT' : 'DELETE', `/api/recordings/${id}/hold`);
        sidecar.legalHold = summary?.legalHold ?? on;
        state.textContent = sidecar.legalHold ? 'Legal hold' : 'No legal hold';
        state.className = sidecar.legalHold ? 'badge' : 'badge off';
        button.textContent = sidecar.legalHold ? 'Release hold' : 'Place legal hold';
      } catch (err) {
        box.append(message(err.message)); // e.g. the holding appliance does not answer: named in the problem's detail
      } finally {
        button.disabled = false;
      }
    });
    box.append(' ', button);
  }
  return box;
}

function twoLanePlayer(id, duration, playhead) {
  const audio = h('audio', { controls: true, preload: 'auto', src: `/api/recordings/${id}/audio`, id: 'player' });
  let graph = null;
  const views = lanes.map(lane => {
    const mute = h('button', { type: 'button', 'aria-pressed': 'false', class: 'mute' }, 'Mute');
    const strip = h('canvas', { class: 'strip', width: 800, height: 48, role: 'img', 'aria-label': `${lane.title}: level over the call` });
    const meter = h('meter', { min: 0, max: 1, value: 0, class: 'level', 'aria-label': `${lane.title}: level now`, dataset: { level: '0' } });
    const element = h('div', { class: `lane lane-${lane.channel}`, dataset: { channel: lane.channel } },
      h('h3', {}, lane.title), h('div', { class: 'lane-row' }, mute, meter), strip);
    mute.addEventListener('click', () => {
      const muted = mute.getAttribute('aria-pressed') !== 'true';
      mute.setAttribute('aria-pressed', String(muted));
      mute.textContent = muted ? 'Unmute' : 'Mute';
      element.classList.toggle('muted', muted);
      if (graph) graph.gains[lane.index].gain.value = muted ? 0 : 1;
    });
    return { lane, mute, strip, meter, element };
  });

  // The graph is made on the first play (an AudioContext may only start after a gesture; the element stays the clock).
  audio.addEventListener('play', () => {
    if (!graph) {
      const context = new AudioContext();
      const source = context.createMediaElementSource(audio);
      const splitter = context.createChannelSplitter(2);
      const merger = context.createChannelMerger(2);
      source.connect(splitter);
      const gains = [], analysers = [];
      for (const view of views) {
        const gain = context.createGain();
        gain.gain.value = view.mute.getAttribute('aria-pressed') === 'true' ? 0 : 1;
        const analyser = context.createAnalyser();
        analyser.fftSize = 2048;
        splitter.connect(gain, view.lane.index);
        gain.connect(analyser);
        gain.connect(merger, 0, view.lane.index);
        gains.push(gain);
        analysers.push(analyser);
      }
      merger.connect(context.destination);
      graph = { context, gains, analysers };
    }
    graph.context.resume();
  });

  // Live levels (RMS of the last 2048 samples after the lane's gain) and the playhead, ten times a second.
  const samples = new Float32Array(2048);
  const timer = setInterval(() => {
    playhead.style.setProperty('--at', `${Math.min(100, (audio.currentTime / duration) * 100)}%`);
    if (!graph) return;
    views.forEach((view, i) => {
      graph.analysers[i].getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = audio.paused ? 0 : Math.sqrt(sum / samples.length);
      const level = Math.min(1, rms * 4);
      view.meter.value = level;
      view.meter.dataset.level = level.toFixed(4);
    });
  }, 100);

  const status = h('p', { class: 'note', role: 'status' }, 'Computing the level strips…');
  levelStrips(id, views).then(() => status.remove(), err => { status.textContent = `Level strips unavailable: ${err.message}`; });

  const element = h('section', { class: 'player', 'aria-label': 'Player' }, h('h2', {}, 'Player'), audio, status, views.map(v => v.element));
  return {
    element,
    stop: () => { clearInterval(timer); audio.pause(); graph?.context.close(); },
  };
}

// Each lane's peak level per column of its strip, from the decoded file. Fetched as a range from the start, so the audit
// log counts it with the player's own requests as one play, not as a download.
async function levelStrips(id, views) {
  const response = await fetch(`/api/recordings/${id}/audio`, { headers: { Range: 'bytes=0-' }, credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${response.status}`);
  const context = new OfflineAudioContext(2, 1, 48000);
  const buffer = await context.decodeAudioData(await response.arrayBuffer());
  for (const view of views) {
    const data = buffer.getChannelData(Math.min(view.lane.index, buffer.numberOfChannels - 1));
    const canvas = view.strip;
    const g = canvas.getContext('2d');
    const columns = canvas.width, per = Math.max(1, Math.floor(data.length / columns));
    g.clearRect(0, 0, columns, canvas.height);
    g.fillStyle = view.lane.index === 0 ? '#2563eb' : '#c2410c';
    let total = 0;
    for (let x = 0; x < columns; x++) {
      let peak = 0;
      for (let i = x * per, end = Math.min(data.length, i + per); i < end; i++) peak = Math.max(peak, Math.abs(data[i]));
      total += peak;
      const height = Math.max(1, peak * canvas.height);
      g.fillRect(x, (canvas.height - height) / 2, 1, height);
    }
    canvas.dataset.energy = (total / columns).toFixed(4); // the strip's mean peak, for tests and tooltips
  }
}
