// episodes.js - the episode list: full-text search, filters, sort, keyset
// paging ("load more"), kept up to date by the episodes room.
import { html, useEffect, useLayoutEffect, useRef, useState } from './view.js';
import { route, setQuery, canEdit } from './store.js';
import { get } from './api.js';
import { Status, ago, ErrorBox, Empty, useLive, useReload } from './ui.js';

export const STATUSES = ['draft', 'in_review', 'scheduled', 'published', 'archived'];
const SORTS = [
	['-updated_at', 'Recently updated'],
	['updated_at', 'Least recently updated'],
	['title', 'Title'],
	['air_date', 'Air date, earliest first'],
	['-air_date', 'Air date, latest first'],
];
const FILTERS = ['q', 'status', 'category', 'series', 'sort'];

function filtersOf(query) {
	const f = {};
	for (const k of FILTERS) f[k] = query.get(k) || '';
	const limit = parseInt(query.get('limit') || '50', 10);
	f.limit = limit >= 1 && limit <= 200 ? limit : 50;
	return f;
}

// What the server would answer for a new episode we only know from its
// event: enough to show it at once, until the reload brings the rest.
function matchesPlain(f) {
	return !f.q && !f.category && !f.series && (!f.sort || f.sort === '-updated_at');
}

let firstShown = false;

// The first screen's list, asked for at start-up while the modules render
// and GET /me is on its way, rather than after both (one round trip and a
// render less before the first rows).  Used once, if the filters match.
let early = null;
export function prefetchEpisodes(query) {
	const f = filtersOf(query);
	early = { key: JSON.stringify(f), t0: performance.now(), promise: get('/episodes', f) };
	early.promise.catch(() => {});
}

function seriesOf(e) {
	const parts = [];
	if (e.series) parts.push(e.series);
	if (e.season_number != null) parts.push('S' + e.season_number);
	if (e.episode_number != null) parts.push('E' + e.episode_number);
	return parts.join(' · ').replace(/ · E/, ' E');
}

export function EpisodesScreen() {
	const f = filtersOf(route.value.query);
	const key = JSON.stringify(f);
	const [state, setState] = useState({ items: [], next: null, loading: true, error: null, key: null });
	const [q, setQ] = useState(f.q);
	const [fresh, setFresh] = useState(() => new Set());
	const stateRef = useRef(state);
	stateRef.current = state;
	const t0 = useRef(0);

	// Reload from the top, as many as are shown (at most 200): after a
	// live event, a reconnect or a filter change.
	const reload = useReload(async () => {
		const shown = stateRef.current.key === key ? stateRef.current.items.length : 0;
		const limit = Math.min(200, Math.max(f.limit, shown));
		let r;
		if (early && early.key === key && !shown) {
			t0.current = early.t0;
			r = await early.promise;
		} else {
			t0.current = performance.now();
			r = await get('/episodes', { ...f, limit });
		}
		early = null;
		performance.mark('eccr:episodes-fetched');
		setState({ items: r.items, next: r.next_cursor, loading: false, error: null, key });
	});

	// A layout effect: the request leaves before the first paint.
	useLayoutEffect(() => {
		setState((s) => ({ ...s, loading: true, error: null }));
		reload().catch((error) => setState((s) => ({ ...s, loading: false, error })));
	}, [key]);

	useLayoutEffect(() => {
		if (state.loading || state.key !== key) return;
		performance.measure('eccr:episodes-render', { start: t0.current, detail: { count: state.items.length } });
		if (!firstShown) {
			firstShown = true;
			performance.mark('eccr:episodes-first-shown', { detail: { count: state.items.length } });
		}
	}, [state]);

	// Search as the user types, a quarter second after the last key.
	useEffect(() => {
		if (q === f.q) return undefined;
		// The filters as they are when it fires: another may have changed meanwhile.
		const t = setTimeout(() => {
			const now = filtersOf(route.value.query);
			setQuery({ ...now, q, limit: now.limit === 50 ? '' : now.limit });
		}, 250);
		return () => clearTimeout(t);
	}, [q]);

	const flash = (id) => {
		setFresh((s) => new Set(s).add(id));
		setTimeout(() => setFresh((s) => { const n = new Set(s); n.delete(id); return n; }), 2500);
	};

	useLive((ev) => {
		if (!ev.type.startsWith('episode_') || ev.type === 'episode_viewed') return;
		const id = ev.resource.id;
		const d = ev.data || {};
		const s = stateRef.current;
		if (ev.type === 'episode_deleted') {
			setState({ ...s, items: s.items.filter((e) => e.id !== id) });
			return;
		}
		if (ev.type === 'episode_updated') {
			// Show what the event says at once; the reload brings the rest.
			setState({
				...s,
				items: s.items.map((e) => (e.id === id ? {
					...e, title: d.title || e.title, version: d.version || e.version,
					updated_by: ev.actor.id, updated_at: ev.occurred_at,
				} : e)),
			});
		} else if (ev.type === 'episode_created' && matchesPlain(f) && (!f.status || f.status === d.status)
			&& !s.items.some((e) => e.id === id)) {
			setState({
				...s,
				items: [{
					id, title: d.title, status: d.status || 'draft', categories: d.categories || [],
					series: null, created_by: ev.actor.id, updated_by: ev.actor.id, updated_at: ev.occurred_at,
				}, ...s.items],
			});
		}
		flash(id);
		reload();
	});

	const more = async () => {
		setState((s) => ({ ...s, loading: true }));
		try {
			const r = await get('/episodes', { ...f, cursor: state.next });
			setState((s) => ({ ...s, items: [...s.items, ...r.items], next: r.next_cursor, loading: false }));
		} catch (error) {
			setState((s) => ({ ...s, loading: false, error }));
		}
	};

	const set = (k) => (e) => setQuery({ ...f, [k]: e.target.value, limit: f.limit === 50 ? '' : f.limit });

	return html`<main class="episodes">
		<div class="title-row">
			<h1>Episodes</h1>
			${canEdit.value ? html`<a class="button primary" href="#/episodes/new">New episode</a>` : null}
		</div>
		<form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
			<div class="field grow">
				<label for="ep-q">Search</label>
				<input id="ep-q" type="search" placeholder="Title, description, series" maxlength="500"
					value=${q} onInput=${(e) => setQ(e.target.value)} />
			</div>
			<div class="field">
				<label for="ep-status">Status</label>
				<select id="ep-status" value=${f.status} onChange=${set('status')}>
					<option value="">Any</option>
					${STATUSES.map((s) => html`<option value=${s}>${s.replace('_', ' ')}</option>`)}
				</select>
			</div>
			<div class="field">
				<label for="ep-category">Category</label>
				<input id="ep-category" value=${f.category} onChange=${set('category')} />
			</div>
			<div class="field">
				<label for="ep-series">Series</label>
				<input id="ep-series" value=${f.series} onChange=${set('series')} />
			</div>
			<div class="field">
				<label for="ep-sort">Sort</label>
				<select id="ep-sort" value=${f.sort || '-updated_at'} onChange=${set('sort')}>
					${SORTS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
				</select>
			</div>
		</form>
		<${ErrorBox} error=${state.error} />
		${!state.loading && state.items.length === 0 && !state.error
			? html`<${Empty}>No episodes match.</${Empty}>` : null}
		${state.items.length ? html`<table class="list" aria-label="Episodes" aria-busy=${state.loading ? 'true' : 'false'}>
			<thead><tr><th scope="col">Title</th><th scope="col">Series</th><th scope="col">Status</th>
				<th scope="col">Categories</th><th scope="col">Air date</th><th scope="col">Updated</th></tr></thead>
			<tbody>
				${state.items.map((e) => html`<tr key=${e.id} class=${fresh.has(e.id) ? 'fresh' : ''} data-id=${e.id}>
					<td data-label="Title"><a href=${'#/episodes/' + e.id}>${e.title}</a></td>
					<td data-label="Series">${seriesOf(e) || null}</td>
					<td data-label="Status"><${Status} value=${e.status} /></td>
					<td data-label="Categories">${(e.categories || []).join(', ') || null}</td>
					<td data-label="Air date">${e.air_date || null}</td>
					<td data-label="Updated"><span title=${e.updated_at}>${ago(e.updated_at)}</span> · ${e.updated_by}</td>
				</tr>`)}
			</tbody>
		</table>` : null}
		<div class="more">
			${state.next ? html`<button type="button" onClick=${more} disabled=${state.loading}>Load more</button>` : null}
			${state.loading ? html`<span class="muted" role="status">Loading…</span>` : null}
		</div>
	</main>`;
}
