/* content_sniff.h - libmagic's reading of the first bytes of an upload,
 * and the verdict of content_rules.c on them.
 *
 * libmagic handles are not thread-safe: each thread gets its own magic_t
 * (MAGIC_MIME_TYPE, the default database), opened and loaded on its first
 * call and closed when the thread ends (a pthread key's destructor).  Any
 * thread may call these at any time. */
#ifndef ECCR_CONTENT_SNIFF_H
#define ECCR_CONTENT_SNIFF_H

#include <stddef.h>

/* Check, at start-up, that libmagic and its database load.  0, or -1 with
 * the reason in err. */
int eccr_sniff_check(char *err, size_t errlen);

/* The verdict on content whose first n bytes (at most ECCR_SNIFF_BYTES
 * are looked at) are head: 0 when it may be stored, 1 when it is refused
 * (*why is content_rules.c's phrase: "an executable (ELF)", "HTML", ...),
 * -1 when libmagic cannot be used in this thread (logged; the caller
 * refuses the upload for now, never stores it unchecked). */
int eccr_sniff(const void *head, size_t n, const char **why);

#endif
