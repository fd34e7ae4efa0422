/* webhook-http - every event as an HTTP POST of its envelope (API.md
 * "Events") to one endpoint, signed as the Standard Webhooks
 * specification says (webhook-id, webhook-timestamp, webhook-signature).
 * Load it once per endpoint, as instances:
 *
 *   [plugins]
 *   load = activity-pg, crm=webhook-http, chat=webhook-http
 *
 *   [plugin.crm]
 *   url = https://crm.example.org/hooks/eccr
 *   secret_file = /etc/eccr/crm.whsec        ; whsec_<base64 of 24..64 bytes>
 *   events = episode_*
 *
 * Outcomes: 2xx OK; 408, 429, 5xx, time-outs and connection errors RETRY
 * (a Retry-After on 429/503 is the least delay, through the host's
 * retry_after); other answers FAIL (a dead letter, replayable with
 * eccrctl deliveries replay).  Redirects are never followed, TLS is always
 * verified.  Transient events (presence, progress) are not sent: a
 * webhook-id must name one message for the receiver to deduplicate on,
 * and those have no id (they are answered OK and dropped).
 *
 * emit() is never called concurrently on one instance, so one libcurl
 * handle per instance is reused (its connections kept alive); query()
 * ("health") runs on request threads and reads only atomics. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include <eccr/plugin.h>

#include "webhook.h"

#define ANSWER_MAX 4096          /* bytes of a failed answer kept for the log */
#define HEADER_LINES_MAX 32

struct webhook {
	const struct eccr_host *host;
	CURL *curl;
	bool global;                 /* curl_global_init done */
	struct curl_slist *fixed;    /* Content-Type, User-Agent, headers_file */
	unsigned char key[WEBHOOK_KEY_MAX];
	int keylen;
	int unhealthy_after;
	/* health, shared with query() on request threads */
	int failures;                /* consecutive RETRY outcomes */
	/* the answer of the delivery under way */
	char answer[ANSWER_MAX + 1];
	size_t answer_len;
	char retry_after[64];
};

static const struct eccr_plugin_option options[] = {
	{ "url", ECCR_OPT_STRING, NULL, 0, 0, "the endpoint (http:// or https://)" },
	{ "secret_file", ECCR_OPT_FILE, NULL, 0, 0,
	  "file holding the signing secret: whsec_ and base64 of 24 to 64 bytes" },
	{ "headers_file", ECCR_OPT_FILE, NULL, 0, 0,
	  "optional file of extra \"Name: value\" header lines (e.g. a token)" },
	{ "ca_file", ECCR_OPT_STRING, NULL, 0, 0,
	  "PEM file of the CAs that may sign the endpoint's certificate (default: the system's)" },
	{ "connect_timeout_ms", ECCR_OPT_INT, "3000", 100, 60000, "connect time-out" },
	{ "timeout_ms", ECCR_OPT_INT, "10000", 100, 300000,
	  "time-out of the whole request (connect, send, answer)" },
	{ "unhealthy_after", ECCR_OPT_INT, "3", 1, 1000,
	  "consecutive failed deliveries after which the health query says unavailable" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

#define LOG(w, level, ...) (w)->host->log((w)->host, (level), __VA_ARGS__)

/* ------------------------------------------------------------ libcurl callbacks */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	struct webhook *w = user;
	size_t len = size * n, room = ANSWER_MAX - w->answer_len;

	/* Read it all (the connection stays usable), keep the first bytes. */
	if (room > 0) {
		size_t take = len < room ? len : room;

		memcpy(w->answer + w->answer_len, data, take);
		w->answer_len += take;
	}
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
	struct webhook *w = user;
	size_t len = size * n;

	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		size_t v = len - 12 < sizeof w->retry_after - 1 ? len - 12 : sizeof w->retry_after - 1;

		memcpy(w->retry_after, data + 12, v);
		w->retry_after[v] = '\0';
		w->retry_after[strcspn(w->retry_after, "\r\n")] = '\0';
	}
	return len;
}

/* ------------------------------------------------------------ set-up */

static bool header_line_valid(const char *s)
{
	const char *colon = strchr(s, ':');

	if (colon == NULL || colon == s)
		return false;
	for (const char *p = s; p < colon; p++)
		if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
			return false;
	for (const char *p = colon + 1; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return false;
	/* The signature's and the framing's headers are ours. */
	return strncasecmp(s, "webhook-", 8) != 0 && strncasecmp(s, "content-length:", 15) != 0 &&
	    strncasecmp(s, "transfer-encoding:", 18) != 0 && strncasecmp(s, "host:", 5) != 0;
}

/* The extra headers of headers_file, one "Name: value" a line ('#' and
 * blank lines skipped).  0, or -1 after logging why. */
static int load_extra_headers(struct webhook *w)
{
	char *text, *line, *save = NULL;
	int n = 0, rc = 0;

	if (w->host->config(w->host, "headers_file") == NULL)
		return 0;
	if ((text = w->host->read_secret(w->host, "headers_file")) == NULL) {
		LOG(w, ECCR_PLUGIN_LOG_ERR, "cannot read headers_file");
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL && rc == 0;
	    line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (++n > HEADER_LINES_MAX || !header_line_valid(line)) {
			LOG(w, ECCR_PLUGIN_LOG_ERR, "headers_file: line %d is not a \"Name: value\" "
			    "header this plugin may send (at most %d; not webhook-*, Host, "
			    "Content-Length or Transfer-Encoding)", n, HEADER_LINES_MAX);
			rc = -1;
		} else {
			struct curl_slist *l = curl_slist_append(w->fixed, line);

			if (l == NULL)
				rc = -1;
			else
				w->fixed = l;
		}
	}
	free(text);
	return rc;
}

static int load_secret(struct webhook *w)
{
	char *secret = w->host->read_secret(w->host, "secret_file");

	if (secret == NULL) {
		LOG(w, ECCR_PLUGIN_LOG_ERR, "secret_file is required and must be readable");
		return -1;
	}
	w->keylen = webhook_secret_key(secret, w->key);
	free(secret);
	if (w->keylen < 0) {
		LOG(w, ECCR_PLUGIN_LOG_ERR, "secret_file must hold whsec_ followed by the base64 of "
		    "%d to %d random bytes (e.g. echo whsec_$(head -c 32 /dev/urandom | base64))",
		    WEBHOOK_KEY_MIN, WEBHOOK_KEY_MAX);
		return -1;
	}
	return 0;
}

static long opt_long(const struct webhook *w, const char *key)
{
	return strtol(w->host->config(w->host, key), NULL, 10);
}

static int setup_curl(struct webhook *w)
{
	const char *url = w->host->config(w->host, "url");
	const char *ca = w->host->config(w->host, "ca_file");
	CURL *c;

	if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
		LOG(w, ECCR_PLUGIN_LOG_ERR, "url is required: an http:// or https:// URL");
		return -1;
	}
	if ((c = w->curl = curl_easy_init()) == NULL)
		return -1;
	w->fixed = curl_slist_append(NULL, "Content-Type: application/json");
	if (w->fixed == NULL || curl_slist_append(w->fixed, "User-Agent: eccr-webhook-http/1.0") == NULL ||
	    curl_slist_append(w->fixed, "Expect:") == NULL)
		return -1;
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    (ca != NULL && curl_easy_setopt(c, CURLOPT_CAINFO, ca) != CURLE_OK)) {
		LOG(w, ECCR_PLUGIN_LOG_ERR, "libcurl refuses the url or ca_file");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, opt_long(w, "connect_timeout_ms"));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opt_long(w, "timeout_ms"));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	return 0;
}

static void webhook_fini(void *state)
{
	struct webhook *w = state;

	if (w == NULL)
		return;
	if (w->curl != NULL)
		curl_easy_cleanup(w->curl);
	curl_slist_free_all(w->fixed);
	if (w->global)
		curl_global_cleanup();
	free(w);
}

static int webhook_init(const struct eccr_host *host, void **state)
{
	struct webhook *w = calloc(1, sizeof *w);

	if (w == NULL)
		return -1;
	w->host = host;
	/* init() runs before any thread of the host's: libcurl's own set-up
	 * (counted, so every instance pairs it with a cleanup). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(w);
		return -1;
	}
	w->global = true;
	w->unhealthy_after = (int)strtol(host->config(host, "unhealthy_after"), NULL, 10);
	if (load_secret(w) != 0 || setup_curl(w) != 0 || load_extra_headers(w) != 0) {
		webhook_fini(w);
		return -1;
	}
	if (!ECCR_HOST_HAS(host, retry_after))
		LOG(w, ECCR_PLUGIN_LOG_NOTICE, "this host cannot take Retry-After hints: "
		    "its own backoff applies");
	LOG(w, ECCR_PLUGIN_LOG_INFO, "events to %s", host->config(host, "url"));
	*state = w;
	return 0;
}

/* ------------------------------------------------------------ delivery */

/* The kept answer, fit for one log line. */
static const char *answer_text(struct webhook *w)
{
	for (size_t i = 0; i < w->answer_len; i++)
		if ((unsigned char)w->answer[i] < 0x20 || (unsigned char)w->answer[i] == 0x7f)
			w->answer[i] = ' ';
	w->answer[w->answer_len] = '\0';
	return w->answer;
}

static time_t curl_date(const char *s)
{
	return curl_getdate(s, NULL);
}

/* The outcome of an answered request. */
static int answered(struct webhook *w, const struct eccr_event *ev, long status)
{
	int rc = webhook_outcome(status);
	int64_t delay;

	if (rc == ECCR_EMIT_OK)
		return rc;
	if ((status == 429 || status == 503) && ECCR_HOST_HAS(w->host, retry_after) &&
	    (delay = webhook_retry_after_ms(w->retry_after[0] ? w->retry_after : NULL,
	    time(NULL), curl_date)) >= 0)
		w->host->retry_after(w->host, delay);
	LOG(w, rc == ECCR_EMIT_RETRY ? ECCR_PLUGIN_LOG_INFO : ECCR_PLUGIN_LOG_WARNING,
	    "event %s: the endpoint answered %ld (%s): %.300s", ev->id_text, status,
	    rc == ECCR_EMIT_RETRY ? "will retry" : "not retried; replay it once fixed",
	    answer_text(w));
	return rc;
}

static int webhook_emit(void *state, const struct eccr_event *ev)
{
	struct webhook *w = state;
	struct curl_slist *h = NULL, *last = w->fixed;
	char sig[WEBHOOK_SIGNATURE_LEN], line[256];
	int64_t ts = w->host->now_ms(w->host) / 1000;
	long status = 0;
	CURLcode cc;
	int rc;

	if (ev->transient)
		return ECCR_EMIT_OK;
	if (webhook_sign(w->key, (size_t)w->keylen, ev->id_text, ts, ev->json, ev->json_len, sig) != 0)
		return ECCR_EMIT_RETRY;
	/* The per-event lines go after the fixed ones, and come off again. */
	while (last->next != NULL)
		last = last->next;
	snprintf(line, sizeof line, "webhook-id: %s", ev->id_text);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof line, "webhook-timestamp: %lld", (long long)ts);
	h = h ? curl_slist_append(h, line) : NULL;
	snprintf(line, sizeof line, "webhook-signature: %s", sig);
	h = h ? curl_slist_append(h, line) : NULL;
	if (h == NULL)
		return ECCR_EMIT_RETRY;
	last->next = h;
	w->answer_len = 0;
	w->retry_after[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->fixed);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, ev->json);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ev->json_len);
	cc = curl_easy_perform(w->curl);
	last->next = NULL;
	curl_slist_free_all(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
		rc = answered(w, ev, status);
	} else {
		/* Refused, unreachable, timed out, TLS refused: the endpoint may
		 * come back (or its certificate be fixed); the outbox keeps it. */
		LOG(w, ECCR_PLUGIN_LOG_INFO, "event %s: %s; will retry", ev->id_text,
		    curl_easy_strerror(cc));
		rc = ECCR_EMIT_RETRY;
	}
	if (rc == ECCR_EMIT_RETRY)
		__atomic_add_fetch(&w->failures, 1, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&w->failures, 0, __ATOMIC_RELAXED);
	return rc;
}

/* "health": from the last outcomes only, nothing is sent. */
static int webhook_query(void *state, const char *what, const char *args, char **out)
{
	struct webhook *w = state;

	(void)args;
	*out = NULL;
	if (strcmp(what, "health") != 0)
		return ECCR_QUERY_NOT_MINE;
	return __atomic_load_n(&w->failures, __ATOMIC_RELAXED) >= w->unhealthy_after ?
	    ECCR_QUERY_UNAVAILABLE : ECCR_QUERY_OK;
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "webhook-http",
	.version = "1.0.0",
	.description = "events as signed HTTP POSTs (Standard Webhooks) to one endpoint",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = webhook_init,
	.fini = webhook_fini,
	.emit = webhook_emit,
	.query = webhook_query,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
