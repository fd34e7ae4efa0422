// jobs.js - jobs: the table (live status and progress from the jobs
// room), retry and cancel, starting a job of any type /job-types lists,
// the episode's jobs and the all-jobs screen with its filters.
import { html, useEffect, useRef, useState } from './view.js';
import { canEdit, route, setQuery, notify } from './store.js';
import { get, post, ApiError } from './api.js';
import { Status, ErrorBox, Empty, ago, useLive, useReload } from './ui.js';

const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const ACTIVE = new Set(['queued', 'running']);

let typesPromise = null;
function jobTypes() {
	if (!typesPromise) typesPromise = get('/job-types').then((r) => r.items).catch((e) => { typesPromise = null; throw e; });
	return typesPromise;
}

// Keep a list of jobs current: progress in place from job_progress, any
// other job event reads that job again (one small GET).  isMine(job)
// says whether a job new to the list belongs in it.
function useLiveJobs(jobs, setJobs, isMine) {
	const ref = useRef(jobs);
	ref.current = jobs;
	useLive(async (ev) => {
		if (ev.resource.type !== 'job' || !ref.current) return;
		const jobId = (ev.data && ev.data.job_id) || ev.resource.id;
		if (ev.type === 'job_progress') {
			setJobs((js) => js && js.map((j) => (j.id === jobId
				? { ...j, progress: ev.data.progress, status: j.status === 'queued' ? 'running' : j.status } : j)));
			return;
		}
		let job;
		try { job = await get(`/jobs/${jobId}`); } catch { return; }
		setJobs((js) => {
			if (!js) return js;
			if (js.some((j) => j.id === job.id)) return js.map((j) => (j.id === job.id ? job : j));
			return isMine(job) ? [job, ...js] : js;
		});
	});
}

// A running job asked to cancel ends when its handler next checks, and
// eccr-worker announces no event for that last step: read it again, a
// second later, then less and less often, until it has ended.
function useCancelWatch(job, onChanged) {
	const tries = useRef(0);
	useEffect(() => {
		if (job.status !== 'running' || !job.cancel_requested) { tries.current = 0; return undefined; }
		const t = setTimeout(() => {
			get(`/jobs/${job.id}`).then(onChanged).catch(() => {});
		}, Math.min(15000, 1000 * 2 ** tries.current++));
		return () => clearTimeout(t);
		// tries.current in the deps: each read re-renders the row (a new
		// object), which schedules the next.
	}, [job.id, job.status, job.cancel_requested, job.updated_at, tries.current]);
}

function JobRow({ job, showEpisode, onChanged }) {
	useCancelWatch(job, onChanged);
	const act = async (what) => {
		try {
			onChanged(await post(`/jobs/${job.id}/${what}`, undefined, { idempotent: true }));
		} catch (e) {
			notify(e instanceof ApiError && e.status === 409 ? `The job is ${job.status} now; nothing to ${what}.` : e.message, 'error');
		}
	};
	const progress = job.status === 'succeeded' ? 100 : job.progress || 0;
	return html`<tr data-job=${job.id} data-status=${job.status}>
		<td data-label="Type">${job.type}</td>
		${showEpisode ? html`<td data-label="Episode">${job.episode_id
			? html`<a href=${'#/episodes/' + job.episode_id}>${job.episode_id.slice(0, 8)}</a>` : '—'}</td>` : null}
		<td data-label="Status"><${Status} value=${job.status} />${job.cancel_requested && job.status === 'running' ? ' (cancelling)' : ''}</td>
		<td data-label="Progress" class="progress-cell">
			<progress max="100" value=${progress} aria-label=${job.type + ' progress'}></progress>
			<span class="pct" data-testid="job-progress">${progress}%</span>
		</td>
		<td data-label="Attempts">${job.attempts}/${job.max_attempts}</td>
		<td data-label="Started by">${job.created_by}</td>
		<td data-label="Updated"><span title=${job.updated_at}>${ago(job.updated_at)}</span>
			${job.last_error ? html`<div class="error small">${job.last_error}</div>` : null}</td>
		<td class="actions-cell"><div class="row-actions">
			${canEdit.value && (job.status === 'failed' || job.status === 'cancelled')
				? html`<button type="button" onClick=${() => act('retry')}>Retry</button>` : null}
			${canEdit.value && ACTIVE.has(job.status) && !job.cancel_requested
				? html`<button type="button" onClick=${() => act('cancel')}>Cancel</button>` : null}
		</div></td>
	</tr>`;
}

function JobsTable({ jobs, showEpisode, onChanged, label }) {
	return html`<table class="list jobs" aria-label=${label}>
		<thead><tr><th scope="col">Type</th>${showEpisode ? html`<th scope="col">Episode</th>` : null}
			<th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Attempts</th>
			<th scope="col">Started by</th><th scope="col">Updated</th>
			<th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
		<tbody>${jobs.map((j) => html`<${JobRow} key=${j.id} job=${j} showEpisode=${showEpisode} onChanged=${onChanged} />`)}</tbody>
	</table>`;
}

const EXAMPLES = { noop: '{"sleep_ms": 3000}', checksum: '{"file_id": ""}' };

function StartJob({ episodeId, onStarted }) {
	const [types, setTypes] = useState([]);
	const [type, setType] = useState('');
	const [payload, setPayload] = useState('');
	const [error, setError] = useState(null);
	const [busy, setBusy] = useState(false);
	useEffect(() => {
		jobTypes().then((t) => { setTypes(t); if (t.length) { setType(t[0].type); setPayload(EXAMPLES[t[0].type] || '{}'); } })
			.catch(setError);
	}, []);
	const submit = async (e) => {
		e.preventDefault();
		setError(null);
		let p;
		try { p = payload.trim() ? JSON.parse(payload) : {}; } catch (err) {
			setError(new Error('The payload is not valid JSON: ' + err.message));
			return;
		}
		setBusy(true);
		try {
			onStarted(await post('/jobs', { type, episode_id: episodeId, payload: p }, { idempotent: true }));
		} catch (err) { setError(err); }
		setBusy(false);
	};
	const desc = types.find((t) => t.type === type);
	return html`<form class="start-job" onSubmit=${submit} aria-label="Start a job">
		<div class="field">
			<label for="job-type">Job type</label>
			<select id="job-type" value=${type} onChange=${(e) => { setType(e.target.value); setPayload(EXAMPLES[e.target.value] || '{}'); }}>
				${types.map((t) => html`<option value=${t.type}>${t.type}</option>`)}
			</select>
		</div>
		<div class="field grow">
			<label for="job-payload">Payload (JSON)</label>
			<input id="job-payload" class="mono" value=${payload} onInput=${(e) => setPayload(e.target.value)} />
		</div>
		<button type="submit" class="primary" disabled=${busy || !type}>Start job</button>
		${desc && desc.description ? html`<small class="hint full">${desc.description}</small>` : null}
		<${ErrorBox} error=${error} />
	</form>`;
}

export function EpisodeJobs({ episodeId }) {
	const [jobs, setJobs] = useState(null);
	const [error, setError] = useState(null);
	const load = useReload(async () => {
		setJobs((await get('/jobs', { episode_id: episodeId, limit: 50 })).items);
	});
	useEffect(() => { load().catch(setError); }, [episodeId]);
	useLiveJobs(jobs, setJobs, (j) => j.episode_id === episodeId);
	const changed = (job) => setJobs((js) => (js.some((j) => j.id === job.id)
		? js.map((j) => (j.id === job.id ? job : j)) : [job, ...js]));
	return html`<section aria-labelledby="jobs-h" class="jobs-section">
		<h2 id="jobs-h">Jobs</h2>
		${canEdit.value ? html`<${StartJob} episodeId=${episodeId} onStarted=${changed} />` : null}
		<${ErrorBox} error=${error} />
		${jobs && !jobs.length ? html`<${Empty}>No jobs for this episode.</${Empty}>` : null}
		${jobs && jobs.length ? html`<${JobsTable} jobs=${jobs} onChanged=${changed} label="Jobs of this episode" />` : null}
	</section>`;
}

export function JobsScreen() {
	const query = route.value.query;
	const f = { status: query.get('status') || '', type: query.get('type') || '', episode_id: query.get('episode_id') || '' };
	const key = JSON.stringify(f);
	const [jobs, setJobs] = useState(null);
	const [next, setNext] = useState(null);
	const [types, setTypes] = useState([]);
	const [error, setError] = useState(null);
	const [episode, setEpisode] = useState(f.episode_id);
	const load = useReload(async () => {
		const r = await get('/jobs', { ...f, limit: 50 });
		setJobs(r.items);
		setNext(r.next_cursor);
	});
	useEffect(() => { setError(null); load().catch(setError); }, [key]);
	useEffect(() => { jobTypes().then(setTypes).catch(() => {}); }, []);
	useLiveJobs(jobs, setJobs, (j) => (!f.status || f.status === j.status) && (!f.type || f.type === j.type)
		&& (!f.episode_id || f.episode_id === j.episode_id));
	const more = async () => {
		const r = await get('/jobs', { ...f, limit: 50, cursor: next });
		setJobs([...jobs, ...r.items]);
		setNext(r.next_cursor);
	};
	const set = (k) => (e) => setQuery({ ...f, [k]: e.target.value });
	const changed = (job) => setJobs((js) => js.map((j) => (j.id === job.id ? job : j)));
	return html`<main class="jobs-screen">
		<h1>Jobs</h1>
		<form class="filters" onSubmit=${(e) => { e.preventDefault(); setQuery({ ...f, episode_id: episode.trim() }); }}>
			<div class="field">
				<label for="jf-status">Status</label>
				<select id="jf-status" value=${f.status} onChange=${set('status')}>
					<option value="">Any</option>
					${JOB_STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
				</select>
			</div>
			<div class="field">
				<label for="jf-type">Type</label>
				<select id="jf-type" value=${f.type} onChange=${set('type')}>
					<option value="">Any</option>
					${types.map((t) => html`<option value=${t.type}>${t.type}</option>`)}
				</select>
			</div>
			<div class="field grow">
				<label for="jf-episode">Episode id</label>
				<input id="jf-episode" value=${episode} onInput=${(e) => setEpisode(e.target.value)}
					onChange=${(e) => setQuery({ ...f, episode_id: e.target.value.trim() })} />
			</div>
		</form>
		<${ErrorBox} error=${error} />
		${jobs && !jobs.length ? html`<${Empty}>No jobs match.</${Empty}>` : null}
		${jobs && jobs.length ? html`<${JobsTable} jobs=${jobs} showEpisode onChanged=${changed} label="Jobs" />` : null}
		${next ? html`<div class="more"><button type="button" onClick=${() => more().catch(setError)}>Load more</button></div>` : null}
	</main>`;
}
