/* Unit tests: src/lib/content_rules.c (allowed types, the verdict on
 * content, Content-Disposition) and src/lib/content_sniff.c (libmagic),
 * fed the first bytes of real formats. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "content_rules.h"
#include "content_sniff.h"

#define LEN(a) (sizeof(a) - 1)   /* of a string literal */

/* ------------------------------------------------------------ samples */

/* The first 64 bytes of an x86-64 ELF executable (e_ident, e_type
 * ET_DYN, e_machine x86-64, e_entry, e_phoff 64, e_shoff, sizes). */
static const unsigned char elf[] = {
	0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x03, 0x00, 0x3e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x60, 0x10, 0x00, 0x00, 0, 0, 0, 0,
	0x40, 0, 0, 0, 0, 0, 0, 0, 0x98, 0x31, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0x40, 0x00, 0x38, 0x00, 0x0d, 0x00, 0x40, 0x00, 0x1f, 0x00, 0x1e, 0x00,
};

/* A Mach-O 64-bit x86-64 executable header (MH_MAGIC_64 little-endian,
 * CPU_TYPE_X86_64, MH_EXECUTE, 16 load commands). */
static const unsigned char macho[] = {
	0xcf, 0xfa, 0xed, 0xfe, 0x07, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x58, 0x05, 0x00, 0x00,
	0x85, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* An MP3: an ID3v2.4 tag header, then an MPEG-1 Layer III frame header
 * (128 kbit/s, 44.1 kHz). */
static const unsigned char mp3_id3[] = {
	'I', 'D', '3', 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xfb, 0x90, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const unsigned char mp3_frame[] = {
	0xff, 0xfb, 0x90, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* PNG signature and the IHDR chunk of a 1x1 RGBA image. */
static const unsigned char png[] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
	0x00, 0x00, 0x00, 0x0d, 'I', 'H', 'D', 'R', 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89,
};

/* A PE32+ (x86-64) executable: the MZ header with e_lfanew = 0x80, a DOS
 * stub, then "PE\0\0" and the COFF header (machine 0x8664). */
static void pe(unsigned char out[512])
{
	static const char stub[] = "\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
	    "This program cannot be run in DOS mode.\r\r\n$";

	memset(out, 0, 512);
	memcpy(out, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", 14);
	out[0x3c] = 0x80;                /* e_lfanew */
	memcpy(out + 0x40, stub, sizeof stub - 1);
	memcpy(out + 0x80, "PE\0\0\x64\x86\x06\x00", 8);
	out[0x94] = 0xf0;                /* SizeOfOptionalHeader */
	out[0x96] = 0x22;                /* Characteristics: executable, large address */
	memcpy(out + 0x98, "\x0b\x02", 2);   /* PE32+ optional header magic */
}

/* libmagic and the rules together; "" when the bytes may be stored. */
static const char *verdict(const void *p, size_t n)
{
	const char *why = NULL;
	int r = eccr_sniff(p, n, &why);

	cr_assert_geq(r, 0, "libmagic is unusable");
	cr_assert_eq(r == 1, why != NULL);
	return why ? why : "";
}

#define REFUSED(bytes, n, want) do { \
		const char *w_ = verdict((bytes), (n)); \
		cr_assert_str_eq(w_, (want), "%s", #bytes); \
	} while (0)
#define STORED(bytes, n) REFUSED(bytes, n, "")
/* The same for a string literal, NULs inside included. */
#define REFUSED_S(lit, want) REFUSED(lit, LEN(lit), want)
#define STORED_S(lit) STORED(lit, LEN(lit))

/* ------------------------------------------------------------ verdicts */

Test(sniff, libmagic_loads)
{
	char err[256] = "";

	cr_assert_eq(eccr_sniff_check(err, sizeof err), 0, "%s", err);
}

Test(sniff, executables_are_refused)
{
	unsigned char exe[512];

	REFUSED(elf, sizeof elf, "an executable (ELF)");
	REFUSED(macho, sizeof macho, "an executable (Mach-O)");
	pe(exe);
	REFUSED(exe, sizeof exe, "an executable (PE)");
	/* Cut short: the magic numbers alone decide. */
	REFUSED(elf, 4, "an executable (ELF)");
	REFUSED(macho, 4, "an executable (Mach-O)");
	REFUSED_S("\xca\xfe\xba\xbe\x00\x00\x00\x02",
	    "an executable (Mach-O universal or Java class)");
}

Test(sniff, what_an_executable_is_made_of_elsewhere_is_fine)
{
	/* "MZ" and "#!" further in, ELF's magic inside a file. */
	STORED_S("MZ-80 notes: a plain text file starting with MZ.\n");
	STORED_S("The shebang line #!/bin/sh comes first in a script.\n");
	STORED_S("text \x7f" "ELF text\n");
}

Test(sniff, scripts_are_refused)
{
	REFUSED_S("#!/bin/sh\necho hello\n", "a script (#!)");
	REFUSED_S("#!/usr/bin/env python3\nprint(1)\n", "a script (#!)");
	REFUSED_S("#!", "a script (#!)");
}

Test(sniff, html_is_refused)
{
	static const char *const html[] = {
		"<!DOCTYPE html>\n<html><head><title>x</title></head><body>hi</body></html>\n",
		"<html>",
		"<html><body>x</body></html>",
		"  \r\n<HTML lang=\"en\">",
		"\xef\xbb\xbf<!doctype html>",
		"<script>alert(document.cookie)</script>",
		"<p>just a fragment",
		"<b>bold</b> words",
		"<a href=\"javascript:alert(1)\">x</a>",
		"<br/>",
		"<iframe src=x>",
		"<!-- a comment first --><div>x</div>",
		"<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><body/></html>",
		"<x-custom>text</x-custom><script>alert(1)</script>",
	};

	for (size_t i = 0; i < sizeof html / sizeof html[0]; i++)
		cr_assert_str_eq(verdict(html[i], strlen(html[i])), "HTML", "%s", html[i]);
}

Test(sniff, svg_is_refused)
{
	static const char *const svg[] = {
		"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
		    "width=\"1\" height=\"1\"/>",
		"<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		    "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg version=\"1.1\"></svg>",
		"<SVG\nonload=alert(1)>",
	};

	for (size_t i = 0; i < sizeof svg / sizeof svg[0]; i++)
		cr_assert_str_eq(verdict(svg[i], strlen(svg[i])), "SVG", "%s", svg[i]);
}

Test(sniff, media_and_text_are_stored)
{
	static char rnd[8192];

	STORED(mp3_id3, sizeof mp3_id3);
	STORED(mp3_frame, sizeof mp3_frame);
	STORED(png, sizeof png);
	STORED_S("hello world, plain text\n");
	STORED_S("RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00");
	STORED_S("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n");
	/* Text that has '<' in it without being markup. */
	STORED_S("<3 from the team\n");
	STORED_S("a < b and c > d\n");
	STORED_S("<not-a-tag> <p is what I wrote");
	STORED_S("");
	for (size_t i = 0; i < sizeof rnd; i++)
		rnd[i] = (char)(i * 7 % 251);
	STORED(rnd, sizeof rnd);
}

/* The explicit checks without libmagic (it failed on the bytes, or an old
 * libmagic named them otherwise). */
Test(content_rules, refusal_without_libmagic)
{
	cr_assert_str_eq(eccr_content_refusal(NULL, elf, sizeof elf), "an executable (ELF)");
	cr_assert_str_eq(eccr_content_refusal("application/octet-stream", (const unsigned char *)
	    "#!/bin/bash", 11), "a script (#!)");
	cr_assert_str_eq(eccr_content_refusal("text/plain", (const unsigned char *)"<p>x", 4), "HTML");
	cr_assert_null(eccr_content_refusal("audio/mpeg", mp3_id3, sizeof mp3_id3));
	cr_assert_null(eccr_content_refusal(NULL, NULL, 0));
	/* libmagic's answer alone. */
	cr_assert_str_eq(eccr_content_refusal("application/x-dosexec",
	    (const unsigned char *)"MZ", 2), "an executable (MZ)");
	/* ...but not its guess that bytes starting with a jump or a mov are a
	 * DOS .COM program (random bytes, 1 time in 100: 0xb8 is mov ax). */
	cr_assert_null(eccr_content_refusal("application/x-dosexec",
	    (const unsigned char *)"\xb8\x8c\x04\x71\x19\x0e\x3c\x14", 8));
	cr_assert_null(eccr_content_refusal("application/x-dosexec",
	    (const unsigned char *)"\xeb\x05\x08\x0d", 4));
	cr_assert_str_eq(eccr_content_refusal("Text/HTML", (const unsigned char *)"x", 1), "HTML");
	cr_assert_str_eq(eccr_content_refusal("image/svg+xml", (const unsigned char *)"x", 1), "SVG");
	/* An MZ whose e_lfanew points outside the bytes is no PE to us. */
	unsigned char exe[512];
	pe(exe);
	exe[0x3c] = 0xff;
	exe[0x3d] = 0xff;
	cr_assert_null(eccr_content_refusal(NULL, exe, sizeof exe));
}

/* One handle per thread: threads judging at once each get their own. */
static void *judge_many(void *arg)
{
	const char *why;

	(void)arg;
	for (int i = 0; i < 200; i++) {
		if (eccr_sniff(png, sizeof png, &why) != 0 ||
		    eccr_sniff(elf, sizeof elf, &why) != 1 || strcmp(why, "an executable (ELF)") != 0)
			return (void *)1;
	}
	return NULL;
}

Test(sniff, threads_each_have_a_handle)
{
	pthread_t t[4];
	void *rc;

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, judge_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(pthread_join(t[i], &rc), 0);
		cr_assert_null(rc, "thread %d misjudged", i);
	}
}

/* ------------------------------------------------------------ types */

Test(content_rules, media_type_base)
{
	char b[ECCR_MEDIA_TYPE_MAX];

	cr_assert(eccr_media_type_base("Audio/MPEG; bitrate=128", b));
	cr_assert_str_eq(b, "audio/mpeg");
	cr_assert(eccr_media_type_base("  text/plain ;charset=utf-8", b));
	cr_assert_str_eq(b, "text/plain");
	cr_assert(eccr_media_type_base("application/vnd.api+json", b));
	cr_assert_str_eq(b, "application/vnd.api+json");
	static const char *const bad[] = { "", "text", "text/", "/plain", "a/b/c", "text/pla in",
		"audio/*", "*/*", "tëxt/plain", "text/plain\"", ";x=1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_not(eccr_media_type_base(bad[i], b), "%s", bad[i]);
		cr_assert_str_eq(b, "");
	}
	char big[200];
	memset(big, 'a', sizeof big);
	big[0] = 'x';
	big[1] = '/';
	big[sizeof big - 1] = '\0';
	cr_assert_not(eccr_media_type_base(big, b));
}

Test(content_rules, glob_lists)
{
	cr_assert_null(eccr_type_globs_invalid(ECCR_ALLOWED_TYPES_DEFAULT));
	cr_assert_null(eccr_type_globs_invalid("*/*"));
	cr_assert_null(eccr_type_globs_invalid(" audio/mpeg ,, image/svg+xml,"));
	cr_assert_null(eccr_type_globs_invalid("application/vnd.*+json"));
	static const char *const bad[] = { "audio", "audio/", "/x", "audio/[a-z]", "audio/m?3",
		"audio/mp3 video/mp4", "a/b/c", "text/plain;charset=utf-8", "audio/\\*" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_not_null(eccr_type_globs_invalid(bad[i]), "%s", bad[i]);
	cr_assert_str_eq(eccr_type_globs_invalid(""), "must name at least one MIME type");
	cr_assert_str_eq(eccr_type_globs_invalid(" , "), "must name at least one MIME type");
}

Test(content_rules, default_allowed_types)
{
	static const char *const yes[] = { "audio/mpeg", "AUDIO/MPEG", "audio/mpeg; bitrate=1",
		"video/mp4", "image/png", "image/jpeg", "text/plain", "text/plain; charset=utf-8",
		"application/pdf", "application/octet-stream", "Application/Octet-Stream" };
	static const char *const no[] = { "image/svg+xml", "IMAGE/SVG+XML; charset=utf-8",
		"text/html", "application/json", "application/x-sh", "text/plainx", "audio",
		"audio/*", "text/plain\"", "" };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		cr_assert(eccr_type_allowed(ECCR_ALLOWED_TYPES_DEFAULT, yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		cr_assert_not(eccr_type_allowed(ECCR_ALLOWED_TYPES_DEFAULT, no[i]), "%s", no[i]);
}

Test(content_rules, svg_only_by_name)
{
	cr_assert(eccr_type_allowed("*/*", "text/html"));
	cr_assert_not(eccr_type_allowed("*/*", "image/svg+xml"));
	cr_assert_not(eccr_type_allowed("image/*", "image/svg+xml"));
	cr_assert_not(eccr_type_allowed("image/svg*", "image/svg+xml"));
	cr_assert(eccr_type_allowed("audio/*, Image/SVG+XML", "image/svg+xml; charset=utf-8"));
	cr_assert(eccr_type_allowed("application/vnd.*+json", "application/vnd.api+json"));
	cr_assert_not(eccr_type_allowed("application/vnd.*+json", "application/json"));
}

/* ------------------------------------------------------------ serving */

Test(content_rules, inline_types)
{
	cr_assert(eccr_content_inline("audio/mpeg"));
	cr_assert(eccr_content_inline("Video/MP4; codecs=avc1"));
	cr_assert(eccr_content_inline("image/png"));
	cr_assert_not(eccr_content_inline("image/svg+xml"));
	cr_assert_not(eccr_content_inline("application/octet-stream"));
	cr_assert_not(eccr_content_inline("text/plain"));
	cr_assert_not(eccr_content_inline("application/pdf"));
	cr_assert_not(eccr_content_inline("audio"));
}

Test(content_rules, disposition)
{
	char d[ECCR_DISPOSITION_MAX];

	cr_assert_gt(eccr_content_disposition("audio/mpeg", "intro.mp3", d, sizeof d), 0);
	cr_assert_str_eq(d, "inline; filename=\"intro.mp3\"; filename*=UTF-8''intro.mp3");
	cr_assert_gt(eccr_content_disposition("application/octet-stream",
	    "caf\xc3\xa9 \"x\" 100%\\y.bin", d, sizeof d), 0);
	cr_assert_str_eq(d, "attachment; filename=\"caf_ _x_ 100__y.bin\"; "
	    "filename*=UTF-8''caf%C3%A9%20%22x%22%20100%25%5Cy.bin");
	cr_assert_gt(eccr_content_disposition("image/svg+xml", "\xe6\x97\xa5\xe6\x9c\xac.svg", d,
	    sizeof d), 0);
	cr_assert_str_eq(d, "attachment; filename=\"__.svg\"; "
	    "filename*=UTF-8''%E6%97%A5%E6%9C%AC.svg");
	cr_assert_gt(eccr_content_disposition("text/plain", "a;b=c,d'e", d, sizeof d), 0);
	cr_assert_str_eq(d, "attachment; filename=\"a;b=c,d'e\"; filename*=UTF-8''a%3Bb%3Dc%2Cd%27e");
	/* The longest name that needs encoding fits; a small buffer is -1. */
	char name[256];
	memset(name, ' ', 255);
	name[255] = '\0';
	int n = eccr_content_disposition("audio/mpeg", name, d, sizeof d);
	cr_assert_eq(n, (int)strlen(d));
	cr_assert_eq(n, 6 + 12 + 255 + 20 + 3 * 255);
	cr_assert_eq(eccr_content_disposition("audio/mpeg", "intro.mp3", d, 10), -1);
	cr_assert_eq(eccr_content_disposition("audio/mpeg", "intro.mp3", d, 20), -1);
	cr_assert_eq(eccr_content_disposition("audio/mpeg", "intro.mp3", d, 56), -1);
	cr_assert_eq(eccr_content_disposition("audio/mpeg", "intro.mp3", d, 57), 56);
}
