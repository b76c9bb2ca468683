// Small helpers of the dashboard: DOM building, the API, formatting, and an
// SVG line chart.

const SVG = 'http://www.w3.org/2000/svg';

// el creates an element with attributes and children (strings become text).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === '') continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// api calls the admin API and returns the decoded JSON, or throws its error.
export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (r.status === 401) {
    // The login expired (or never was): the login page sets a new cookie.
    location.assign('/login');
  }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.status + ' ' + r.statusText);
  return data;
}

export function fmtNum(n) {
  if (n === undefined || n === null) return '';
  if (!Number.isInteger(n)) return n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en');
  return n.toLocaleString('en');
}

export function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

// prettyPayload decodes a payload as UTF-8 and pretty-prints it when it is
// JSON; binary payloads are shown as hex.
export function prettyPayload(bytes) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const hex = Array.from(bytes.slice(0, 256), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return { text: hex + (bytes.length > 256 ? ' …' : ''), json: false };
  }
  const t = text.trim();
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return { text: JSON.stringify(JSON.parse(t), null, 2), json: true };
    } catch {
      // not JSON after all
    }
  }
  return { text, json: false };
}

// lineChart draws series ({name, values, cls}) as an SVG line chart.
export function lineChart(series, w = 560, h = 180) {
  const pad = { l: 44, r: 10, t: 10, b: 22 };
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'linechart');
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => pad.l + (i * (w - pad.l - pad.r)) / (n - 1);
  const y = (v) => h - pad.b - (v * (h - pad.t - pad.b)) / max;
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    add('line', { x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v), class: 'grid' });
    add('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, fmtAxis(v));
  }
  const span = (n - 1) * 2; // seconds: one point per 2 s poll
  add('text', { x: pad.l, y: h - 4, class: 'axis' }, 'last ' + (span < 120 ? span + ' s' : Math.round(span / 60) + ' min'));
  series.forEach((s, si) => {
    if (s.values.length === 0) return;
    const off = n - s.values.length;
    const pts = s.values.map((v, i) => `${x(i + off).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    add('polyline', { points: pts, class: 'series ' + s.cls });
    add('text', { x: w - pad.r - 4, y: pad.t + 12 + si * 14, 'text-anchor': 'end', class: 'legend ' + s.cls }, s.name + ' ' + fmtNum(s.values.at(-1)));
  });
  return svg;
}

function fmtAxis(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
  return v < 10 && !Number.isInteger(v) ? v.toFixed(1) : String(Math.round(v));
}
