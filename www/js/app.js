// app.js - start-up, sign-in and the page frame: takes a token from the
// address (#token=...) or the sign-in form, learns who the user is, opens
// the live connection and shows the screen the route names.
import { html, render, useEffect, useLayoutEffect, useState } from './view.js';
import {
	token, setToken, me, online, unread, route, signInMessage, notify,
} from './store.js';
import { get, request, ApiError } from './api.js';
import * as live from './live.js';
import { Toasts, Icon, useLive, useReload } from './ui.js';
import { EpisodesScreen, prefetchEpisodes } from './episodes.js';
import { EpisodeScreen } from './episode.js';
import { EpisodeForm } from './episode_form.js';
import { JobsScreen } from './jobs.js';
import { ActivityScreen } from './activity.js';
import { NotificationsScreen, PreferencesScreen } from './notifications.js';

function SignIn() {
	const [value, setValue] = useState('');
	const [busy, setBusy] = useState(false);
	const submit = async (e) => {
		e.preventDefault();
		const t = value.trim();
		if (!t) return;
		setBusy(true);
		// Tried before it is kept: a refused token never becomes the session's.
		try {
			const r = await request('GET', '/me', { keep401: true, token: t });
			signInMessage.value = '';
			me.value = r.data;
			setToken(t);
		} catch (err) {
			setBusy(false);
			signInMessage.value = err instanceof ApiError && err.status === 401
				? 'That token was refused: ' + err.message : 'Could not sign in: ' + err.message;
		}
	};
	return html`<main class="signin">
		<form onSubmit=${submit} aria-labelledby="signin-title">
			<h1 id="signin-title">Sign in to ECCR</h1>
			<p>Paste an access token (a JWT, e.g. from <code>eccrctl token</code> or your identity provider).</p>
			${signInMessage.value ? html`<p class="error-box" role="alert">${signInMessage.value}</p>` : null}
			<label for="token">Access token</label>
			<textarea id="token" rows="5" autocomplete="off" spellcheck="false" required
				value=${value} onInput=${(e) => setValue(e.target.value)}></textarea>
			<button class="primary" type="submit" disabled=${busy}>Sign in</button>
		</form>
	</main>`;
}

function signOut() {
	live.stop();
	setToken(null);
	me.value = null;
	signInMessage.value = 'You have signed out.';
}

const NAV = [
	['episodes', 'Episodes'],
	['jobs', 'Jobs'],
	['activity', 'Activity'],
];

function Header() {
	const section = route.value.parts[0] || 'episodes';
	const u = me.value;
	return html`<header class="top">
		<a class="brand" href="#/episodes">ECCR</a>
		<nav aria-label="Main">
			${NAV.map(([p, label]) => html`<a href=${'#/' + p} aria-current=${section === p ? 'page' : null}>${label}</a>`)}
		</nav>
		<div class="top-right">
			<span class=${'conn ' + (online.value ? 'on' : 'off')} role="status" data-testid="connection">
				<span class="dot" aria-hidden="true"></span>${online.value ? 'Live' : 'Offline'}
			</span>
			<a class="bell" href="#/notifications" data-testid="bell"
				aria-label=${'Notifications, ' + unread.value + ' unread'}>
				<${Icon} name="bell" />
				${unread.value > 0 ? html`<span class="count" data-testid="unread">${unread.value > 99 ? '99+' : unread.value}</span>` : null}
			</a>
			<span class="who" data-testid="who">
				<span class="name">${u.name || u.id}</span>
				<span class="role">${u.role}</span>
			</span>
			<a href="#/preferences" class="pref-link">Preferences</a>
			<button type="button" class="link" onClick=${signOut}>Sign out</button>
		</div>
	</header>`;
}

function Screen() {
	const [a, b, c] = route.value.parts;
	if ((a || 'episodes') === 'episodes') {
		if (b === 'new') return html`<${EpisodeForm} />`;
		if (b && c === 'edit') return html`<${EpisodeForm} id=${b} key=${'edit-' + b} />`;
		if (b) return html`<${EpisodeScreen} id=${b} key=${b} />`;
		return html`<${EpisodesScreen} />`;
	}
	if (a === 'jobs') return html`<${JobsScreen} />`;
	if (a === 'activity') return html`<${ActivityScreen} />`;
	if (a === 'notifications') return html`<${NotificationsScreen} />`;
	if (a === 'preferences') return html`<${PreferencesScreen} />`;
	return html`<main><h1>Not found</h1><p><a href="#/episodes">Back to the episodes</a></p></main>`;
}

// The unread count: read once, then kept by notification events (the
// user's own room) and read again after a reconnect.
function UnreadCounter() {
	const load = useReload(async () => {
		unread.value = (await get('/notifications/unread-count')).count;
	});
	useLayoutEffect(() => { load(); }, []);
	useLive((ev) => {
		if (ev.type === 'notification_created') load();
	});
	return null;
}

function Signed() {
	const u = me.value;
	useEffect(() => {
		live.start(token.value, u.id);
		return () => live.stop();
	}, [u.id]);
	return html`<${Header} />
		<${UnreadCounter} />
		<div id="main" tabindex="-1"><${Screen} /></div>`;
}

// The skip link moves focus, not the route (the fragment is the route).
function skip(e) {
	e.preventDefault();
	const m = document.getElementById('main');
	if (m) m.focus();
}

function App() {
	const [error, setError] = useState(null);
	// Layout effects start requests as soon as the DOM is there, without
	// waiting for a paint (useEffect waits for the next frame).
	useLayoutEffect(() => {
		if (!token.value || me.value) return;
		setError(null);
		get('/me').then((u) => { me.value = u; }).catch((e) => {
			if (e.status !== 401) setError(e);
		});
	}, [token.value]);
	let body;
	if (!token.value) body = html`<${SignIn} />`;
	else if (!me.value) {
		body = error
			? html`<main><p class="error-box" role="alert">Could not reach ECCR: ${error.message}</p>
				<button type="button" onClick=${() => location.reload()}>Try again</button></main>`
			: html`<p class="boot">Loading…</p>`;
	} else body = html`<${Signed} />`;
	return html`<a class="skip" href="#main" onClick=${skip}>Skip to content</a>${body}<${Toasts} />`;
}

addEventListener('unhandledrejection', (e) => {
	const err = e.reason;
	if (err instanceof ApiError) {
		e.preventDefault();
		if (err.status !== 401) notify(err.message, 'error');
	}
});

{
	const [a, b] = route.value.parts;
	if (token.value && (a || 'episodes') === 'episodes' && !b) prefetchEpisodes(route.value.query);
}
const root = document.getElementById('app');
root.textContent = '';         // the "Loading" placeholder
render(html`<${App} />`, root);
