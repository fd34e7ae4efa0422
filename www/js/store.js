// store.js - the small shared state every screen reads: who is signed in,
// whether the live connection is up, the unread count, the current route
// and the messages shown to the user.  Screens never talk to each other;
// they read and write these signals.
import { signal, computed } from './view.js';

const TOKEN_KEY = 'eccr.token';

// A link that signs in: /#token=<JWT>.  The token is moved into
// sessionStorage and the fragment leaves the address bar (and history) at
// once, before anything else reads the address, so it is not bookmarked,
// shared or kept.
if (location.hash.startsWith('#token=')) {
	sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(location.hash.slice('#token='.length)));
	history.replaceState(null, '', location.pathname + location.search + '#/episodes');
}

export const token = signal(sessionStorage.getItem(TOKEN_KEY));
export const me = signal(null);          // {id, name, email, role} from GET /me
export const online = signal(false);     // the WebSocket is open
export const unread = signal(0);         // unread notifications
export const toasts = signal([]);        // [{id, kind, text}]
export const signInMessage = signal('');

export function setToken(t) {
	if (t) sessionStorage.setItem(TOKEN_KEY, t);
	else sessionStorage.removeItem(TOKEN_KEY);
	token.value = t || null;
}

// Roles, lowest first; what a role may do, as API.md's table says.
const RANK = { viewer: 0, editor: 1, admin: 2 };
export const role = computed(() => (me.value && me.value.role) || 'viewer');
export const canEdit = computed(() => RANK[role.value] >= RANK.editor);
export const isAdmin = computed(() => role.value === 'admin');
export function canDeleteFile(file) {
	return isAdmin.value || (canEdit.value && me.value && file.created_by === me.value.id);
}

// The route is the part of the address after '#': "/episodes/ID?x=1".
function parseRoute() {
	const h = location.hash.replace(/^#/, '') || '/episodes';
	const [path, qs] = h.split('?', 2);
	return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs || '') };
}
export const route = signal(parseRoute());
addEventListener('hashchange', () => { route.value = parseRoute(); });

export function go(path, replace = false) {
	if (replace) {
		history.replaceState(null, '', '#' + path);
		route.value = parseRoute();
	} else {
		location.hash = path;
	}
}

// Change the query of the current route without a history entry per
// keystroke (filters, search).
export function setQuery(params) {
	const parts = route.value.parts.map(encodeURIComponent).join('/');
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) q.set(k, v);
	const s = q.toString();
	go('/' + parts + (s ? '?' + s : ''), true);
}

let toastSeq = 0;
export function notify(text, kind = 'info', ms = 6000) {
	const id = ++toastSeq;
	toasts.value = [...toasts.value, { id, kind, text }];
	if (ms) setTimeout(() => dismiss(id), ms);
}
export function dismiss(id) {
	toasts.value = toasts.value.filter((t) => t.id !== id);
}
