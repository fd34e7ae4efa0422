// live.js - the tab's one WebSocket to eccr-wsd: connect, subscribe to the
// rooms the screens ask for, hand events to them, ping to notice a dead
// connection, reconnect with backoff, and after a reconnect ask every
// screen to reload what it shows (events may have been missed meanwhile).
import { online } from './store.js';

const handlers = new Set();   // fn(event, room)
const resyncs = new Set();    // fn()
const rooms = new Map();      // room -> number of screens that asked for it
const seen = new Set();       // recent event ids, to drop repeats after a fault
const seenOrder = [];

let ws = null;
let tokenValue = null;
let attempt = 0;
let everOpened = false;
let retryTimer = 0;
let pingTimer = 0;
let pongDue = 0;

function wsUrl() {
	const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
	return `${scheme}//${location.host}/ws?token=${encodeURIComponent(tokenValue)}`;
}

function send(msg) {
	if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

// A repeated id (after a hub or sink restart) is dropped.  Transient
// events (presence, progress) carry no id worth remembering.
function firstTime(ev) {
	const id = ev && ev.id;
	if (!id || id === '0') return true;
	if (seen.has(id)) return false;
	seen.add(id);
	seenOrder.push(id);
	if (seenOrder.length > 2000) seen.delete(seenOrder.shift());
	return true;
}

function onMessage(e) {
	let msg;
	try { msg = JSON.parse(e.data); } catch { return; }
	if (msg.type === 'pong') { pongDue = 0; return; }
	if (msg.type !== 'event' || !firstTime(msg.event)) return;
	for (const fn of handlers) {
		try { fn(msg.event, msg.room); } catch (err) { setTimeout(() => { throw err; }); }
	}
}

function connect() {
	clearTimeout(retryTimer);
	const sock = new WebSocket(wsUrl());
	ws = sock;
	sock.onopen = () => {
		attempt = 0;
		online.value = true;
		for (const room of rooms.keys()) send({ type: 'subscribe', room });
		if (everOpened) for (const fn of resyncs) fn();
		everOpened = true;
	};
	sock.onmessage = onMessage;
	sock.onclose = () => {
		if (ws !== sock) return;
		ws = null;
		online.value = false;
		if (!tokenValue) return;
		// 0.5 s doubling to 15 s, with jitter so that a hub restart does
		// not bring every tab back in the same instant.
		const delay = Math.min(15000, 500 * 2 ** attempt++);
		retryTimer = setTimeout(connect, delay / 2 + Math.random() * delay / 2);
	};
}

// A ping every 20 s; no pong within 10 s means a dead path (a laptop
// waking up, a proxy that dropped us): close and reconnect.
function pinger() {
	clearInterval(pingTimer);
	pingTimer = setInterval(() => {
		if (!ws || ws.readyState !== WebSocket.OPEN) return;
		if (pongDue && Date.now() > pongDue) { ws.close(); return; }
		if (!pongDue) pongDue = Date.now() + 10000;
		send({ type: 'ping' });
	}, 20000);
}

export function start(token, sub) {
	stop();
	tokenValue = token;
	rooms.clear();
	for (const r of ['episodes', 'jobs', 'user:' + sub]) rooms.set(r, 1);
	everOpened = false;
	connect();
	pinger();
}

export function stop() {
	tokenValue = null;
	clearTimeout(retryTimer);
	clearInterval(pingTimer);
	if (ws) { const s = ws; ws = null; s.close(); }
	online.value = false;
}

// join(room) for as long as a screen shows it; returns the leave function.
export function join(room) {
	const n = rooms.get(room) || 0;
	rooms.set(room, n + 1);
	if (n === 0) send({ type: 'subscribe', room });
	return () => {
		const m = rooms.get(room) || 0;
		if (m <= 1) {
			rooms.delete(room);
			send({ type: 'unsubscribe', room });
		} else {
			rooms.set(room, m - 1);
		}
	};
}

// onEvent(fn) / onResync(fn) return their own removal.
export function onEvent(fn) { handlers.add(fn); return () => handlers.delete(fn); }
export function onResync(fn) { resyncs.add(fn); return () => resyncs.delete(fn); }
