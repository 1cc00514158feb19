/*
 * coolingctl webhook add|list|remove: the endpoints that coolingd pushes a
 * lender's events to (CONTRACT.md v1.2; docs/coolingctl.md). Every argument
 * is checked before the database is touched; add seals the secret with the
 * key of [webhooks] secret_key before it is stored (docs/security.md), and
 * no command ever prints a stored secret.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "db.h"
#include "hex.h"
#include "timeutil.h"
#include "webhook.h"
#include "webhook_key.h"

/* A whole number >= min; false otherwise. */
static bool parse_whole(const char *s, int64_t min, int64_t *out)
{
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return false;
	*out = v;
	return true;
}

/* The secret of --secret-file: its text without one trailing newline. */
static int read_secret_file(struct cli *cli, const char *path, char secret[WEBHOOK_SECRET_BUF])
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return cli_fail(cli, CLI_FAIL, "--secret-file %s: %s", path, strerror(errno));
	char buf[WEBHOOK_SECRET_LEN + 3];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (!webhook_secret_valid(buf))
		return cli_fail(cli, CLI_FAIL,
		                "--secret-file %s: the secret must be 64 lowercase hex characters "
		                "(32 random bytes; make one with openssl rand -hex 32)",
		                path);
	memcpy(secret, buf, WEBHOOK_SECRET_BUF);
	return CLI_OK;
}

int cmd_webhook_add(struct cli *cli, const struct cli_args *a)
{
	const char *lender = cli_opt(cli, a, "lender"), *url = cli_opt(cli, a, "url");
	const char *secret_file = cli_opt(cli, a, "secret-file"),
	           *after_s = cli_opt(cli, a, "after");
	const char *why;
	int64_t after = 0;
	if (lender == NULL)
		return cli_usage(cli, "--lender ID is required");
	if (id_is_dot_segment(lender) || !id_valid(lender))
		return cli_usage(cli, "--lender must be " ID_RULE);
	if (url == NULL)
		return cli_usage(cli, "--url URL is required");
	if (!webhook_url_valid(url, &why))
		return cli_usage(cli, "--url: %s", why);
	if (after_s != NULL && !parse_whole(after_s, 0, &after))
		return cli_usage(cli, "--after must be a sequence number (a whole number >= 0)");

	char secret[WEBHOOK_SECRET_BUF];
	bool generated = secret_file == NULL;
	if (!generated) {
		int rc = read_secret_file(cli, secret_file, secret);
		if (rc != CLI_OK)
			return rc;
	} else if (!webhook_secret_generate(secret)) {
		return cli_fail(cli, CLI_FAIL, "no randomness from the kernel for the secret");
	}
	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	if (cli->webhook_key[0] == '\0')
		return cli_fail(
		    cli, CLI_FAIL,
		    "[webhooks] secret_key is not set: the secret cannot be stored sealed "
		    "(docs/security.md)");
	unsigned char key[WEBHOOK_KEY_LEN], nonce[WEBHOOK_NONCE_LEN], sealed[WEBHOOK_SEALED_LEN];
	char msg[600], sealed_hex[2 * WEBHOOK_SEALED_LEN + 1];
	if (!webhook_key_load(cli->webhook_key, key, msg, sizeof(msg)))
		return cli_fail(cli, CLI_FAIL, "webhooks.secret_key: %s", msg);
	if (!webhook_nonce_generate(nonce) || !webhook_secret_seal(key, nonce, secret, sealed))
		return cli_fail(cli, CLI_FAIL, "sealing the secret failed");
	memset(key, 0, sizeof(key));
	hex_encode(sealed, sizeof(sealed), sealed_hex);

	struct cd_error err;
	cd_error_clear(&err);
	int64_t id;
	if (!db_webhook_add(cli->conn, lender, url, sealed_hex, after, &id, &err))
		return cli_db_fail(cli, &err);
	printf("id: %" PRId64 "\n", id);
	if (generated)
		printf("secret: %s\n", secret);
	memset(secret, 0, sizeof(secret));
	return CLI_OK;
}

static json_t *webhook_json(const PGresult *r, int row)
{
	struct db_webhook_list_row w;
	db_webhook_list_row(r, row, &w);
	char next[TS_BUF];
	if (w.next_attempt_at != TS_NULL)
		ts_format_utc(w.next_attempt_at, next);
	return json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:o,s:o}", "id", (json_int_t)w.id, "lender",
	                 w.lender, "url", w.url, "delivered_seq", (json_int_t)w.delivered_seq,
	                 "events_behind", (json_int_t)w.events_behind, "failures",
	                 (json_int_t)w.failures, "next_attempt_at",
	                 w.next_attempt_at != TS_NULL ? json_string(next) : json_null(),
	                 "last_error", w.last_error ? json_string(w.last_error) : json_null());
}

static void webhook_cells(const PGresult *r, int row, const char **cell, char (*buf)[CLI_TIME_BUF])
{
	struct db_webhook_list_row w;
	db_webhook_list_row(r, row, &w);
	snprintf(buf[0], CLI_TIME_BUF, "%" PRId64, w.id);
	snprintf(buf[3], CLI_TIME_BUF, "%" PRId64, w.delivered_seq);
	snprintf(buf[4], CLI_TIME_BUF, "%" PRId64, w.events_behind);
	snprintf(buf[5], CLI_TIME_BUF, "%" PRId64, w.failures);
	cli_local_time(w.next_attempt_at, false, buf[6]);
	cell[0] = buf[0];
	cell[1] = w.lender;
	cell[2] = w.url;
	cell[3] = buf[3];
	cell[4] = buf[4];
	cell[5] = buf[5];
	cell[6] = buf[6];
	cell[7] = w.last_error ? w.last_error : "-";
}

int cmd_webhook_list(struct cli *cli, const struct cli_args *a)
{
	static const char *const header[] = {
	    "id",       "lender",          "url",       "delivered_seq", "events_behind",
	    "failures", "next_attempt_at", "last_error"};
	static const bool right[] = {true, false, false, true, true, true, false, false};
	static const struct cli_listing webhooks = {
	    .query = db_webhook_list,
	    .json_key = "webhooks",
	    .row_json = webhook_json,
	    .ncols = 8,
	    .header = header,
	    .right = right,
	    .row_cells = webhook_cells,
	    .none = "no webhooks",
	};
	return cli_list(cli, a, &webhooks);
}

int cmd_webhook_remove(struct cli *cli, const struct cli_args *a)
{
	int64_t id;
	if (!parse_whole(a->arg[0], 1, &id))
		return cli_usage(cli, "ID must be a webhook's id (a whole number, as webhook list "
		                      "shows)");
	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	if (!db_webhook_remove(cli->conn, id, &err))
		return cli_db_fail(cli, &err);
	printf("webhook %" PRId64 " removed\n", id);
	return CLI_OK;
}
