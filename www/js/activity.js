// activity.js - the audit trail: one episode's (Trail) and everyone's or
// one's own (ActivityScreen, with filters), and the statistics drawn as
// small inline SVG bar charts, per action and per day.
import { html, useEffect, useRef, useState } from './view.js';
import { route, setQuery, isAdmin, me } from './store.js';
import { get } from './api.js';
import { ErrorBox, Empty, ago, fmtTime, useLive, useReload } from './ui.js';

const ACTIONS = ['CREATE', 'UPDATE', 'DELETE', 'VIEW', 'DOWNLOAD', 'RETRY', 'CANCEL', 'COMPLETE', 'FAILED', 'START'];
const RESOURCES = ['episode', 'file', 'job', 'worker'];
const TRANSIENT = new Set(['episode_viewed', 'job_progress', 'presence_joined', 'presence_left', 'notification_created']);

// One line that says what happened, from what the event's data names.
function what(a) {
	const m = a.metadata || {};
	const name = m.title || m.name || m.type || '';
	let s = `${a.action.toLowerCase()} ${a.resource_type}`;
	if (name) s += ` “${name}”`;
	if (m.changed_fields && m.changed_fields.length) s += ` (${m.changed_fields.join(', ')})`;
	if (m.error) s += `: ${m.error}`;
	return s;
}

// Reading an episode is recorded too (VIEW); those are left out unless
// asked for, or they would bury the changes.
function ViewsToggle({ id, value, set }) {
	return html`<p class="toggle">
		<input type="checkbox" id=${id} checked=${value} onChange=${(e) => set(e.target.checked)} />
		<label for=${id}>Show views</label>
	</p>`;
}

function Entries({ items, showEpisode, views }) {
	const shown = views ? items : items.filter((a) => a.action !== 'VIEW');
	if (!shown.length) return html`<${Empty}>Nothing but views here.</${Empty}>`;
	return html`<ol class="trail">
		${shown.map((a) => html`<li key=${a.id}>
			<time datetime=${a.created_at} title=${fmtTime(a.created_at)}>${ago(a.created_at)}</time>
			<span class="who">${a.user_id}</span>
			<span class=${'act act-' + a.action}>${what(a)}</span>
			${showEpisode && a.episode_id ? html` <a href=${'#/episodes/' + a.episode_id}>episode</a>` : null}
		</li>`)}
	</ol>`;
}

// A list with keyset paging, reloaded (coalesced) on live events. A
// filter change empties it at once, and an answer that comes back for
// filters no longer shown is dropped (the reload for the new ones
// follows it): the list under a search never shows what it excludes.
function usePaged(path, query, relevant) {
	const [items, setItems] = useState(null);
	const [next, setNext] = useState(null);
	const [error, setError] = useState(null);
	const key = path + JSON.stringify(query);
	const shown = useRef(key);
	shown.current = key;
	const load = useReload(async () => {
		const r = await get(path, { ...query, limit: 50 });
		if (shown.current !== key) return;
		setItems(r.items);
		setNext(r.next_cursor);
		setError(null);
	});
	useEffect(() => {
		setItems(null);
		setNext(null);
		load().catch(setError);
	}, [key]);
	useLive((ev) => {
		if (!TRANSIENT.has(ev.type) && relevant(ev)) load().catch(() => {});
	});
	const more = async () => {
		try {
			const r = await get(path, { ...query, limit: 50, cursor: next });
			if (shown.current !== key) return;
			setItems((xs) => [...xs, ...r.items]);
			setNext(r.next_cursor);
		} catch (e) { setError(e); }
	};
	return { items, next, error, more };
}

export function Trail({ episodeId }) {
	const { items, next, error, more } = usePaged(`/episodes/${episodeId}/activity`, {},
		(ev) => ev.episode_id === episodeId && ev.type !== 'episode_deleted');
	const [views, setViews] = useState(false);
	return html`<div data-testid="trail">
		<${ViewsToggle} id="trail-views" value=${views} set=${setViews} />
		<${ErrorBox} error=${error} />
		${items && !items.length ? html`<${Empty}>Nothing yet.</${Empty}>` : null}
		${items && items.length ? html`<${Entries} items=${items} views=${views} />` : null}
		${next ? html`<button type="button" onClick=${more}>Load more</button>` : null}
	</div>`;
}

// Bars, one per label, longest = full width; values printed beside.
function BarChart({ data, title }) {
	const rows = Object.entries(data).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
	const max = Math.max(1, ...rows.map(([, v]) => v));
	const h = 22;
	if (!rows.length) return html`<${Empty}>No activity in this period.</${Empty}>`;
	return html`<svg class="chart" viewBox=${`0 0 400 ${rows.length * h}`} role="img" aria-label=${title}>
		<title>${title}</title>
		${rows.map(([k, v], i) => html`<g key=${k} transform=${`translate(0 ${i * h})`}>
			<text x="0" y="15" class="label">${k}</text>
			<rect x="90" y="4" height="14" width=${Math.max(2, (v / max) * 260)} class=${'bar act-' + k} />
			<text x=${96 + (v / max) * 260} y="15" class="value">${v}</text>
		</g>`)}
	</svg>`;
}

// Columns, one per day, stacked by nothing: the day's total.
function DayChart({ days }) {
	const max = Math.max(1, ...days.map((d) => d.total));
	const w = Math.max(4, Math.floor(600 / Math.max(1, days.length)));
	const height = 120;
	const total = days.reduce((s, d) => s + d.total, 0);
	return html`<svg class="chart days" viewBox=${`0 0 ${w * days.length} ${height + 18}`} role="img"
		aria-label=${`Activity per day: ${total} actions over ${days.length} days`} preserveAspectRatio="none">
		<title>Activity per day</title>
		${days.map((d, i) => {
			const bh = (d.total / max) * height;
			return html`<rect key=${d.day} x=${i * w + 1} y=${height - bh} width=${w - 2} height=${Math.max(bh, d.total ? 1 : 0)} class="bar">
				<title>${d.day}: ${d.total}</title></rect>`;
		})}
		<text x="0" y=${height + 14} class="label">${days.length ? days[0].day : ''}</text>
		<text x=${w * days.length} y=${height + 14} class="label" text-anchor="end">${days.length ? days[days.length - 1].day : ''}</text>
	</svg>`;
}

// A date input's value (YYYY-MM-DD) as the start or end of that UTC day.
const dayStart = (d) => (d ? d + 'T00:00:00.000Z' : '');
const dayEnd = (d) => (d ? d + 'T23:59:59.999Z' : '');

function Stats({ since, until }) {
	const [stats, setStats] = useState(null);
	const [error, setError] = useState(null);
	const load = useReload(async () => {
		setStats(await get('/activity/stats', { since: dayStart(since), until: dayEnd(until) }));
		setError(null);
	});
	useEffect(() => { load().catch(setError); }, [since, until]);
	useLive((ev) => { if (!TRANSIENT.has(ev.type)) load().catch(() => {}); });
	if (error) return html`<${ErrorBox} error=${error} />`;
	if (!stats) return null;
	return html`<div class="stats" data-testid="stats">
		<div>
			<h3>Per action <span class="muted">(${stats.total} in all)</span></h3>
			<${BarChart} data=${stats.by_action || {}} title="Activity per action" />
		</div>
		${Array.isArray(stats.by_day) ? html`<div>
			<h3>Per day</h3>
			<${DayChart} days=${stats.by_day} />
		</div>` : null}
	</div>`;
}

export function ActivityScreen() {
	const query = route.value.query;
	const f = {};
	for (const k of ['q', 'user_id', 'action', 'resource_type', 'since', 'until']) f[k] = query.get(k) || '';
	const [q, setQ] = useState(f.q);
	const [user, setUser] = useState(f.user_id);
	const api = { ...f, since: dayStart(f.since), until: dayEnd(f.until) };
	const { items, next, error, more } = usePaged('/activity', api, () => true);
	const [views, setViews] = useState(false);
	useEffect(() => {
		if (q === f.q) return undefined;
		// The filters as they are when it fires: another may have changed meanwhile.
		const t = setTimeout(() => setQuery({ ...Object.fromEntries(route.value.query), q }), 300);
		return () => clearTimeout(t);
	}, [q]);
	const set = (k) => (e) => setQuery({ ...f, [k]: e.target.value });
	return html`<main class="activity">
		<h1>Activity</h1>
		<p class="muted">${isAdmin.value ? 'Everyone’s actions.' : `Your own actions (${me.value.id}).`}</p>
		<section aria-labelledby="stats-h">
			<h2 id="stats-h">Statistics</h2>
			<${Stats} since=${f.since} until=${f.until} />
		</section>
		<section aria-labelledby="trail-h">
			<h2 id="trail-h">Trail</h2>
			<form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
				<div class="field grow">
					<label for="af-q">Search</label>
					<input id="af-q" type="search" maxlength="500" value=${q} onInput=${(e) => setQ(e.target.value)}
						placeholder="Titles, file names, job types, people" />
				</div>
				${isAdmin.value ? html`<div class="field">
					<label for="af-user">User id</label>
					<input id="af-user" value=${user} onInput=${(e) => setUser(e.target.value)}
						onChange=${(e) => setQuery({ ...f, user_id: e.target.value.trim() })} />
				</div>` : null}
				<div class="field">
					<label for="af-action">Action</label>
					<select id="af-action" value=${f.action} onChange=${set('action')}>
						<option value="">Any</option>
						${ACTIONS.map((a) => html`<option value=${a}>${a}</option>`)}
					</select>
				</div>
				<div class="field">
					<label for="af-type">Resource</label>
					<select id="af-type" value=${f.resource_type} onChange=${set('resource_type')}>
						<option value="">Any</option>
						${RESOURCES.map((r) => html`<option value=${r}>${r}</option>`)}
					</select>
				</div>
				<div class="field">
					<label for="af-since">Since</label>
					<input id="af-since" type="date" value=${f.since} onChange=${set('since')} />
				</div>
				<div class="field">
					<label for="af-until">Until</label>
					<input id="af-until" type="date" value=${f.until} onChange=${set('until')} />
				</div>
			</form>
			<${ErrorBox} error=${error} />
			${items && !items.length ? html`<${Empty}>No activity matches.</${Empty}>` : null}
			${f.action ? null : html`<${ViewsToggle} id="activity-views" value=${views} set=${setViews} />`}
			${items && items.length ? html`<${Entries} items=${items} showEpisode views=${views || !!f.action} />` : null}
			${next ? html`<div class="more"><button type="button" onClick=${more}>Load more</button></div>` : null}
		</section>
	</main>`;
}
