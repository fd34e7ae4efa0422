// episode_form.js - create and edit an episode.  Each validation_failed
// error is shown at its field; an edit sends If-Match with the version it
// started from, and a 412 opens the conflict dialog: who changed what
// since, with "reload" (take theirs) and "overwrite" (send mine again).
import { html, useEffect, useRef, useState } from './view.js';
import { go, notify } from './store.js';
import { get, request, ApiError } from './api.js';
import { Field, Dialog, ErrorBox, ago } from './ui.js';
import { STATUSES } from './episodes.js';

const FIELDS = ['title', 'series', 'season_number', 'episode_number', 'status', 'air_date',
	'duration_seconds', 'categories', 'description', 'metadata'];
const LABELS = {
	title: 'Title', series: 'Series', season_number: 'Season', episode_number: 'Episode',
	status: 'Status', air_date: 'Air date', duration_seconds: 'Duration (seconds)',
	categories: 'Categories', description: 'Description', metadata: 'Metadata (JSON object)',
};

// The form holds strings; these turn an episode into them and back.
function toForm(ep) {
	const v = {};
	for (const k of FIELDS) v[k] = ep[k] == null ? '' : String(ep[k]);
	v.categories = (ep.categories || []).join(', ');
	v.metadata = ep.metadata && Object.keys(ep.metadata).length ? JSON.stringify(ep.metadata, null, 2) : '';
	v.status = ep.status || 'draft';
	return v;
}

function fromForm(v) {
	const errors = {};
	const out = {};
	out.title = v.title.trim();
	if (!out.title) errors.title = 'A title is required.';
	out.series = v.series.trim() || null;
	for (const k of ['season_number', 'episode_number', 'duration_seconds']) {
		const s = v[k].trim();
		if (s === '') out[k] = null;
		else if (/^\d+$/.test(s)) out[k] = Number(s);
		else errors[k] = 'A whole number, 0 or more.';
	}
	out.status = v.status;
	out.air_date = v.air_date || null;
	out.categories = v.categories.split(',').map((c) => c.trim()).filter(Boolean);
	out.description = v.description;
	if (v.metadata.trim() === '') out.metadata = {};
	else {
		try {
			out.metadata = JSON.parse(v.metadata);
			if (!out.metadata || typeof out.metadata !== 'object' || Array.isArray(out.metadata)) {
				errors.metadata = 'A JSON object, like {"key": "value"}.';
			}
		} catch (e) {
			errors.metadata = 'Not valid JSON: ' + e.message;
		}
	}
	return { body: out, errors };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The fields of body that differ from the episode ep.
function changed(body, ep) {
	const d = {};
	for (const k of FIELDS) {
		let was = ep[k] ?? null;
		if (k === 'metadata') was = ep.metadata || {};
		else if (k === 'categories') was = ep.categories || [];
		else if (k === 'description') was = ep.description || '';
		if (!same(was, body[k])) d[k] = body[k];
	}
	return d;
}

// "categories[2]" or "metadata.x" belong to the categories or metadata field.
function fieldOf(name) {
	const f = String(name || '').split(/[[.]/)[0];
	return FIELDS.includes(f) ? f : null;
}

function show(k, v) {
	if (v == null || v === '') return '—';
	if (k === 'categories') return v.join(', ') || '—';
	if (k === 'metadata') return JSON.stringify(v);
	return String(v);
}

function ConflictDialog({ base, current, mine, history, onReload, onOverwrite, onClose }) {
	const fields = FIELDS.filter((k) => !same(base[k], current[k]) || k in mine);
	return html`<${Dialog} title="This episode changed while you were editing" onClose=${onClose} labelId="conflict-title">
		<div data-testid="conflict">
			<p>You started from version ${base.version}; it is now at version ${current.version}.</p>
			${history.length ? html`<ul class="history">
				${history.map((a) => html`<li key=${a.id}>
					<strong>${a.user_id}</strong>${` changed ${(a.metadata.changed_fields || []).join(', ') || 'it'} (version ${a.metadata.version}, ${ago(a.created_at)})`}
				</li>`)}
			</ul>` : html`<p>Last changed by <strong>${current.updated_by}</strong>, ${ago(current.updated_at)}.</p>`}
			<table class="diff">
				<thead><tr><th scope="col">Field</th><th scope="col">When you started</th><th scope="col">Now</th><th scope="col">Yours</th></tr></thead>
				<tbody>${fields.map((k) => html`<tr key=${k} class=${!same(base[k], current[k]) ? 'theirs' : ''}>
					<th scope="row">${LABELS[k]}</th><td>${show(k, base[k])}</td><td>${show(k, current[k])}</td>
					<td>${k in mine ? show(k, mine[k]) : '(unchanged)'}</td></tr>`)}
				</tbody>
			</table>
			<div class="actions">
				<button type="button" onClick=${onClose}>Back to my edit</button>
				<button type="button" onClick=${onReload}>Reload (discard mine)</button>
				<button type="button" class="danger" onClick=${onOverwrite}>Overwrite with mine</button>
			</div>
		</div>
	<//>`;
}

// EpisodeForm: with `episode` it edits that one (onDone(updated) when
// saved, onCancel), without it creates one and opens its page.
export function EpisodeForm({ episode, latest, onDone, onCancel }) {
	const editing = !!episode;
	const [base, setBase] = useState(episode || { status: 'draft' });
	const [values, setValues] = useState(() => toForm(episode || { status: 'draft' }));
	const [errors, setErrors] = useState({});
	const [topError, setTopError] = useState(null);
	const [busy, setBusy] = useState(false);
	const [conflict, setConflict] = useState(null);
	const formRef = useRef(null);

	useEffect(() => {
		const first = formRef.current && formRef.current.querySelector('input, textarea, select');
		if (first) first.focus();
	}, []);

	const set = (k) => (e) => setValues({ ...values, [k]: e.target.value });

	const showErrors = (err) => {
		if (err instanceof ApiError && err.code === 'validation_failed' && err.errors.length) {
			const fe = {};
			const rest = [];
			for (const e of err.errors) {
				const f = fieldOf(e.field);
				if (f) fe[f] = fe[f] ? fe[f] + ' ' + e.message : e.message;
				else rest.push((e.field ? e.field + ': ' : '') + e.message);
			}
			setErrors(fe);
			setTopError(rest.length ? new Error(rest.join('; ')) : null);
			const firstBad = formRef.current.querySelector('[aria-invalid="true"]');
			if (firstBad) firstBad.focus();
		} else {
			setTopError(err);
		}
	};

	const send = async (body, version) => {
		const r = await request('PATCH', `/episodes/${episode.id}`, {
			body, headers: { 'If-Match': `"${version}"` },
		});
		return r.data;
	};

	const submit = async (e) => {
		e.preventDefault();
		const { body, errors: local } = fromForm(values);
		setErrors(local);
		setTopError(null);
		if (Object.keys(local).length) return;
		setBusy(true);
		try {
			if (!editing) {
				const created = (await request('POST', '/episodes', { body, idempotent: true })).data;
				notify(`Created “${created.title}”.`);
				go('/episodes/' + created.id);
				return;
			}
			const diff = changed(body, base);
			if (!Object.keys(diff).length) { onDone(base); return; }
			onDone(await send(diff, base.version));
		} catch (err) {
			if (err instanceof ApiError && err.status === 412) {
				const [current, trail] = await Promise.all([
					get(`/episodes/${episode.id}`),
					get(`/episodes/${episode.id}/activity`, { limit: 50 }).catch(() => ({ items: [] })),
				]);
				const history = trail.items.filter((a) => a.action === 'UPDATE' && a.resource_type === 'episode'
					&& a.metadata && a.metadata.version > base.version).reverse();
				setConflict({ current, history, mine: changed(body, base) });
			} else {
				showErrors(err);
			}
		} finally {
			setBusy(false);
		}
	};

	const reloadTheirs = () => {
		setBase(conflict.current);
		setValues(toForm(conflict.current));
		setErrors({});
		setConflict(null);
		notify('Loaded the current version; your changes were discarded.');
	};

	const overwrite = async () => {
		const { current, mine } = conflict;
		setConflict(null);
		setBusy(true);
		try {
			onDone(await send(mine, current.version));
		} catch (err) {
			if (err instanceof ApiError && err.status === 412) {
				setTopError(new Error('It changed again meanwhile; save again to see what changed.'));
				setBase(current);
			} else showErrors(err);
		} finally {
			setBusy(false);
		}
	};

	const input = (k, props = {}) => html`<input id=${'f-' + k} name=${k} value=${values[k]} onInput=${set(k)}
		aria-invalid=${errors[k] ? 'true' : null} aria-describedby=${errors[k] ? 'f-' + k + '-error' : null} ...${props} />`;

	const form = html`<form ref=${formRef} class="episode-form" onSubmit=${submit} novalidate aria-label=${editing ? 'Edit episode' : 'New episode'}>
		${editing && latest && latest.version > base.version ? html`<p class="warn-box" role="status">
			${latest.updated_by} changed this episode (version ${latest.version}) since you started editing.
			Saving will show you what changed.</p>` : null}
		<${ErrorBox} error=${topError} />
		<div class="grid">
			<${Field} id="f-title" label="Title" error=${errors.title} wide>${input('title', { required: true, maxlength: 500 })}<//>
			<${Field} id="f-series" label="Series" error=${errors.series}>${input('series')}<//>
			<${Field} id="f-season_number" label="Season" error=${errors.season_number}>${input('season_number', { inputmode: 'numeric' })}<//>
			<${Field} id="f-episode_number" label="Episode" error=${errors.episode_number}>${input('episode_number', { inputmode: 'numeric' })}<//>
			<${Field} id="f-status" label="Status" error=${errors.status}>
				<select id="f-status" value=${values.status} onChange=${set('status')} aria-invalid=${errors.status ? 'true' : null}>
					${STATUSES.map((s) => html`<option value=${s}>${s.replace('_', ' ')}</option>`)}
				</select>
			<//>
			<${Field} id="f-air_date" label="Air date" error=${errors.air_date}>${input('air_date', { type: 'date' })}<//>
			<${Field} id="f-duration_seconds" label="Duration (seconds)" error=${errors.duration_seconds}>${input('duration_seconds', { inputmode: 'numeric' })}<//>
			<${Field} id="f-categories" label="Categories" hint="Separated by commas" error=${errors.categories} wide>${input('categories')}<//>
			<${Field} id="f-description" label="Description" error=${errors.description} wide>
				<textarea id="f-description" rows="5" value=${values.description} onInput=${set('description')}
					aria-invalid=${errors.description ? 'true' : null} aria-describedby=${errors.description ? 'f-description-error' : null}></textarea>
			<//>
			<${Field} id="f-metadata" label="Metadata (JSON object)" error=${errors.metadata} wide>
				<textarea id="f-metadata" rows="4" class="mono" value=${values.metadata} onInput=${set('metadata')}
					aria-invalid=${errors.metadata ? 'true' : null} aria-describedby=${errors.metadata ? 'f-metadata-error' : null}></textarea>
			<//>
		</div>
		<div class="actions">
			<button type="button" onClick=${() => (editing ? onCancel() : go('/episodes'))}>Cancel</button>
			<button type="submit" class="primary" disabled=${busy}>${editing ? 'Save' : 'Create episode'}</button>
		</div>
		${conflict ? html`<${ConflictDialog} base=${base} current=${conflict.current} mine=${conflict.mine}
			history=${conflict.history} onReload=${reloadTheirs} onOverwrite=${overwrite}
			onClose=${() => setConflict(null)} />` : null}
	</form>`;
	if (editing) return form;
	return html`<main class="narrow"><h1>New episode</h1>${form}</main>`;
}
