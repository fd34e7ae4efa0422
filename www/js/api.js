// api.js - the only place that talks HTTP to eccr-fcgi: the bearer token,
// JSON in and out, problem+json errors (RFC 9457) turned into ApiError,
// Idempotency-Key on the POSTs that take one, uploads with progress.
import { token, setToken, me, signInMessage } from './store.js';

const meta = document.querySelector('meta[name="eccr-api"]');
export const BASE = (meta && meta.content) || '/api/v1';

export class ApiError extends Error {
	constructor(status, problem) {
		super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
		this.status = status;
		this.code = (problem && problem.code) || '';
		this.errors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
		this.problem = problem || {};
	}
}

// A key the server uses to answer a repeated POST from its memory instead
// of doing it twice.  getRandomValues works outside secure contexts too
// (randomUUID does not).
export function newKey() {
	const b = crypto.getRandomValues(new Uint8Array(16));
	return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function url(path, query) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(query || {})) {
		if (v !== '' && v != null) q.set(k, v);
	}
	const s = q.toString();
	return BASE + path + (s ? '?' + s : '');
}

// A 401 means the token is gone or expired: forget it, back to sign-in.
function unauthorized(problem) {
	setToken(null);
	me.value = null;
	signInMessage.value = 'Your session has ended (' + ((problem && problem.detail) || 'unauthorized') + '). Sign in again.';
}

async function readProblem(res) {
	const type = res.headers.get('Content-Type') || '';
	if (type.includes('json')) {
		try { return await res.json(); } catch { return null; }
	}
	return null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// request(method, path, {query, body, headers, idempotent, keep401, token}):
// {status, etag, data}; throws ApiError for any answer outside 2xx.  With
// idempotent, a POST that got no answer (network error) is sent again, up
// to twice, with the same Idempotency-Key: the server runs it once.
export async function request(method, path, opts = {}) {
	const headers = { Accept: 'application/json', ...(opts.headers || {}) };
	const bearer = opts.token || token.value;
	if (bearer) headers.Authorization = 'Bearer ' + bearer;
	let body;
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(opts.body);
	}
	if (opts.idempotent) headers['Idempotency-Key'] = newKey();
	let res;
	for (let attempt = 0; ; attempt++) {
		try {
			res = await fetch(url(path, opts.query), { method, headers, body, cache: 'no-store' });
			break;
		} catch (e) {
			if (!opts.idempotent || attempt >= 2) {
				throw new ApiError(0, { title: 'Network error', detail: 'the server could not be reached' });
			}
			await sleep(300 * 3 ** attempt);
		}
	}
	if (res.status === 401 && !opts.keep401) {
		unauthorized(await readProblem(res));
		throw new ApiError(401, { title: 'Unauthorized' });
	}
	if (!res.ok) {
		const problem = await readProblem(res);
		if (res.status === 403 && problem && !problem.detail) problem.detail = 'your role may not do this';
		throw new ApiError(res.status, problem || { title: res.statusText });
	}
	const text = res.status === 204 ? '' : await res.text();
	return { status: res.status, etag: res.headers.get('ETag'), data: text ? JSON.parse(text) : null };
}

export const get = (path, query) => request('GET', path, { query }).then((r) => r.data);
export const post = (path, body, opts = {}) => request('POST', path, { body, ...opts }).then((r) => r.data);
export const del = (path, opts = {}) => request('DELETE', path, opts).then((r) => r.data);

// Upload a File as the raw request body: the browser streams it from disk
// (it is never read into memory here).  onProgress(fraction) follows the
// bytes sent.  Returns {promise, abort}.
export function upload(episodeId, file, onProgress) {
	const xhr = new XMLHttpRequest();
	const promise = new Promise((resolve, reject) => {
		xhr.open('POST', url(`/episodes/${episodeId}/files`, { name: file.name }));
		xhr.setRequestHeader('Authorization', 'Bearer ' + token.value);
		xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
		xhr.setRequestHeader('Idempotency-Key', newKey());
		xhr.setRequestHeader('Accept', 'application/json');
		xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
		xhr.onload = () => {
			let data = null;
			try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
			if (xhr.status === 201) {
				onProgress(1);
				resolve(data);
			} else {
				if (xhr.status === 401) unauthorized(data);
				reject(new ApiError(xhr.status, data || { title: xhr.statusText }));
			}
		};
		xhr.onerror = () => reject(new ApiError(0, { title: 'Network error', detail: 'the upload was interrupted' }));
		xhr.onabort = () => reject(new ApiError(0, { title: 'Cancelled', detail: 'upload cancelled' }));
		xhr.send(file);
	});
	return { promise, abort: () => xhr.abort() };
}

// Leave a presence resource even while the page is being closed: a
// keepalive fetch outlives the page (sendBeacon cannot send DELETE or an
// Authorization header).
export function leavePresence(type, id) {
	if (!token.value) return;
	fetch(url(`/presence/${type}/${id}`), {
		method: 'DELETE', keepalive: true, headers: { Authorization: 'Bearer ' + token.value },
	}).catch(() => {});
}
