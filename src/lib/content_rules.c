/* content_rules.c - upload rules and content headers; see content_rules.h.
 *
 * Globs are matched with fnmatch(3) (FNM_CASEFOLD): items hold only token
 * characters and '*', so no other fnmatch syntax can reach it. */
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "content_rules.h"

#define GLOB_MAX (ECCR_MEDIA_TYPE_MAX - 1)

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* type "/" subtype, both non-empty runs of tchars ('*' among them). */
static bool type_shape_ok(const char *s, size_t n)
{
	size_t slash = 0, i;
	int slashes = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '/') {
			slashes++;
			slash = i;
		} else if (!is_tchar((unsigned char)s[i])) {
			return false;
		}
	}
	return slashes == 1 && slash > 0 && slash < n - 1;
}

bool eccr_media_type_base(const char *content_type, char out[ECCR_MEDIA_TYPE_MAX])
{
	const char *p = content_type;
	size_t n;

	out[0] = '\0';
	while (is_space((unsigned char)*p))
		p++;
	n = strcspn(p, ";");
	while (n > 0 && is_space((unsigned char)p[n - 1]))
		n--;
	/* A declared type is a type, not a pattern: no '*'. */
	if (n == 0 || n >= ECCR_MEDIA_TYPE_MAX || !type_shape_ok(p, n) || memchr(p, '*', n) != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] - 'A' + 'a') : p[i];
	out[n] = '\0';
	return true;
}

/* The next item of a comma list, spaces around items allowed; its length
 * (0 at the end) with *p moved to its start. */
static size_t next_item(const char **p)
{
	size_t n;

	while (is_space((unsigned char)**p) || **p == ',')
		(*p)++;
	n = strcspn(*p, ",");
	while (n > 0 && is_space((unsigned char)(*p)[n - 1]))
		n--;
	return n;
}

const char *eccr_type_globs_invalid(const char *list)
{
	const char *p = list;
	size_t n;
	int count = 0;

	while ((n = next_item(&p)) > 0) {
		if (n > GLOB_MAX || !type_shape_ok(p, n))
			return "expected a comma list of MIME types or globs such as audio/*, "
			    "text/plain (type/subtype of letters, digits, !#$%&'+-.^_`|~ and '*')";
		count++;
		p += n;
		while (is_space((unsigned char)*p))
			p++;
	}
	return count == 0 ? "must name at least one MIME type" : NULL;
}

bool eccr_type_allowed(const char *globs, const char *content_type)
{
	char base[ECCR_MEDIA_TYPE_MAX], item[ECCR_MEDIA_TYPE_MAX];
	const char *p = globs;
	bool svg;
	size_t n;

	if (!eccr_media_type_base(content_type, base))
		return false;
	svg = strcmp(base, "image/svg+xml") == 0;
	while ((n = next_item(&p)) > 0) {
		if (n <= GLOB_MAX) {
			memcpy(item, p, n);
			item[n] = '\0';
			if (svg ? strcasecmp(item, base) == 0 : fnmatch(item, base, FNM_CASEFOLD) == 0)
				return true;
		}
		p += n;
	}
	return false;
}

/* ------------------------------------------------------------ content */

/* libmagic's names (MAGIC_MIME_TYPE, file 5.4x) for what is refused. */
static const struct {
	const char *mime, *why;
} refused_mime[] = {
	{ "application/x-executable", "an executable (ELF)" },
	{ "application/x-pie-executable", "an executable (ELF)" },
	{ "application/x-sharedlib", "an executable (ELF)" },
	{ "application/x-object", "an executable (ELF)" },
	{ "application/x-coredump", "an executable (ELF)" },
	{ "application/x-mach-binary", "an executable (Mach-O)" },
	{ "application/x-dosexec", "an executable (MZ)" },
	{ "application/vnd.microsoft.portable-executable", "an executable (PE)" },
	{ "application/x-msdownload", "an executable (PE)" },
	{ "text/x-shellscript", "a script" },
	{ "text/html", "HTML" },
	{ "application/xhtml+xml", "HTML" },
	{ "image/svg+xml", "SVG" },
};

static bool starts(const unsigned char *h, size_t n, const char *magic, size_t len)
{
	return n >= len && memcmp(h, magic, len) == 0;
}

/* Executable formats by their magic numbers, whatever libmagic made of a
 * prefix (it needs more than a truncated header for some). */
static const char *executable(const unsigned char *h, size_t n)
{
	uint32_t pe;

	if (starts(h, n, "\x7f" "ELF", 4))
		return "an executable (ELF)";
	if (starts(h, n, "\xfe\xed\xfa\xce", 4) || starts(h, n, "\xfe\xed\xfa\xcf", 4) ||
	    starts(h, n, "\xce\xfa\xed\xfe", 4) || starts(h, n, "\xcf\xfa\xed\xfe", 4))
		return "an executable (Mach-O)";
	/* Universal Mach-O; Java class files share the magic, also refused. */
	if (starts(h, n, "\xca\xfe\xba\xbe", 4))
		return "an executable (Mach-O universal or Java class)";
	/* "MZ" alone is common enough in text ("MZ-80 ..."): a PE needs its
	 * "PE\0\0" signature where e_lfanew (offset 0x3c) points.  Other MZ
	 * executables are left to libmagic (application/x-dosexec). */
	if (starts(h, n, "MZ", 2) && n >= 0x40) {
		pe = (uint32_t)h[0x3c] | (uint32_t)h[0x3d] << 8 | (uint32_t)h[0x3e] << 16 |
		    (uint32_t)h[0x3f] << 24;
		if (pe >= 0x40 && pe <= n - 4 && memcmp(h + pe, "PE\0\0", 4) == 0)
			return "an executable (PE)";
	}
	return NULL;
}

static bool is_ws(unsigned char c)
{
	return c == 0x09 || c == 0x0a || c == 0x0c || c == 0x0d || c == 0x20;
}

/* After a tag name: what ends it ('>' or white space, or '/' of "<br/>"). */
static bool tag_end(const unsigned char *h, size_t n, size_t i)
{
	return i < n && (h[i] == '>' || h[i] == '/' || is_ws(h[i]));
}

static bool tag_at(const unsigned char *h, size_t n, size_t i, const char *tag)
{
	size_t len = strlen(tag);

	return n - i > len && strncasecmp((const char *)h + i, tag, len) == 0 && tag_end(h, n, i + len);
}

/* What a browser would take for HTML or SVG.  libmagic misses fragments
 * ("<p>hello", "<b>", a lone "<svg>" after a comment), so markup is read
 * here too: the content (after a UTF-8 BOM and white space) starting with
 * one of the tags of the WHATWG MIME Sniffing Standard's HTML pattern
 * ("rules for identifying an unknown MIME type"), or, when it starts with
 * '<' at all, an <html>, <script> or <svg> tag anywhere in the bytes seen. */
static const char *markup(const unsigned char *h, size_t n)
{
	static const char *const html_start[] = {
		"<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div", "<font",
		"<table", "<a", "<style", "<title", "<b", "<body", "<br", "<p", NULL
	};
	size_t i = 0;

	if (starts(h, n, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < n && is_ws(h[i]))
		i++;
	if (i >= n || h[i] != '<')
		return NULL;
	if (n - i >= 4 && memcmp(h + i, "<!--", 4) == 0)
		return "HTML";
	for (size_t k = 0; html_start[k] != NULL; k++)
		if (tag_at(h, n, i, html_start[k]))
			return "HTML";
	for (; i < n; i++) {
		if (h[i] != '<')
			continue;
		if (tag_at(h, n, i, "<svg"))
			return "SVG";
		if (tag_at(h, n, i, "<html") || tag_at(h, n, i, "<script"))
			return "HTML";
	}
	return NULL;
}

/* libmagic names application/x-dosexec not only MZ executables but any
 * bytes whose first one could start a DOS .COM program (a jump or a mov:
 * COM files have no magic, so file(1) guesses from the first instruction).
 * Measured: 1 in 100 random 8 KiB blocks, so about as many headerless or
 * encrypted binary uploads.  Such a guess is no reason to refuse: nothing
 * runs a .COM file from a web page or a media server. */
static bool com_guess(const char *mime, const unsigned char *head, size_t n)
{
	return strcasecmp(mime, "application/x-dosexec") == 0 && !starts(head, n, "MZ", 2);
}

const char *eccr_content_refusal(const char *mime, const unsigned char *head, size_t n)
{
	const char *why;

	if ((why = executable(head, n)) != NULL)
		return why;
	/* "#!" makes any file a script to the kernel, whatever libmagic
	 * calls it (text/x-script.python, text/x-perl, text/plain...). */
	if (starts(head, n, "#!", 2))
		return "a script (#!)";
	if (mime != NULL && !com_guess(mime, head, n))
		for (size_t i = 0; i < sizeof refused_mime / sizeof refused_mime[0]; i++)
			if (strcasecmp(mime, refused_mime[i].mime) == 0)
				return refused_mime[i].why;
	return markup(head, n);
}

/* ------------------------------------------------------------ serving */

bool eccr_content_inline(const char *content_type)
{
	char base[ECCR_MEDIA_TYPE_MAX];

	if (!eccr_media_type_base(content_type, base))
		return false;
	if (strcmp(base, "image/svg+xml") == 0)
		return false;
	return strncmp(base, "audio/", 6) == 0 || strncmp(base, "video/", 6) == 0 ||
	    strncmp(base, "image/", 6) == 0;
}

/* RFC 8187 attr-char: ALPHA DIGIT "!#$&+-.^_`|~" are sent as they are. */
static bool attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

int eccr_content_disposition(const char *content_type, const char *name, char *out,
    size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	size_t len = 0;
	int n;

#define PUT(ch) do { if (len + 1 >= outlen) return -1; out[len++] = (char)(ch); } while (0)
	n = snprintf(out, outlen, "%s; filename=\"",
	    eccr_content_inline(content_type) ? "inline" : "attachment");
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	len = (size_t)n;
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p >= 0x80 && *p < 0xc0)
			continue;        /* a UTF-8 continuation byte: its '_' is out */
		PUT(*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '%' ? *p : '_');
	}
	for (const char *s = "\"; filename*=UTF-8''"; *s != '\0'; s++)
		PUT(*s);
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (attr_char(*p)) {
			PUT(*p);
		} else {
			PUT('%');
			PUT(hex[*p >> 4]);
			PUT(hex[*p & 15]);
		}
	}
#undef PUT
	out[len] = '\0';
	return (int)len;
}
