/*
 * The read commands through coolingd's HTTP API (--api URL --token-file F),
 * so that compliance staff need an API token and no database login. One
 * request at a time with libcurl's easy interface (a command line tool
 * waits for its answer anyway). HTTPS is always verified: against
 * --cacert, else the configuration's [tls] cert_file. The token is read
 * from a file, never from the command line, where `ps` shows it to every
 * user, and is sent only to the URL given.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "money.h"
#include "names.h"
#include "policy.h"
#include "timeutil.h"

struct cli_api {
	CURL *curl;
	char token[256];
	char cacert[1024]; /* "" for plain HTTP */
	char base[1024];   /* the URL without a trailing '/' */
};

/* Grows a buffer with what libcurl receives. */
struct body_buf {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body_buf *b = arg;
	size_t add = size * n;
	/* an answer of the API is small; a runaway one is cut off */
	if (b->len + add > 64u * 1024 * 1024)
		return 0;
	char *d = realloc(b->data, b->len + add + 1);
	if (d == NULL)
		return 0;
	memcpy(d + b->len, p, add);
	b->data = d;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* The token: the file's first line, its newline dropped. */
static bool read_token(struct cli *cli, char *out, size_t size, int *rc)
{
	FILE *f = fopen(cli->token_file, "r");
	if (f == NULL) {
		*rc = cli_fail(cli, CLI_FAIL, "--token-file: cannot read %s", cli->token_file);
		return false;
	}
	bool got = fgets(out, (int)size, f) != NULL;
	fclose(f);
	if (got)
		out[strcspn(out, "\r\n")] = '\0';
	if (!got || out[0] == '\0') {
		*rc = cli_fail(cli, CLI_FAIL, "--token-file: %s holds no token", cli->token_file);
		return false;
	}
	return true;
}

bool cli_api_setup(struct cli *cli, int *rc)
{
	if (cli->token_file == NULL) {
		*rc = cli_usage(cli, "--api needs --token-file FILE");
		return false;
	}
	bool https = strncasecmp(cli->api_url, "https://", 8) == 0;
	if (!https && strncasecmp(cli->api_url, "http://", 7) != 0) {
		*rc = cli_usage(cli, "--api must be an http:// or https:// URL");
		return false;
	}
	struct config cfg;
	char msg[512];
	if (!config_load(&cfg, cli->config_path, cli->config_is_default, msg, sizeof(msg))) {
		*rc = cli_fail(cli, CLI_FAIL, "configuration: %s", msg);
		return false;
	}
	snprintf(cli->timezone, sizeof(cli->timezone), "%s", cfg.timezone);
	setenv("TZ", cli->timezone, 1);
	tzset();

	struct cli_api *api = calloc(1, sizeof(*api));
	if (api == NULL) {
		*rc = cli_fail(cli, CLI_FAIL, "out of memory");
		return false;
	}
	cli->api = api;
	if (!read_token(cli, api->token, sizeof(api->token), rc))
		return false;
	snprintf(api->base, sizeof(api->base), "%s", cli->api_url);
	size_t n = strlen(api->base);
	while (n > 0 && api->base[n - 1] == '/')
		api->base[--n] = '\0';
	if (https) {
		const char *ca = cli->cacert ? cli->cacert : cfg.tls_cert_file;
		if (ca[0] == '\0') {
			*rc = cli_usage(cli,
			                "--api over HTTPS needs --cacert FILE or [tls] cert_file");
			return false;
		}
		snprintf(api->cacert, sizeof(api->cacert), "%s", ca);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (api->curl = curl_easy_init()) == NULL) {
		*rc = cli_fail(cli, CLI_FAIL, "cannot start libcurl");
		return false;
	}
	return true;
}

void cli_api_free(struct cli *cli)
{
	if (cli->api == NULL)
		return;
	if (cli->api->curl != NULL) {
		curl_easy_cleanup(cli->api->curl);
		curl_global_cleanup();
	}
	/* the token does not outlive its use */
	memset(cli->api->token, 0, sizeof(cli->api->token));
	free(cli->api);
	cli->api = NULL;
}

/* The API's error message of an answer, or the status line's meaning. */
static int http_error(struct cli *cli, long status, const char *body)
{
	json_error_t jerr;
	json_t *o = body ? json_loads(body, 0, &jerr) : NULL;
	const char *message =
	    json_string_value(json_object_get(json_object_get(o, "error"), "message"));
	int rc =
	    cli_fail(cli, CLI_FAIL, "HTTP %ld: %s", status, message ? message : "(no message)");
	json_decref(o);
	return rc;
}

json_t *cli_api_call(struct cli *cli, const char *method, const char *path, json_t *body, int *rc)
{
	struct cli_api *api = cli->api;
	CURL *c = api->curl;
	char url[2048], auth[300];
	snprintf(url, sizeof(url), "%s%s", api->base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api->token);
	char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct curl_slist *h = curl_slist_append(NULL, auth);
	h = curl_slist_append(h, "Accept: application/json");
	if (payload != NULL)
		h = curl_slist_append(h, "Content-Type: application/json");
	struct body_buf in = {0};
	char errbuf[CURL_ERROR_SIZE] = "";

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (payload != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &in);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	/* no redirect: the token goes to the URL given and nowhere else */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (api->cacert[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, api->cacert);

	CURLcode res = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	free(payload);

	json_t *out = NULL;
	if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE) {
		/* reached, but not the daemon it claims to be: not a retry */
		*rc = cli_fail(cli, CLI_FAIL, "the API at %s is not verified: %s", api->base,
		               errbuf[0] ? errbuf : curl_easy_strerror(res));
	} else if (res != CURLE_OK) {
		*rc = cli_fail(cli, CLI_UNAVAILABLE, "the API at %s cannot be reached: %s",
		               api->base, errbuf[0] ? errbuf : curl_easy_strerror(res));
	} else if (status < 200 || status > 299) {
		*rc = http_error(cli, status, in.data);
	} else {
		json_error_t jerr;
		out = in.data ? json_loads(in.data, 0, &jerr) : NULL;
		if (out == NULL)
			*rc = cli_fail(cli, CLI_FAIL, "the API's answer is not JSON");
	}
	free(in.data);
	return out;
}

/* ---- the API's loan, back into the struct the printers take ---- */

static bool j_str(const json_t *o, const char *k, char *out, size_t size)
{
	const char *s = json_string_value(json_object_get(o, k));
	if (s == NULL || strlen(s) >= size)
		return false;
	snprintf(out, size, "%s", s);
	return true;
}

static bool j_money(const json_t *o, const char *k, int64_t *tiyn)
{
	const char *s = json_string_value(json_object_get(o, k)), *why = NULL;
	return s != NULL && money_parse(s, tiyn, &why);
}

/* A timestamp or null (TS_NULL). */
static bool j_ts(const json_t *o, const char *k, int64_t *us)
{
	json_t *v = json_object_get(o, k);
	*us = TS_NULL;
	if (json_is_null(v))
		return true;
	const char *why = NULL;
	return json_is_string(v) && ts_parse_rfc3339(json_string_value(v), us, &why);
}

static bool j_bool(const json_t *o, const char *k, bool *b)
{
	json_t *v = json_object_get(o, k);
	*b = json_is_true(v);
	return json_is_boolean(v);
}

/* A name of t, or null (index 0: none) when nullable. */
static bool j_name(const json_t *o, const char *k, const struct name_table *t, bool nullable,
                   int *index)
{
	json_t *v = json_object_get(o, k);
	*index = 0;
	if (nullable && json_is_null(v))
		return true;
	return json_is_string(v) && name_lookup(t, json_string_value(v), index);
}

bool cli_loan_from_json(const json_t *o, struct loan *l, struct loan_view *v)
{
	memset(l, 0, sizeof(*l));
	memset(v, 0, sizeof(*v));
	bool ok = j_str(o, "lender", l->lender, sizeof(l->lender)) &&
	          j_str(o, "loan_id", l->loan_id, sizeof(l->loan_id)) &&
	          j_str(o, "borrower_iin", l->borrower_iin, sizeof(l->borrower_iin)) &&
	          j_str(o, "policy", l->policy, sizeof(l->policy)) &&
	          j_money(o, "amount", &l->amount_tiyn) &&
	          j_money(o, "threshold_amount", &l->threshold_tiyn) &&
	          j_money(o, "aggregated_amount", &l->aggregated_tiyn) &&
	          j_bool(o, "secured", &l->secured) &&
	          j_bool(o, "first_time_borrower", &l->first_time_borrower) &&
	          j_bool(o, "cooling_required", &l->cooling_required) &&
	          j_bool(o, "in_person_required", &l->in_person_required) &&
	          j_bool(o, "extra_confirmation_required", &l->extra_confirmation_required) &&
	          j_bool(o, "reconfirmation_required", &l->reconfirmation_required) &&
	          j_bool(o, "voluntary_refusal_active", &l->voluntary_refusal_active) &&
	          j_bool(o, "fraud_claim_open", &l->fraud_claim_open) &&
	          j_ts(o, "approved_at", &l->approved_at) &&
	          j_ts(o, "consent_at", &l->consent_at) &&
	          j_ts(o, "cooling_ends_at", &l->cooling_ends_at) &&
	          j_ts(o, "in_person_verified_at", &l->in_person_verified_at) &&
	          j_ts(o, "disbursed_at", &l->disbursed_at) &&
	          j_ts(o, "cancelled_at", &l->cancelled_at) &&
	          j_ts(o, "extra_confirmed_at", &l->extra_confirmed_at) &&
	          j_ts(o, "reconfirmed_at", &l->reconfirmed_at) &&
	          j_ts(o, "earliest_disbursement_at", &v->earliest_disbursement_at);
	if (!ok)
		return false;
	int kind, product, exemption, rule;
	if (!j_name(o, "lender_kind", &lender_kind_names, false, &kind) ||
	    !j_name(o, "product", &product_names, false, &product) ||
	    !j_name(o, "exemption", &exemption_names, true, &exemption) ||
	    !j_name(o, "rule", &rule_names, true, &rule))
		return false;
	l->lender_kind = kind;
	l->product = (enum product)product;
	l->exemption = (enum exemption)exemption;
	l->rule = (enum rule)rule;
	/* absent from a daemon older than the field: none */
	l->trusted_person_confirmed_at = TS_NULL;
	if (json_object_get(o, "trusted_person_confirmed_at") != NULL &&
	    !j_ts(o, "trusted_person_confirmed_at", &l->trusted_person_confirmed_at))
		return false;
	/* absent from a daemon older than the fields: none asked, none made */
	l->control_call_required = json_is_true(json_object_get(o, "control_call_required"));
	l->control_called_at = TS_NULL;
	if (json_object_get(o, "control_called_at") != NULL &&
	    !j_ts(o, "control_called_at", &l->control_called_at))
		return false;
	const char *officer = json_string_value(json_object_get(o, "control_call_officer_id"));
	snprintf(l->control_call_officer_id, sizeof(l->control_call_officer_id), "%s",
	         officer ? officer : "");
	const char *currency = json_string_value(json_object_get(o, "currency"));
	snprintf(l->currency, sizeof(l->currency), "%s", currency ? currency : "");
	const char *method = json_string_value(json_object_get(o, "extra_confirmation_method"));
	snprintf(l->extra_confirmation_method, sizeof(l->extra_confirmation_method), "%s",
	         method ? method : "");
	/* absent from a daemon older than the field: none shown */
	method = json_string_value(json_object_get(o, "reconfirmation_method"));
	snprintf(l->reconfirmation_method, sizeof(l->reconfirmation_method), "%s",
	         method ? method : "");
	json_t *period = json_object_get(o, "cooling_period_seconds");
	l->cooling_period_s = json_is_integer(period) ? json_integer_value(period) : 0;
	/* absent from a daemon older than the field: a period with a length */
	const char *zone = json_string_value(json_object_get(o, "cooling_calendar_zone"));
	snprintf(l->cooling_calendar_zone, sizeof(l->cooling_calendar_zone), "%s",
	         zone ? zone : "");
	l->mrp_tenge = json_integer_value(json_object_get(o, "mrp"));
	json_t *age = json_object_get(o, "borrower_age");
	l->borrower_age = json_is_integer(age) ? json_integer_value(age) : -1;
	const char *ch = json_string_value(json_object_get(o, "channel"));
	if (ch == NULL)
		return false;
	l->channel =
	    strcmp(ch, channel_name(CHANNEL_BRANCH)) == 0 ? CHANNEL_BRANCH : CHANNEL_ONLINE;

	const char *status = json_string_value(json_object_get(o, "status"));
	bool known = false;
	for (int s = 0; s <= STATUS_ELIGIBLE && !known; s++)
		if (status != NULL && strcmp(status, status_name((enum loan_status)s)) == 0) {
			v->status = (enum loan_status)s;
			known = true;
		}
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(o, "blockers"), i, b)
	{
		for (int k = 0; k < BLOCKER__COUNT; k++)
			if (json_is_string(b) &&
			    strcmp(json_string_value(b), blocker_name((enum blocker)k)) == 0)
				v->blockers |= 1u << k;
	}
	json_t *reasons = json_object_get(o, "in_person_reasons");
	l->in_person_reasons = json_is_array(reasons) ? 0 : TS_NULL;
	json_array_foreach(reasons, i, b)
	{
		int k;
		if (json_is_string(b) &&
		    name_lookup(&in_person_reason_names, json_string_value(b), &k))
			l->in_person_reasons |= 1 << k;
	}
	return known;
}

/* ---- the API's policy (GET /v1/policy), back into its table ---- */

bool cli_policy_from_json(const json_t *o, struct policy_table *t)
{
	memset(t, 0, sizeof(*t));
	t->profile = json_string_value(json_object_get(o, "profile"));
	if (t->profile == NULL || !policy_profile_fixed(t->profile, t))
		return false;
	/* absent from a daemon older than the fields: KZT in MRP, all it knew */
	t->currency = json_string_value(json_object_get(o, "currency"));
	t->unit = json_string_value(json_object_get(o, "unit"));
	if (t->currency == NULL)
		t->currency = "KZT";
	if (t->unit == NULL)
		t->unit = "MRP";
	t->calendar_zone = json_string_value(json_object_get(o, "calendar_zone"));
	/* the daemon's words for its law, when it says them */
	const char *source = json_string_value(json_object_get(o, "source"));
	if (source != NULL)
		t->source = source;
	json_t *agg = json_object_get(o, "aggregation");
	int index = 0;
	t->aggregates = json_is_string(agg);
	if (t->aggregates && !name_lookup(&aggregation_names, json_string_value(agg), &index))
		return false;
	t->aggregation = index;
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(o, "rules"), i, b)
	{
		if (t->nbands == POLICY_MAX_BANDS)
			return false;
		struct policy_table_band *band = &t->bands[t->nbands++];
		json_t *keys = json_object_get(b, "keys");
		json_t *up_to = json_object_get(b, "up_to_mrp");
		int rule = 0, kind = -1;
		if (!j_name(b, "rule", &rule_names, false, &rule) ||
		    (!json_is_null(json_object_get(b, "lender_kind")) &&
		     !j_name(b, "lender_kind", &lender_kind_names, false, &kind)))
			return false;
		band->rule = (enum rule)rule;
		band->lender_kind = kind;
		band->above_mrp = json_integer_value(json_object_get(b, "above_mrp"));
		band->up_to_mrp = json_is_integer(up_to) ? json_integer_value(up_to) : -1;
		band->period_s = json_integer_value(json_object_get(b, "period_seconds"));
		band->until_next_working_day = json_is_null(json_object_get(b, "period_seconds"));
		band->above_inclusive = json_is_true(json_object_get(b, "above_inclusive"));
		band->up_to_exclusive = json_is_true(json_object_get(b, "up_to_exclusive"));
		band->above_key = json_string_value(json_object_get(keys, "above_mrp"));
		band->up_to_key = json_string_value(json_object_get(keys, "up_to_mrp"));
		band->period_key = json_string_value(json_object_get(keys, "period_seconds"));
		band->above_inclusive_key =
		    json_string_value(json_object_get(keys, "above_inclusive"));
		band->up_to_inclusive_key =
		    json_string_value(json_object_get(keys, "up_to_exclusive"));
		/* absent from a daemon older than the field: none */
		band->control_call = json_is_true(json_object_get(b, "control_call"));
		/* a daemon older than the bounds' keys read them "above" and
		 * names none; a band of every amount has no bound, one until the
		 * next working day no period */
		if ((band->above_key == NULL && band->above_mrp != 0) ||
		    (band->period_key == NULL && !band->until_next_working_day))
			return false;
	}
	json_t *x;
	json_array_foreach(json_object_get(o, "exemptions"), i, x)
	{
		int e = 0;
		if (!j_name(x, "exemption", &exemption_names, false, &e))
			return false;
		t->exemptions |= 1u << e;
		if (e == EXEMPT_CARD_LIMIT)
			t->card_limit_mrp = json_integer_value(json_object_get(x, "up_to_mrp"));
	}
	json_t *extra = json_object_get(o, "extra_confirmation");
	t->age_rule = json_is_object(extra);
	if (t->age_rule) {
		t->under_age = json_integer_value(json_object_get(extra, "under_age"));
		t->from_age = json_integer_value(json_object_get(extra, "from_age"));
	}
	/* absent from a daemon older than the rule: none */
	json_t *cross = json_object_get(o, "cross_lender");
	t->cross_lender_window_s = -1;
	if (json_is_object(cross)) {
		t->cross_lender_window_s =
		    json_integer_value(json_object_get(cross, "window_seconds"));
		t->cross_lender_window_key = json_string_value(
		    json_object_get(json_object_get(cross, "keys"), "window_seconds"));
		if (t->cross_lender_window_key == NULL)
			return false;
	}
	return true;
}

bool cli_policy_schedule_from_json(const json_t *o, struct policy_schedule_table *t)
{
	memset(t, 0, sizeof(*t));
	json_t *profiles = json_object_get(o, "profiles");
	if (!json_is_array(profiles)) {
		t->n = t->nprofiles = 1;
		t->schedule[0].from_days = POLICY_NO_DATE;
		if (!cli_policy_from_json(o, &t->profiles[0]))
			return false;
		t->schedule[0].profile = t->profiles[0].profile;
		return true;
	}
	size_t i;
	json_t *x;
	json_array_foreach(profiles, i, x)
	{
		if (t->nprofiles == POLICY_MAX_SCHEDULE ||
		    !cli_policy_from_json(x, &t->profiles[t->nprofiles++]))
			return false;
	}
	json_array_foreach(json_object_get(o, "schedule"), i, x)
	{
		if (t->n == POLICY_MAX_SCHEDULE)
			return false;
		const char *name = json_string_value(json_object_get(x, "profile"));
		const char *from = json_string_value(json_object_get(x, "from"));
		long long y;
		unsigned m, d;
		t->schedule[t->n].from_days = POLICY_NO_DATE;
		if (from != NULL) {
			if (!date_valid_iso(from) || sscanf(from, "%4lld-%2u-%2u", &y, &m, &d) != 3)
				return false;
			t->schedule[t->n].from_days = days_from_civil(y, m, d);
		}
		for (int k = 0; k < t->nprofiles && name != NULL; k++)
			if (strcmp(t->profiles[k].profile, name) == 0)
				t->schedule[t->n].profile = t->profiles[k].profile;
		if (t->schedule[t->n++].profile == NULL)
			return false;
	}
	return t->n > 0;
}
