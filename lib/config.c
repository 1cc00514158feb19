/*
 * The parameter table and its loader. Adding a key is one row in params[]:
 * its type, its flags (CF_RELOAD, CF_SECRET, CF_FROM_PROFILE), its
 * default as text, its range, and for a key with its own rule a check or
 * the name table of its values. No code below names a key.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "names.h"
#include "text.h"
#include "timeutil.h"

enum param_type {
	P_STRING, /* with .check, or .names: one of them */
	P_BOOL,
	P_INT,
	P_DURATION,
	P_LISTEN, /* host:port into .host and .port; empty when its default is, or CF_EMPTY_OFF */
	P_ENUM    /* one of .names, stored as its index */
};

/* What a key is, besides its type. */
enum param_flags {
	CF_RELOAD = 1 << 0, /* takes effect on SIGHUP; else a change needs a restart */
	CF_SECRET = 1 << 1, /* a connection string: its password masked when shown */
	/* empty means "the profile's": stored as -1, shown as the value in
	 * force, and put into the policy by config_policy() */
	CF_FROM_PROFILE = 1 << 2,
	/* a P_LISTEN that may be set empty, which switches its listener off,
	 * though its default is an address */
	CF_EMPTY_OFF = 1 << 3,
	/* a v1 key that only a profile taking v1 overrides accepts
	 * (policy_takes_v1_overrides): set under another, even to its
	 * default, it is refused */
	CF_V1_OVERRIDE = 1 << 4,
	/* a P_BOOL of struct policy too (.policy_offset), put there by
	 * config_policy() */
	CF_POLICY_BOOL = 1 << 5,
};

struct param {
	const char *section;
	const char *key;
	enum param_type type;
	unsigned flags;
	size_t offset;
	size_t size; /* for strings */
	const char *def;
	int64_t min, max;               /* for integers and durations */
	const struct name_table *names; /* P_ENUM, or a P_STRING that is one of them */
	/* a P_STRING's own check; false with *why */
	bool (*check)(const char *value, const char **why);
	size_t host, port;    /* P_LISTEN: where the parts go */
	size_t host_size;     /* P_LISTEN */
	size_t policy_offset; /* CF_FROM_PROFILE (int64_t), CF_POLICY_BOOL: in struct policy */
};

#define KEY(s, k, t) .section = #s, .key = #k, .type = t
#define STR(f)       .offset = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)
#define NUM(f)       .offset = offsetof(struct config, f)
#define LISTEN(f)                                                                                  \
	STR(f), .host = offsetof(struct config, f##_host),                                         \
	        .host_size = sizeof(((struct config *)0)->f##_host),                               \
	        .port = offsetof(struct config, f##_port)
#define PROFILE(f) .flags = CF_RELOAD | CF_FROM_PROFILE, .policy_offset = offsetof(struct policy, f)
#define PROFILE_V1(f)                                                                              \
	.flags = CF_RELOAD | CF_FROM_PROFILE | CF_V1_OVERRIDE,                                     \
	.policy_offset = offsetof(struct policy, f)
/* A bound's reading (policy.*_threshold_inclusive): off "above", on "from". */
#define BOUND(f)                                                                                   \
	.flags = CF_RELOAD | CF_POLICY_BOOL, NUM(f), .policy_offset = offsetof(struct policy, f),  \
	.def = "off"
#define BOUND_V1(f)                                                                                \
	.flags = CF_RELOAD | CF_POLICY_BOOL | CF_V1_OVERRIDE, NUM(f),                              \
	.policy_offset = offsetof(struct policy, f), .def = "off"

static bool timezone_valid(const char *tz, const char **why);
static bool profile_known(const char *name, const char **why);

/* clang-format off */
static const struct param params[] = {
    {KEY(server, listen, P_LISTEN), LISTEN(listen), .def = "127.0.0.1:8080"},
    {KEY(server, threads, P_INT), NUM(threads), .def = "0", .min = 0, .max = 256},
    {KEY(server, max_body_bytes, P_INT), NUM(max_body_bytes), .def = "65536", .min = 64,
     .max = 64 << 20},
    {KEY(server, request_timeout, P_DURATION), NUM(request_timeout_s), .def = "10s", .min = 1,
     .max = 3600},
    {KEY(server, max_connections, P_INT), NUM(max_connections), .def = "10000", .min = 1,
     .max = 1000000},
    {KEY(server, max_header_bytes, P_INT), NUM(max_header_bytes), .def = "16384", .min = 1024,
     .max = 1 << 20},
    {KEY(server, auth_failures_per_minute, P_INT), NUM(auth_failures_per_minute), .def = "30",
     .min = 0, .max = 100000},
    {KEY(server, auth_failure_window, P_DURATION), NUM(auth_failure_window_s), .def = "60s",
     .min = 1, .max = 86400},
    {KEY(database, url, P_STRING), .flags = CF_SECRET, STR(database_url),
     .def = "postgresql:///coolingd"},
    {KEY(database, read_url, P_STRING), .flags = CF_SECRET, STR(database_read_url), .def = ""},
    {KEY(database, pool_size, P_INT), NUM(pool_size), .def = "8", .min = 1, .max = 1024},
    {KEY(database, health_timeout, P_DURATION), NUM(database_health_timeout_s), .def = "2s",
     .min = 1, .max = 600},
    {KEY(policy, profile, P_STRING), .flags = CF_RELOAD, STR(profile), .def = policy_default_profile,
     .check = profile_known},
    {KEY(policy, cooling_period, P_DURATION), PROFILE_V1(cooling_period_s),
     NUM(cooling_period_s), .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, threshold_mrp, P_INT), PROFILE_V1(threshold_mrp),
     NUM(threshold_mrp), .def = "", .min = 0, .max = 1000000},
    {KEY(policy, threshold_inclusive, P_BOOL), BOUND_V1(threshold_inclusive)},
    {KEY(policy, aggregation, P_ENUM), PROFILE(aggregation), NUM(aggregation), .def = "",
     .names = &aggregation_names},
    {KEY(policy, bank_threshold_mrp, P_INT), PROFILE(bank_threshold_mrp),
     NUM(bank_threshold_mrp), .def = "", .min = 0, .max = 1000000},
    {KEY(policy, bank_threshold_inclusive, P_BOOL), BOUND(bank_threshold_inclusive)},
    {KEY(policy, bank_period, P_DURATION), PROFILE(bank_period_s), NUM(bank_period_s),
     .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, bank_long_threshold_mrp, P_INT), PROFILE(bank_long_threshold_mrp),
     NUM(bank_long_threshold_mrp), .def = "", .min = 0, .max = 1000000},
    {KEY(policy, bank_long_threshold_inclusive, P_BOOL), BOUND(bank_long_threshold_inclusive)},
    {KEY(policy, bank_long_period, P_DURATION), PROFILE(bank_long_period_s),
     NUM(bank_long_period_s), .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, mfo_threshold_mrp, P_INT), PROFILE(mfo_threshold_mrp), NUM(mfo_threshold_mrp),
     .def = "", .min = 0, .max = 1000000},
    {KEY(policy, mfo_threshold_inclusive, P_BOOL), BOUND(mfo_threshold_inclusive)},
    {KEY(policy, mfo_period, P_DURATION), PROFILE(mfo_period_s), NUM(mfo_period_s), .def = "",
     .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, card_limit_exempt_mrp, P_INT), PROFILE(card_limit_exempt_mrp),
     NUM(card_limit_exempt_mrp), .def = "", .min = 0, .max = 1000000},
    {KEY(policy, extra_confirmation_under_age, P_INT), PROFILE(extra_confirmation_under_age),
     NUM(extra_confirmation_under_age), .def = "", .min = 0, .max = 200},
    {KEY(policy, extra_confirmation_from_age, P_INT), PROFILE(extra_confirmation_from_age),
     NUM(extra_confirmation_from_age), .def = "", .min = 0, .max = 200},
    {KEY(policy, ru_short_above, P_INT), PROFILE(ru_short_above), NUM(ru_short_above),
     .def = "", .min = 0, .max = 999999999999},
    {KEY(policy, ru_long_above, P_INT), PROFILE(ru_long_above), NUM(ru_long_above), .def = "",
     .min = 0, .max = 999999999999},
    {KEY(policy, ru_short_period, P_DURATION), PROFILE(ru_short_period_s),
     NUM(ru_short_period_s), .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, ru_long_period, P_DURATION), PROFILE(ru_long_period_s), NUM(ru_long_period_s),
     .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, kg_band1_above, P_INT), PROFILE(kg_band1_above), NUM(kg_band1_above),
     .def = "", .min = 0, .max = 999999999999},
    {KEY(policy, kg_band2_above, P_INT), PROFILE(kg_band2_above), NUM(kg_band2_above),
     .def = "", .min = 0, .max = 999999999999},
    {KEY(policy, kg_band3_above, P_INT), PROFILE(kg_band3_above), NUM(kg_band3_above),
     .def = "", .min = 0, .max = 999999999999},
    {KEY(policy, kg_band1_period, P_DURATION), PROFILE(kg_band1_period_s),
     NUM(kg_band1_period_s), .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, kg_band2_period, P_DURATION), PROFILE(kg_band2_period_s),
     NUM(kg_band2_period_s), .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, kg_band3_period, P_DURATION), PROFILE(kg_band3_period_s),
     NUM(kg_band3_period_s), .def = "", .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, uz_window, P_DURATION), PROFILE(uz_window_s), NUM(uz_window_s), .def = "",
     .min = 0, .max = 3650 * 86400LL},
    {KEY(policy, timezone, P_STRING), .flags = CF_RELOAD, STR(timezone), .def = "Asia/Almaty",
     .check = timezone_valid},
    {KEY(policy, max_clock_skew, P_DURATION), .flags = CF_RELOAD, NUM(max_clock_skew_s),
     .def = "2m", .min = 0, .max = 36500 * 86400LL},
    {KEY(policy, max_backdate, P_DURATION), .flags = CF_RELOAD, NUM(max_backdate_s), .def = "1h",
     .min = 0, .max = 36500 * 86400LL},
    {KEY(policy, allow_below_legal_minimum, P_BOOL), .flags = CF_RELOAD,
     NUM(allow_below_legal_minimum), .def = "off"},
    {KEY(policy, payee_required, P_BOOL), .flags = CF_RELOAD, NUM(payee_required), .def = "off"},
    {KEY(policy, payout_to_borrower_only, P_BOOL), .flags = CF_RELOAD,
     NUM(payout_to_borrower_only), .def = "off"},
    {KEY(policy, prior_victim_days, P_INT), .flags = CF_RELOAD, NUM(prior_victim_days),
     .def = "365", .min = 0, .max = 36500},
    {KEY(policy, burst_lenders, P_INT), .flags = CF_RELOAD, NUM(burst_lenders), .def = "0",
     .min = 0, .max = 1000},
    {KEY(policy, burst_window, P_DURATION), .flags = CF_RELOAD, NUM(burst_window_s),
     .def = "1h", .min = 1, .max = 30 * 86400LL},
    {KEY(tls, listen, P_LISTEN), LISTEN(tls_listen), .def = ""},
    {KEY(tls, cert_file, P_STRING), .flags = CF_RELOAD, STR(tls_cert_file), .def = ""},
    {KEY(tls, key_file, P_STRING), .flags = CF_RELOAD, STR(tls_key_file), .def = ""},
    {KEY(tls, client_ca_file, P_STRING), .flags = CF_RELOAD,
     STR(tls_client_ca_file), .def = ""},
    {KEY(tls, min_version, P_STRING), .flags = CF_RELOAD, STR(tls_min_version), .def = "TLSv1.2",
     .names = &tls_version_names},
    {KEY(metrics, listen, P_LISTEN), .flags = CF_EMPTY_OFF, LISTEN(metrics_listen),
     .def = "127.0.0.1:9464"},
    {KEY(audit, seal, P_BOOL), NUM(audit_seal), .def = "on"},
    {KEY(audit, signing_key, P_STRING), STR(audit_signing_key), .def = ""},
    {KEY(webhooks, secret_key, P_STRING), STR(webhook_secret_key), .def = ""},
    {KEY(log, level, P_ENUM), .flags = CF_RELOAD, NUM(log_level), .def = "info",
     .names = &log_level_names},
    {KEY(log, format, P_ENUM), .flags = CF_RELOAD, NUM(log_format), .def = "json",
     .names = &log_format_names},
};
/* clang-format on */

#define NPARAMS (sizeof(params) / sizeof(params[0]))
_Static_assert(NPARAMS <= 64, "config.explicit_keys has a bit per key");

static bool parse_listen(const char *s, char *host, size_t host_size, int *port)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s)
		return false;
	int64_t p;
	if (!int_parse(colon + 1, &p) || p < 1 || p > 65535)
		return false;
	size_t hl = (size_t)(colon - s);
	const char *h = s;
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1]:8080 */
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= host_size)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return true;
}

static bool timezone_valid(const char *tz, const char **why)
{
	/* An IANA name: letters, digits, '/', '_', '-', '+'; checked against
	 * the system's zone files after loading (timezone_on_system) and the
	 * database's own list when the daemon first uses it. */
	if (strlen(tz) > 63) {
		*why = "too long";
		return false;
	}
	*why = "not a time zone name";
	if (*tz == '\0')
		return false;
	for (const char *p = tz; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '/' && *p != '_' && *p != '-' && *p != '+')
			return false;
	return true;
}

/* A profile, or a schedule of known profiles (policy_schedule_parse()). */
static bool profile_known(const char *text, const char **why)
{
	struct policy_schedule s;
	return policy_schedule_parse(text, &s, why);
}

static bool set_param(struct config *c, const struct param *pm, const char *value, char *msg,
                      size_t msg_size)
{
	char *base = (char *)c + pm->offset;
	const char *why = NULL;
	char one_of[128];
	int64_t v;
	int index;

	switch (pm->type) {
	case P_STRING:
		if (pm->check != NULL && !pm->check(value, &why))
			break;
		if (pm->names != NULL && !name_lookup(pm->names, value, &index))
			break;
		if (strlen(value) >= pm->size) {
			why = "too long";
			break;
		}
		snprintf(base, pm->size, "%s", value);
		return true;
	case P_BOOL:
		if (strcmp(value, "on") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
			*(bool *)base = true;
		else if (strcmp(value, "off") == 0 || strcmp(value, "false") == 0 ||
		         strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
			*(bool *)base = false;
		else {
			why = "must be on or off";
			break;
		}
		return true;
	case P_LISTEN: {
		char *host = (char *)c + pm->host;
		int *port = (int *)((char *)c + pm->port);
		bool may_be_empty = pm->def[0] == '\0' || (pm->flags & CF_EMPTY_OFF);
		if (*value == '\0' && may_be_empty) { /* no such listener */
			host[0] = '\0';
			*port = 0;
		} else if (strlen(value) >= pm->size ||
		           !parse_listen(value, host, pm->host_size, port)) {
			why = may_be_empty ? "must be host:port or empty" : "must be host:port";
			break;
		}
		snprintf(base, pm->size, "%s", value);
		return true;
	}
	case P_INT:
	case P_DURATION:
		if (*value == '\0' && (pm->flags & CF_FROM_PROFILE)) { /* "use the profile's" */
			*(int64_t *)base = -1;
			return true;
		}
		if (pm->type == P_INT ? !int_parse(value, &v) : !duration_parse(value, &v, &why)) {
			if (why == NULL)
				why = "must be a whole number";
			break;
		}
		if (v < pm->min || v > pm->max) {
			why = "out of range";
			break;
		}
		*(int64_t *)base = v;
		return true;
	case P_ENUM:
		if (pm->flags & CF_FROM_PROFILE) { /* an int64_t; empty: the profile's */
			if (*value == '\0') {
				*(int64_t *)base = -1;
				return true;
			}
			if (name_lookup(pm->names, value, &index)) {
				*(int64_t *)base = index;
				return true;
			}
			break;
		}
		if (name_lookup(pm->names, value, &index)) {
			*(int *)base = index;
			return true;
		}
		break;
	}
	if (why == NULL && pm->names != NULL) { /* not one of the names */
		char list[96];
		snprintf(one_of, sizeof(one_of), "must be %s",
		         names_join(pm->names, ", ", " or ", list, sizeof(list)));
		why = one_of;
	}
	snprintf(msg, msg_size, "%s.%s: %s: \"%.100s\"", pm->section, pm->key, why, value);
	return false;
}

static const struct param *find_param(const char *section, const char *key)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (strcmp(params[i].section, section) == 0 && strcmp(params[i].key, key) == 0)
			return &params[i];
	return NULL;
}

struct ini_ctx {
	struct config *c;
	char *msg;
	size_t msg_size;
	bool failed;
};

static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	if (ctx->failed)
		return 0;
	const struct param *pm = find_param(section, name);
	if (pm == NULL) {
		snprintf(ctx->msg, ctx->msg_size, "%s.%s: unknown key", section, name);
		ctx->failed = true;
		return 0;
	}
	if (!set_param(ctx->c, pm, value, ctx->msg, ctx->msg_size)) {
		ctx->failed = true;
		return 0;
	}
	ctx->c->explicit_keys |= UINT64_C(1) << (pm - params);
	return 1;
}

/* "COOLINGD_POLICY_COOLING_PERIOD" for policy.cooling_period. */
static void env_name(const struct param *pm, char *out, size_t size)
{
	int n = snprintf(out, size, "COOLINGD_%s_%s", pm->section, pm->key);
	for (int j = 0; j < n && (size_t)j < size; j++)
		out[j] = (char)toupper((unsigned char)out[j]);
}

extern char **environ;

/*
 * A COOLINGD_<SECTION>_<KEY> variable whose section is one of the table's
 * but whose key is none is a typo that would otherwise be silently ignored
 * (COOLINGD_POLICY_COOLINGPERIOD=2m), so it is refused as an unknown key in
 * the file is. Variables whose second word is no section (COOLINGD_BIN_DIR,
 * COOLINGD_TEST_*) belong to the build and the tests, not to the daemon.
 */
static bool env_names_known(char *msg, size_t msg_size)
{
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, "COOLINGD_", 9) != 0)
			continue;
		size_t name_len = strcspn(*e, "=");
		bool in_section = false, known = false;
		for (size_t i = 0; i < NPARAMS && !known; i++) {
			char prefix[64], name[128];
			int n = snprintf(prefix, sizeof(prefix), "COOLINGD_%s_", params[i].section);
			for (int j = 0; j < n; j++)
				prefix[j] = (char)toupper((unsigned char)prefix[j]);
			if (strncmp(*e, prefix, (size_t)n) != 0)
				continue;
			in_section = true;
			env_name(&params[i], name, sizeof(name));
			known = strlen(name) == name_len && strncmp(*e, name, name_len) == 0;
		}
		if (in_section && !known) {
			snprintf(msg, msg_size,
			         "%.*s: unknown key (no such configuration variable)",
			         (int)(name_len < 100 ? name_len : 100), *e);
			return false;
		}
	}
	return true;
}

/*
 * The time zone must be one the system has a zone file for (in $TZDIR, as
 * for the C library, or /usr/share/zoneinfo), so that "Mars/Phobos" stops
 * the start instead of failing every approval later. The name is a relative
 * path of the characters timezone_valid() allows ('.' is not one of them),
 * so it cannot leave the zone directory. A system without a zone directory
 * at all leaves the check to the database (/readyz).
 */
static bool timezone_on_system(const char *tz, char *msg, size_t msg_size)
{
	const char *dir = getenv("TZDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return true;
	bool ok = tz[0] != '/' && strstr(tz, "//") == NULL && strstr(tz, "..") == NULL;
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, tz);
	FILE *f = ok ? fopen(path, "rb") : NULL;
	char magic[4] = {0};
	ok = f != NULL && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	if (f != NULL)
		fclose(f);
	if (!ok)
		snprintf(msg, msg_size,
		         "policy.timezone: not a time zone of this system (no zone file "
		         "%.300s/%.64s): \"%.64s\"",
		         dir, tz, tz);
	return ok;
}

/*
 * The guards that keep a configuration from switching the legal gate off:
 * a cooling period below the profile's own (legal) value, a band's lower
 * bound above it (fewer loans cooled; kz-card's v1 threshold excepted), a
 * cross-lender window shorter than the law's, and a max_backdate
 * as long as the cooling period, which would let a backdated approval and
 * consent end the period at once. policy.allow_below_legal_minimum lifts
 * both, for tests that need periods of seconds; the daemon then warns at
 * start and at every reload.
 */
static bool legal_minimums_kept(const struct config *c, char *msg, size_t msg_size)
{
	if (c->allow_below_legal_minimum)
		return true;
	struct policy_schedule s;
	config_schedule(c, &s);
	int64_t shortest = -1;
	/* every profile of a schedule: each decides the loans of its dates */
	for (int e = 0; e < s.n; e++) {
		const struct policy *p = &s.entries[e].policy;
		struct policy legal_p;
		if (!policy_profile(p->name, &legal_p))
			return true; /* refused by the profile's own check */
		struct policy_table legal, t;
		policy_table_of(&legal_p, &legal);
		policy_table_of(p, &t);
		for (int i = 0; i < t.nbands; i++) {
			/* a bound above the law's leaves loans uncooled that it cools;
			 * v1's threshold_mrp was a number to tune, and still is */
			if (!policy_takes_v1_overrides(p) &&
			    t.bands[i].above_mrp > legal.bands[i].above_mrp) {
				snprintf(msg, msg_size,
				         "%s: %lld is above the legal bound of %lld of profile %s "
				         "(policy.allow_below_legal_minimum = true lifts this, for "
				         "tests only)",
				         t.bands[i].above_key, (long long)t.bands[i].above_mrp,
				         (long long)legal.bands[i].above_mrp, p->name);
				return false;
			}
			if (t.bands[i].period_s < legal.bands[i].period_s) {
				snprintf(
				    msg, msg_size,
				    "%s: %llds is below the legal minimum of %llds of "
				    "profile %s (policy.allow_below_legal_minimum = true lifts "
				    "this, for tests only)",
				    t.bands[i].period_key, (long long)t.bands[i].period_s,
				    (long long)legal.bands[i].period_s, p->name);
				return false;
			}
			/* a period until the next working day has no length to
			 * shorten: a consent of a given moment ends it when it ends */
			if (!t.bands[i].until_next_working_day &&
			    (shortest < 0 || t.bands[i].period_s < shortest))
				shortest = t.bands[i].period_s;
		}
		if (t.cross_lender_window_s < legal.cross_lender_window_s) {
			snprintf(
			    msg, msg_size,
			    "%s: %llds is below the legal minimum of %llds of profile %s "
			    "(policy.allow_below_legal_minimum = true lifts this, for tests only)",
			    t.cross_lender_window_key, (long long)t.cross_lender_window_s,
			    (long long)legal.cross_lender_window_s, p->name);
			return false;
		}
	}
	if (shortest >= 0 && c->max_backdate_s >= shortest) {
		snprintf(
		    msg, msg_size,
		    "policy.max_backdate: %llds is not shorter than the cooling period in force "
		    "(%llds): a backdated approval and consent could end the period at once",
		    (long long)c->max_backdate_s, (long long)shortest);
		return false;
	}
	return true;
}

/* The v1 keys tune kz-card alone; under another profile a setting of them
 * would look obeyed and be ignored, so it is refused, whatever
 * policy.allow_below_legal_minimum says. */
static bool v1_overrides_fit(const struct config *c, char *msg, size_t msg_size)
{
	/* under a schedule, one profile that takes them is enough: they tune
	 * its dates */
	struct policy_schedule s;
	config_schedule(c, &s);
	for (int e = 0; e < s.n; e++)
		if (policy_takes_v1_overrides(&s.entries[e].policy))
			return true;
	for (size_t i = 0; i < NPARAMS; i++) {
		if (!(params[i].flags & CF_V1_OVERRIDE) || !(c->explicit_keys & (UINT64_C(1) << i)))
			continue;
		snprintf(msg, msg_size,
		         "%s.%s: applies to profile %s only and may not be set under "
		         "profile %s (its numbers have keys of their own: coolingctl policy show)",
		         params[i].section, params[i].key, policy_v1_overrides_profile(),
		         c->profile);
		return false;
	}
	return true;
}

/* The approval reads the day's loans before it knows the date that picks
 * the profile, so every profile of a schedule must add up the same
 * lenders' loans: they do unless their own defaults differ and the key is
 * not set. */
static bool schedule_aggregates_alike(const struct config *c, char *msg, size_t msg_size)
{
	struct policy_schedule s;
	config_schedule(c, &s);
	for (int e = 1; e < s.n; e++) {
		const struct policy *first = &s.entries[0].policy, *p = &s.entries[e].policy;
		if (p->aggregation == first->aggregation)
			continue;
		snprintf(msg, msg_size,
		         "policy.aggregation: the profiles of policy.profile add up the day's "
		         "loans differently (%s: %s, %s: %s); set policy.aggregation",
		         first->name, name_of(&aggregation_names, (int)first->aggregation), p->name,
		         name_of(&aggregation_names, (int)p->aggregation));
		return false;
	}
	return true;
}

/* A burst of lenders is counted over every lender's loans: it needs
 * policy.aggregation = all (one database shared by the lenders). */
static bool bursts_see_every_lender(const struct config *c, char *msg, size_t msg_size)
{
	struct policy p;
	config_policy(c, &p);
	if (c->burst_lenders == 0 || p.aggregation == AGGREGATION_ALL)
		return true;
	snprintf(msg, msg_size,
	         "policy.burst_lenders: %lld needs policy.aggregation = all (a burst counts "
	         "every lender's approvals)",
	         (long long)c->burst_lenders);
	return false;
}

/* A cross-lender window counts other lenders' payouts: a profile that has
 * one needs policy.aggregation = all (one database shared by the
 * lenders), or it would hold nothing. */
static bool cross_lender_sees_every_lender(const struct config *c, char *msg, size_t msg_size)
{
	struct policy_schedule s;
	config_schedule(c, &s);
	for (int e = 0; e < s.n; e++) {
		const struct policy *p = &s.entries[e].policy;
		struct policy_table t;
		policy_table_of(p, &t);
		if (t.cross_lender_window_s < 0 || p->aggregation == AGGREGATION_ALL)
			continue;
		snprintf(msg, msg_size,
		         "policy.aggregation: profile %s holds a loan for another lender's payout "
		         "(%s) and needs policy.aggregation = all (every lender's loans in this "
		         "database)",
		         p->name, t.cross_lender_window_key);
		return false;
	}
	return true;
}

bool config_load(struct config *c, const char *path, bool path_is_default, char *msg,
                 size_t msg_size)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NPARAMS; i++)
		if (!set_param(c, &params[i], params[i].def, msg, msg_size))
			return false;

	if (path != NULL) {
		FILE *f = fopen(path, "r");
		if (f == NULL) {
			if (!(path_is_default && errno == ENOENT)) {
				snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
				return false;
			}
		} else {
			struct ini_ctx ctx = {c, msg, msg_size, false};
			int rc = ini_parse_file(f, on_ini_value, &ctx);
			fclose(f);
			if (ctx.failed)
				return false;
			if (rc != 0) {
				snprintf(msg, msg_size, "%s: line %d: not INI syntax", path, rc);
				return false;
			}
		}
	}

	for (size_t i = 0; i < NPARAMS; i++) {
		char env[128];
		env_name(&params[i], env, sizeof(env));
		const char *v = getenv(env);
		if (v != NULL && !set_param(c, &params[i], v, msg, msg_size)) {
			size_t used = strlen(msg);
			snprintf(msg + used, msg_size - used, " (from %s)", env);
			return false;
		}
		if (v != NULL)
			c->explicit_keys |= UINT64_C(1) << i;
	}
	return env_names_known(msg, msg_size) && timezone_on_system(c->timezone, msg, msg_size) &&
	       v1_overrides_fit(c, msg, msg_size) && legal_minimums_kept(c, msg, msg_size) &&
	       schedule_aggregates_alike(c, msg, msg_size) &&
	       bursts_see_every_lender(c, msg, msg_size) &&
	       cross_lender_sees_every_lender(c, msg, msg_size);
}

/* The configured keys over a profile's defaults; each profile takes the
 * ones its table names. */
static void keys_over_profile(const struct config *c, struct policy *p)
{
	for (size_t i = 0; i < NPARAMS; i++) {
		const struct param *pm = &params[i];
		if (pm->flags & CF_POLICY_BOOL)
			*(bool *)((char *)p + pm->policy_offset) =
			    *(const bool *)((const char *)c + pm->offset);
		if (!(pm->flags & CF_FROM_PROFILE))
			continue;
		int64_t v = *(const int64_t *)((const char *)c + pm->offset);
		if (v >= 0)
			*(int64_t *)((char *)p + pm->policy_offset) = v;
	}
}

void config_schedule(const struct config *c, struct policy_schedule *s)
{
	const char *why;
	if (!policy_schedule_parse(c->profile, s, &why)) {
		/* refused by config_load(); a zeroed config is kz-card's */
		memset(s, 0, sizeof(*s));
		s->n = 1;
		s->entries[0].from_days = POLICY_NO_DATE;
		policy_profile(policy_default_profile, &s->entries[0].policy);
	}
	for (int e = 0; e < s->n; e++)
		keys_over_profile(c, &s->entries[e].policy);
}

void config_policy(const struct config *c, struct policy *p)
{
	struct policy_schedule s;
	config_schedule(c, &s);
	*p = s.entries[0].policy;
}

/* The value in force of a CF_FROM_PROFILE key that is unset. */
static int64_t profile_value(const struct config *c, const struct param *pm)
{
	struct policy p;
	config_policy(c, &p);
	return *(const int64_t *)((const char *)&p + pm->policy_offset);
}

/* A value as text; a secret through mask, or as it is when mask is NULL. */
static void value_text(const struct config *c, const struct param *pm, char *out, size_t size,
                       config_mask_fn *mask)
{
	const char *base = (const char *)c + pm->offset;
	int64_t v;
	switch (pm->type) {
	case P_STRING:
	case P_LISTEN:
		if ((pm->flags & CF_SECRET) && mask != NULL)
			mask(base, out, size);
		else
			snprintf(out, size, "%s", base);
		break;
	case P_BOOL:
		snprintf(out, size, "%s", *(const bool *)base ? "on" : "off");
		break;
	case P_INT:
	case P_DURATION:
		v = *(const int64_t *)base;
		if (v < 0) /* the profile's own value */
			v = profile_value(c, pm);
		snprintf(out, size, "%lld%s", (long long)v, pm->type == P_DURATION ? "s" : "");
		break;
	case P_ENUM:
		if (pm->flags & CF_FROM_PROFILE) {
			v = *(const int64_t *)base;
			if (v < 0)
				v = profile_value(c, pm);
			snprintf(out, size, "%s", name_of(pm->names, (int)v));
		} else {
			snprintf(out, size, "%s", name_of(pm->names, *(const int *)base));
		}
		break;
	}
}

bool config_restart_needed(const struct config *a, const struct config *b, char *msg,
                           size_t msg_size)
{
	bool differ = false;
	msg[0] = '\0';
	for (size_t i = 0; i < NPARAMS; i++) {
		if (params[i].flags & CF_RELOAD)
			continue;
		char va[1024], vb[1024];
		/* compared unmasked: a changed password changes the URL, and
		 * only the key's name is written */
		value_text(a, &params[i], va, sizeof(va), NULL);
		value_text(b, &params[i], vb, sizeof(vb), NULL);
		if (strcmp(va, vb) != 0) {
			size_t used = strlen(msg);
			snprintf(msg + used, msg_size - used, "%s%s.%s", differ ? ", " : "",
			         params[i].section, params[i].key);
			differ = true;
		}
	}
	return differ;
}

static void mask_all(const char *in, char *out, size_t out_size)
{
	(void)in;
	snprintf(out, out_size, "***");
}

void config_dump(const struct config *c, FILE *out, config_mask_fn *mask)
{
	for (size_t i = 0; i < NPARAMS; i++) {
		char v[1024];
		value_text(c, &params[i], v, sizeof(v), mask != NULL ? mask : mask_all);
		fprintf(out, "%s.%s = %s\n", params[i].section, params[i].key, v);
	}
}
