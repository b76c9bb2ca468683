// Roost dashboard: four pages, each polling the admin REST API (or, for the
// tap, subscribing over MQTT-over-WebSocket), rendered with plain DOM code.
import mqtt from 'mqtt';
import './style.css';
import { api, el, fmtBytes, fmtNum, lineChart, prettyPayload } from './util.js';

const app = document.getElementById('app');
const POLL_MS = 2000;

let info = { version: '', websocket_urls: [] };
let stop = () => {}; // stops the current page's timers and connections

const pages = { overview, clients, topics, tap };

async function start() {
  try {
    info = await api('GET', '/api/v1/info');
    document.getElementById('version').textContent = 'v' + info.version;
  } catch (e) {
    document.getElementById('version').textContent = 'API unreachable: ' + e.message;
  }
  window.addEventListener('hashchange', route);
  route();
}

function route() {
  stop();
  stop = () => {};
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'overview';
  const page = pages[name] || overview;
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.page === name);
  }
  app.replaceChildren();
  stop = page(app) || (() => {});
}

// every runs fn now and every ms until the returned function is called.
function every(ms, fn) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try {
      await fn();
    } catch (e) {
      console.error(e);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// ---- Overview: counters and charts of rates and connections.

function overview(root) {
  const cards = el('div', { class: 'cards' });
  const charts = el('div', { class: 'charts' });
  const rateChart = el('div', { class: 'chart', id: 'chart-rates' });
  const connChart = el('div', { class: 'chart', id: 'chart-conns' });
  charts.append(
    el('section', {}, el('h2', {}, 'Messages per second'), rateChart),
    el('section', {}, el('h2', {}, 'Connections'), connChart),
  );
  const listeners = el('div');
  root.append(el('h2', {}, 'Overview'), cards, charts, el('h2', {}, 'Listeners'), listeners);
  const hist = { in: [], out: [], conns: [] };
  let prev = null;
  return every(POLL_MS, async () => {
    const s = await api('GET', '/api/v1/stats');
    const now = performance.now();
    if (prev) {
      const dt = (now - prev.t) / 1000;
      hist.in.push(Math.max(0, (s.messages_in - prev.s.messages_in) / dt));
      hist.out.push(Math.max(0, (s.messages_out - prev.s.messages_out) / dt));
    }
    hist.conns.push(s.clients_connected);
    for (const k of Object.keys(hist)) if (hist[k].length > 90) hist[k].shift();
    prev = { s, t: now };
    const dropped = Object.values(s.dropped || {}).reduce((a, b) => a + b, 0);
    const card = (label, value, id) => el('div', { class: 'card', id }, el('div', { class: 'value' }, value), el('div', { class: 'label' }, label));
    cards.replaceChildren(
      card('connections', fmtNum(s.clients_connected), 'stat-connections'),
      card('sessions', fmtNum(s.sessions) + ' (' + fmtNum(s.sessions_online) + ' online)', 'stat-sessions'),
      card('subscriptions', fmtNum(s.subscriptions), 'stat-subscriptions'),
      card('retained', fmtNum(s.retained), 'stat-retained'),
      card('messages in', fmtNum(s.messages_in) + ' · ' + fmtNum(hist.in.at(-1) || 0) + '/s', 'stat-in'),
      card('messages out', fmtNum(s.messages_out) + ' · ' + fmtNum(hist.out.at(-1) || 0) + '/s', 'stat-out'),
      card('bytes in / out', fmtBytes(s.bytes_in) + ' / ' + fmtBytes(s.bytes_out), 'stat-bytes'),
      card('inflight / queued', fmtNum(s.inflight) + ' / ' + fmtNum(s.queued), 'stat-queue'),
      card('dropped', fmtNum(dropped), 'stat-dropped'),
      card('auth failures', fmtNum(s.auth_failures), 'stat-auth'),
      card('uptime', Math.floor(s.uptime_seconds) + ' s', 'stat-uptime'),
    );
    rateChart.replaceChildren(lineChart([{ name: 'in', values: hist.in, cls: 's1' }, { name: 'out', values: hist.out, cls: 's2' }]));
    connChart.replaceChildren(lineChart([{ name: 'connections', values: hist.conns, cls: 's3' }]));
    const rows = s.listeners.map((l) => el('tr', {},
      el('td', {}, l.listener), el('td', { class: 'num' }, fmtNum(l.connections)), el('td', { class: 'num' }, fmtNum(l.connections_total)),
      el('td', { class: 'num' }, l.messages_in_by_qos.map(fmtNum).join(' / ')), el('td', { class: 'num' }, l.messages_out_by_qos.map(fmtNum).join(' / ')),
      el('td', { class: 'num' }, fmtBytes(l.bytes_in)), el('td', { class: 'num' }, fmtBytes(l.bytes_out))));
    listeners.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ...['listener', 'open', 'total', 'in by QoS 0/1/2', 'out by QoS 0/1/2', 'bytes in', 'bytes out'].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...rows)));
  });
}

// ---- Clients: a searchable table with kick and trace.

function clients(root) {
  const search = el('input', { type: 'search', placeholder: 'Search client id or username', id: 'client-search' });
  const only = el('select', { id: 'client-filter' }, el('option', { value: '' }, 'all'), el('option', { value: 'true' }, 'connected'), el('option', { value: 'false' }, 'offline'));
  const count = el('span', { class: 'muted' });
  const body = el('tbody');
  const table = el('table', { id: 'clients-table' },
    el('thead', {}, el('tr', {}, ...['client id', 'username', 'remote address', 'MQTT', 'state', 'inflight', 'queued', 'buffered', 'subs', 'msgs in', 'msgs out', ''].map((h) => el('th', {}, h)))),
    body);
  root.append(el('h2', {}, 'Clients'), el('div', { class: 'toolbar' }, search, only, count), table);
  const load = async () => {
    const q = new URLSearchParams({ search: search.value, limit: '500' });
    if (only.value) q.set('connected', only.value);
    const r = await api('GET', '/api/v1/clients?' + q);
    count.textContent = r.total + ' sessions';
    body.replaceChildren(...r.clients.map((c) => {
      const sum = (a) => a.reduce((x, y) => x + y, 0);
      const kick = el('button', { class: 'small', disabled: !c.connected, title: 'Disconnect (MQTT 5: reason 0x98)' }, 'kick');
      kick.onclick = async () => {
        await api('POST', '/api/v1/clients/' + encodeURIComponent(c.client_id) + '/kick');
        load();
      };
      const trace = el('button', { class: 'small' + (c.traced ? ' on' : ''), title: 'Log this client at debug level' }, c.traced ? 'tracing' : 'trace');
      trace.onclick = async () => {
        await api('PUT', '/api/v1/clients/' + encodeURIComponent(c.client_id) + '/trace', { enabled: !c.traced });
        load();
      };
      return el('tr', { 'data-client': c.client_id },
        el('td', { class: 'mono' }, c.client_id), el('td', {}, c.username), el('td', { class: 'mono' }, c.remote_addr),
        el('td', {}, { 3: '3.1', 4: '3.1.1', 5: '5.0' }[c.protocol_version] || String(c.protocol_version)),
        el('td', {}, el('span', { class: 'badge ' + (c.connected ? 'ok' : 'off') }, c.connected ? 'connected' : 'offline')),
        el('td', { class: 'num' }, fmtNum(c.inflight)), el('td', { class: 'num' }, fmtNum(c.queued)),
        el('td', { class: 'num' }, fmtBytes(c.buffered_bytes)), el('td', { class: 'num' }, fmtNum(c.subscriptions)),
        el('td', { class: 'num' }, fmtNum(sum(c.messages_in_by_qos))), el('td', { class: 'num' }, fmtNum(sum(c.messages_out_by_qos))),
        el('td', {}, kick, ' ', trace));
    }));
  };
  let t = null;
  search.oninput = () => {
    clearTimeout(t);
    t = setTimeout(load, 200);
  };
  only.onchange = load;
  return every(POLL_MS * 2.5, load);
}

// ---- Topics: a live tree of retained values, rates and subscriber counts.

function topics(root) {
  const tree = el('div', { class: 'tree', id: 'topic-tree' });
  const note = el('p', { class: 'muted' }, 'Rates count publishes from clients while this page is open. Subscribers: subscriptions whose filter matches the topic.');
  root.append(el('h2', {}, 'Topics'), note, tree);
  const closed = new Set(['$SYS']); // collapsed paths; the rest is open
  let prev = null;
  return every(POLL_MS, async () => {
    const r = await api('GET', '/api/v1/topics');
    const t = Date.parse(r.now);
    const rates = {};
    if (prev && t > prev.t) {
      for (const x of r.topics) rates[x.topic] = Math.max(0, (x.messages - (prev.counts[x.topic] || 0)) / ((t - prev.t) / 1000));
    }
    prev = { t, counts: Object.fromEntries(r.topics.map((x) => [x.topic, x.messages])) };
    // Build the tree of levels.
    const rootNode = { children: new Map(), path: '' };
    for (const x of r.topics) {
      let n = rootNode;
      const levels = x.topic.split('/');
      levels.forEach((lvl, i) => {
        if (!n.children.has(lvl)) n.children.set(lvl, { children: new Map(), path: levels.slice(0, i + 1).join('/'), name: lvl });
        n = n.children.get(lvl);
      });
      n.topic = x;
    }
    tree.replaceChildren(renderLevel(rootNode, closed, rates, 0));
    if (r.topics.length === 0) tree.replaceChildren(el('p', { class: 'muted' }, 'No topics yet: none retained, none published since this page opened.'));
  });
}

function renderLevel(node, closed, rates, depth) {
  const ul = el('ul');
  const names = [...node.children.keys()].sort();
  for (const name of names) {
    const c = node.children.get(name);
    const has = c.children.size > 0;
    const isOpen = !closed.has(c.path);
    const toggle = el('span', { class: 'twisty' }, has ? (isOpen ? '▾' : '▸') : '·');
    const row = el('div', { class: 'node', 'data-topic': c.path }, toggle, el('span', { class: 'level' }, name === '' ? '(empty)' : name));
    if (c.topic) {
      const x = c.topic;
      if (x.subscribers) row.append(el('span', { class: 'pill', title: 'matching subscriptions' }, x.subscribers + ' sub'));
      if (rates[x.topic] !== undefined || x.messages) row.append(el('span', { class: 'pill rate', title: 'messages per second' }, fmtNum(rates[x.topic] || 0) + '/s'));
      if (x.retained) row.append(el('code', { class: 'retained', title: 'retained, QoS ' + x.retained.qos }, preview(x.retained)));
    }
    if (has) {
      row.classList.add('branch');
      row.onclick = () => {
        if (closed.has(c.path)) closed.delete(c.path);
        else closed.add(c.path);
        row.parentElement.replaceWith(renderItem(c, closed, rates, depth));
      };
    }
    ul.append(renderItemWith(row, c, closed, rates, depth, isOpen));
  }
  return ul;
}

function renderItem(c, closed, rates, depth) {
  const tmp = renderLevel({ children: new Map([[c.name, c]]) }, closed, rates, depth);
  return tmp.firstChild;
}

function renderItemWith(row, c, closed, rates, depth, isOpen) {
  const li = el('li', {}, row);
  if (c.children.size > 0 && isOpen) li.append(renderLevel(c, closed, rates, depth + 1));
  return li;
}

function preview(r) {
  const s = r.payload !== undefined ? r.payload : '(' + r.size + ' bytes binary)';
  return s.length > 80 ? s.slice(0, 80) + '…' : s;
}

// ---- Tap: subscribe over MQTT-over-WebSocket and show messages live.

function tap(root) {
  // The admin listener's own /mqtt (forwarded to the broker) first: same
  // origin, so no allowed_origins to configure.
  const own = info.tap_path ? (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + info.tap_path : null;
  const urls = [...(own ? [own] : []), ...(info.websocket_urls || []).map(resolveWS)];
  const url = el('input', { id: 'tap-url', value: urls[0] || '', placeholder: 'ws://host:8083/mqtt', size: 36 });
  const filter = el('input', { id: 'tap-filter', value: '#', placeholder: 'topic filter', size: 24 });
  const qos = el('select', { id: 'tap-qos' }, ...[0, 1, 2].map((q) => el('option', { value: String(q) }, 'QoS ' + q)));
  // Credentials for brokers that refuse anonymous clients; kept in this page only.
  const user = el('input', { id: 'tap-username', placeholder: 'username (optional)', size: 16, autocomplete: 'off' });
  const pass = el('input', { id: 'tap-password', type: 'password', placeholder: 'password', size: 14, autocomplete: 'off' });
  const btn = el('button', { id: 'tap-start' }, 'Start');
  const clear = el('button', { id: 'tap-clear', class: 'secondary' }, 'Clear');
  const status = el('span', { id: 'tap-status', class: 'muted' }, urls.length ? 'idle' : 'no WebSocket listener configured: enter a URL');
  const list = el('div', { id: 'tap-messages', class: 'messages' });
  root.append(el('h2', {}, 'Tap'), el('div', { class: 'toolbar' }, url, filter, qos, user, pass, btn, clear, status),
    publishForm(), list);
  let client = null;
  let n = 0;
  const end = () => {
    if (client) client.end(true);
    client = null;
    btn.textContent = 'Start';
  };
  clear.onclick = () => {
    list.replaceChildren();
    n = 0;
  };
  btn.onclick = () => {
    if (client) {
      end();
      status.textContent = 'stopped';
      return;
    }
    const f = filter.value.trim();
    status.textContent = 'connecting to ' + url.value + ' …';
    btn.textContent = 'Stop';
    client = mqtt.connect(url.value, {
      protocolVersion: 5,
      clientId: 'roost-tap-' + Math.random().toString(36).slice(2, 10),
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10000,
      ...(user.value ? { username: user.value, password: pass.value } : {}),
    });
    client.on('connect', () => {
      client.subscribe(f, { qos: Number(qos.value) }, (err, granted) => {
        if (err || !granted || granted.some((g) => g.reason >= 0x80 || g.qos >= 0x80)) {
          status.textContent = 'subscribe refused: ' + (err ? err.message : JSON.stringify(granted));
          return;
        }
        status.textContent = 'subscribed to ' + f;
        status.dataset.state = 'subscribed';
      });
    });
    client.on('error', (e) => {
      status.textContent = 'error: ' + e.message;
    });
    client.on('close', () => {
      if (client) status.textContent = 'disconnected; retrying…';
      delete status.dataset.state;
    });
    client.on('message', (topic, payload, packet) => {
      n++;
      const { text, json } = prettyPayload(payload);
      const item = el('div', { class: 'msg' + (json ? ' json' : '') },
        el('div', { class: 'meta' },
          el('span', { class: 'topic mono' }, topic),
          el('span', { class: 'pill' }, 'QoS ' + packet.qos),
          packet.retain ? el('span', { class: 'pill' }, 'retained') : '',
          el('span', { class: 'muted' }, new Date().toLocaleTimeString() + ' · ' + payload.length + ' B')),
        el('pre', { class: 'payload' }, text));
      list.prepend(item);
      while (list.children.length > 200) list.lastChild.remove();
    });
  };
  return end;
}

// publishForm publishes through the API (POST /api/v1/publish), as the
// broker itself: no client connection, no ACL; $SYS topics are refused.
function publishForm() {
  const topic = el('input', { id: 'pub-topic', placeholder: 'topic', size: 28 });
  const payload = el('textarea', { id: 'pub-payload', placeholder: 'payload (text)', rows: 2, cols: 48 });
  const qos = el('select', { id: 'pub-qos' }, ...[0, 1, 2].map((q) => el('option', { value: String(q) }, 'QoS ' + q)));
  const retain = el('input', { id: 'pub-retain', type: 'checkbox' });
  const send = el('button', { id: 'pub-send', type: 'submit' }, 'Publish');
  const status = el('span', { id: 'pub-status', class: 'muted' });
  const form = el('form', { id: 'publish-form', class: 'toolbar publish' },
    el('strong', {}, 'Publish'), topic, payload, qos, el('label', {}, retain, ' retain'), send, status);
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    delete status.dataset.state;
    try {
      const r = await api('POST', '/api/v1/publish',
        { topic: topic.value, payload: payload.value, qos: Number(qos.value), retain: retain.checked });
      status.textContent = 'published to ' + r.published + ' (' + r.size + ' B)';
      status.dataset.state = 'ok';
    } catch (e) {
      status.textContent = 'refused: ' + e.message;
      status.dataset.state = 'error';
    }
  };
  return form;
}

// resolveWS fills in the page's host for a URL without one ("ws://:8083/mqtt").
function resolveWS(u) {
  const m = u.match(/^(wss?):\/\/:(\d+)(.*)$/);
  return m ? `${m[1]}://${location.hostname}:${m[2]}${m[3]}` : u;
}

start();
