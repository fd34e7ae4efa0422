/* content_sniff.c - one libmagic handle per thread; see content_sniff.h.
 *
 * libmagic's documentation (libmagic(3)) gives no thread safety for a
 * magic_t shared between threads, and eccr-fcgi runs server.threads
 * request threads: so a handle per thread under a pthread key, loaded on
 * first use (about 6 ms: the compiled database is mapped, not parsed). */
#include <pthread.h>
#include <stdio.h>

#include <magic.h>

#include "content_rules.h"
#include "content_sniff.h"
#include "log.h"

/* MAGIC_MIME_TYPE: "type/subtype" only.  No decompression (a compressed
 * prefix would be inflated to look inside; what matters is what the
 * bytes are as served). */
#define MAGIC_FLAGS (MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS)

static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;
static int key_error;

static void handle_free(void *m)
{
	magic_close(m);
}

static void key_create(void)
{
	key_error = pthread_key_create(&handle_key, handle_free);
}

/* A loaded handle, or NULL with the reason in err. */
static magic_t handle_open(char *err, size_t errlen)
{
	magic_t m = magic_open(MAGIC_FLAGS);

	if (m == NULL) {
		snprintf(err, errlen, "libmagic: magic_open failed");
		return NULL;
	}
	if (magic_load(m, NULL) != 0) {
		snprintf(err, errlen, "libmagic: cannot load its database: %s (Debian: libmagic-mgc)",
		    magic_error(m) ? magic_error(m) : "unknown error");
		magic_close(m);
		return NULL;
	}
	return m;
}

int eccr_sniff_check(char *err, size_t errlen)
{
	magic_t m = handle_open(err, errlen);

	if (m == NULL)
		return -1;
	magic_close(m);
	return 0;
}

static magic_t thread_handle(void)
{
	char err[256];
	magic_t m;

	if (pthread_once(&handle_once, key_create) != 0 || key_error != 0)
		return NULL;
	if ((m = pthread_getspecific(handle_key)) != NULL)
		return m;
	if ((m = handle_open(err, sizeof err)) == NULL) {
		eccr_err("%s", err);
		return NULL;
	}
	if (pthread_setspecific(handle_key, m) != 0) {
		magic_close(m);
		return NULL;
	}
	return m;
}

int eccr_sniff(const void *head, size_t n, const char **why)
{
	magic_t m = thread_handle();
	const char *mime;

	*why = NULL;
	if (m == NULL)
		return -1;
	if (n > ECCR_SNIFF_BYTES)
		n = ECCR_SNIFF_BYTES;
	/* NULL from magic_buffer is libmagic failing on these bytes: decide
	 * from them alone (the explicit checks of content_rules.c). */
	mime = n > 0 ? magic_buffer(m, head, n) : NULL;
	*why = eccr_content_refusal(mime, head, n);
	return *why != NULL;
}
