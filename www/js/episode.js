// episode.js - one episode's page: its fields, who else is viewing it
// (presence, with a heartbeat while the tab is visible), watch/unwatch,
// edit and delete, and its files, jobs and activity trail, all kept live
// by the episode's room.
import { html, useEffect, useRef, useState } from './view.js';
import { me, canEdit, isAdmin, go, notify } from './store.js';
import { request, post, del, leavePresence } from './api.js';
import {
	Status, Avatar, Confirm, ErrorBox, Icon, fmtDuration, ago, fmtTime, useLive, useReload, useRoom,
} from './ui.js';
import { EpisodeForm } from './episode_form.js';
import { FilesSection } from './files.js';
import { EpisodeJobs } from './jobs.js';
import { Trail } from './activity.js';

// How often a visible page says "still here".  Presence forgets a viewer
// after the presence plugin's ttl_s (60 s by default): a third of that.
const HEARTBEAT_MS = 20000;

// The API cannot tell whether the caller watches an episode, so the page
// remembers what this user last chose here; the creator watches from
// creation.  Both calls are idempotent, so a wrong guess costs nothing.
function watchKey(id) { return `eccr.watch.${me.value.id}.${id}`; }
function watching(ep) {
	const v = localStorage.getItem(watchKey(ep.id));
	return v === null ? ep.created_by === me.value.id : v === '1';
}

// gone.current is true once the episode is deleted: nothing to leave then.
function usePresence(id, setViewers, gone) {
	useEffect(() => {
		let timer = 0;
		const leave = () => { if (!gone.current) leavePresence('episode', id); };
		const beat = () => request('POST', `/presence/episode/${id}/heartbeat`).catch(() => {});
		const refresh = () => request('GET', `/presence/episode/${id}`)
			.then((r) => setViewers(r.data.viewers || [])).catch(() => {});
		const visible = () => {
			clearInterval(timer);
			if (document.visibilityState === 'visible') {
				beat().then(refresh);
				timer = setInterval(beat, HEARTBEAT_MS);
			} else {
				leave();
			}
		};
		timer = setInterval(() => { if (!gone.current) beat(); }, HEARTBEAT_MS);
		document.addEventListener('visibilitychange', visible);
		addEventListener('pagehide', leave);
		return () => {
			clearInterval(timer);
			document.removeEventListener('visibilitychange', visible);
			removeEventListener('pagehide', leave);
			leave();
		};
	}, [id]);
}

function Viewers({ viewers }) {
	const others = viewers.filter((v) => v.user_id !== me.value.id);
	return html`<div class="viewers" data-testid="viewers" aria-live="polite">
		${others.length ? html`<span class="muted"><${Icon} name="eye" /> Also viewing</span>
			${others.map((v) => html`<span key=${v.user_id} data-user=${v.user_id}><${Avatar} id=${v.user_id} name=${v.name} /></span>`)}`
			: html`<span class="muted">Nobody else is viewing</span>`}
	</div>`;
}

function Details({ ep }) {
	const row = (label, value) => (value === '' || value == null ? null : html`<div><dt>${label}</dt><dd>${value}</dd></div>`);
	return html`<dl class="details" data-testid="details">
		${row('Series', ep.series)}
		${row('Season', ep.season_number)}
		${row('Episode', ep.episode_number)}
		${row('Air date', ep.air_date)}
		${row('Duration', fmtDuration(ep.duration_seconds))}
		${row('Categories', (ep.categories || []).join(', '))}
		${row('Created', `${fmtTime(ep.created_at)} by ${ep.created_by}`)}
		${row('Updated', `${ago(ep.updated_at)} by ${ep.updated_by} (version ${ep.version})`)}
	</dl>
	${ep.description ? html`<p class="description" data-testid="description">${ep.description}</p>` : null}
	${ep.metadata && Object.keys(ep.metadata).length
		? html`<details><summary>Metadata</summary><pre>${JSON.stringify(ep.metadata, null, 2)}</pre></details>` : null}`;
}

export function EpisodeScreen({ id }) {
	const [ep, setEp] = useState(null);
	const [error, setError] = useState(null);
	const [viewers, setViewers] = useState([]);
	const [editing, setEditing] = useState(false);
	const [confirm, setConfirm] = useState(false);
	const [watch, setWatch] = useState(false);
	const [flash, setFlash] = useState(false);
	const epRef = useRef(null);
	epRef.current = ep;
	const gone = useRef(false);

	useRoom('episode:' + id);
	usePresence(id, setViewers, gone);

	const load = useReload(async () => {
		const r = await request('GET', `/episodes/${id}`);
		setEp(r.data);
		setViewers(r.data.viewers || []);
		setWatch(watching(r.data));
	});
	useEffect(() => { load().catch(setError); }, [id]);

	useLive((ev) => {
		if (ev.episode_id !== id) return;
		const d = ev.data || {};
		switch (ev.type) {
		case 'episode_updated':
			if (epRef.current && d.version && d.version <= epRef.current.version) return;
			setFlash(true);
			setTimeout(() => setFlash(false), 2500);
			if (epRef.current && d.title) setEp({ ...epRef.current, title: d.title });
			load().catch(() => {});
			break;
		case 'episode_deleted':
			if (gone.current) return;
			gone.current = true;
			notify(`“${d.title || 'This episode'}” was deleted by ${ev.actor.name || ev.actor.id}.`, 'error');
			go('/episodes');
			break;
		case 'presence_joined':
			setViewers((vs) => (vs.some((v) => v.user_id === d.user_id) ? vs
				: [...vs, { user_id: d.user_id, name: d.name }]));
			break;
		case 'presence_left':
			setViewers((vs) => vs.filter((v) => v.user_id !== d.user_id));
			// Our own presence ran out (a sleeping laptop, a lost
			// heartbeat) while we are still looking: come back.
			if (d.user_id === me.value.id && document.visibilityState === 'visible') {
				request('POST', `/presence/episode/${id}/heartbeat`).catch(() => {});
			}
			break;
		default:
		}
	});

	const toggleWatch = async () => {
		const on = !watch;
		await (on ? post(`/episodes/${id}/watch`) : del(`/episodes/${id}/watch`));
		localStorage.setItem(watchKey(id), on ? '1' : '0');
		setWatch(on);
		notify(on ? 'You will be notified of changes to this episode.' : 'You no longer watch this episode.');
	};

	const remove = async () => {
		await request('DELETE', `/episodes/${id}`, { headers: { 'If-Match': `"${ep.version}"` } });
		gone.current = true;
		notify(`Deleted “${ep.title}”.`);
		go('/episodes');
	};

	if (error) {
		return html`<main><p><a href="#/episodes">← Episodes</a></p>
			<${ErrorBox} error=${error.status === 404 ? new Error('This episode does not exist (any more).') : error} /></main>`;
	}
	if (!ep) return html`<main><p class="muted" role="status">Loading…</p></main>`;

	return html`<main class="episode" data-version=${ep.version}>
		<p class="crumbs"><a href="#/episodes">← Episodes</a></p>
		<div class=${'title-row' + (flash ? ' fresh' : '')}>
			<h1 data-testid="episode-title">${ep.title}</h1>
			<${Status} value=${ep.status} />
		</div>
		<div class="toolbar">
			<${Viewers} viewers=${viewers} />
			<div class="buttons">
				${canEdit.value ? html`<button type="button" aria-pressed=${watch ? 'true' : 'false'} onClick=${toggleWatch}
					data-testid="watch">${watch ? 'Watching' : 'Watch'}</button>` : null}
				${canEdit.value && !editing ? html`<button type="button" class="primary" onClick=${() => setEditing(true)}>Edit</button>` : null}
				${isAdmin.value ? html`<button type="button" class="danger" onClick=${() => setConfirm(true)}>Delete</button>` : null}
			</div>
		</div>
		${editing ? html`<section aria-labelledby="edit-h"><h2 id="edit-h">Edit</h2>
			<${EpisodeForm} episode=${ep} latest=${ep}
				onDone=${(updated) => { setEp({ ...ep, ...updated }); setEditing(false); notify('Saved.'); }}
				onCancel=${() => setEditing(false)} /></section>`
			: html`<${Details} ep=${ep} />`}
		<${FilesSection} episodeId=${id} />
		<${EpisodeJobs} episodeId=${id} />
		<section aria-labelledby="trail-h">
			<h2 id="trail-h">Activity</h2>
			<${Trail} episodeId=${id} />
		</section>
		${confirm ? html`<${Confirm} title="Delete this episode?" danger confirmLabel="Delete episode"
			text=${`“${ep.title}” and its files will be deleted, and its queued jobs cancelled. This cannot be undone.`}
			onConfirm=${remove} onClose=${() => setConfirm(false)} />` : null}
	</main>`;
}
