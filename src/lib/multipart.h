/* multipart.h - a streaming multipart/form-data parser (RFC 7578 / 2046).
 *
 * Written by hand because no Debian-packaged C library parses multipart
 * incrementally: uploads are streamed to storage, never held in memory, so
 * the parser takes the body in arbitrary chunks and hands part data on as
 * it is recognised.  The closing delimiter is found with a KMP matcher, so a
 * delimiter split across chunks, or data that almost matches it, is handled
 * without buffering more than the delimiter's length. */
#ifndef ECCR_MULTIPART_H
#define ECCR_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define ECCR_MP_BOUNDARY_MAX 70
#define ECCR_MP_HEADERS_MAX 8192
#define ECCR_MP_PARTS_MAX 16

struct eccr_mp_part {
	char name[256];          /* form field name ("" when absent) */
	char filename[256];      /* "" when absent; not validated here */
	bool has_filename;
	char content_type[128];  /* "" when absent */
};

enum eccr_mp_event {
	ECCR_MP_PART_BEGIN,      /* headers of a part parsed: see part */
	ECCR_MP_DATA,            /* some bytes of the current part */
	ECCR_MP_PART_END
};

/* Return 0 to go on, non-zero to stop parsing (feed then fails). */
typedef int (*eccr_mp_callback)(void *user, enum eccr_mp_event ev,
    const struct eccr_mp_part *part, const char *data, size_t n);

struct eccr_multipart {
	eccr_mp_callback cb;
	void *user;
	int state;
	char delim[4 + ECCR_MP_BOUNDARY_MAX + 1];   /* "\r\n--" boundary */
	size_t dlen;
	int fail[4 + ECCR_MP_BOUNDARY_MAX];
	size_t match;            /* KMP state: delimiter bytes matched */
	char after[2];
	size_t nafter;
	char headers[ECCR_MP_HEADERS_MAX];
	size_t nheaders;
	struct eccr_mp_part part;
	int parts;
	char out[8192];          /* part data waiting for the callback */
	size_t nout;
	const char *error;
};

/* Read the boundary from a Content-Type value.  -1 when the value is not
 * multipart/form-data with a valid boundary. */
int eccr_multipart_init(struct eccr_multipart *mp, const char *content_type,
    eccr_mp_callback cb, void *user);

/* Feed the next chunk of the body.  0, or -1 with mp->error set (a
 * malformed body, a limit, or the callback stopped). */
int eccr_multipart_feed(struct eccr_multipart *mp, const char *data, size_t n);

/* After the last chunk: 0 when the closing delimiter was seen, else -1. */
int eccr_multipart_finish(struct eccr_multipart *mp);

#endif
