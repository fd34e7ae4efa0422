/* content_rules.h - what may be uploaded and how stored content is served
 * (API.md "Files"): the declared type against storage.allowed_types, the
 * verdict on the first bytes of the content, and Content-Disposition.
 *
 * Pure: no I/O, no globals, no heap, so any thread may call anything here
 * and the unit tests feed it sample bytes directly.  libmagic's answer is
 * an input (content_sniff.c asks libmagic for it). */
#ifndef ECCR_CONTENT_RULES_H
#define ECCR_CONTENT_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* The default of storage.allowed_types.  image/svg+xml is left out: it
 * is admitted only by an item naming it exactly, never by a glob (such as
 * the "image/" one here, or a lone star for both parts), because an SVG
 * can carry script. */
#define ECCR_ALLOWED_TYPES_DEFAULT \
	"audio/*, video/*, image/*, text/plain, application/pdf, application/octet-stream"

/* Room for a media type without its parameters, NUL included. */
#define ECCR_MEDIA_TYPE_MAX 128

/* How many first bytes of the content are looked at: what is buffered
 * of a streamed upload before anything is stored, and what is read back
 * of a direct upload at /complete. */
#define ECCR_SNIFF_BYTES 8192

/* Room for a Content-Disposition value of a name of at most 255 bytes. */
#define ECCR_DISPOSITION_MAX 1200

/* The media type of a Content-Type value without its parameters, with
 * surrounding spaces removed and lower-cased: "Audio/MPEG; x=1" gives
 * "audio/mpeg".  false (and "" in out) unless it is type "/" subtype, both
 * RFC 9110 tokens, fitting in ECCR_MEDIA_TYPE_MAX. */
bool eccr_media_type_base(const char *content_type, char out[ECCR_MEDIA_TYPE_MAX]);

/* Why the comma list of MIME type globs (storage.allowed_types) is
 * malformed, or NULL when it is fine: each item is type "/" subtype made of
 * token characters and '*' (which matches any run of characters); at least
 * one item. */
const char *eccr_type_globs_invalid(const char *list);

/* Does the declared Content-Type (parameters ignored, case-insensitive)
 * match an item of the glob list?  image/svg+xml matches only an item
 * that names it exactly.  A malformed type matches nothing. */
bool eccr_type_allowed(const char *globs, const char *content_type);

/* Why content must be refused whatever type was declared, from its first
 * n bytes and libmagic's MIME type of them (MAGIC_MIME_TYPE; NULL when
 * libmagic gave none): a phrase such as "an executable (ELF)" for the
 * problem detail, or NULL when it may be stored.  Refused: executables
 * (ELF, PE and other MZ, Mach-O), scripts ("#!"), HTML and SVG. */
const char *eccr_content_refusal(const char *mime, const unsigned char *head, size_t n);

/* Served inline (a page may play or show it): the types audio/..., video/...
 * and image/... except image/svg+xml.  Everything else is an attachment. */
bool eccr_content_inline(const char *content_type);

/* The Content-Disposition value for a file of this type and name (RFC 6266):
 *   inline; filename="intro.mp3"; filename*=UTF-8''intro.mp3
 * filename="..." is an ASCII fallback for old clients, each character that
 * is not printable ASCII, or is '"', '\' or '%', replaced by '_' (one per
 * UTF-8 character); filename* carries the name itself, percent-encoded
 * (RFC 8187).  Returns the length, or -1 when out is too small (it needs
 * ECCR_DISPOSITION_MAX for any valid file name). */
int eccr_content_disposition(const char *content_type, const char *name, char *out,
    size_t outlen);

#endif
