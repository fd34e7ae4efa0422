/* notify-email - e-mails notifications over SMTP (libcurl).
 *
 * It acts on notification_created events: the database wrote one per
 * recipient in the transaction of the change (migration 0005), so one
 * event is one message to one person, and a retry (the host's backoff)
 * concerns that recipient alone.  The recipient's address, name and
 * email_notifications preference are read from PostgreSQL when the message
 * is sent, never carried in the event, so addresses do not travel through
 * other sinks or WebSocket clients.
 *
 * Sent only when the recipient is not the actor of the change, has
 * email_notifications true and a known, well-formed address.
 *
 * Outcomes: SMTP unreachable, a timeout or a 4xx answer is RETRY; a 5xx
 * answer is FAIL for this message (logged) - the host marks the delivery
 * dead and `eccrctl deliveries replay` can send it again.
 *
 * [plugin.notify-email]
 * events = notification_created
 * smtp_url = smtp://mail.example.org:587    ; or smtps://host:465
 * from = eccr@example.org
 * from_name = ECCR
 * starttls = try                            ; no | try | required
 * username = eccr
 * password_file = /etc/eccr/smtp-password
 * subject_episode_created = [ECCR] New episode: {name}
 *
 * An admin's announcement (type announcement) is mailed the same way; its
 * message keeps its line breaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include <eccr/plugin.h>

#include "message.h"

#define SUBJECT_MAX 250
/* After the server could not be reached, answer RETRY at once for a while
 * instead of waiting for a connect timeout per message: emit() runs under
 * the dispatcher's lock, so every attempt at a dead server holds up the
 * other sinks.  The pause doubles from PAUSE_MIN_MS to PAUSE_MAX_MS while
 * the outage lasts, and is at least three times what the failed attempt
 * took: a server that drops packets (each attempt waits timeout_ms) then
 * holds the others up a quarter of the time at most.  The outbox redelivers
 * what was refused meanwhile; success resets the pause. */
#define PAUSE_MIN_MS 1000
#define PAUSE_MAX_MS 30000
#define NAME_MAX_BYTES 200

/* Per-type subject templates: option key and default. */
static const struct {
	const char *type, *key, *def;
} subjects[] = {
	{ "episode_created", "subject_episode_created", "[ECCR] New episode: {name}" },
	{ "episode_updated", "subject_episode_updated", "[ECCR] Episode changed: {name}" },
	{ "episode_deleted", "subject_episode_deleted", "[ECCR] Episode deleted: {name}" },
	{ "file_uploaded", "subject_file_uploaded", "[ECCR] File uploaded: {name}" },
	{ "file_deleted", "subject_file_deleted", "[ECCR] File deleted: {name}" },
	{ "job_created", "subject_job_created", "[ECCR] Job queued: {name}" },
	{ "job_completed", "subject_job_completed", "[ECCR] Job completed: {name}" },
	{ "job_failed", "subject_job_failed", "[ECCR] Job failed: {name}" },
	{ "announcement", "subject_announcement", "[ECCR] Announcement: {title}" },
	{ NULL, "subject_default", "[ECCR] {title}" },
};
#define NSUBJECTS (sizeof subjects / sizeof subjects[0])

#define SUBJECT_DOC "subject template; {title} {name} {episode} {actor} {type}"
static const struct eccr_plugin_option options[] = {
	{ "smtp_url", ECCR_OPT_STRING, "smtp://127.0.0.1:25", 0, 0,
	  "smtp://HOST[:PORT] or smtps://HOST[:PORT] of the mail server" },
	{ "from", ECCR_OPT_STRING, NULL, 0, 0, "sender address (required)" },
	{ "from_name", ECCR_OPT_STRING, "ECCR", 0, 0, "sender display name" },
	{ "starttls", ECCR_OPT_STRING, "try", 0, 0,
	  "STARTTLS on smtp://: no, try (when offered) or required" },
	{ "username", ECCR_OPT_STRING, NULL, 0, 0, "SMTP AUTH user name" },
	{ "password_file", ECCR_OPT_FILE, NULL, 0, 0, "file holding the SMTP AUTH password" },
	{ "ca_file", ECCR_OPT_STRING, NULL, 0, 0, "CA bundle to verify the server (default: system)" },
	{ "timeout_ms", ECCR_OPT_INT, "10000", 1000, 120000, "connect and transfer timeout" },
	{ "conninfo", ECCR_OPT_STRING, NULL, 0, 0,
	  "libpq connection string for the recipients (default: database.conninfo)" },
	{ "subject_episode_created", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_episode_updated", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_episode_deleted", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_file_uploaded", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_file_deleted", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_job_created", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_job_completed", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_job_failed", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_announcement", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC },
	{ "subject_default", ECCR_OPT_STRING, NULL, 0, 0, SUBJECT_DOC " (other types)" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

struct mailer {
	const struct eccr_host *host;
	const char *smtp_url, *from, *from_name, *username, *ca_file;
	char *password, *conninfo, *from_clean;
	const char *domain;           /* in from, after '@' */
	const char *subject[NSUBJECTS];
	char link_base[1024];         /* public_url + base_path */
	long use_ssl, timeout_ms;
	PGconn *db;
	int smtp_down, db_down;       /* logged once until it heals */
	int64_t pause_until;          /* monotonic ms; see PAUSE_MIN_MS */
	int64_t pause_ms;             /* the last pause; 0 after a success */
};

/* One message's values, borrowed from the event's parsed data. */
struct mail {
	const char *event_id, *user_id, *type, *title, *message, *name, *episode;
	const char *resource_type, *resource_id, *episode_id;
	char to[256], to_name[NAME_MAX_BYTES + 1];
};

/* ------------------------------------------------------------ set-up */

static int parse_tls(struct mailer *m, const char *v)
{
	if (strncmp(m->smtp_url, "smtps://", 8) == 0)
		m->use_ssl = CURLUSESSL_ALL;         /* implicit TLS */
	else if (strcmp(v, "no") == 0)
		m->use_ssl = CURLUSESSL_NONE;
	else if (strcmp(v, "try") == 0)
		m->use_ssl = CURLUSESSL_TRY;
	else if (strcmp(v, "required") == 0)
		m->use_ssl = CURLUSESSL_ALL;
	else
		return -1;
	return 0;
}

static int check_config(struct mailer *m)
{
	const struct eccr_host *h = m->host;
	const char *v;

	if (strncmp(m->smtp_url, "smtp://", 7) != 0 && strncmp(m->smtp_url, "smtps://", 8) != 0)
		return h->log(h, ECCR_PLUGIN_LOG_ERR, "smtp_url must start with smtp:// or smtps://"), -1;
	if (m->from == NULL || !ne_address_valid(m->from))
		return h->log(h, ECCR_PLUGIN_LOG_ERR, "from must be set to a plain address"), -1;
	if (parse_tls(m, h->config(h, "starttls")) != 0)
		return h->log(h, ECCR_PLUGIN_LOG_ERR, "starttls must be no, try or required"), -1;
	if ((m->username == NULL) != (h->config(h, "password_file") == NULL))
		return h->log(h, ECCR_PLUGIN_LOG_ERR,
		    "username and password_file go together"), -1;
	/* With "try", a server that does not offer STARTTLS (or anyone on the
	 * path who strips the offer) gets the password in clear text. */
	if (m->username != NULL && m->use_ssl == CURLUSESSL_TRY)
		return h->log(h, ECCR_PLUGIN_LOG_ERR, "with username set, starttls must be "
		    "required (or smtps://; or no, on a network you trust): try would send the "
		    "password in clear text where STARTTLS is not offered"), -1;
	for (size_t i = 0; i < NSUBJECTS; i++) {
		v = h->config(h, subjects[i].key);
		m->subject[i] = v != NULL ? v : subjects[i].def;
		if (ne_template_check(m->subject[i]) != NULL)
			return h->log(h, ECCR_PLUGIN_LOG_ERR, "%s: unknown placeholder at \"%.20s\"; "
			    "known: {title} {name} {episode} {actor} {type}", subjects[i].key,
			    ne_template_check(m->subject[i])), -1;
	}
	return 0;
}

static void mailer_free(struct mailer *m)
{
	if (m == NULL)
		return;
	PQfinish(m->db);
	free(m->password);
	free(m->conninfo);
	free(m->from_clean);
	free(m);
}

static int mail_init(const struct eccr_host *host, void **state)
{
	struct mailer *m = calloc(1, sizeof *m);
	const char *pub = host->core_config(host, "server.public_url");
	const char *base = host->core_config(host, "server.base_path");
	const char *ci = host->config(host, "conninfo");

	if (m == NULL)
		return -1;
	m->host = host;
	m->smtp_url = host->config(host, "smtp_url");
	m->from = host->config(host, "from");
	m->from_name = host->config(host, "from_name");
	m->username = host->config(host, "username");
	m->ca_file = host->config(host, "ca_file");
	m->timeout_ms = strtol(host->config(host, "timeout_ms"), NULL, 10);
	if (check_config(m) != 0 ||
	    (m->username != NULL && (m->password = host->read_secret(host, "password_file")) == NULL)) {
		if (m->username != NULL && m->password == NULL)
			host->log(host, ECCR_PLUGIN_LOG_ERR, "cannot read password_file");
		mailer_free(m);
		return -1;
	}
	m->domain = strchr(m->from, '@') + 1;
	m->from_clean = strdup(m->from_name ? m->from_name : "");
	m->conninfo = strdup(ci ? ci : host->core_config(host, "database.conninfo") ?
	    host->core_config(host, "database.conninfo") : "");
	if (m->from_clean == NULL || m->conninfo == NULL) {
		mailer_free(m);
		return -1;
	}
	ne_sanitize(m->from_clean);
	snprintf(m->link_base, sizeof m->link_base, "%s%s", pub ? pub : "", base ? base : "");
	/* Once per instance on the main thread, before any emit (plugin.h). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "curl_global_init failed");
		mailer_free(m);
		return -1;
	}
	*state = m;
	return 0;
}

static void mail_fini(void *state)
{
	mailer_free(state);
	curl_global_cleanup();
}

/* ------------------------------------------------------------ recipient */

static PGconn *db_conn(struct mailer *m)
{
	/* Keepalives and a TCP user timeout (before dbname, so the conninfo
	 * may override them): a half-open connection fails in about a minute
	 * instead of blocking emit() for the kernel's quarter of an hour. */
	const char *keys[] = {
	    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "dbname", "application_name", "connect_timeout", "client_encoding", NULL };
	const char *vals[] = {
	    "1", "30", "10", "3", "60000", m->conninfo, "eccr-notify-email", "5", "UTF8", NULL };

	if (m->db != NULL && PQstatus(m->db) == CONNECTION_OK)
		return m->db;
	PQfinish(m->db);
	m->db = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(m->db) != CONNECTION_OK) {
		if (!m->db_down)
			m->host->log(m->host, ECCR_PLUGIN_LOG_WARNING, "database: %s", PQerrorMessage(m->db));
		m->db_down = 1;
		PQfinish(m->db);
		m->db = NULL;
		return NULL;
	}
	m->db_down = 0;
	return m->db;
}

enum lookup { L_SEND, L_SKIP, L_RETRY };

/* Address, name and preference of the recipient. */
static enum lookup recipient(struct mailer *m, struct mail *ml)
{
	const char *p[1] = { ml->user_id };
	PGconn *c = db_conn(m);
	PGresult *res;
	enum lookup r = L_SKIP;

	if (c == NULL)
		return L_RETRY;
	res = PQexecParams(c, "SELECT u.email, coalesce(u.name, ''),"
	    " coalesce(p.email_notifications, true)"
	    " FROM users u LEFT JOIN user_preferences p ON p.user_id = u.id"
	    " WHERE u.id = $1", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		m->host->log(m->host, ECCR_PLUGIN_LOG_WARNING, "recipient %s: %s", ml->user_id,
		    PQerrorMessage(c));
		r = L_RETRY;
	} else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		snprintf(ml->to, sizeof ml->to, "%s", PQgetvalue(res, 0, 0));
		ne_copy_utf8(ml->to_name, sizeof ml->to_name, PQgetvalue(res, 0, 1));
		ne_sanitize(ml->to_name);
		r = L_SEND;
	}
	PQclear(res);
	return r;
}

/* ------------------------------------------------------------ message */

static const char *subject_template(const struct mailer *m, const char *type)
{
	for (size_t i = 0; i + 1 < NSUBJECTS; i++)
		if (strcmp(subjects[i].type, type) == 0)
			return m->subject[i];
	return m->subject[NSUBJECTS - 1];
}

/* Where the reader sees what changed; the inbox when it is gone. */
static void add_link(struct ne_buf *b, const struct mailer *m, const struct mail *ml)
{
	const char *rt = ml->resource_type, *id = ml->resource_id;

	ne_buf_adds(b, m->link_base);
	if (strcmp(ml->type, "episode_deleted") == 0 ||
	    (strcmp(ml->type, "file_deleted") == 0 && ml->episode_id == NULL)) {
		ne_buf_adds(b, "/notifications");
		return;
	}
	if (strcmp(ml->type, "file_deleted") == 0 || strcmp(rt, "episode") == 0) {
		rt = "episode";
		id = ml->episode_id != NULL ? ml->episode_id : id;
	}
	ne_buf_adds(b, strcmp(rt, "episode") == 0 ? "/episodes/" :
	    strcmp(rt, "file") == 0 ? "/files/" : strcmp(rt, "job") == 0 ? "/jobs/" : "/notifications");
	if (!strcmp(rt, "episode") || !strcmp(rt, "file") || !strcmp(rt, "job"))
		ne_buf_adds(b, id);
}

/* text wrapped line by line: an announcement's paragraphs stay apart. */
static void add_paragraphs(struct ne_buf *b, const char *text)
{
	struct ne_buf copy = { 0 };

	ne_buf_adds(&copy, text);
	if (copy.oom)
		b->oom = true;
	if (copy.oom || copy.p == NULL)   /* nothing to say: no lines */
		return;
	for (char *s = copy.p, *nl; s != NULL; s = nl ? nl + 1 : NULL) {
		if ((nl = strchr(s, '\n')) != NULL)
			*nl = '\0';
		if (nl != NULL && nl > s && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*s == '\0')
			ne_buf_adds(b, "\r\n");
		else
			ne_wrap(b, s, 76);
	}
	ne_buf_free(&copy);
}

static void add_body(struct ne_buf *b, const struct mailer *m, const struct mail *ml,
    const struct eccr_event *ev, const char *actor)
{
	struct ne_buf line = { 0 };
	bool announcement = strcmp(ml->type, "announcement") == 0;

	add_paragraphs(b, ml->message);
	ne_buf_adds(b, "\r\n");
	ne_buf_adds(&line, "What: ");
	ne_buf_adds(&line, ml->title);
	ne_buf_adds(&line, "\nWho: ");
	ne_buf_adds(&line, actor);
	ne_buf_adds(&line, "\nWhen: ");
	ne_buf_adds(&line, ev->occurred_at);
	if (ml->episode != NULL) {
		ne_buf_adds(&line, "\nEpisode: ");
		ne_buf_adds(&line, ml->episode);
	}
	ne_buf_adds(&line, "\nLink: ");
	add_link(&line, m, ml);
	if (line.oom) {
		b->oom = true;
	} else {
		/* each line on its own, wrapped; controls inside values are spaces */
		for (char *s = line.p, *nl; s != NULL; s = nl ? nl + 1 : NULL) {
			if ((nl = strchr(s, '\n')) != NULL)
				*nl = '\0';
			ne_wrap(b, s, 200);
		}
	}
	ne_buf_free(&line);
	ne_buf_adds(b, announcement ? "\r\n-- \r\nYou receive this because an administrator "
	    "sent this announcement to you.\r\nPreferences: " : "\r\n-- \r\nYou receive this "
	    "because you watch the episode or took part in the change.\r\nPreferences: ");
	ne_buf_adds(b, m->link_base);
	ne_buf_adds(b, "/me/preferences\r\n");
}

/* The whole RFC 5322 message. */
static int build(struct ne_buf *b, const struct mailer *m, const struct mail *ml,
    const struct eccr_event *ev)
{
	char date[64], msgid[512], actor[NAME_MAX_BYTES + 1];
	struct ne_vars v;
	struct ne_buf subj = { 0 };

	ne_copy_utf8(actor, sizeof actor, ev->actor_name[0] ? ev->actor_name : ev->actor_id);
	ne_sanitize(actor);
	if (!ne_date(ev->occurred_at, date, sizeof date) ||
	    !ne_message_id(msgid, sizeof msgid, ml->event_id, ml->user_id, m->domain))
		return -1;
	v = (struct ne_vars){ ml->title, ml->name, ml->episode, actor, ml->type };
	ne_render(&subj, subject_template(m, ml->type), &v, SUBJECT_MAX);
	ne_buf_adds(b, "Date: ");
	ne_buf_adds(b, date);
	ne_buf_adds(b, "\r\nMessage-ID: ");
	ne_buf_adds(b, msgid);
	ne_buf_adds(b, "\r\nFrom: ");
	ne_mailbox(b, m->from_clean, m->from);
	ne_buf_adds(b, "\r\nTo: ");
	ne_mailbox(b, ml->to_name, ml->to);
	ne_buf_adds(b, "\r\nSubject: ");
	ne_header_text(b, subj.p ? subj.p : "");
	ne_buf_adds(b, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
	    "X-ECCR-Event: ");
	ne_buf_adds(b, ml->event_id);
	ne_buf_adds(b, "\r\n\r\n");
	add_body(b, m, ml, ev, actor);
	ne_buf_free(&subj);
	return b->oom ? -1 : 0;
}

/* ------------------------------------------------------------ SMTP */

struct upload {
	const char *p;
	size_t left;
};

static size_t read_cb(char *out, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;

	memcpy(out, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* Stop trying for a while after an attempt of took_ms found no server. */
static void smtp_pause(struct mailer *m, int64_t took_ms)
{
	int64_t p;

	m->pause_ms = m->pause_ms ? m->pause_ms * 2 : PAUSE_MIN_MS;
	if (m->pause_ms > PAUSE_MAX_MS)
		m->pause_ms = PAUSE_MAX_MS;
	p = took_ms * 3 > m->pause_ms ? took_ms * 3 : m->pause_ms;
	m->pause_until = m->host->monotonic_ms(m->host) + (p < PAUSE_MAX_MS ? p : PAUSE_MAX_MS);
}

static int smtp_send(struct mailer *m, const struct mail *ml, const struct ne_buf *msg)
{
	char from[300], to[300], err[CURL_ERROR_SIZE] = "";
	struct upload up = { msg->p, msg->len };
	struct curl_slist *rcpt = NULL;
	CURL *h = curl_easy_init();
	long code = 0;
	int64_t t0;
	CURLcode rc;
	int out;

	snprintf(from, sizeof from, "<%s>", m->from);
	snprintf(to, sizeof to, "<%s>", ml->to);
	if (h == NULL || (rcpt = curl_slist_append(NULL, to)) == NULL) {
		curl_easy_cleanup(h);
		return ECCR_EMIT_RETRY;
	}
	curl_easy_setopt(h, CURLOPT_URL, m->smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_USE_SSL, m->use_ssl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	if (m->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, m->ca_file);
	if (m->username != NULL) {
		curl_easy_setopt(h, CURLOPT_USERNAME, m->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, m->password);
	}
	t0 = m->host->monotonic_ms(m->host);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK) {
		if (m->smtp_down)
			m->host->log(m->host, ECCR_PLUGIN_LOG_NOTICE, "SMTP server reachable again");
		m->smtp_down = 0;
		m->pause_ms = 0;
		out = ECCR_EMIT_OK;
	} else if (rc == CURLE_LOGIN_DENIED) {
		/* Not this message's fault: a rotated password must not send
		 * every notification to the dead deliveries. */
		m->host->log(m->host, ECCR_PLUGIN_LOG_ERR, "event %s: the SMTP server refused "
		    "the login (%ld): check username and password_file; will retry", ml->event_id,
		    code);
		smtp_pause(m, m->host->monotonic_ms(m->host) - t0);
		out = ECCR_EMIT_RETRY;
	} else if (code >= 500 && code <= 599) {
		/* Refused for good (unknown mailbox, policy): this message only. */
		m->host->log(m->host, ECCR_PLUGIN_LOG_WARNING, "event %s to %s: refused (%ld): %s",
		    ml->event_id, ml->user_id, code, err[0] ? err : curl_easy_strerror(rc));
		out = ECCR_EMIT_FAIL;
	} else {
		if (!m->smtp_down || code >= 400)
			m->host->log(m->host, ECCR_PLUGIN_LOG_WARNING, "event %s: %s%s; will retry",
			    ml->event_id, err[0] ? err : curl_easy_strerror(rc),
			    code >= 400 ? " (temporary failure)" : "");
		m->smtp_down = code < 400;
		if (m->smtp_down)
			smtp_pause(m, m->host->monotonic_ms(m->host) - t0);
		out = ECCR_EMIT_RETRY;
	}
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	return out;
}

/* ------------------------------------------------------------ emit */

static const char *str_at(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The event's data: false when it is not a notification_created one. */
static bool parse_mail(json_object *data, struct mail *ml)
{
	json_object *n = NULL;

	memset(ml, 0, sizeof *ml);
	if (!json_object_object_get_ex(data, "notification", &n) ||
	    !json_object_is_type(n, json_type_object))
		return false;
	ml->user_id = str_at(data, "user_id");
	ml->event_id = str_at(data, "event_id");
	ml->name = str_at(data, "resource_name");
	ml->episode = str_at(data, "episode_title");
	ml->type = str_at(n, "type");
	ml->title = str_at(n, "title");
	ml->message = str_at(n, "message");
	ml->resource_type = str_at(n, "resource_type");
	ml->resource_id = str_at(n, "resource_id");
	ml->episode_id = str_at(n, "episode_id");
	return ml->user_id && ml->event_id && ml->type && ml->title && ml->message &&
	    ml->resource_type && ml->resource_id;
}

static int mail_emit(void *state, const struct eccr_event *ev)
{
	struct mailer *m = state;
	json_object *data;
	struct mail ml;
	struct ne_buf msg = { 0 };
	enum lookup lk;
	int rc = ECCR_EMIT_OK;

	if (strcmp(ev->type, "notification_created") != 0 || ev->transient)
		return ECCR_EMIT_OK;
	if ((data = json_tokener_parse(ev->data_json)) == NULL || !parse_mail(data, &ml)) {
		m->host->log(m->host, ECCR_PLUGIN_LOG_WARNING, "event %s: not a notification", ev->id_text);
		json_object_put(data);
		return ECCR_EMIT_FAIL;
	}
	/* The actor sees the in-app row; the e-mail is for the others. */
	if (strcmp(ml.user_id, ev->actor_id) == 0 || (lk = recipient(m, &ml)) == L_SKIP)
		goto out;
	if (lk == L_RETRY || m->host->monotonic_ms(m->host) < m->pause_until) {
		rc = ECCR_EMIT_RETRY;
	} else if (!ne_address_valid(ml.to)) {
		m->host->log(m->host, ECCR_PLUGIN_LOG_WARNING,
		    "user %s: the address is not a plain address; not sent", ml.user_id);
		rc = ECCR_EMIT_FAIL;
	} else if (build(&msg, m, &ml, ev) != 0) {
		m->host->log(m->host, ECCR_PLUGIN_LOG_WARNING, "event %s: cannot build the message",
		    ev->id_text);
		rc = ECCR_EMIT_FAIL;
	} else {
		rc = smtp_send(m, &ml, &msg);
	}
out:
	ne_buf_free(&msg);
	json_object_put(data);
	return rc;
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "notify-email",
	.version = "1.0.0",
	.description = "e-mails each notification to its recipient over SMTP",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = mail_init,
	.fini = mail_fini,
	.emit = mail_emit,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
