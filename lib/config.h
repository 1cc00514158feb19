/*
 * Configuration: one table of parameters (lib/config.c: section, key, type,
 * flags such as reloadable or secret, default, range, and a check or a
 * name table for the keys that have their own rule), read from an INI
 * file (inih) and then from the environment (COOLINGD_<SECTION>_<KEY>,
 * which beats the file).
 */
#ifndef CD_CONFIG_H
#define CD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "names.h"
#include "policy.h"

#define CONFIG_DEFAULT_PATH "/etc/coolingd/coolingd.conf"

struct config {
	/* [server] */
	char listen[256];
	char listen_host[256];
	int listen_port;
	int64_t threads;
	int64_t max_body_bytes;
	int64_t request_timeout_s;
	int64_t max_connections;          /* open connections, per daemon (plain and TLS) */
	int64_t max_header_bytes;         /* request line and header fields */
	int64_t auth_failures_per_minute; /* per source address; 0: no limit */
	int64_t auth_failure_window_s;    /* the "minute" of the above */
	/* [database] */
	char database_url[1024];
	/* a replica for the compliance reads; empty: everything on url */
	char database_read_url[1024];
	int64_t pool_size;
	/* a server that does not answer is given up on after this (connection
	 * attempts, TCP), and the next host of url tried first */
	int64_t database_health_timeout_s;
	/* [policy] */
	/* a profile, or a schedule of them */
	char profile[POLICY_SCHEDULE_BUF];
	int64_t cooling_period_s; /* -1: the profile's */
	int64_t threshold_mrp;    /* -1: the profile's */
	bool threshold_inclusive; /* each bound: "from" rather than "above" */
	char timezone[64];
	int64_t max_clock_skew_s;
	int64_t max_backdate_s;
	bool allow_below_legal_minimum; /* lifts the legal guards; for tests only */
	/* a disbursement names its payee; ... and only the borrower's own
	 * (which implies the first) */
	bool payee_required;
	bool payout_to_borrower_only;
	/* a fraud claim closed confirmed this many days before an approval
	 * makes the borrower a repeat victim; 0: off */
	int64_t prior_victim_days;
	/* a cooled loan of a borrower approved online at this many distinct
	 * lenders within burst_window_s needs the visit; 0: off */
	int64_t burst_lenders;
	int64_t burst_window_s;
	/* kz-2025-09's numbers, each -1 for "the profile's" */
	int64_t aggregation; /* enum aggregation */
	int64_t bank_threshold_mrp;
	bool bank_threshold_inclusive;
	int64_t bank_period_s;
	int64_t bank_long_threshold_mrp;
	bool bank_long_threshold_inclusive;
	int64_t bank_long_period_s;
	int64_t mfo_threshold_mrp;
	bool mfo_threshold_inclusive;
	int64_t mfo_period_s;
	int64_t card_limit_exempt_mrp;
	int64_t extra_confirmation_under_age;
	int64_t extra_confirmation_from_age;
	/* ru-2025-09's, the same way (amounts in whole roubles) */
	int64_t ru_short_above;
	int64_t ru_long_above;
	int64_t ru_short_period_s;
	int64_t ru_long_period_s;
	/* kg-2024-11's (whole som) */
	int64_t kg_band1_above;
	int64_t kg_band2_above;
	int64_t kg_band3_above;
	int64_t kg_band1_period_s;
	int64_t kg_band2_period_s;
	int64_t kg_band3_period_s;
	/* uz-2026-01's */
	int64_t uz_window_s;
	/* [tls] */
	char tls_listen[256]; /* empty: no HTTPS listener */
	char tls_listen_host[256];
	int tls_listen_port;
	char tls_cert_file[1024];
	char tls_key_file[1024];
	char tls_client_ca_file[1024]; /* set: mutual TLS, a client certificate required */
	char tls_min_version[16];      /* "TLSv1.2" or "TLSv1.3" */
	/* [metrics] */
	char metrics_listen[256]; /* empty: no metrics listener */
	char metrics_listen_host[256];
	int metrics_listen_port;
	/* [audit] */
	bool audit_seal; /* seal the hash chain (off only to measure its cost) */
	/* Ed25519 private key (PEM) that signs checkpoints of the chain; empty:
	 * no checkpoints. Read once at start (docs/audit.md). */
	char audit_signing_key[1024];
	/* [webhooks] */
	/* the file of the key that seals the endpoints' secrets at rest
	 * (docs/security.md); empty: no webhooks are delivered or added */
	char webhook_secret_key[1024];
	/* [log] */
	enum log_level log_level;
	enum log_format log_format;
	/* bit i: params[i] of lib/config.c was set in the file or the
	 * environment (even to its default) */
	uint64_t explicit_keys;
};

/* Defaults, then the file (when path is not NULL), then the environment.
 * When path is the default path and the file does not exist, defaults and
 * environment alone are used. Then the whole is checked: a COOLINGD_<S>_<K>
 * variable of a known section S that names no key, a time zone the system
 * has no zone file for, and (unless policy.allow_below_legal_minimum) a
 * cooling period below the profile's legal value or a max_backdate not
 * shorter than the cooling period are refused. On false, msg names the key
 * (or variable) and the problem. */
bool config_load(struct config *c, const char *path, bool path_is_default, char *msg,
                 size_t msg_size);

/* The schedule in force: each entry's profile with the configured keys. */
void config_schedule(const struct config *c, struct policy_schedule *s);

/* The policy of the schedule's first entry (of a single profile: the
 * policy in force), with the configured keys. */
void config_policy(const struct config *c, struct policy *p);

/* Names the non-reloadable keys whose value differs between a and b, in
 * msg ("server.listen, database.url"); false when none differ. */
bool config_restart_needed(const struct config *a, const struct config *b, char *msg,
                           size_t msg_size);

/* Writes a secret (the database URL) without its password: conninfo_mask()
 * of the database layer, which the configuration does not link. */
typedef void config_mask_fn(const char *in, char *out, size_t out_size);

/* Writes "key = value" lines of the effective configuration, the database
 * URL through mask (NULL: "***"). */
void config_dump(const struct config *c, FILE *out, config_mask_fn *mask);

#endif
