// Small DOM helpers: every text goes in as text (never as HTML), so nothing from a recording or a device can inject markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

export function table(headers, rows, caption) {
  return h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map(t => t instanceof Node ? h('th', { scope: 'col' }, t) : h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'None.'))));
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function seconds(s) {
  if (s === null || s === undefined) return '';
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

export function party(p) {
  if (!p) return '';
  return [p.extension, p.name && `(${p.name})`, p.user && `user ${p.user}`].filter(Boolean).join(' ') || p.ip || '?';
}

export function message(text, kind = 'error') {
  return h('p', { class: kind, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function bytes(n) {
  if (n === null || n === undefined) return 'unknown';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Replaces the element's children; absent parts (null, false: a section a role does not get) are left out. */
export function fill(element, ...children) {
  element.replaceChildren(...children.flat().filter(c => c !== null && c !== undefined && c !== false));
  return element;
}
