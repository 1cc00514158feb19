/*
 * coolingctl stats decisions: the disbursement decisions per UTC hour or
 * per local day of [policy] timezone, as GET /v1/stats/decisions counts
 * them (the same statement and the same JSON, codec_buckets_add()), with
 * a total row. It only reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "db.h"
#include "timeutil.h"

/* "consent_missing 1, cooling_period_active 2", or "-". */
static void by_blocker_text(json_t *by, char *out, size_t size)
{
	size_t w = 0;
	out[0] = '\0';
	const char *k;
	json_t *v;
	json_object_foreach(by, k, v)
	{
		w += (size_t)snprintf(out + w, w < size ? size - w : 0, "%s%s %lld", w ? ", " : "",
		                      k, (long long)json_integer_value(v));
	}
	if (w == 0)
		snprintf(out, size, "-");
}

/* Adds every member of from to the same member of into. */
static void add_counts(json_t *into, json_t *from)
{
	const char *k;
	json_t *v;
	json_object_foreach(from, k, v)
	{
		json_int_t have = json_integer_value(json_object_get(into, k));
		json_object_set_new(into, k, json_integer(have + json_integer_value(v)));
	}
}

static void print_buckets(const struct cli *cli, json_t *buckets)
{
	char start_head[96];
	snprintf(start_head, sizeof(start_head), "start (%s)", cli->timezone);
	const char *const header[] = {start_head, "allowed", "refused", "refused by blocker"};
	static const bool right[] = {false, true, true, false};
	struct cli_table t;
	cli_table_init(&t, 4, header, right);
	json_t *total = json_object();
	json_int_t allowed = 0, refused = 0;
	size_t i;
	json_t *b;
	json_array_foreach(buckets, i, b)
	{
		int64_t us = TS_NULL;
		const char *why = NULL;
		ts_parse_rfc3339(json_string_value(json_object_get(b, "start")), &us, &why);
		char start[CLI_TIME_BUF], na[24], nr[24], by[1024];
		cli_local_time(us, false, start);
		json_int_t a = json_integer_value(json_object_get(b, "allowed"));
		json_int_t r = json_integer_value(json_object_get(b, "refused"));
		allowed += a;
		refused += r;
		snprintf(na, sizeof(na), "%lld", (long long)a);
		snprintf(nr, sizeof(nr), "%lld", (long long)r);
		json_t *by_blocker = json_object_get(b, "refused_by_blocker");
		add_counts(total, by_blocker);
		by_blocker_text(by_blocker, by, sizeof(by));
		const char *row[] = {start, na, nr, by};
		cli_table_add(&t, row);
	}
	char na[24], nr[24], by[1024];
	snprintf(na, sizeof(na), "%lld", (long long)allowed);
	snprintf(nr, sizeof(nr), "%lld", (long long)refused);
	by_blocker_text(total, by, sizeof(by));
	const char *row[] = {"total", na, nr, by};
	cli_table_add(&t, row);
	json_decref(total);
	cli_table_print(&t);
	cli_table_free(&t);
}

static bool time_opt(struct cli *cli, const struct cli_args *a, const char *name, int64_t *us,
                     int *rc)
{
	const char *s = cli_opt(cli, a, name), *why = NULL;
	if (s == NULL) {
		*rc = cli_usage(cli, "--%s TS is required (RFC 3339 with an offset)", name);
		return false;
	}
	if (!ts_parse_rfc3339(s, us, &why)) {
		*rc = cli_usage(cli, "--%s: %s", name, why ? why : "not an RFC 3339 timestamp");
		return false;
	}
	return true;
}

/* GET /v1/stats/decisions: the buckets, or NULL with *rc. The times go
 * in UTC ("Z"), which needs no escaping in a query string. */
static json_t *buckets_api(struct cli *cli, int64_t from, int64_t to, const char *bucket,
                           const char *lender, int *rc)
{
	if (!cli_api_setup(cli, rc))
		return NULL;
	char f[TS_BUF], t[TS_BUF], path[512];
	ts_format_utc(from, f);
	ts_format_utc(to, t);
	snprintf(path, sizeof(path), "/v1/stats/decisions?from=%s&to=%s&bucket=%s%s%s", f, t,
	         bucket, lender ? "&lender=" : "", lender ? lender : "");
	json_t *o = cli_api_call(cli, "GET", path, NULL, rc);
	if (o == NULL)
		return NULL;
	json_t *buckets = json_incref(json_object_get(o, "buckets"));
	json_decref(o);
	if (!json_is_array(buckets)) {
		json_decref(buckets);
		*rc = cli_fail(cli, CLI_FAIL, "the API's answer holds no buckets");
		return NULL;
	}
	return buckets;
}

int cmd_stats_decisions(struct cli *cli, const struct cli_args *a)
{
	const char *bucket = cli_opt(cli, a, "bucket"), *lender = cli_opt(cli, a, "lender");
	bool json = cli_opt(cli, a, "json") != NULL;
	int64_t from, to;
	int rc;
	if (!time_opt(cli, a, "from", &from, &rc) || !time_opt(cli, a, "to", &to, &rc))
		return rc;
	if (from >= to)
		return cli_usage(cli, "--to must be later than --from");
	if (bucket == NULL)
		bucket = "hour";
	if (strcmp(bucket, "hour") != 0 && strcmp(bucket, "day") != 0)
		return cli_usage(cli, "--bucket must be hour or day");
	if (lender != NULL && !id_valid(lender))
		return cli_usage(cli, "--lender must be " ID_RULE);

	json_t *buckets;
	if (cli->api_url != NULL) {
		if ((buckets = buckets_api(cli, from, to, bucket, lender, &rc)) == NULL)
			return rc;
	} else {
		if (!cli_connect(cli, true, &rc))
			return rc;
		struct cd_error err;
		cd_error_clear(&err);
		PGresult *r =
		    db_decision_stats(cli->conn, from, to, bucket, cli->timezone, lender, &err);
		if (r == NULL)
			return cli_db_fail(cli, &err);
		if (db_decision_buckets_of(r) > DB_STATS_MAX_BUCKETS) {
			PQclear(r);
			return cli_usage(cli, "--to: at most %d buckets from --from to --to",
			                 DB_STATS_MAX_BUCKETS);
		}
		buckets = json_array();
		struct decision_count c;
		for (int i = 0; db_decision_row(r, i, &c); i++)
			codec_buckets_add(buckets, &c);
		PQclear(r);
	}
	if (json)
		return cli_print_json(cli, json_pack("{s:o}", "buckets", buckets));
	print_buckets(cli, buckets);
	json_decref(buckets);
	return CLI_OK;
}
