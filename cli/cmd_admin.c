/*
 * The operator commands of coolingctl: migrations, lenders, API clients and
 * the MRP table. Each validates its arguments before it touches the
 * database (a usage error never needs a connection), then calls one
 * function of lib/db/sync.c, which writes the change and its audit event in one
 * transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "codec.h"
#include "config.h"
#include "db.h"
#include "names.h"
#include "timeutil.h"
#include "token.h"

#define NAME_MAX_CHARS 200

int cmd_migrate(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	int rc;
	if (!cli_connect(cli, false, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	int applied = 0;
	if (!db_migrate(cli->conn, NULL, &applied, &err)) {
		if (applied > 0) {
			size_t n = strlen(err.message);
			snprintf(err.message + n, sizeof(err.message) - n,
			         " (%d migration(s) applied before this one)", applied);
		}
		return cli_db_fail(cli, &err);
	}
	printf("applied %d migration(s); schema version %d\n", applied,
	       db_schema_version(cli->conn));
	return CLI_OK;
}

/* A display name: 1-NAME_MAX_CHARS characters of UTF-8, no control
 * characters. */
static bool display_name_valid(const char *s, const char **why)
{
	enum text_fault fault;
	if (text_valid(s, NAME_MAX_CHARS, &fault))
		return true;
	*why = fault == TEXT_NOT_UTF8  ? "not UTF-8"
	       : fault == TEXT_CONTROL ? "control characters are not allowed"
	                               : "must be 1-200 characters";
	return false;
}

int cmd_lender_add(struct cli *cli, const struct cli_args *a)
{
	const char *id = a->arg[0];
	const char *kind = cli_opt(cli, a, "kind");
	const char *name = cli_opt(cli, a, "name");
	const char *why;

	if (id_is_dot_segment(id)) /* HTTP clients drop such path segments */
		return cli_usage(cli, "ID must not be \".\" or \"..\"");
	if (!id_valid(id))
		return cli_usage(cli, "ID must be " ID_RULE);
	char list[64];
	int k;
	if (kind == NULL)
		return cli_usage(cli, "--kind %s is required",
		                 names_join(&lender_kind_names, "|", "|", list, sizeof(list)));
	if (!name_lookup(&lender_kind_names, kind, &k))
		return cli_usage(cli, "--kind must be %s",
		                 names_join(&lender_kind_names, ", ", " or ", list, sizeof(list)));
	if (name != NULL && !display_name_valid(name, &why))
		return cli_usage(cli, "--name: %s", why);

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	if (!db_lender_add(cli->conn, id, kind, name, &err))
		return cli_db_fail(cli, &err);
	printf("lender %s added (%s)\n", id, kind);
	return CLI_OK;
}

int cmd_client_add(struct cli *cli, const struct cli_args *a)
{
	const char *name = cli_opt(cli, a, "name");
	const char *role = cli_opt(cli, a, "role");
	const char *lender = cli_opt(cli, a, "lender");
	const char *expires_in = cli_opt(cli, a, "expires-in");

	if (name == NULL)
		return cli_usage(cli, "--name NAME is required");
	if (!id_valid(name))
		return cli_usage(cli, "--name must be " ID_RULE);
	char list[64];
	if (role == NULL)
		return cli_usage(cli, "--role %s is required",
		                 names_join(&role_names, "|", "|", list, sizeof(list)));
	enum role parsed = role_parse(role);
	bool lender_role = parsed == ROLE_LENDER;
	if (parsed == ROLE_NONE)
		return cli_usage(cli, "--role must be %s",
		                 names_join(&role_names, ", ", " or ", list, sizeof(list)));
	if (lender_role && lender == NULL)
		return cli_usage(cli, "--lender ID is required for the lender role");
	if (!lender_role && lender != NULL)
		return cli_usage(cli, "--lender is only for the lender role");
	if (lender != NULL && !id_valid(lender))
		return cli_usage(cli, "--lender must be " ID_RULE);
	int64_t expires_in_s = 0;
	const char *why;
	if (expires_in != NULL && !duration_parse(expires_in, &expires_in_s, &why))
		return cli_usage(cli, "--expires-in: %s", why);
	if (expires_in != NULL && expires_in_s == 0)
		return cli_usage(cli, "--expires-in must be more than 0");

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	char token[TOKEN_BUF];
	struct cd_error err;
	cd_error_clear(&err);
	if (!db_client_add(cli->conn, name, role, lender, expires_in_s, token, sizeof(token), &err))
		return cli_db_fail(cli, &err);

	/* The token alone on stdout, so that it can be piped into a secret
	 * store; it exists nowhere else. */
	printf("%s\n", token);
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_fail(cli, CLI_FAIL,
		                "the token could not be written; revoke client %s and add it "
		                "again",
		                name);
	if (isatty(STDERR_FILENO))
		fprintf(stderr,
		        "coolingctl: client %s added (role %s); store the token now, it "
		        "is shown only this once\n",
		        name, role);
	return CLI_OK;
}

int cmd_client_revoke(struct cli *cli, const struct cli_args *a)
{
	const char *name = a->arg[0];
	if (!id_valid(name))
		return cli_usage(cli, "NAME must be " ID_RULE);

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	if (!db_client_revoke(cli->conn, name, &err))
		return cli_db_fail(cli, &err);
	printf("client %s revoked\n", name);
	return CLI_OK;
}

/* A time for --json: UTC with Z, or null. */
static json_t *json_time(int64_t usec)
{
	if (usec == TS_NULL)
		return json_null();
	char ts[TS_BUF];
	ts_format_utc(usec, ts);
	return json_string(ts);
}

static json_t *json_text(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *client_json(const PGresult *r, int row)
{
	struct db_client_row k;
	db_client_row(r, row, &k);
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "name", k.name, "role", k.role,
	                 "lender", json_text(k.lender), "created_at", json_time(k.created_at),
	                 "expires_at", json_time(k.expires_at), "last_used_at",
	                 json_time(k.last_used_at), "revoked_at", json_time(k.revoked_at));
}

static void client_cells(const PGresult *r, int row, const char **cell, char (*buf)[CLI_TIME_BUF])
{
	struct db_client_row k;
	db_client_row(r, row, &k);
	cell[0] = k.name;
	cell[1] = k.role;
	cell[2] = k.lender ? k.lender : "-";
	int64_t times[] = {k.created_at, k.expires_at, k.last_used_at, k.revoked_at};
	for (int c = 3; c < 7; c++) {
		cli_local_time(times[c - 3], false, buf[c]);
		cell[c] = buf[c];
	}
}

int cmd_client_list(struct cli *cli, const struct cli_args *a)
{
	static const char *const header[] = {
	    "name", "role", "lender", "created_at", "expires_at", "last_used_at", "revoked_at"};
	static const bool right[] = {false, false, false, false, false, false, false};
	static const struct cli_listing clients = {
	    .query = db_client_list,
	    .json_key = "clients",
	    .row_json = client_json,
	    .ncols = 7,
	    .header = header,
	    .right = right,
	    .row_cells = client_cells,
	    .none = "no API clients",
	};
	return cli_list(cli, a, &clients);
}

static json_t *lender_json(const PGresult *r, int row)
{
	struct db_lender_row l;
	db_lender_row(r, row, &l);
	return json_pack("{s:s, s:s, s:o, s:o}", "lender", l.lender, "kind", l.kind, "name",
	                 json_text(l.name), "created_at", json_time(l.created_at));
}

static void lender_cells(const PGresult *r, int row, const char **cell, char (*buf)[CLI_TIME_BUF])
{
	struct db_lender_row l;
	db_lender_row(r, row, &l);
	cli_local_time(l.created_at, false, buf[3]);
	cell[0] = l.lender;
	cell[1] = l.kind;
	cell[2] = l.name ? l.name : "-";
	cell[3] = buf[3];
}

int cmd_lender_list(struct cli *cli, const struct cli_args *a)
{
	static const char *const header[] = {"lender", "kind", "name", "created_at"};
	static const bool right[] = {false, false, false, false};
	static const struct cli_listing lenders = {
	    .query = db_lender_list,
	    .json_key = "lenders",
	    .row_json = lender_json,
	    .ncols = 4,
	    .header = header,
	    .right = right,
	    .row_cells = lender_cells,
	    .none = "no lenders",
	};
	return cli_list(cli, a, &lenders);
}

/* A positive whole number of tenge without leading zeros; the column is a
 * PostgreSQL integer. */
static bool tenge_parse(const char *s, int64_t *tenge)
{
	int64_t v = 0;
	if (s[0] < '1' || s[0] > '9')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
		if (v > INT32_MAX)
			return false;
	}
	*tenge = v;
	return true;
}

int cmd_mrp_set(struct cli *cli, const struct cli_args *a)
{
	const char *date = a->arg[0];
	int64_t tenge;
	if (!date_valid_iso(date))
		return cli_usage(cli, "the date must be a real date written YYYY-MM-DD");
	if (!tenge_parse(a->arg[1], &tenge))
		return cli_usage(cli, "TENGE must be a positive whole number (at most %d)",
		                 INT32_MAX);

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	if (!db_mrp_set(cli->conn, date, tenge, &err))
		return cli_db_fail(cli, &err);
	printf("MRP from %s: %lld tenge\n", date, (long long)tenge);
	return CLI_OK;
}

static json_t *mrp_json(const PGresult *r, int row)
{
	struct db_mrp_row m;
	db_mrp_row(r, row, &m);
	return json_pack("{s:s, s:I}", "valid_from", m.valid_from, "tenge", (json_int_t)m.tenge);
}

static void mrp_cells(const PGresult *r, int row, const char **cell, char (*buf)[CLI_TIME_BUF])
{
	struct db_mrp_row m;
	db_mrp_row(r, row, &m);
	snprintf(buf[1], CLI_TIME_BUF, "%" PRId64, m.tenge);
	cell[0] = m.valid_from;
	cell[1] = buf[1];
}

int cmd_mrp_list(struct cli *cli, const struct cli_args *a)
{
	static const char *const header[] = {"valid_from", "tenge"};
	static const bool right[] = {false, true};
	static const struct cli_listing mrp = {
	    .query = db_mrp_list,
	    .json_key = "mrp",
	    .row_json = mrp_json,
	    .ncols = 2,
	    .header = header,
	    .right = right,
	    .row_cells = mrp_cells,
	    .none = "the MRP table is empty",
	};
	return cli_list(cli, a, &mrp);
}

/* The running daemon's policy (GET /v1/policy), printed as from the
 * configuration. */
static int policy_show_api(struct cli *cli, bool json)
{
	int rc;
	if (!cli_api_setup(cli, &rc))
		return rc;
	json_t *o = cli_api_call(cli, "GET", "/v1/policy", NULL, &rc);
	if (o == NULL)
		return rc;
	struct policy_schedule_table t;
	if (!cli_policy_schedule_from_json(o, &t)) {
		json_decref(o);
		return cli_fail(cli, CLI_FAIL,
		                "the API's answer is not a policy this coolingctl reads");
	}
	if (json)
		return cli_print_json(cli, o);
	char *text = codec_policy_schedule_text(&t);
	json_decref(o);
	if (text != NULL)
		fputs(text, stdout);
	free(text);
	return CLI_OK;
}

int cmd_policy_show(struct cli *cli, const struct cli_args *a)
{
	bool json = cli_opt(cli, a, "json") != NULL;
	if (cli->api_url != NULL)
		return policy_show_api(cli, json);
	struct config cfg;
	char msg[512];
	/* the daemon's own reading of the configuration, so that what is shown
	 * is what it would enforce; no database needed */
	if (!config_load(&cfg, cli->config_path, cli->config_is_default, msg, sizeof(msg)))
		return cli_fail(cli, CLI_FAIL, "configuration: %s", msg);
	struct policy_schedule s;
	struct policy_schedule_table t;
	config_schedule(&cfg, &s);
	policy_schedule_table_of(&s, &t);
	if (json)
		return cli_print_json(cli, codec_policy_schedule_json(&t));
	char *text = codec_policy_schedule_text(&t);
	if (text != NULL)
		fputs(text, stdout);
	free(text);
	return CLI_OK;
}
