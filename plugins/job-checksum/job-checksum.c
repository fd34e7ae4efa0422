/* job-checksum - the "checksum" job type: sha256 and size of a stored
 * file (payload {"file_id": "uuid"}), recorded on the file row and in the
 * job's result.
 *
 * It reads the object from the local backend's directory
 * (storage.local_root) and talks to PostgreSQL with its own connection per
 * run (run() is called from several worker threads at once).
 *
 * [plugin.job-checksum]
 * conninfo =      ; default: database.conninfo */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include <eccr/plugin.h>

#define CHUNK 65536

struct checksum {
	const struct eccr_host *host;
	char *conninfo;
	char *root;
};

static const struct eccr_plugin_option options[] = {
	{ "conninfo", ECCR_OPT_STRING, NULL, 0, 0, "database (default: database.conninfo)" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

static int checksum_init(const struct eccr_host *host, void **state)
{
	struct checksum *c = calloc(1, sizeof *c);
	const char *ci = host->config(host, "conninfo");
	const char *backend = host->core_config(host, "storage.backend");
	const char *root = host->core_config(host, "storage.local_root");

	if (c == NULL)
		return -1;
	if (ci == NULL)
		ci = host->core_config(host, "database.conninfo");
	if (backend != NULL && strcmp(backend, "local") != 0)
		host->log(host, ECCR_PLUGIN_LOG_WARNING, "storage.backend is %s: only local files "
		    "can be checksummed; such jobs will fail", backend);
	c->host = host;
	c->conninfo = strdup(ci ? ci : "");
	c->root = strdup(root ? root : "");
	*state = c;
	return 0;
}

static void checksum_fini(void *state)
{
	struct checksum *c = state;

	free(c->conninfo);
	free(c->root);
	free(c);
}

/* The value of "file_id" in the payload (a UUID: 36 characters of hex and
 * dashes), or false. */
static int payload_file_id(const char *json, char out[37])
{
	const char *p = strstr(json, "\"file_id\"");
	size_t i;

	if (p == NULL)
		return 0;
	p += 9;
	while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '"')
		return 0;
	for (i = 0; i < 36; i++) {
		char ch = p[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
		    (ch == '-' && (i == 8 || i == 13 || i == 18 || i == 23))))
			return 0;
		out[i] = ch;
	}
	out[36] = '\0';
	return p[36] == '"';
}

static int fail(char **error, const char *msg, int rc)
{
	*error = strdup(msg);
	return rc;
}

/* sha256 and size of path; 0, or an errno value. */
static int hash_file(const char *path, const struct eccr_job_ctx *ctx, int64_t total,
    char hex[65], int64_t *size)
{
	unsigned char md[32], *buf = malloc(CHUNK);
	unsigned int mdlen = 0;
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;
	ssize_t n;

	*size = 0;
	if (fd < 0 || buf == NULL || sha == NULL || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1)
		e = fd < 0 ? errno : ENOMEM;
	while (e == 0 && (n = read(fd, buf, CHUNK)) != 0) {
		if (n < 0) {
			e = errno;
			break;
		}
		EVP_DigestUpdate(sha, buf, (size_t)n);
		*size += n;
		if (total > 0)
			ctx->progress(ctx, (int)(*size * 100 / total));
		if (ctx->cancelled(ctx))
			e = ECANCELED;
	}
	if (e == 0 && EVP_DigestFinal_ex(sha, md, &mdlen) == 1)
		for (unsigned i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (fd >= 0)
		close(fd);
	free(buf);
	EVP_MD_CTX_free(sha);
	return e;
}

static int checksum_run(void *state, const struct eccr_job *job, const struct eccr_job_ctx *ctx,
    char **result_json, char **error)
{
	struct checksum *c = state;
	const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char *vals[] = { c->conninfo, "eccr-job-checksum", "5", NULL };
	char id[37], path[4200], hex[65], size[24], buf[256];
	const char *p[3];
	int64_t bytes;
	PGresult *res;
	PGconn *db;
	int e, rc;

	if (!payload_file_id(job->payload_json, id))
		return fail(error, "the payload needs \"file_id\": a file's UUID", ECCR_EMIT_FAIL);
	db = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db) != CONNECTION_OK) {
		PQfinish(db);
		return fail(error, "the database is unavailable", ECCR_EMIT_RETRY);
	}
	p[0] = id;
	res = PQexecParams(db, "SELECT storage_key, size_bytes FROM files WHERE id = $1::uuid"
	    " AND status = 'ready'", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0) {
		rc = PQresultStatus(res) == PGRES_TUPLES_OK ? ECCR_EMIT_FAIL : ECCR_EMIT_RETRY;
		PQclear(res);
		PQfinish(db);
		return fail(error, rc == ECCR_EMIT_FAIL ? "no such ready file" : "the database failed", rc);
	}
	/* The key is "files/<uuid>/<uuid>", made by the host from ids. */
	snprintf(path, sizeof path, "%s/%s", c->root, PQgetvalue(res, 0, 0));
	e = hash_file(path, ctx, strtoll(PQgetvalue(res, 0, 1), NULL, 10), hex, &bytes);
	PQclear(res);
	if (e != 0) {
		PQfinish(db);
		snprintf(buf, sizeof buf, "cannot read the stored file: %s", strerror(e));
		return fail(error, buf, e == ECANCELED || e == ENOENT ? ECCR_EMIT_FAIL : ECCR_EMIT_RETRY);
	}
	snprintf(size, sizeof size, "%lld", (long long)bytes);
	p[1] = hex;
	p[2] = size;
	res = PQexecParams(db, "UPDATE files SET sha256 = $2, size_bytes = $3::bigint, updated_at = now()"
	    " WHERE id = $1::uuid", 3, NULL, p, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? ECCR_EMIT_OK : ECCR_EMIT_RETRY;
	PQclear(res);
	PQfinish(db);
	if (rc != ECCR_EMIT_OK)
		return fail(error, "cannot record the checksum", rc);
	snprintf(buf, sizeof buf, "{\"file_id\":\"%s\",\"sha256\":\"%s\",\"size_bytes\":%lld}", id, hex,
	    (long long)bytes);
	*result_json = strdup(buf);
	return ECCR_EMIT_OK;
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "job-checksum",
	.version = "1.0.0",
	.description = "sha256 and size of a stored file, recorded on the file",
	.kind = ECCR_PLUGIN_JOB,
	.job_type = "checksum",
	.options = options,
	.init = checksum_init,
	.fini = checksum_fini,
	.run = checksum_run,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
