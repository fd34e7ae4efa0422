// notifications.js - the inbox (mark read, read all, delete; new ones
// arrive in the user's own room), an administrator's announcements (to
// named users or everyone, optionally expiring) and the preferences page
// (e-mail on or off, muted types).
import { html, useEffect, useState } from './view.js';
import { unread, notify, isAdmin } from './store.js';
import { get, post, del, request, ApiError } from './api.js';
import { Dialog, ErrorBox, Empty, Field, ago, fmtTime, useLive, useReload } from './ui.js';

const TYPES = ['episode_created', 'episode_updated', 'episode_deleted', 'file_uploaded', 'file_deleted',
	'job_created', 'job_completed', 'job_failed', 'announcement'];

// validation_failed errors by their field's first name ("recipients[2]" is recipients).
function fieldErrors(err) {
	const fe = {};
	if (err instanceof ApiError && err.code === 'validation_failed') {
		for (const x of err.errors) fe[String(x.field).split(/[[.]/)[0]] = x.message;
	}
	return fe;
}

// An administrator's announcement: POST /notifications.  Recipients are
// "all" (every user ECCR has seen) or user ids, one per line or comma.
function AnnounceDialog({ onClose }) {
	const [form, setForm] = useState({ title: '', message: '', to: 'all', ids: '', expires: '' });
	const [errors, setErrors] = useState({});
	const [error, setError] = useState(null);
	const [busy, setBusy] = useState(false);
	const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
	const send = async (e) => {
		e.preventDefault();
		const body = { title: form.title.trim(), message: form.message.trim() };
		body.recipients = form.to === 'all' ? 'all' : form.ids.split(/[\s,]+/).filter(Boolean);
		// A datetime-local value is the browser's local time: sent as UTC.
		if (form.expires) body.expires_at = new Date(form.expires).toISOString();
		setBusy(true);
		try {
			const r = await post('/notifications', body);
			notify(`Announcement sent to ${r.created} ${r.created === 1 ? 'user' : 'users'}.`);
			onClose();
		} catch (err) {
			setErrors(fieldErrors(err));
			setError(err);
			setBusy(false);
		}
	};
	return html`<${Dialog} title="New announcement" onClose=${onClose} labelId="announce-h">
		<form onSubmit=${send} class="announce" novalidate>
			<${ErrorBox} error=${error} />
			<${Field} id="an-title" label="Title" error=${errors.title}>
				<input id="an-title" required maxlength="200" value=${form.title} onInput=${set('title')} />
			<//>
			<${Field} id="an-message" label="Message" error=${errors.message} wide>
				<textarea id="an-message" rows="4" value=${form.message} onInput=${set('message')}></textarea>
			<//>
			<fieldset class="recipients">
				<legend>To</legend>
				<p class="toggle"><input type="radio" id="an-all" name="an-to" value="all" checked=${form.to === 'all'} onChange=${set('to')} />
					<label for="an-all">Everyone</label></p>
				<p class="toggle"><input type="radio" id="an-some" name="an-to" value="some" checked=${form.to === 'some'} onChange=${set('to')} />
					<label for="an-some">These users</label></p>
			</fieldset>
			${form.to === 'some' ? html`<${Field} id="an-ids" label="User ids" hint="One per line, or separated by commas" error=${errors.recipients}>
				<textarea id="an-ids" rows="3" value=${form.ids} onInput=${set('ids')}></textarea>
			<//>` : errors.recipients ? html`<p class="error" role="alert">${errors.recipients}</p>` : null}
			<${Field} id="an-expires" label="Expires (optional)" hint="No longer listed or counted after this" error=${errors.expires_at}>
				<input id="an-expires" type="datetime-local" value=${form.expires} onInput=${set('expires')} />
			<//>
			<div class="actions">
				<button type="button" onClick=${onClose}>Cancel</button>
				<button type="submit" class="primary" disabled=${busy}>Send</button>
			</div>
		</form>
	<//>`;
}

async function recount() {
	unread.value = (await get('/notifications/unread-count')).count;
}

export function NotificationsScreen() {
	const [onlyUnread, setOnlyUnread] = useState(false);
	const [items, setItems] = useState(null);
	const [next, setNext] = useState(null);
	const [error, setError] = useState(null);
	const [announcing, setAnnouncing] = useState(false);
	const load = useReload(async () => {
		const r = await get('/notifications', { unread: onlyUnread ? 'true' : '', limit: 50 });
		setItems(r.items);
		setNext(r.next_cursor);
	});
	useEffect(() => { load().catch(setError); }, [onlyUnread]);
	useLive((ev) => { if (ev.type === 'notification_created') load().catch(() => {}); });

	const markRead = async (n) => {
		const updated = await post(`/notifications/${n.id}/read`);
		setItems((xs) => (onlyUnread ? xs.filter((x) => x.id !== n.id) : xs.map((x) => (x.id === n.id ? updated : x))));
		await recount();
	};
	const readAll = async () => {
		const r = await post('/notifications/read-all');
		notify(`${r.updated} marked read.`);
		await load();
		await recount();
	};
	const remove = async (n) => {
		await del(`/notifications/${n.id}`);
		setItems((xs) => xs.filter((x) => x.id !== n.id));
		await recount();
	};
	const more = async () => {
		const r = await get('/notifications', { unread: onlyUnread ? 'true' : '', limit: 50, cursor: next });
		setItems([...items, ...r.items]);
		setNext(r.next_cursor);
	};

	return html`<main class="notifications narrow">
		<div class="title-row">
			<h1>Notifications</h1>
			${isAdmin.value ? html`<button type="button" onClick=${() => setAnnouncing(true)}>New announcement</button>` : null}
			<button type="button" onClick=${readAll} disabled=${!unread.value}>Mark all read</button>
		</div>
		${announcing ? html`<${AnnounceDialog} onClose=${() => setAnnouncing(false)} />` : null}
		<p class="toggle">
			<input type="checkbox" id="only-unread" checked=${onlyUnread} onChange=${(e) => setOnlyUnread(e.target.checked)} />
			<label for="only-unread">Unread only</label>
			· <a href="#/preferences">Preferences</a>
		</p>
		<${ErrorBox} error=${error} />
		${items && !items.length ? html`<${Empty}>Nothing here.</${Empty}>` : null}
		${items && items.length ? html`<ul class="inbox" data-testid="inbox">
			${items.map((n) => html`<li key=${n.id} class=${n.read_at ? 'read' : 'unread'}>
				<div class="body">
					<strong>${n.title}</strong>
					${n.message ? html`<p>${n.message}</p>` : null}
					<small class="muted"><time datetime=${n.created_at} title=${fmtTime(n.created_at)}>${ago(n.created_at)}</time>${' · ' + n.type.replace(/_/g, ' ')}${n.expires_at ? html` · until <time datetime=${n.expires_at}>${fmtTime(n.expires_at)}</time>` : null}${n.episode_id ? ' · ' : null}${n.episode_id ? html`<a href=${'#/episodes/' + n.episode_id}>open episode</a>` : null}</small>
				</div>
				<div class="row-actions">
					${n.read_at ? null : html`<button type="button" onClick=${() => markRead(n)}
						aria-label=${'Mark read: ' + n.title}>Mark read</button>`}
					<button type="button" class="link" onClick=${() => remove(n)} aria-label=${'Delete: ' + n.title}>Delete</button>
				</div>
			</li>`)}
		</ul>` : null}
		${next ? html`<div class="more"><button type="button" onClick=${() => more().catch(setError)}>Load more</button></div>` : null}
	</main>`;
}

export function PreferencesScreen() {
	const [prefs, setPrefs] = useState(null);
	const [error, setError] = useState(null);
	const [fieldErrors, setFieldErrors] = useState({});
	const [busy, setBusy] = useState(false);
	useEffect(() => { get('/me/preferences').then(setPrefs).catch(setError); }, []);
	if (!prefs) return html`<main class="narrow"><h1>Preferences</h1><${ErrorBox} error=${error} /></main>`;
	const types = [...TYPES, ...prefs.muted_types.filter((t) => !TYPES.includes(t))];
	const toggle = (t) => (e) => setPrefs({
		...prefs,
		muted_types: e.target.checked ? prefs.muted_types.filter((x) => x !== t) : [...prefs.muted_types, t],
	});
	const save = async (e) => {
		e.preventDefault();
		setBusy(true);
		setError(null);
		setFieldErrors({});
		try {
			setPrefs((await request('PUT', '/me/preferences', { body: prefs })).data);
			notify('Preferences saved.');
		} catch (err) {
			setFieldErrors(fieldErrors(err));
			setError(err);
		}
		setBusy(false);
	};
	return html`<main class="narrow">
		<h1>Preferences</h1>
		<form onSubmit=${save} class="prefs">
			<${ErrorBox} error=${error} />
			<p class="toggle">
				<input type="checkbox" id="p-email" checked=${prefs.email_notifications}
					onChange=${(e) => setPrefs({ ...prefs, email_notifications: e.target.checked })} />
				<label for="p-email">Send me notifications by e-mail too</label>
			</p>
			<fieldset aria-describedby=${fieldErrors.muted_types ? 'p-muted-error' : null}>
				<legend>Notify me of</legend>
				${types.map((t) => html`<p class="toggle" key=${t}>
					<input type="checkbox" id=${'p-' + t} checked=${!prefs.muted_types.includes(t)} onChange=${toggle(t)} />
					<label for=${'p-' + t}>${t.replace(/_/g, ' ')}</label>
				</p>`)}
				${fieldErrors.muted_types ? html`<small id="p-muted-error" class="error" role="alert">${fieldErrors.muted_types}</small>` : null}
			</fieldset>
			<div class="actions"><button type="submit" class="primary" disabled=${busy}>Save</button></div>
		</form>
	</main>`;
}
