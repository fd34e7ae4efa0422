/* upload_rules.h - what may be uploaded (API.md "Files"), for the upload
 * handlers: the declared type against storage.allowed_types, and the
 * first bytes of the content judged by libmagic and content_rules.c,
 * before anything is stored (streamed uploads) or at /complete (direct
 * uploads).  Refusals are 415 unsupported_media_type. */
#ifndef ECCR_FCGI_UPLOAD_RULES_H
#define ECCR_FCGI_UPLOAD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "content_rules.h"

#define UPLOAD_WHY_MAX 512

/* NULL when content_type may be declared, else why not (written to why). */
const char *upload_type_refusal(const struct eccr_config *cfg, const char *content_type,
    char why[UPLOAD_WHY_MAX]);
/* The same as a handler check: false with 415 queued. */
bool upload_type_allowed(struct eccr_ctx *c, const char *content_type);

/* The first bytes of a streamed upload, held back until they are judged:
 * nothing is stored before. */
struct upload_sniff {
	unsigned char head[ECCR_SNIFF_BYTES];
	size_t n;
	int verdict;                  /* enum upload_verdict once judged, else -1 */
	char why[UPLOAD_WHY_MAX];     /* the problem detail of a refusal */
};

enum upload_verdict {
	UPLOAD_HOLD,        /* fewer than ECCR_SNIFF_BYTES held yet: feed more */
	UPLOAD_STORE,       /* fine: store head[0..n), then the rest */
	UPLOAD_REFUSED,     /* 415, s->why says what the content is */
	UPLOAD_UNCHECKED    /* libmagic is unusable: 503, s->why says so */
};

void upload_sniff_init(struct upload_sniff *s);
/* Hold the first of n bytes of data (*used of them are taken) and judge
 * once ECCR_SNIFF_BYTES are held, or now when at_end (the content ends
 * here).  Once judged, returns that verdict and takes nothing more. */
enum upload_verdict upload_sniff_feed(struct upload_sniff *s, const void *data, size_t n,
    size_t *used, bool at_end);

/* Direct uploads, at /complete: judge the first bytes of the stored
 * object, of the given size.  A refusal removes the object (the file
 * stays pending) and queues 415; a missing object 409; storage or
 * libmagic failing 503.  true when the content may be kept. */
bool upload_object_allowed(struct eccr_ctx *c, const char *key, const char *file_id,
    int64_t size);

#endif
