/* upload_rules.c - what may be uploaded; see upload_rules.h.  The rules
 * themselves are content_rules.c (pure) and content_sniff.c (libmagic). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content_sniff.h"
#include "files.h"
#include "log.h"
#include "storage.h"
#include "upload_rules.h"

const char *upload_type_refusal(const struct eccr_config *cfg, const char *content_type,
    char why[UPLOAD_WHY_MAX])
{
	char base[ECCR_MEDIA_TYPE_MAX];

	if (eccr_type_allowed(cfg->storage.allowed_types, content_type))
		return NULL;
	if (!eccr_media_type_base(content_type, base))
		snprintf(why, UPLOAD_WHY_MAX, "the declared type is not a media type such as "
		    "audio/mpeg");
	else
		snprintf(why, UPLOAD_WHY_MAX, "the type %s is not accepted here (storage."
		    "allowed_types: %.200s)", base, cfg->storage.allowed_types);
	return why;
}

bool upload_type_allowed(struct eccr_ctx *c, const char *content_type)
{
	char why[UPLOAD_WHY_MAX];

	if (upload_type_refusal(&c->app->cfg, content_type, why) == NULL)
		return true;
	eccr_problem(&c->req, 415, "unsupported_media_type", "%s", why);
	return false;
}

void upload_sniff_init(struct upload_sniff *s)
{
	s->n = 0;
	s->verdict = -1;
	s->why[0] = '\0';
}

/* The verdict on what is held, with the problem detail of a refusal. */
static enum upload_verdict judge(struct upload_sniff *s)
{
	const char *what = NULL;

	switch (eccr_sniff(s->head, s->n, &what)) {
	case 0:
		return UPLOAD_STORE;
	case 1:
		snprintf(s->why, sizeof s->why, "the content is %s, which is never accepted "
		    "whatever its declared type", what);
		return UPLOAD_REFUSED;
	default:
		snprintf(s->why, sizeof s->why, "the content check (libmagic) is unavailable");
		return UPLOAD_UNCHECKED;
	}
}

enum upload_verdict upload_sniff_feed(struct upload_sniff *s, const void *data, size_t n,
    size_t *used, bool at_end)
{
	size_t take;

	*used = 0;
	if (s->verdict >= 0)
		return (enum upload_verdict)s->verdict;
	take = n < sizeof s->head - s->n ? n : sizeof s->head - s->n;
	if (take > 0)
		memcpy(s->head + s->n, data, take);
	s->n += take;
	*used = take;
	if (s->n < sizeof s->head && !at_end)
		return UPLOAD_HOLD;
	s->verdict = (int)judge(s);
	return (enum upload_verdict)s->verdict;
}

/* A refused object goes at once: it was never a file.  If that fails,
 * eccr-worker does not know of it, so say where it is. */
static void remove_refused(struct eccr_ctx *c, const char *key, const char *file_id)
{
	int e = eccr_storage_delete(c->app->storage, key);

	if (e != 0)
		eccr_err("file %s: its refused object %s could not be removed (%s); it is removed "
		    "with the file, or by hand", file_id, key, strerror(e));
}

bool upload_object_allowed(struct eccr_ctx *c, const char *key, const char *file_id,
    int64_t size)
{
	struct upload_sniff *s = malloc(sizeof *s);
	size_t got = 0, want = size < (int64_t)sizeof s->head ? (size_t)size : sizeof s->head;
	int e = 0;
	bool ok = false;

	if (s == NULL) {
		file_storage_unavailable(c, ENOMEM, "cannot check the object");
		return false;
	}
	upload_sniff_init(s);
	/* Never a range past the end: an empty object is not read at all
	 * (S3 answers 416 to any range of it; some stores answer oddly). */
	if (want > 0)
		e = eccr_storage_read_head(c->app->storage, key, s->head, want, &got);
	if (e == ENOENT) {
		eccr_problem(&c->req, 409, "conflict", "nothing was uploaded for file %s", file_id);
	} else if (e != 0) {
		file_storage_unavailable(c, e, "storage could not read the object");
	} else {
		s->n = got;
		switch (judge(s)) {
		case UPLOAD_STORE:
			ok = true;
			break;
		case UPLOAD_REFUSED:
			remove_refused(c, key, file_id);
			eccr_problem(&c->req, 415, "unsupported_media_type", "%s; the uploaded object "
			    "was removed and file %s stays pending", s->why, file_id);
			break;
		default:
			file_storage_unavailable(c, 0, s->why);
			break;
		}
	}
	free(s);
	return ok;
}
