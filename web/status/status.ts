/**
 * The status page (GET /status): asks for the admin token (kept in
 * sessionStorage), connects to the `/admin` namespace and shows every node's
 * `status:node` figures in a table, with sparklines over the last minute;
 * below, the cluster's occupied rooms and connected users (`admin:rooms`,
 * asked every ROOMS_REFRESH_MS), each user with a Disconnect action
 * (`admin:disconnect`: every connection of the user, on every node).
 * Plain DOM and inline SVG (no external resource, within the gateway's CSP);
 * every string from the wire goes through textContent.
 */
import { io, type Socket } from 'socket.io-client';
import {
  ADMIN_NAMESPACE,
  isErrorPayload,
  STATUS_GONE_AFTER_MS,
  type AdminClientToServerEvents,
  type AdminRoomsResult,
  type AdminServerToClientEvents,
  type NodeStatus,
} from '../../shared/index.js';
import { element } from '../dom.js';

type AdminSocket = Socket<AdminServerToClientEvents, AdminClientToServerEvents>;

const TOKEN_KEY = 'roomcast.adminToken';
/** Span of the sparklines. */
const WINDOW_MS = 60_000;
/** A gone node's row is dropped after this long. */
const FORGET_AFTER_MS = 10 * 60_000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const SPARK_WIDTH = 120;
const SPARK_HEIGHT = 28;
/** How often the rooms and users are asked for (they come from the presence store, not from every node). */
const ROOMS_REFRESH_MS = 2000;

const ui = {
  state: element<HTMLSpanElement>('state'),
  summary: element<HTMLSpanElement>('summary'),
  signOut: element<HTMLButtonElement>('sign-out'),
  login: element<HTMLElement>('login'),
  loginForm: element<HTMLFormElement>('login-form'),
  token: element<HTMLInputElement>('token'),
  loginError: element<HTMLParagraphElement>('login-error'),
  status: element<HTMLElement>('status'),
  rows: element<HTMLTableSectionElement>('rows'),
  empty: element<HTMLParagraphElement>('empty'),
  roomRows: element<HTMLTableSectionElement>('room-rows'),
  roomsCount: element<HTMLSpanElement>('rooms-count'),
  roomsEmpty: element<HTMLParagraphElement>('rooms-empty'),
  userRows: element<HTMLTableSectionElement>('user-rows'),
  usersCount: element<HTMLSpanElement>('users-count'),
  usersEmpty: element<HTMLParagraphElement>('users-empty'),
  actionResult: element<HTMLParagraphElement>('action-result'),
  truncated: element<HTMLParagraphElement>('truncated'),
};

interface Sample {
  /** Arrival time on this page (nodes' clocks may differ). */
  t: number;
  connections: number;
  out: number;
  lag: number | null;
}

interface Spark {
  svg: SVGSVGElement;
  area: SVGPolygonElement;
  line: SVGPolylineElement;
  dot: SVGCircleElement;
  title: SVGTitleElement;
}

interface NodeView {
  latest: NodeStatus;
  seenAt: number;
  samples: Sample[];
  row: HTMLTableRowElement;
  cells: Record<'state' | 'connections' | 'in' | 'out' | 'lag' | 'heap' | 'rss' | 'uptime', HTMLElement>;
  sparks: Record<'connections' | 'out' | 'lag', Spark>;
}

const nodes = new Map<string, NodeView>();
let socket: AdminSocket | null = null;

// ---- formatting ----

const formatRate = (value: number): string => (value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(1));
const formatMegabytes = (bytes: number): string => (bytes / 1_048_576).toFixed(1);
const formatLag = (ms: number | null): string => (ms === null ? '–' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

// ---- sparklines ----

function svgElement<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const created = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) created.setAttribute(key, String(value));
  return created;
}

function createSpark(): Spark {
  const svg = svgElement('svg', { class: 'spark', viewBox: `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`, preserveAspectRatio: 'none', role: 'img' });
  const title = svgElement('title');
  const base = svgElement('line', { class: 'base', x1: 0, x2: SPARK_WIDTH, y1: SPARK_HEIGHT - 0.5, y2: SPARK_HEIGHT - 0.5 });
  const area = svgElement('polygon', { class: 'area' });
  const line = svgElement('polyline', { class: 'line' });
  const dot = svgElement('circle', { class: 'dot', r: 2 });
  svg.append(title, base, area, line, dot);
  return { svg, area, line, dot, title };
}

/** Draws the values of the last WINDOW_MS, scaled from 0 to their maximum; null values are skipped. */
function drawSpark(spark: Spark, points: Array<{ t: number; value: number | null }>, now: number, label: string, format: (value: number) => string): void {
  const shown = points.filter((point): point is { t: number; value: number } => point.value !== null && point.t >= now - WINDOW_MS);
  const max = Math.max(0, ...shown.map((point) => point.value));
  const top = 3;
  const bottom = SPARK_HEIGHT - 1.5;
  const x = (t: number): number => ((t - (now - WINDOW_MS)) / WINDOW_MS) * SPARK_WIDTH;
  const y = (value: number): number => (max === 0 ? bottom : bottom - (value / max) * (bottom - top));
  const coordinates = shown.map((point) => `${x(point.t).toFixed(1)},${y(point.value).toFixed(1)}`);
  spark.line.setAttribute('points', coordinates.join(' '));
  const first = shown[0];
  const last = shown[shown.length - 1];
  if (first === undefined || last === undefined) {
    spark.area.setAttribute('points', '');
    spark.dot.setAttribute('visibility', 'hidden');
  } else {
    spark.area.setAttribute('points', [`${x(first.t).toFixed(1)},${bottom}`, ...coordinates, `${x(last.t).toFixed(1)},${bottom}`].join(' '));
    spark.dot.setAttribute('visibility', 'visible');
    spark.dot.setAttribute('cx', x(last.t).toFixed(1));
    spark.dot.setAttribute('cy', y(last.value).toFixed(1));
  }
  spark.title.textContent = shown.length === 0 ? `${label}: no figures yet` : `${label} over the last minute: max ${format(max)}`;
}

// ---- the table ----

function cell(row: HTMLTableRowElement, field: string, numeric: boolean): HTMLTableCellElement {
  const td = row.insertCell();
  td.dataset.field = field;
  if (numeric) td.className = 'num';
  return td;
}

/** A numeric cell: the value (with its unit) and, optionally, a sparkline beside it. */
function metricCell(row: HTMLTableRowElement, field: string, unit: string, spark: Spark | null): HTMLElement {
  const td = cell(row, field, true);
  const wrap = document.createElement('div');
  wrap.className = 'metric';
  if (spark !== null) wrap.append(spark.svg);
  const value = document.createElement('span');
  value.className = 'value';
  const number = document.createElement('span');
  number.className = 'number';
  value.append(number);
  if (unit !== '') {
    const unitElement = document.createElement('span');
    unitElement.className = 'unit';
    unitElement.textContent = unit;
    value.append(unitElement);
  }
  wrap.append(value);
  td.append(wrap);
  return number;
}

function createView(status: NodeStatus): NodeView {
  const row = document.createElement('tr');
  row.dataset.node = status.nodeId;
  const name = cell(row, 'node', false);
  name.className = 'node';
  name.textContent = status.nodeId;
  const stateCell = cell(row, 'state', false);
  const state = document.createElement('span');
  state.className = 'badge';
  stateCell.append(state);
  const sparks = { connections: createSpark(), out: createSpark(), lag: createSpark() };
  const cells = {
    state,
    connections: metricCell(row, 'connections', '', sparks.connections),
    in: metricCell(row, 'in', '', null),
    out: metricCell(row, 'out', '', sparks.out),
    lag: metricCell(row, 'lag', 'ms', sparks.lag),
    heap: metricCell(row, 'heap', 'MB', null),
    rss: metricCell(row, 'rss', 'MB', null),
    uptime: metricCell(row, 'uptime', '', null),
  };
  return { latest: status, seenAt: 0, samples: [], row, cells, sparks };
}

function onStatus(status: NodeStatus): void {
  const now = Date.now();
  let view = nodes.get(status.nodeId);
  if (view === undefined) {
    view = createView(status);
    nodes.set(status.nodeId, view);
  }
  view.latest = status;
  view.seenAt = now;
  view.samples.push({ t: now, connections: status.connections, out: status.messagesOutPerSecond, lag: status.pubsubLagP99Ms });
  while ((view.samples[0]?.t ?? now) < now - WINDOW_MS - 2000) view.samples.shift();
  render();
}

function stateOf(view: NodeView, now: number): { label: string; className: string; title: string } {
  if (now - view.seenAt > STATUS_GONE_AFTER_MS) {
    return { label: 'gone', className: 'gone', title: `no figures since ${new Date(view.seenAt).toLocaleTimeString()}` };
  }
  if (view.latest.draining) return { label: 'draining', className: 'draining', title: 'shutting down: its clients are moving to other nodes' };
  if (!view.latest.ready) return { label: 'not ready', className: 'notready', title: view.latest.notReadyReason ?? '' };
  return { label: 'ready', className: 'ready', title: 'serving' };
}

function renderRow(view: NodeView, now: number): void {
  const { latest, cells, sparks, samples } = view;
  const state = stateOf(view, now);
  view.row.className = state.className === 'gone' ? 'gone' : '';
  cells.state.className = `badge ${state.className}`;
  cells.state.textContent = state.label;
  cells.state.title = state.title;
  cells.connections.textContent = latest.connections.toLocaleString('en');
  cells.in.textContent = formatRate(latest.messagesInPerSecond);
  cells.out.textContent = formatRate(latest.messagesOutPerSecond);
  cells.lag.textContent = formatLag(latest.pubsubLagP99Ms);
  cells.heap.textContent = formatMegabytes(latest.heapUsedBytes);
  cells.rss.textContent = formatMegabytes(latest.rssBytes);
  cells.uptime.textContent = formatUptime(latest.uptimeSeconds);
  drawSpark(sparks.connections, samples.map((s) => ({ t: s.t, value: s.connections })), now, 'Connections', (v) => v.toLocaleString('en'));
  drawSpark(sparks.out, samples.map((s) => ({ t: s.t, value: s.out })), now, 'Messages out per second', formatRate);
  drawSpark(sparks.lag, samples.map((s) => ({ t: s.t, value: s.lag })), now, 'Pub/sub lag p99 (ms)', formatLag);
}

function render(): void {
  const now = Date.now();
  for (const [nodeId, view] of nodes) if (now - view.seenAt > FORGET_AFTER_MS) nodes.delete(nodeId);
  const ordered = [...nodes.values()].sort((a, b) => a.latest.nodeId.localeCompare(b.latest.nodeId, 'en', { numeric: true }));
  ordered.forEach((view, index) => {
    renderRow(view, now);
    if (ui.rows.children[index] !== view.row) ui.rows.insertBefore(view.row, ui.rows.children[index] ?? null);
  });
  while (ui.rows.children.length > ordered.length) ui.rows.lastElementChild?.remove();
  ui.empty.hidden = ordered.length > 0;
  const live = ordered.filter((view) => now - view.seenAt <= STATUS_GONE_AFTER_MS);
  const connections = live.reduce((total, view) => total + view.latest.connections, 0);
  const gone = ordered.length - live.length;
  ui.summary.textContent =
    ordered.length === 0
      ? ''
      : `${live.length} node${live.length === 1 ? '' : 's'} · ${connections.toLocaleString('en')} connection${connections === 1 ? '' : 's'}${gone > 0 ? ` · ${gone} gone` : ''}`;
}

// ---- rooms and users of the cluster ----

let roomsTimer: ReturnType<typeof setInterval> | null = null;

function textCell(row: HTMLTableRowElement, text: string, className = ''): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className !== '') td.className = className;
  return td;
}

function renderCluster(result: AdminRoomsResult): void {
  ui.roomRows.replaceChildren(
    ...result.rooms.map(({ namespace, room, members }) => {
      const row = document.createElement('tr');
      row.dataset.room = room;
      row.dataset.namespace = namespace;
      textCell(row, namespace);
      textCell(row, room, 'name');
      textCell(row, members.toLocaleString('en'), 'num').dataset.field = 'members';
      return row;
    }),
  );
  ui.roomsEmpty.hidden = result.rooms.length > 0;
  ui.roomsCount.textContent = String(result.rooms.length);
  ui.userRows.replaceChildren(
    ...result.users.map(({ user, connections }) => {
      const row = document.createElement('tr');
      row.dataset.user = user;
      textCell(row, user, 'name');
      textCell(row, connections.toLocaleString('en'), 'num').dataset.field = 'connections';
      const action = row.insertCell();
      action.className = 'num';
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'danger';
      button.dataset.action = 'disconnect';
      button.textContent = 'Disconnect';
      button.title = `Close every connection of ${user} on every node`;
      button.addEventListener('click', () => disconnectUser(user, button));
      action.append(button);
      return row;
    }),
  );
  ui.usersEmpty.hidden = result.users.length > 0;
  ui.usersCount.textContent = String(result.users.length);
  ui.truncated.hidden = !result.truncated;
}

function refreshCluster(): void {
  const admin = socket;
  if (admin === null || !admin.connected) return;
  admin.emit('admin:rooms', {}, (answer) => {
    if (socket !== admin) return;
    if (answer.ok) renderCluster(answer);
    else ui.actionResult.textContent = `Rooms could not be read: ${answer.error.message}`;
  });
}

function disconnectUser(user: string, button: HTMLButtonElement): void {
  const admin = socket;
  if (admin === null) return;
  button.disabled = true;
  admin.emit('admin:disconnect', { user }, (answer) => {
    button.disabled = false;
    ui.actionResult.textContent = answer.ok ? `Disconnected ${user} on every node.` : `Could not disconnect ${user}: ${answer.error.message}`;
    refreshCluster();
  });
}

// ---- the connection ----

function setState(state: 'connecting' | 'connected' | 'reconnecting' | 'disconnected'): void {
  ui.state.className = `badge ${state}`;
  ui.state.textContent = state;
}

function showLogin(error = ''): void {
  ui.status.hidden = true;
  ui.signOut.hidden = true;
  ui.login.hidden = false;
  ui.loginError.textContent = error;
  ui.summary.textContent = '';
  setState('disconnected');
  ui.token.focus();
}

function disconnect(): void {
  if (roomsTimer !== null) clearInterval(roomsTimer);
  roomsTimer = null;
  socket?.removeAllListeners();
  socket?.close();
  socket = null;
  nodes.clear();
  ui.rows.replaceChildren();
}

function connect(token: string): void {
  disconnect();
  setState('connecting');
  // WebSocket only: an operator's browser has it, and it skips the polling-to-WebSocket upgrade, whose
  // late polling request can meet an already-upgraded session (a 400 from Engine.IO) behind a proxy.
  const admin: AdminSocket = io(ADMIN_NAMESPACE, { auth: { adminToken: token }, reconnectionDelayMax: 5000, transports: ['websocket'] });
  socket = admin;
  admin.on('connect', () => {
    setState('connected');
    ui.login.hidden = true;
    ui.status.hidden = false;
    ui.signOut.hidden = false;
    render();
    refreshCluster();
    roomsTimer ??= setInterval(refreshCluster, ROOMS_REFRESH_MS);
  });
  admin.on('connect_error', (error: Error & { data?: unknown }) => {
    if (isErrorPayload(error.data) && error.data.code === 'UNAUTHENTICATED') {
      sessionStorage.removeItem(TOKEN_KEY);
      disconnect();
      showLogin('The gateway refused this token.');
      return;
    }
    // Transport trouble (a node restarting, the network): socket.io-client retries by itself.
    setState('reconnecting');
  });
  admin.on('disconnect', (reason) => {
    setState('reconnecting');
    // A disconnection by the server (a drain closing stragglers) is not retried by the client on its own.
    if (reason === 'io server disconnect') setTimeout(() => admin.connect(), 1000);
  });
  admin.on('server:draining', ({ reconnectInMs }) => {
    // The node is shutting down: open a new session, which the proxy gives to another node.
    setTimeout(() => {
      if (socket !== admin) return;
      admin.disconnect();
      admin.connect();
    }, reconnectInMs);
  });
  admin.on('status:node', onStatus);
}

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.token.value.trim();
  if (token === '') return;
  sessionStorage.setItem(TOKEN_KEY, token);
  ui.token.value = '';
  ui.loginError.textContent = '';
  connect(token);
});

ui.signOut.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  disconnect();
  showLogin();
});

// Rows turn "gone" and charts slide even when no figure arrives.
setInterval(render, 1000);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved !== null && saved !== '') connect(saved);
else showLogin();
