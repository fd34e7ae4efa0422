// ui.js - small pieces every screen uses: time and size formatting, the
// status badge, a modal dialog, a labelled form field, avatars, icons,
// and hooks for live events and coalesced reloads.
import { html, useEffect, useRef, useState, useCallback } from './view.js';
import { toasts, dismiss, notify } from './store.js';
import { onEvent, onResync, join } from './live.js';

export function fmtTime(iso) {
	if (!iso) return '';
	const d = new Date(iso);
	return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function ago(iso) {
	if (!iso) return '';
	const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
	if (s < 45) return 'just now';
	if (s < 3600) return Math.round(s / 60) + ' min ago';
	if (s < 86400) return Math.round(s / 3600) + ' h ago';
	return fmtTime(iso);
}

export function fmtBytes(n) {
	if (n == null) return '';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
	return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

export function fmtDuration(s) {
	if (s == null) return '';
	const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
	return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(sec).padStart(2, '0');
}

export function Status({ value }) {
	return html`<span class=${'badge st-' + value}>${value.replace('_', ' ')}</span>`;
}

export function Icon({ name }) {
	const paths = {
		bell: 'M12 22a2.5 2.5 0 0 0 2.5-2.5h-5A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z',
		upload: 'M5 20h14v-2H5zm7-16-5 5h3v6h4V9h3z',
		eye: 'M12 5C6 5 2 12 2 12s4 7 10 7 10-7 10-7-4-7-10-7zm0 11a4 4 0 1 1 0-8 4 4 0 0 1 0 8z',
	};
	return html`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d=${paths[name]} /></svg>`;
}

export function initials(name) {
	const parts = String(name || '?').trim().split(/\s+/);
	return ((parts[0] || '?')[0] + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

// A colour per user, stable across tabs: a hue from the id.
function hue(id) {
	let h = 0;
	for (const c of String(id)) h = (h * 31 + c.charCodeAt(0)) % 360;
	return h;
}

export function Avatar({ id, name }) {
	const ref = useRef(null);
	useEffect(() => { ref.current.style.setProperty('--hue', hue(id)); }, [id]);
	return html`<span ref=${ref} class="avatar" title=${name || id} role="img" aria-label=${name || id}>${initials(name || id)}</span>`;
}

// A native modal <dialog>: focus stays inside, Escape closes it.
export function Dialog({ title, onClose, children, labelId = 'dlg-title' }) {
	const ref = useRef(null);
	useEffect(() => {
		const d = ref.current;
		if (!d.open) d.showModal();
		const cancel = (e) => { e.preventDefault(); onClose(); };
		d.addEventListener('cancel', cancel);
		return () => { d.removeEventListener('cancel', cancel); if (d.open) d.close(); };
	}, []);
	return html`<dialog ref=${ref} aria-labelledby=${labelId} class="dialog">
		<h2 id=${labelId}>${title}</h2>
		${children}
	</dialog>`;
}

export function Confirm({ title, text, confirmLabel, danger, onConfirm, onClose }) {
	const [busy, setBusy] = useState(false);
	const go = async () => {
		setBusy(true);
		try { await onConfirm(); onClose(); } catch (err) { setBusy(false); notify(err.message, 'error'); }
	};
	return html`<${Dialog} title=${title} onClose=${onClose}>
		<p>${text}</p>
		<div class="actions">
			<button type="button" onClick=${onClose}>Cancel</button>
			<button type="button" class=${danger ? 'danger' : 'primary'} disabled=${busy} onClick=${go}>${confirmLabel}</button>
		</div>
	<//>`;
}

// A labelled control with its error message tied to it for screen readers.
export function Field({ id, label, error, hint, children, wide }) {
	return html`<div class=${'field' + (error ? ' invalid' : '') + (wide ? ' wide' : '')}>
		<label for=${id}>${label}</label>
		${children}
		${hint && !error ? html`<small id=${id + '-hint'} class="hint">${hint}</small>` : null}
		${error ? html`<small id=${id + '-error'} class="error" role="alert">${error}</small>` : null}
	</div>`;
}

export function Toasts() {
	return html`<div class="toasts" role="status" aria-live="polite">
		${toasts.value.map((t) => html`<div key=${t.id} class=${'toast ' + t.kind}>
			<span>${t.text}</span>
			<button type="button" class="link" aria-label="Dismiss" onClick=${() => dismiss(t.id)}>×</button>
		</div>`)}
	</div>`;
}

// useLive(fn, deps): fn(event, room) for every live event while mounted.
export function useLive(fn, deps) {
	const ref = useRef(fn);
	ref.current = fn;
	useEffect(() => onEvent((ev, room) => ref.current(ev, room)), []);
}

// useRoom(room): subscribed while mounted (null: none).
export function useRoom(room) {
	useEffect(() => (room ? join(room) : undefined), [room]);
}

// useReload(load): a reload function that runs load() at most once at a
// time; calls while one runs make it run once more after (and resolve at
// once).  A failure rejects the call that ran it.  Also runs after the
// WebSocket reconnects, since events may have been missed.
export function useReload(load) {
	const ref = useRef({ running: false, again: false, load });
	ref.current.load = load;
	const reload = useCallback(async () => {
		const s = ref.current;
		if (s.running) { s.again = true; return; }
		s.running = true;
		try {
			do { s.again = false; await s.load(); } while (s.again);
		} finally {
			s.running = false;
		}
	}, []);
	useEffect(() => onResync(() => reload().catch(() => {})), []);
	return reload;
}

export function ErrorBox({ error }) {
	if (!error) return null;
	return html`<p class="error-box" role="alert">${error.message || String(error)}</p>`;
}

export function Empty({ children }) {
	return html`<p class="empty">${children}</p>`;
}
