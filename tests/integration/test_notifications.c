/* Integration tests: notifications (API.md "Notifications") through
 * lighttpd + eccr-fcgi, eccr-worker and the notify-email sink talking to a
 * real SMTP server on loopback (tests/integration/smtp_sink.py, which
 * keeps every accepted message as a file in ECCR_TEST_MAIL_DIR).
 *
 * Every test makes its own users (ids and addresses carry uniq()), so the
 * messages of one test are told from the others' by their recipients. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "client.h"
#include "config.h"

#define NO_EPISODE "00000000-0000-4000-8000-000000000000"

/* ------------------------------------------------------------ users */

struct user {
	char id[64], email[96], tok[2048];
};

/* A user named id-<tag>, with an e-mail address unless email is false. */
static void user(struct user *u, const char *id, const char *name, const char *role, bool email)
{
	char err[256], *tok;

	snprintf(u->id, sizeof u->id, "%s-%s", id, uniq());
	snprintf(u->email, sizeof u->email, "%s@test.invalid", u->id);
	tok = eccr_auth_mint(test_config(), u->id, role, name, email ? u->email : NULL,
	    3600, time(NULL), err, sizeof err);
	cr_assert_not_null(tok, "%s", err);
	cr_assert_lt(strlen(tok), sizeof u->tok);
	strcpy(u->tok, tok);
	free(tok);
}

/* ------------------------------------------------------------ API helpers */

static void create_episode(const struct user *u, const char *title, char id[37])
{
	struct resp *r;
	char body[512];

	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	r = http_json("POST", "/episodes", u->tok, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, 37, "%s", resp_str(r, "id"));
	resp_free(r);
}

static void watch(const struct user *u, const char *ep, const char *method, long want)
{
	char path[128];
	struct resp *r;

	snprintf(path, sizeof path, "/episodes/%s/watch", ep);
	r = http(method, path, u->tok, NULL, NULL, 0, NULL);
	cr_assert_eq(r->status, want, "%s %s: %ld %s", method, path, r->status, r->body);
	resp_free(r);
}

static void upload(const struct user *u, const char *ep, const char *name, char fid[37])
{
	char path[256];
	struct resp *r;

	snprintf(path, sizeof path, "/episodes/%s/files?name=%s", ep, name);
	r = http("POST", path, u->tok, "text/plain", "hello", 5, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	if (fid != NULL)
		snprintf(fid, 37, "%s", resp_str(r, "id"));
	resp_free(r);
}

static void put_prefs(const struct user *u, const char *json)
{
	struct resp *r = http_json("PUT", "/me/preferences", u->tok, json);

	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
}

/* Notifications of a user of one type about one resource. */
static long notes(const struct user *u, const char *type, const char *resource_id)
{
	return db_count("SELECT count(*) FROM notifications WHERE user_id = $1 AND type = $2"
	    " AND resource_id = $3", u->id, type, resource_id, NULL);
}

/* ------------------------------------------------------------ mail */

/* The messages whose envelope recipient is addr, each malloc'd; count. */
static int mails_to(const char *addr, char **out, int max)
{
	const char *dir = getenv("ECCR_TEST_MAIL_DIR");
	char needle[160], path[1024];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	cr_assert_not_null(dir);
	snprintf(needle, sizeof needle, "X-Envelope-To: %s\r\n", addr);
	cr_assert_not_null(dp = opendir(dir));
	while ((d = readdir(dp)) != NULL) {
		FILE *f;
		char *buf;
		long len;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		buf = calloc(1, (size_t)len + 1);
		cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		if (strstr(buf, needle) != NULL && n < max && out != NULL)
			out[n++] = buf;
		else if (strstr(buf, needle) != NULL && out == NULL)
			n++, free(buf);
		else
			free(buf);
	}
	closedir(dp);
	return n;
}

static int wait_mails(const char *addr, int want, int seconds)
{
	int n = 0;

	for (int i = 0; i < seconds * 10; i++) {
		if ((n = mails_to(addr, NULL, 0)) >= want)
			return n;
		usleep(100000);
	}
	return n;
}

/* Value of a header of a message (first line only; folded lines are
 * joined with their leading space). */
static char *header(const char *msg, const char *name)
{
	static char out[2048];
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg;
	size_t n = strlen(name);

	cr_assert_not_null(end);
	while (p < end) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = v;

			while (*v == ' ')
				v++;
			/* unfold */
			size_t o = 0;
			for (e = v; e < end; e++) {
				if (e[0] == '\r' && e[1] == '\n' && e[2] != ' ' && e[2] != '\t')
					break;
				if (*e != '\r' && *e != '\n' && o + 1 < sizeof out)
					out[o++] = *e;
			}
			out[o] = '\0';
			return out;
		}
		p = strstr(p, "\r\n");
		if (p == NULL)
			break;
		p += 2;
	}
	return NULL;
}

/* Id of the event of this type about this resource, as text. */
static char *event_id_of(const char *type, const char *resource_id)
{
	char *id = db_scalar("SELECT id::text FROM events WHERE type = $1 AND resource_id = $2",
	    type, resource_id, NULL);

	cr_assert_not_null(id, "no %s event for %s", type, resource_id);
	return id;
}

static void free_all(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
}

/* ------------------------------------------------------------ e-mail */

Test(email, watchers_get_one_message_each_and_the_actor_none)
{
	struct user alice, bob, carol;
	char ep[37], fid[37], title[128], fname[64], *m[4], *ev, want[512];

	user(&alice, "alice", "Alice Ünlü", "editor", true);
	user(&bob, "bob", "Bob \"B\" Baker", "editor", true);
	user(&carol, "carol", "Carol", "editor", false);   /* no address */
	snprintf(title, sizeof title, "Pilot Ärger %s", uniq());
	create_episode(&alice, title, ep);
	watch(&bob, ep, "POST", 204);
	watch(&carol, ep, "POST", 204);
	snprintf(fname, sizeof fname, "intro-%s.mp3", uniq());
	upload(&alice, ep, fname, fid);

	/* In-app: the actor and both watchers; only the creator heard of the
	 * creation (the others watched later). */
	cr_assert_eq(notes(&alice, "episode_created", ep), 1);
	cr_assert_eq(notes(&bob, "episode_created", ep), 0);
	cr_assert_eq(notes(&alice, "file_uploaded", fid), 1);
	cr_assert_eq(notes(&bob, "file_uploaded", fid), 1);
	cr_assert_eq(notes(&carol, "file_uploaded", fid), 1);

	cr_assert_eq(wait_mails(bob.email, 1, 20), 1);
	cr_assert_eq(mails_to(bob.email, m, 4), 1);
	ev = event_id_of("file_uploaded", fid);
	/* headers */
	cr_assert_str_eq(header(m[0], "X-Envelope-To"), bob.email);
	cr_assert_str_eq(header(m[0], "X-Envelope-From"), "eccr@test.invalid");
	snprintf(want, sizeof want, "\"Bob \\\"B\\\" Baker\" <%s>", bob.email);
	cr_assert_str_eq(header(m[0], "To"), want);
	/* "ECCR Tëst", RFC 2047 */
	cr_assert_str_eq(header(m[0], "From"), "=?UTF-8?B?RUNDUiBUw6tzdA==?= <eccr@test.invalid>");
	cr_assert_not_null(header(m[0], "Date"));
	cr_assert_eq(strncmp(header(m[0], "Message-ID"), "<eccr.", 6), 0);
	snprintf(want, sizeof want, "<eccr.%s.", ev);
	cr_assert_eq(strncmp(header(m[0], "Message-ID"), want, strlen(want)), 0,
	    "%s", header(m[0], "Message-ID"));
	cr_assert_str_eq(header(m[0], "Content-Type"), "text/plain; charset=UTF-8");
	/* The subject template of the stack: non-ASCII, so encoded words. */
	cr_assert_eq(strncmp(header(m[0], "Subject"), "=?UTF-8?B?", 10), 0);
	/* body: what, who, the resource and a link under public_url */
	cr_assert_not_null(strstr(m[0], fname));
	cr_assert_not_null(strstr(m[0], title));
	cr_assert_not_null(strstr(m[0], "Who: Alice Ünlü"));
	snprintf(want, sizeof want, "Link: %s/files/%s\r\n", getenv("ECCR_TEST_URL"), fid);
	cr_assert_not_null(strstr(m[0], want), "no %s in\n%s", want, m[0]);
	free_all(m, 1);
	free(ev);

	/* The actor and the user without an address got none. */
	sleep(1);
	cr_assert_eq(mails_to(alice.email, NULL, 0), 0);
	cr_assert_eq(mails_to(bob.email, NULL, 0), 1);

	/* Its creator watches the episode: bob's upload mails alice. */
	snprintf(fname, sizeof fname, "outro-%s.mp3", uniq());
	upload(&bob, ep, fname, fid);
	cr_assert_eq(wait_mails(alice.email, 1, 20), 1);
	cr_assert_eq(mails_to(alice.email, m, 4), 1);
	snprintf(want, sizeof want, "=?UTF-8?B?QWxpY2Ugw5xubMO8?= <%s>", alice.email);
	cr_assert_str_eq(header(m[0], "To"), want);
	free_all(m, 1);
	sleep(1);
	cr_assert_eq(mails_to(bob.email, NULL, 0), 1);
}

Test(email, muted_type_and_email_off)
{
	struct user alice, bob, dave;
	char ep[37], fid[37], title[128], fname[64], path[128];
	struct resp *r;

	user(&alice, "alice", "Alice", "editor", true);
	user(&bob, "bob", "Bob", "editor", true);
	user(&dave, "dave", "Dave", "editor", true);
	snprintf(title, sizeof title, "Muted %s", uniq());
	create_episode(&alice, title, ep);
	watch(&bob, ep, "POST", 204);
	watch(&dave, ep, "POST", 204);
	put_prefs(&bob, "{\"muted_types\":[\"file_uploaded\"]}");
	put_prefs(&dave, "{\"email_notifications\":false}");
	snprintf(fname, sizeof fname, "muted-%s.wav", uniq());
	upload(&alice, ep, fname, fid);
	/* muted: nothing at all; e-mail off: the in-app row only */
	cr_assert_eq(notes(&bob, "file_uploaded", fid), 0);
	cr_assert_eq(notes(&dave, "file_uploaded", fid), 1);
	/* a type not muted still notifies bob, and e-mails him */
	snprintf(path, sizeof path, "/files/%s", fid);
	r = http_json("DELETE", path, alice.tok, NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);
	cr_assert_eq(notes(&bob, "file_deleted", fid), 1);
	cr_assert_eq(notes(&dave, "file_deleted", fid), 1);
	cr_assert_eq(wait_mails(bob.email, 1, 20), 1);
	sleep(1);
	cr_assert_eq(mails_to(bob.email, NULL, 0), 1);
	cr_assert_eq(mails_to(dave.email, NULL, 0), 0);
	cr_assert_eq(mails_to(alice.email, NULL, 0), 0);
}

Test(email, job_completion_reaches_the_jobs_creator)
{
	struct user alice, bob;
	char ep[37], title[128], body[128], job[37], *m[2];
	struct resp *r;

	user(&alice, "alice", "Alice", "editor", true);
	user(&bob, "bob", "Bob", "editor", true);
	snprintf(title, sizeof title, "Jobs %s", uniq());
	create_episode(&alice, title, ep);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\"}", ep);
	r = http_json("POST", "/jobs", bob.tok, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(job, sizeof job, "%s", resp_str(r, "id"));
	resp_free(r);
	/* job_created: alice watches (mail), bob acted (in-app only);
	 * job_completed by "system": both, and both by mail. */
	cr_assert_eq(wait_mails(alice.email, 2, 30), 2);
	cr_assert_eq(wait_mails(bob.email, 1, 30), 1);
	cr_assert_eq(notes(&bob, "job_completed", job), 1);
	cr_assert_eq(notes(&alice, "job_completed", job), 1);
	cr_assert_eq(notes(&bob, "job_created", job), 1);
	/* titles name the job's type, also for the job inserted with its event */
	cr_assert_eq(db_count("SELECT count(*) FROM notifications WHERE resource_id = $1 AND"
	    " title IN ('Job created: noop', 'Job completed: noop')", job, NULL), 4);
	cr_assert_eq(mails_to(bob.email, m, 2), 1);
	cr_assert_not_null(strstr(m[0], "noop"));
	cr_assert_not_null(strstr(header(m[0], "Subject"), "Job completed: noop"));
	free_all(m, 1);
}

Test(email, a_refused_address_fails_alone)
{
	struct user alice, rej, bob;
	char ep[37], fid[37], title[128], *ev, *n;

	user(&alice, "alice", "Alice", "editor", true);
	user(&rej, "reject", "Rejected", "editor", true);   /* 550 from the server */
	user(&bob, "bob", "Bob", "editor", true);
	snprintf(title, sizeof title, "Refused %s", uniq());
	create_episode(&alice, title, ep);
	watch(&rej, ep, "POST", 204);
	watch(&bob, ep, "POST", 204);
	upload(&alice, ep, "x.txt", fid);
	cr_assert_eq(wait_mails(bob.email, 1, 20), 1);
	ev = event_id_of("file_uploaded", fid);
	n = db_scalar("SELECT e.id::text FROM events e WHERE e.caused_by = $1::bigint"
	    " AND e.data->>'user_id' = $2", ev, rej.id, NULL);
	cr_assert_not_null(n);
	for (int i = 0; i < 100 && db_count("SELECT count(*) FROM event_deliveries WHERE"
	    " event_id = $1::bigint AND sink = 'notify-email' AND status = 'dead'", n, NULL) != 1; i++)
		usleep(100000);
	cr_assert_eq(db_count("SELECT count(*) FROM event_deliveries WHERE event_id = $1::bigint"
	    " AND sink = 'notify-email' AND status = 'dead'", n, NULL), 1);
	cr_assert_eq(mails_to(rej.email, NULL, 0), 0);
	free(ev);
	free(n);
}

/* A 4xx for the recipient is RETRY: the worker tries again with backoff,
 * until the message can be sent or, here, has nobody to go to. */
Test(email, a_temporary_refusal_is_retried)
{
	struct user alice, tf;
	char ep[37], fid[37], title[128], *ev, *n;
	const char *retrying = "SELECT count(*) FROM event_deliveries WHERE event_id = $1::bigint"
	    " AND sink = 'notify-email' AND status = 'retry' AND attempts >= 2";
	const char *delivered = "SELECT count(*) FROM event_deliveries WHERE event_id = $1::bigint"
	    " AND sink = 'notify-email' AND status = 'delivered'";
	int i;

	user(&alice, "alice", "Alice", "editor", true);
	user(&tf, "tempfail", "Later", "editor", true);     /* 451 from the server */
	snprintf(title, sizeof title, "Later %s", uniq());
	create_episode(&alice, title, ep);
	watch(&tf, ep, "POST", 204);
	upload(&alice, ep, "y.txt", fid);
	ev = event_id_of("file_uploaded", fid);
	n = db_scalar("SELECT e.id::text FROM events e WHERE e.caused_by = $1::bigint"
	    " AND e.data->>'user_id' = $2", ev, tf.id, NULL);
	cr_assert_not_null(n);
	for (i = 0; i < 100 && db_count(retrying, n, NULL) != 1; i++)
		usleep(100000);
	cr_assert_eq(db_count(retrying, n, NULL), 1);
	cr_assert_eq(mails_to(tf.email, NULL, 0), 0);
	/* the address goes away: the next attempt has nothing to send */
	cr_assert_eq(db_count("WITH u AS (UPDATE users SET email = NULL WHERE id = $1"
	    " RETURNING 1) SELECT count(*) FROM u", tf.id, NULL), 1);
	for (i = 0; i < 100 && db_count(delivered, n, NULL) != 1; i++)
		usleep(100000);
	cr_assert_eq(db_count(delivered, n, NULL), 1);
	free(ev);
	free(n);
}

/* The SMTP server away for a minute: every message arrives afterwards,
 * through the worker's backoff, and none twice. */
Test(email, smtp_down_for_a_minute_then_every_message_once, .timeout = 180)
{
	struct user alice, w[3];
	char ep[37], title[128], fname[64], *m[16];
	const char *names[3] = { "wa", "wb", "wc" };
	int i, k;

	user(&alice, "alice", "Alice", "editor", true);
	for (i = 0; i < 3; i++)
		user(&w[i], names[i], names[i], "editor", true);
	snprintf(title, sizeof title, "Outage %s", uniq());
	create_episode(&alice, title, ep);
	for (i = 0; i < 3; i++)
		watch(&w[i], ep, "POST", 204);
	cr_assert_eq(system(getenv("ECCR_TEST_SMTP_STOP")), 0);
	for (k = 0; k < 4; k++) {
		snprintf(fname, sizeof fname, "take-%d.mp3", k);
		upload(&alice, ep, fname, NULL);
	}
	sleep(60);
	for (i = 0; i < 3; i++)
		cr_assert_eq(mails_to(w[i].email, NULL, 0), 0);
	cr_assert_eq(system(getenv("ECCR_TEST_SMTP_START")), 0);
	for (i = 0; i < 3; i++)
		cr_assert_eq(wait_mails(w[i].email, 4, 60), 4, "%s", w[i].id);
	sleep(3);   /* anything sent twice would have come by now */
	for (i = 0; i < 3; i++) {
		int n = mails_to(w[i].email, m, 16);

		cr_assert_eq(n, 4, "%s got %d messages", w[i].id, n);
		/* four distinct changes: four distinct Message-IDs */
		for (int a = 0; a < n; a++)
			for (int b = a + 1; b < n; b++) {
				char ida[256];

				snprintf(ida, sizeof ida, "%s", header(m[a], "Message-ID"));
				cr_assert_str_neq(ida, header(m[b], "Message-ID"));
			}
		free_all(m, n);
	}
	cr_assert_eq(mails_to(alice.email, NULL, 0), 0);
	cr_assert_eq(db_count("SELECT count(*) FROM event_deliveries d JOIN events e"
	    " ON e.id = d.event_id WHERE d.sink = 'notify-email' AND d.status <> 'delivered'"
	    " AND e.data->>'user_id' LIKE $1", "w_-%", NULL), 0);
}

/* ------------------------------------------------------------ the inbox API */

Test(api, list_unread_count_read_read_all_delete)
{
	struct user alice, bob;
	char ep[37], title[128], path[512], id0[37], id1[37], cursor[256];
	struct resp *r;
	json_object *items;

	user(&alice, "alice", "Alice", "editor", false);
	user(&bob, "bob", "Bob", "editor", false);
	snprintf(title, sizeof title, "Inbox %s", uniq());
	create_episode(&alice, title, ep);
	upload(&alice, ep, "one.txt", NULL);
	upload(&alice, ep, "two.txt", NULL);

	r = http_json("GET", "/notifications/unread-count", alice.tok, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(r->body, "{\"count\":3}");
	resp_free(r);

	/* newest first, one per page */
	r = http_json("GET", "/notifications?limit=1", alice.tok, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 1);
	json_object *n0 = json_object_array_get_idx(items, 0), *v;
	cr_assert(json_object_object_get_ex(n0, "type", &v));
	cr_assert_str_eq(json_object_get_string(v), "file_uploaded");
	cr_assert(json_object_object_get_ex(n0, "title", &v));
	cr_assert_str_eq(json_object_get_string(v), "File uploaded: two.txt");
	cr_assert(json_object_object_get_ex(n0, "message", &v));
	cr_assert_not_null(strstr(json_object_get_string(v), title));
	cr_assert(json_object_object_get_ex(n0, "read_at", &v));
	cr_assert_null(v);
	cr_assert(json_object_object_get_ex(n0, "episode_id", &v));
	cr_assert_str_eq(json_object_get_string(v), ep);
	cr_assert(json_object_object_get_ex(n0, "id", &v));
	snprintf(id0, sizeof id0, "%s", json_object_get_string(v));
	snprintf(cursor, sizeof cursor, "%s", resp_str(r, "next_cursor"));
	cr_assert_neq(cursor[0], '\0');
	resp_free(r);
	snprintf(path, sizeof path, "/notifications?limit=2&cursor=%s", cursor);
	r = http_json("GET", path, alice.tok, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 2);
	cr_assert(json_object_object_get_ex(json_object_array_get_idx(items, 1), "type", &v));
	cr_assert_str_eq(json_object_get_string(v), "episode_created");
	cr_assert(json_object_object_get_ex(json_object_array_get_idx(items, 0), "id", &v));
	snprintf(id1, sizeof id1, "%s", json_object_get_string(v));
	cr_assert(json_object_object_get_ex(r->json, "next_cursor", &v));
	cr_assert_null(v);
	resp_free(r);

	/* read one */
	snprintf(path, sizeof path, "/notifications/%s/read", id0);
	r = http_json("POST", path, alice.tok, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), id0);
	cr_assert_neq(resp_str(r, "read_at")[0], '\0');
	resp_free(r);
	/* another user's is 404, and stays unread for its owner */
	r = http_json("POST", path, bob.tok, NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("GET", "/notifications?unread=true", alice.tok, NULL);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 2);
	resp_free(r);
	r = http_json("GET", "/notifications/unread-count", alice.tok, NULL);
	cr_assert_str_eq(r->body, "{\"count\":2}");
	resp_free(r);

	/* delete: another user's is 404 and changes nothing */
	snprintf(path, sizeof path, "/notifications/%s", id1);
	r = http_json("DELETE", path, bob.tok, NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM notifications WHERE id = $1::uuid", id1, NULL), 1);
	r = http_json("DELETE", path, alice.tok, NULL);
	cr_assert_eq(r->status, 204);
	resp_free(r);
	r = http_json("DELETE", path, alice.tok, NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);

	/* read-all: bob's own are untouched */
	upload(&alice, ep, "three.txt", NULL);
	watch(&bob, ep, "POST", 204);
	upload(&alice, ep, "four.txt", NULL);
	r = http_json("POST", "/notifications/read-all", alice.tok, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(r->body, "{\"updated\":3}");
	resp_free(r);
	r = http_json("POST", "/notifications/read-all", alice.tok, NULL);
	cr_assert_str_eq(r->body, "{\"updated\":0}");
	resp_free(r);
	r = http_json("GET", "/notifications/unread-count", bob.tok, NULL);
	cr_assert_str_eq(r->body, "{\"count\":1}");
	resp_free(r);
}

Test(api, bad_requests)
{
	struct user alice;
	struct resp *r;
	char hdr[64];
	const char *bad[] = { "/notifications?limit=0", "/notifications?limit=201",
		"/notifications?limit=x", "/notifications?unread=yes", "/notifications?cursor=zzz",
		"/notifications?cursor=TnwtMQ", "/notifications?sort=x", NULL };

	user(&alice, "alice", "Alice", "viewer", false);
	for (int i = 0; bad[i] != NULL; i++) {
		r = http_json("GET", bad[i], alice.tok, NULL);
		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
	r = http_json("POST", "/notifications/not-a-uuid/read", alice.tok, NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("POST", "/notifications/" NO_EPISODE "/read", alice.tok, NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("GET", "/notifications", NULL, NULL);
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = http_json("GET", "/notifications/read-all", alice.tok, NULL);
	assert_problem(r, 405, "method_not_allowed");
	cr_assert_str_eq(resp_header(r, "Allow", hdr, sizeof hdr), "POST");
	resp_free(r);
	/* Literal paths are never taken for a notification id: no "delete the
	 * notification called unread-count" (a 400), but a 405. */
	r = http_json("DELETE", "/notifications/unread-count", alice.tok, NULL);
	assert_problem(r, 405, "method_not_allowed");
	cr_assert_str_eq(resp_header(r, "Allow", hdr, sizeof hdr), "GET, HEAD");
	resp_free(r);
	r = http_json("DELETE", "/notifications/read-all", alice.tok, NULL);
	assert_problem(r, 405, "method_not_allowed");
	cr_assert_str_eq(resp_header(r, "Allow", hdr, sizeof hdr), "POST");
	resp_free(r);
	/* Actions without input refuse fields by name (API.md: unknown JSON
	 * fields are 400); an empty object is no input. */
	r = http_json("POST", "/notifications/read-all", alice.tok, "{\"before\":\"now\"}");
	assert_problem(r, 400, "validation_failed");
	cr_assert_not_null(strstr(r->body, "before"), "%s", r->body);
	resp_free(r);
	r = http_json("POST", "/notifications/" NO_EPISODE "/read", alice.tok, "{\"x\":1}");
	assert_problem(r, 400, "validation_failed");
	resp_free(r);
	r = http_json("POST", "/notifications/read-all", alice.tok, "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	r = http_json("POST", "/notifications/read-all", alice.tok, "[1]");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
}

Test(api, me)
{
	struct user zoe;
	struct resp *r;
	char err[256], *tok;

	user(&zoe, "zoe", "Zoë", "editor", true);
	r = http_json("GET", "/me", zoe.tok, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), zoe.id);
	cr_assert_str_eq(resp_str(r, "name"), "Zoë");
	cr_assert_str_eq(resp_str(r, "email"), zoe.email);
	cr_assert_str_eq(resp_str(r, "role"), "editor");
	resp_free(r);
	tok = eccr_auth_mint(test_config(), "nobody-special", NULL, NULL, NULL, 3600, time(NULL),
	    err, sizeof err);
	cr_assert_not_null(tok, "%s", err);
	r = http_json("GET", "/me", tok, NULL);
	cr_assert_str_eq(r->body,
	    "{\"id\":\"nobody-special\",\"name\":null,\"email\":null,\"role\":\"viewer\"}");
	resp_free(r);
	free(tok);
}

Test(api, preferences)
{
	struct user u;
	struct resp *r;

	user(&u, "pat", "Pat", "viewer", true);
	r = http_json("GET", "/me/preferences", u.tok, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(r->body, "{\"email_notifications\":true,\"muted_types\":[]}");
	resp_free(r);
	/* PUT replaces the keys it names */
	r = http_json("PUT", "/me/preferences", u.tok,
	    "{\"muted_types\":[\"job_created\",\"episode_created\",\"job_created\"]}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(r->body,
	    "{\"email_notifications\" : true, \"muted_types\" : [\"episode_created\",\"job_created\"]}");
	resp_free(r);
	r = http_json("PUT", "/me/preferences", u.tok, "{\"email_notifications\":false}");
	cr_assert_str_eq(r->body,
	    "{\"email_notifications\" : false, \"muted_types\" : [\"episode_created\",\"job_created\"]}");
	resp_free(r);
	r = http_json("GET", "/me/preferences", u.tok, NULL);
	cr_assert_str_eq(r->body,
	    "{\"email_notifications\" : false, \"muted_types\" : [\"episode_created\",\"job_created\"]}");
	resp_free(r);
	/* API.md's own example: a type the default notifications.types leaves
	 * out may be muted all the same (it may be listed tomorrow). */
	r = http_json("PUT", "/me/preferences", u.tok, "{\"muted_types\":[\"episode_updated\"]}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(r->body,
	    "{\"email_notifications\" : false, \"muted_types\" : [\"episode_updated\"]}");
	resp_free(r);
	r = http_json("PUT", "/me/preferences", u.tok,
	    "{\"muted_types\":[\"episode_created\",\"job_created\"]}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);

	/* validation: every refusal names its field and stores nothing */
	const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"muted_types\":[\"episode_exploded\"]}", "muted_types" },
		{ "{\"muted_types\":[\"notification_created\"]}", "muted_types" },
		{ "{\"muted_types\":[\"presence_joined\"]}", "muted_types" },  /* transient */
		{ "{\"muted_types\":\"file_uploaded\"}", "muted_types" },
		{ "{\"muted_types\":[1]}", "muted_types" },
		{ "{\"email_notifications\":\"yes\"}", "email_notifications" },
		{ "{\"colour\":\"blue\"}", "colour" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_object *errs, *f;

		r = http_json("PUT", "/me/preferences", u.tok, bad[i].body);
		assert_problem(r, 400, "validation_failed");
		cr_assert(json_object_object_get_ex(r->json, "errors", &errs), "%s", r->body);
		cr_assert(json_object_object_get_ex(json_object_array_get_idx(errs, 0), "field", &f));
		cr_assert_str_eq(json_object_get_string(f), bad[i].field, "%s", r->body);
		resp_free(r);
	}
	r = http_json("PUT", "/me/preferences", u.tok, "[]");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("GET", "/me/preferences", u.tok, NULL);
	cr_assert_str_eq(r->body,
	    "{\"email_notifications\" : false, \"muted_types\" : [\"episode_created\",\"job_created\"]}");
	resp_free(r);
}

Test(api, watch_and_unwatch)
{
	struct user ed, viewer;
	char ep[37], title[128], path[256];
	struct resp *r;

	user(&ed, "ed", "Ed", "editor", false);
	user(&viewer, "vic", "Vic", "viewer", false);
	snprintf(title, sizeof title, "Watch %s", uniq());
	create_episode(&ed, title, ep);
	/* the creator watches from creation */
	cr_assert_eq(db_count("SELECT count(*) FROM episode_watchers WHERE episode_id = $1::uuid"
	    " AND user_id = $2", ep, ed.id, NULL), 1);
	watch(&ed, ep, "DELETE", 204);
	watch(&ed, ep, "DELETE", 204);           /* idempotent */
	cr_assert_eq(db_count("SELECT count(*) FROM episode_watchers WHERE episode_id = $1::uuid",
	    ep, NULL), 0);
	watch(&ed, ep, "POST", 204);
	watch(&ed, ep, "POST", 204);
	cr_assert_eq(db_count("SELECT count(*) FROM episode_watchers WHERE episode_id = $1::uuid",
	    ep, NULL), 1);
	watch(&viewer, ep, "POST", 403);
	watch(&ed, NO_EPISODE, "POST", 404);
	watch(&ed, NO_EPISODE, "DELETE", 404);
	watch(&ed, "nope", "POST", 400);
	snprintf(path, sizeof path, "/episodes/%s/watch", ep);
	r = http_json("POST", path, ed.tok, "{\"quietly\":true}");
	assert_problem(r, 400, "validation_failed");
	resp_free(r);
}

Test(api, deleting_an_episode_tells_its_watchers)
{
	struct user ed, bob, admin;
	char ep[37], title[128], path[256];
	struct resp *r;

	user(&ed, "ed", "Ed", "editor", false);
	user(&bob, "bob", "Bob", "editor", false);
	user(&admin, "adm", "Adm", "admin", false);
	snprintf(title, sizeof title, "Doomed %s", uniq());
	create_episode(&ed, title, ep);
	watch(&bob, ep, "POST", 204);
	snprintf(path, sizeof path, "/episodes/%s", ep);
	r = http_json("DELETE", path, admin.tok, NULL);
	cr_assert_eq(r->status, 204);
	resp_free(r);
	cr_assert_eq(notes(&ed, "episode_deleted", ep), 1);
	cr_assert_eq(notes(&bob, "episode_deleted", ep), 1);
	cr_assert_eq(notes(&admin, "episode_deleted", ep), 1);
	cr_assert_eq(db_count("SELECT count(*) FROM notifications WHERE resource_id = $1"
	    " AND type = 'episode_deleted' AND title = $2", ep,
	    (snprintf(path, sizeof path, "Episode deleted: %s", title), path), NULL), 3);
	/* one notification_created event per row, for its recipient only */
	cr_assert_eq(db_count("SELECT count(*) FROM events e JOIN notifications n"
	    " ON n.id::text = e.resource_id WHERE e.type = 'notification_created'"
	    " AND n.resource_id = $1 AND n.type = 'episode_deleted' AND e.episode_id IS NULL"
	    " AND e.data->>'user_id' = n.user_id", ep, NULL), 3);
	cr_assert_eq(db_count("SELECT count(*) FROM episode_watchers WHERE episode_id = $1::uuid",
	    ep, NULL), 0);
}

/* notification_created events are delivered in the same pass as the
 * change that caused them (the dispatcher takes events by caused_by), not
 * left to the worker's sweep after outbox.grace_ms: one pass marks its
 * events with one timestamp. */
Test(api, notification_events_go_out_with_their_change)
{
	struct user ed;
	char ep[37], title[128];
	const char *sql = "SELECT count(*) FROM events n JOIN events e ON e.id = n.caused_by"
	    " WHERE e.resource_id = $1 AND e.type = 'episode_created'"
	    " AND n.type = 'notification_created' AND n.delivered_at = e.delivered_at";
	long same = 0;

	user(&ed, "ed", "Ed", "editor", false);
	snprintf(title, sizeof title, "Prompt %s", uniq());
	create_episode(&ed, title, ep);
	for (int i = 0; i < 50 && (same = db_count(sql, ep, NULL)) != 1; i++)
		usleep(100000);
	cr_assert_eq(same, 1);
}

/* ------------------------------------------------------------ announcements */

/* The user exists for ECCR once they acted: storing preferences is acting. */
static void seen(const struct user *u, const char *prefs)
{
	put_prefs(u, prefs != NULL ? prefs : "{}");
}

/* POST /notifications as u; returns the response. */
static struct resp *announce(const struct user *u, const char *json)
{
	return http_json("POST", "/notifications", u->tok, json);
}

static long announcements_of(const struct user *u, const char *title)
{
	return db_count("SELECT count(*) FROM notifications WHERE user_id = $1"
	    " AND type = 'announcement' AND title = $2", u->id, title, NULL);
}

static long unread_count(const struct user *u)
{
	struct resp *r = http_json("GET", "/notifications/unread-count", u->tok, NULL);
	json_object *v;
	long n;

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "count", &v));
	n = (long)json_object_get_int64(v);
	resp_free(r);
	return n;
}

Test(announce, reaches_exactly_its_recipients_inbox_room_and_mail)
{
	struct user adm, alice, bob, carol;
	char title[128], body[1024], want[512], *m[4], *ev;
	struct resp *r;
	json_object *items, *n0, *v;

	user(&adm, "adm", "Ada Admin", "admin", true);
	user(&alice, "alice", "Alice", "viewer", true);
	user(&bob, "bob", "Bob", "editor", true);
	user(&carol, "carol", "Carol", "editor", true);
	seen(&adm, NULL);
	seen(&alice, NULL);
	seen(&bob, "{\"email_notifications\":false}");
	seen(&carol, NULL);
	cr_assert_eq(unread_count(&alice), 0);
	snprintf(title, sizeof title, "Maintenance %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\",\"message\":\"Saturday 06:00 UTC.\\n\\n"
	    "Save your work first.\",\"recipients\":[\"%s\",\"%s\",\"%s\"]}", title, alice.id,
	    bob.id, adm.id);
	r = announce(&adm, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(r->body, "{\"created\":3}");
	resp_free(r);

	/* in-app: exactly the three named, the admin too since named */
	cr_assert_eq(announcements_of(&alice, title), 1);
	cr_assert_eq(announcements_of(&bob, title), 1);
	cr_assert_eq(announcements_of(&adm, title), 1);
	cr_assert_eq(announcements_of(&carol, title), 0);
	cr_assert_eq(unread_count(&alice), 1);
	r = http_json("GET", "/notifications", alice.tok, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 1);
	n0 = json_object_array_get_idx(items, 0);
	cr_assert(json_object_object_get_ex(n0, "type", &v));
	cr_assert_str_eq(json_object_get_string(v), "announcement");
	cr_assert(json_object_object_get_ex(n0, "title", &v));
	cr_assert_str_eq(json_object_get_string(v), title);
	cr_assert(json_object_object_get_ex(n0, "message", &v));
	cr_assert_str_eq(json_object_get_string(v), "Saturday 06:00 UTC.\n\nSave your work first.");
	cr_assert(json_object_object_get_ex(n0, "resource_type", &v));
	cr_assert_str_eq(json_object_get_string(v), "announcement");
	cr_assert(json_object_object_get_ex(n0, "expires_at", &v));
	cr_assert_null(v);
	resp_free(r);

	/* one announcement event; one notification_created per recipient,
	 * caused by it, for that recipient's room (user_id) */
	ev = db_scalar("SELECT id::text FROM events WHERE type = 'announcement'"
	    " AND data->>'title' = $1 AND actor_id = $2", title, adm.id, NULL);
	cr_assert_not_null(ev);
	cr_assert_eq(db_count("SELECT count(*) FROM events e JOIN notifications n"
	    " ON n.id::text = e.resource_id WHERE e.type = 'notification_created'"
	    " AND e.caused_by = $1::bigint AND e.data->>'user_id' = n.user_id"
	    " AND e.episode_id IS NULL AND n.event_id = $1::bigint", ev, NULL), 3);
	/* delivered with it, by the dispatcher of the request */
	cr_assert_eq(db_wait("SELECT count(*) FROM events WHERE (id = $1::bigint OR"
	    " caused_by = $1::bigint) AND delivered_at IS NOT NULL", ev, 4), 4);
	/* audited, and found by its title */
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE event_id = $1::bigint"
	    " AND action = 'CREATE' AND resource_type = 'announcement'", ev, 1), 1);
	cr_assert_eq(db_count("SELECT count(*) FROM activity_logs WHERE event_id = $1::bigint"
	    " AND subject = $2 AND search @@ websearch_to_tsquery('simple', $2)", ev, title,
	    NULL), 1);

	/* e-mail: alice only; bob turned e-mail off, the admin acted, carol
	 * was not named */
	cr_assert_eq(wait_mails(alice.email, 1, 20), 1);
	cr_assert_eq(mails_to(alice.email, m, 4), 1);
	snprintf(want, sizeof want, "[ECCR] Announcement: %s", title);
	cr_assert_str_eq(header(m[0], "Subject"), want);
	cr_assert_not_null(strstr(m[0], "\r\n\r\nSaturday 06:00 UTC.\r\n\r\nSave your work first.\r\n"),
	    "%s", m[0]);
	cr_assert_not_null(strstr(m[0], "Who: Ada Admin"), "%s", m[0]);
	cr_assert_not_null(strstr(m[0], "an administrator sent this announcement"), "%s", m[0]);
	snprintf(want, sizeof want, "Link: %s/notifications\r\n", getenv("ECCR_TEST_URL"));
	cr_assert_not_null(strstr(m[0], want), "%s", m[0]);
	free_all(m, 1);
	sleep(1);
	cr_assert_eq(mails_to(bob.email, NULL, 0), 0);
	cr_assert_eq(mails_to(adm.email, NULL, 0), 0);
	cr_assert_eq(mails_to(carol.email, NULL, 0), 0);
	free(ev);
}

Test(announce, all_reaches_every_known_user_but_those_who_muted_it)
{
	struct user adm, a, b, quiet;
	char title[128], body[512];
	long known, created;
	struct resp *r;
	json_object *v;

	user(&adm, "adm", "Adm", "admin", false);
	user(&a, "ua", "A", "viewer", false);
	user(&b, "ub", "B", "viewer", false);
	user(&quiet, "quiet", "Quiet", "viewer", true);
	seen(&a, NULL);
	seen(&b, NULL);
	seen(&quiet, "{\"muted_types\":[\"announcement\"]}");
	seen(&adm, NULL);
	snprintf(title, sizeof title, "Everyone %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\",\"recipients\":\"all\"}", title);
	known = db_count("SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM"
	    " user_preferences p WHERE p.user_id = u.id AND 'announcement' = ANY (p.muted_types))",
	    NULL);
	r = announce(&adm, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "created", &v));
	created = (long)json_object_get_int64(v);
	resp_free(r);
	cr_assert_eq(created, known);
	cr_assert_eq(db_count("SELECT count(*) FROM notifications WHERE type = 'announcement'"
	    " AND title = $1", title, NULL), known);
	cr_assert_eq(db_count("SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM"
	    " notifications n WHERE n.user_id = u.id AND n.title = $1)", title, NULL), 1);
	cr_assert_eq(announcements_of(&a, title), 1);
	cr_assert_eq(announcements_of(&b, title), 1);
	cr_assert_eq(announcements_of(&adm, title), 1);
	cr_assert_eq(announcements_of(&quiet, title), 0);
	sleep(1);
	cr_assert_eq(mails_to(quiet.email, NULL, 0), 0);
}

Test(announce, expired_ones_are_no_longer_listed_counted_or_touched)
{
	struct user adm, u;
	char title[128], body[512], until[32], path[128], *id;
	time_t at = time(NULL) + 3;
	struct tm tm;
	struct resp *r;
	int i;

	user(&adm, "adm", "Adm", "admin", false);
	user(&u, "reader", "Reader", "viewer", false);
	seen(&u, NULL);
	gmtime_r(&at, &tm);
	strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(title, sizeof title, "Brief %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\",\"message\":\"soon gone\","
	    "\"recipients\":[\"%s\"],\"expires_at\":\"%s\"}", title, u.id, until);
	r = announce(&adm, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(r->body, "{\"created\":1}");
	resp_free(r);
	/* a lasting one beside it */
	snprintf(body, sizeof body, "{\"title\":\"Lasting %s\",\"recipients\":[\"%s\"]}",
	    uniq(), u.id);
	r = announce(&adm, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
	id = db_scalar("SELECT id::text FROM notifications WHERE title = $1", title, NULL);
	cr_assert_not_null(id);
	cr_assert_eq(unread_count(&u), 2);
	r = http_json("GET", "/notifications", u.tok, NULL);
	cr_assert_not_null(strstr(r->body, title));
	snprintf(body, sizeof body, "\"%.19s.000Z\"", until);
	cr_assert_not_null(strstr(r->body, body), "%s", r->body);
	resp_free(r);

	/* expiry, within a bound */
	for (i = 0; i < 100 && unread_count(&u) != 1; i++)
		usleep(100000);
	cr_assert_eq(unread_count(&u), 1);
	r = http_json("GET", "/notifications", u.tok, NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_null(strstr(r->body, title), "%s", r->body);
	resp_free(r);
	snprintf(path, sizeof path, "/notifications/%s/read", id);
	r = http_json("POST", path, u.tok, NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("POST", "/notifications/read-all", u.tok, NULL);
	cr_assert_str_eq(r->body, "{\"updated\":1}");     /* the lasting one only */
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM notifications WHERE id = $1::uuid"
	    " AND read_at IS NULL", id, NULL), 1);
	snprintf(path, sizeof path, "/notifications/%s", id);
	r = http_json("DELETE", path, u.tok, NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	free(id);
}

Test(announce, refused_to_non_admins_and_for_bad_input)
{
	struct user adm, ed, alice;
	char body[8192], *before;
	struct resp *r;
	json_object *errs, *f, *msg;

	user(&adm, "adm", "Adm", "admin", false);
	user(&ed, "ed", "Ed", "editor", false);
	user(&alice, "alice", "Alice", "viewer", false);
	seen(&alice, NULL);
	seen(&ed, NULL);
	before = db_changes();
	snprintf(body, sizeof body, "{\"title\":\"Hi\",\"recipients\":[\"%s\"]}", alice.id);
	r = announce(&ed, body);
	assert_problem(r, 403, "forbidden");
	resp_free(r);

	/* An unknown recipient is named, and nothing is sent to the others. */
	snprintf(body, sizeof body, "{\"title\":\"Hi\",\"recipients\":[\"%s\",\"ghost-%s\"]}",
	    alice.id, uniq());
	r = announce(&adm, body);
	assert_problem(r, 400, "validation_failed");
	cr_assert(json_object_object_get_ex(r->json, "errors", &errs), "%s", r->body);
	cr_assert_eq(json_object_array_length(errs), 1, "%s", r->body);
	cr_assert(json_object_object_get_ex(json_object_array_get_idx(errs, 0), "field", &f));
	cr_assert_str_eq(json_object_get_string(f), "recipients");
	cr_assert(json_object_object_get_ex(json_object_array_get_idx(errs, 0), "message", &msg));
	snprintf(body, sizeof body, "ghost-%s", uniq());
	cr_assert_not_null(strstr(json_object_get_string(msg), body), "%s", r->body);
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM notifications WHERE user_id = $1", alice.id,
	    NULL), 0);

	const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"recipients\":\"all\"}", "title" },
		{ "{\"title\":\"\",\"recipients\":\"all\"}", "title" },
		{ "{\"title\":\"a\\nb\",\"recipients\":\"all\"}", "title" },
		{ "{\"title\":7,\"recipients\":\"all\"}", "title" },
		{ "{\"title\":\"Hi\"}", "recipients" },
		{ "{\"title\":\"Hi\",\"recipients\":[]}", "recipients" },
		{ "{\"title\":\"Hi\",\"recipients\":\"everyone\"}", "recipients" },
		{ "{\"title\":\"Hi\",\"recipients\":[1]}", "recipients" },
		{ "{\"title\":\"Hi\",\"recipients\":[\"\"]}", "recipients" },
		{ "{\"title\":\"Hi\",\"recipients\":\"all\",\"message\":[]}", "message" },
		{ "{\"title\":\"Hi\",\"recipients\":\"all\",\"expires_at\":\"tomorrow\"}",
		  "expires_at" },
		{ "{\"title\":\"Hi\",\"recipients\":\"all\",\"expires_at\":\"2001-01-01T00:00:00Z\"}",
		  "expires_at" },
		{ "{\"title\":\"Hi\",\"recipients\":\"all\",\"expires_at\":\"2030-02-30T00:00:00Z\"}",
		  "expires_at" },
		{ "{\"title\":\"Hi\",\"recipients\":\"all\",\"priority\":1}", "priority" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = announce(&adm, bad[i].body);
		assert_problem(r, 400, "validation_failed");
		cr_assert(json_object_object_get_ex(r->json, "errors", &errs), "%s", r->body);
		cr_assert(json_object_object_get_ex(json_object_array_get_idx(errs, 0), "field", &f));
		cr_assert_str_eq(json_object_get_string(f), bad[i].field, "%s: %s", bad[i].body,
		    r->body);
		resp_free(r);
	}
	/* bounds: title 200 characters, message 5000, 1000 recipients, each once */
	int n = snprintf(body, sizeof body, "{\"recipients\":\"all\",\"title\":\"");
	for (int i = 0; i < 201; i++)
		n += snprintf(body + n, sizeof body - (size_t)n, "\xc3\xa9");
	snprintf(body + n, sizeof body - (size_t)n, "\"}");
	r = announce(&adm, body);
	assert_problem(r, 400, "validation_failed");
	resp_free(r);
	n = snprintf(body, sizeof body, "{\"recipients\":\"all\",\"title\":\"x\",\"message\":\"");
	memset(body + n, 'm', 5001);
	snprintf(body + n + 5001, sizeof body - (size_t)n - 5001, "\"}");
	r = announce(&adm, body);
	assert_problem(r, 400, "validation_failed");
	cr_assert_not_null(strstr(r->body, "message"), "%s", r->body);
	resp_free(r);
	snprintf(body, sizeof body, "{\"title\":\"Hi\",\"recipients\":[\"%s\",\"%s\"]}",
	    alice.id, alice.id);
	r = announce(&adm, body);
	assert_problem(r, 400, "validation_failed");
	cr_assert_not_null(strstr(r->body, "more than once"), "%s", r->body);
	resp_free(r);
	{
		size_t cap = 1001 * 16 + 64, o;
		char *big = malloc(cap);

		o = (size_t)snprintf(big, cap, "{\"title\":\"Hi\",\"recipients\":[");
		for (int i = 0; i < 1001; i++)
			o += (size_t)snprintf(big + o, cap - o, "%s\"u%d\"", i ? "," : "", i);
		snprintf(big + o, cap - o, "]}");
		r = announce(&adm, big);
		assert_problem(r, 400, "validation_failed");
		cr_assert_not_null(strstr(r->body, "1 to 1000"), "%s", r->body);
		resp_free(r);
		free(big);
	}
	r = http_json("POST", "/notifications", adm.tok, "[]");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http("POST", "/notifications", adm.tok, "text/plain", "hi", 2, NULL);
	assert_problem(r, 415, "unsupported_media_type");
	resp_free(r);
	assert_unchanged(before);
	free(before);
	cr_assert_eq(db_count("SELECT count(*) FROM notifications WHERE user_id = $1", alice.id,
	    NULL), 0);
}

Test(announce, announcement_is_a_type_one_may_mute)
{
	struct user u;
	struct resp *r;

	user(&u, "mute", "Mute", "viewer", false);
	r = http_json("PUT", "/me/preferences", u.tok, "{\"muted_types\":[\"announcement\"]}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_not_null(strstr(r->body, "\"announcement\""), "%s", r->body);
	resp_free(r);
}
