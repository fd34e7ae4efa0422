// files.js - an episode's files: drag-and-drop (or chosen) uploads with a
// progress bar each, streamed from disk by the browser; downloads through
// a signed URL; checksum and delete.  Kept current by the episode's room.
import { html, useEffect, useRef, useState } from './view.js';
import { canEdit, canDeleteFile, notify } from './store.js';
import { get, post, del, upload } from './api.js';
import { Confirm, ErrorBox, Empty, Icon, fmtBytes, ago, useLive, useReload } from './ui.js';

let uploadSeq = 0;

async function download(file) {
	const { url } = await get(`/files/${file.id}/url`, { expires_in: 300 });
	const a = document.createElement('a');
	a.href = url;
	a.download = file.name;
	a.rel = 'noopener';
	document.body.appendChild(a);
	a.click();
	a.remove();
}

function Uploads({ items, onCancel }) {
	if (!items.length) return null;
	return html`<ul class="uploads" aria-label="Uploads">
		${items.map((u) => html`<li key=${u.id} data-testid="upload">
			<span class="name">${u.name}</span>
			<progress max="100" value=${Math.round(u.progress * 100)} aria-label=${'Uploading ' + u.name}
				data-testid="upload-progress"></progress>
			<span class="pct" data-testid="upload-pct">${u.error ? '' : Math.round(u.progress * 100) + '%'}</span>
			${u.error ? html`<span class="error">${u.error}</span>`
				: u.done ? html`<span class="ok">Uploaded</span>`
				: html`<button type="button" class="link" onClick=${() => onCancel(u)}>Cancel</button>`}
		</li>`)}
	</ul>`;
}

export function FilesSection({ episodeId }) {
	const [files, setFiles] = useState(null);
	const [error, setError] = useState(null);
	const [uploads, setUploads] = useState([]);
	const [over, setOver] = useState(false);
	const [confirm, setConfirm] = useState(null);
	const inputRef = useRef(null);

	const load = useReload(async () => {
		const r = await get(`/episodes/${episodeId}/files`, { limit: 200 });
		setFiles(r.items);
	});
	useEffect(() => { load().catch(setError); }, [episodeId]);

	useLive((ev) => {
		if (ev.episode_id !== episodeId) return;
		if (ev.type === 'file_uploaded' || ev.type === 'file_deleted' || ev.type === 'job_completed') load().catch(() => {});
	});

	const patch = (id, p) => setUploads((us) => us.map((u) => (u.id === id ? { ...u, ...p } : u)));

	const start = (list) => {
		for (const file of list) {
			const id = ++uploadSeq;
			const job = upload(episodeId, file, (f) => patch(id, { progress: f }));
			setUploads((us) => [...us, { id, name: file.name, progress: 0, abort: job.abort }]);
			job.promise.then(() => {
				patch(id, { done: true, progress: 1 });
				load().catch(() => {});
				setTimeout(() => setUploads((us) => us.filter((u) => u.id !== id)), 4000);
			}, (err) => patch(id, { error: err.message }));
		}
	};

	const drop = (e) => {
		e.preventDefault();
		setOver(false);
		if (!canEdit.value) return;
		if (e.dataTransfer.files.length) start(Array.from(e.dataTransfer.files));
	};

	const checksum = async (f) => {
		await post('/jobs', { type: 'checksum', episode_id: episodeId, payload: { file_id: f.id } }, { idempotent: true });
		notify(`Checksum of ${f.name} queued.`);
	};

	return html`<section aria-labelledby="files-h" class="files">
		<h2 id="files-h">Files</h2>
		${canEdit.value ? html`<div class=${'dropzone' + (over ? ' over' : '')} data-testid="dropzone"
			onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
			onDragLeave=${() => setOver(false)} onDrop=${drop}>
			<${Icon} name="upload" />
			<span>Drop files here, or</span>
			<label class="button" for="file-input">choose files</label>
			<input id="file-input" ref=${inputRef} type="file" multiple class="visually-hidden"
				onChange=${(e) => { start(Array.from(e.target.files)); e.target.value = ''; }} />
		</div>` : null}
		<${Uploads} items=${uploads} onCancel=${(u) => u.abort()} />
		<${ErrorBox} error=${error} />
		${files && !files.length ? html`<${Empty}>No files yet.</${Empty}>` : null}
		${files && files.length ? html`<table class="list" aria-label="Files">
			<thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Size</th>
				<th scope="col">SHA-256</th><th scope="col">Uploaded</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
			<tbody>${files.map((f) => html`<tr key=${f.id} data-file=${f.name}>
				<td data-label="Name">${f.name}${f.status === 'pending' ? html` <span class="badge st-queued">pending</span>` : null}</td>
				<td data-label="Type">${f.content_type}</td>
				<td data-label="Size">${fmtBytes(f.size_bytes)}</td>
				<td data-label="SHA-256" class="mono" title=${f.sha256 || ''}>${f.sha256 ? f.sha256.slice(0, 12) + '…' : ''}</td>
				<td data-label="Uploaded">${ago(f.created_at)} · ${f.created_by}</td>
				<td class="actions-cell"><div class="row-actions">
					${f.status === 'ready' ? html`<button type="button" onClick=${() => download(f)}
						aria-label=${'Download ' + f.name}>Download</button>` : null}
					${canEdit.value && f.status === 'ready' ? html`<button type="button" onClick=${() => checksum(f)}
						aria-label=${'Checksum ' + f.name}>Checksum</button>` : null}
					${canDeleteFile(f) ? html`<button type="button" class="danger" onClick=${() => setConfirm(f)}
						aria-label=${'Delete ' + f.name}>Delete</button>` : null}
				</div></td>
			</tr>`)}</tbody>
		</table>` : null}
		${confirm ? html`<${Confirm} title="Delete this file?" danger confirmLabel="Delete file"
			text=${`${confirm.name} (${fmtBytes(confirm.size_bytes)}) will be deleted.`}
			onConfirm=${async () => { await del(`/files/${confirm.id}`); load().catch(() => {}); }}
			onClose=${() => setConfirm(null)} />` : null}
	</section>`;
}
