// issue 11: the live panel. A WebSocket to /api/clock on our own origin, proxied by the
// BFF (which adds the access token upstream); this page holds no token. The demo API
// greets the user by name, then sends the time every second and echoes messages.

const $ = (id) => document.getElementById(id);
const MAX_LINES = 12;

let socket = null;

function setState(text, kind) {
  const s = $('live-state');
  s.textContent = text;
  s.dataset.state = kind;
  s.classList.toggle('pill-yes', kind === 'open');
  s.classList.toggle('pill-no', kind !== 'open');
  $('live-connect').disabled = kind === 'open' || kind === 'connecting';
  $('live-disconnect').disabled = kind !== 'open';
  $('live-send').disabled = kind !== 'open';
}

function log(text, kind = 'in') {
  const list = $('live-log');
  const li = document.createElement('li');
  li.className = `live-line live-${kind}`;
  li.textContent = text;
  list.prepend(li);
  while (list.children.length > MAX_LINES) list.lastElementChild.remove();
}

function describe(data) {
  try {
    const m = JSON.parse(data);
    if (m.type === 'hello') return { text: m.text, kind: 'hello' };
    if (m.type === 'tick') return { text: `tick ${new Date(m.time * 1000).toLocaleTimeString()}`, kind: 'tick' };
    if (m.type === 'echo') return { text: `echo: ${m.text}`, kind: 'in' };
  } catch {
    // not JSON: shown as it is
  }
  return { text: String(data), kind: 'in' };
}

function closeText(e) {
  if (e.code === 1008) return `closed: the session ended (${e.code})`;
  return `closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`;
}

export function connect() {
  if (socket) return;
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  socket = new WebSocket(`${scheme}://${window.location.host}/api/clock`);
  setState('Connecting…', 'connecting');
  socket.addEventListener('open', () => {
    setState('Open', 'open');
    log('connected through the BFF', 'meta');
  });
  socket.addEventListener('message', (e) => {
    const { text, kind } = describe(e.data);
    if (kind === 'hello') $('live-greeting').textContent = text;
    log(text, kind);
  });
  socket.addEventListener('close', (e) => {
    socket = null;
    const text = closeText(e);
    setState(e.code === 1008 ? 'Closed: session ended' : 'Closed', 'closed');
    $('live-state').dataset.code = String(e.code);
    log(text, 'meta');
  });
}

export function disconnect() {
  if (socket) socket.close(1000, 'bye');
}

/** Called when the page shows the signed-out view. */
export function stopLive() {
  if (socket) socket.close(1000, 'signed out');
}

export function wireLive() {
  $('live-connect').addEventListener('click', connect);
  $('live-disconnect').addEventListener('click', disconnect);
  $('live-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('live-input');
    if (socket && socket.readyState === WebSocket.OPEN && input.value) {
      socket.send(input.value);
      log(`sent: ${input.value}`, 'out');
      input.value = '';
    }
  });
  setState('Not connected', 'idle');
}
