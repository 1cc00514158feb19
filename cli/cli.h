/*
 * What the parts of coolingctl share: the parsed command line, the exit
 * codes, the connection to the database (opened lazily, after a command has
 * validated its arguments), one-line error reporting, and the formatting of
 * tables and local times for people.
 */
#ifndef CD_CLI_H
#define CD_CLI_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cd_error.h"

/* Exit codes, documented in the usage text and docs/coolingctl.md. */
enum cli_exit {
	CLI_OK = 0,          /* done */
	CLI_FAIL = 1,        /* not found, conflict, bad config, database error */
	CLI_USAGE = 2,       /* bad command line: unknown command or option, bad value */
	CLI_UNAVAILABLE = 3, /* the database cannot be reached */
};

/* What id_valid() (lib/text.h) accepts, for messages. */
#define ID_RULE "1-64 characters of A-Z a-z 0-9 . _ : -, not \".\" or \"..\""

/* The zone in which people read times until the configuration is read;
 * then its [policy] timezone (cli_connect). */
#define CLI_TIMEZONE "Asia/Almaty"
/* "2025-06-15 10:05:00.123456 +05:00" */
#define CLI_TIME_BUF 96

#define CLI_MAX_OPTIONS 6
#define CLI_MAX_ARGS    4
/* How often an option declared "name=*" may be given. */
#define CLI_MAX_REPEAT 8

struct command;

/* The command line after parsing. opt[i] is the value of the command's i-th
 * option ("" for a flag that was given), NULL when absent. */
struct cli_args {
	const char *opt[CLI_MAX_OPTIONS];
	/* every value of an option that may be repeated ("name=*"), in order;
	 * opt[i] is the first */
	const char *all[CLI_MAX_OPTIONS][CLI_MAX_REPEAT];
	int nall[CLI_MAX_OPTIONS];
	const char *arg[CLI_MAX_ARGS];
	int nargs;
};

struct cli {
	const struct command *cmd;
	const char *config_path;
	bool config_is_default;
	const char *database_opt; /* --database, beats env and config */
	PGconn *conn;
	/* the password of the connection string, kept only to scrub it from
	 * any message that might echo it */
	char password[256];
	/* policy.timezone of the configuration, set by cli_connect() */
	char timezone[64];
	/* --api, --token-file, --cacert: the read commands through the HTTP
	 * API (cli_api.c); api is its handle once set up */
	const char *api_url, *token_file, *cacert;
	struct cli_api *api;
	/* [webhooks] secret_key of the configuration, set by cli_connect() */
	char webhook_key[1024];
};

typedef int (*command_fn)(struct cli *cli, const struct cli_args *a);

struct command {
	const char *name; /* "lender add" */
	command_fn run;
	const char *synopsis;                     /* "ID --kind bank|mfo [--name TEXT]" */
	const char *summary;                      /* one line for the command list */
	const char *help;                         /* the rest of `coolingctl CMD --help` */
	const char *options[CLI_MAX_OPTIONS + 1]; /* "kind=" takes a value, "json" is a flag,
	                                             "public-key=*" takes a value and may be
	                                             repeated; the unused slots (one at least)
	                                             are NULL */
	int min_args, max_args;
	unsigned flags; /* CMD_* */
};

/* struct command's flags */
enum command_flag {
	CMD_API = 1u << 0, /* a read command that also runs through the API (--api) */
};

/* The value of the command's option name (one of cmd->options, without
 * "="), NULL when it was not given. */
const char *cli_opt(const struct cli *cli, const struct cli_args *a, const char *name);

/* Every value of a repeatable option ("name=*"): their number, the values
 * in *vals. */
int cli_opt_all(const struct cli *cli, const struct cli_args *a, const char *name,
                const char *const **vals);

/* "coolingctl: CMD: MESSAGE" on stderr (one line, password scrubbed);
 * returns code. */
int cli_fail(struct cli *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_usage(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports an error of lib/db/: exit 3 when the database is out of reach,
 * else 1. */
int cli_db_fail(struct cli *cli, const struct cd_error *err);

/* Loads the configuration and connects; on false, *rc is
 * the exit code and the message has been printed. need_schema: refuse a
 * database whose schema is older than this build (every command but
 * migrate). */
bool cli_connect(struct cli *cli, bool need_schema, int *rc);

/* A timestamp in the display zone ([policy] timezone) with its offset, "-" for TS_NULL; with
 * fraction, microseconds when there are any, else whole seconds (rounded
 * down). */
void cli_local_time(int64_t usec, bool fraction, char out[CLI_TIME_BUF]);

/* Copies s for a terminal: control characters become '?'. */
void cli_printable(const char *s, char *out, size_t size);

/* Writes json (and frees it) indented by 2, with a final newline. */
int cli_print_json(struct cli *cli, json_t *json);

/* A table of text cells printed with aligned columns. */
#define CLI_TABLE_MAX_COLS 12
struct cli_table {
	int ncols;
	const char *const *header;
	const bool *right; /* right-align column i (numbers) */
	char **cells;      /* nrows * ncols, malloc'd */
	int nrows, cap;
};

void cli_table_init(struct cli_table *t, int ncols, const char *const *header, const bool *right);
/* Appends a row of ncols cells (copied, made printable). */
void cli_table_add(struct cli_table *t, const char *const *row);
void cli_table_print(const struct cli_table *t);
void cli_table_free(struct cli_table *t);

/* A listing command (client list, lender list, mrp list, webhook list): one
 * query whose rows are printed as {"KEY": [row, ...]} with --json, else as a
 * table. */
struct cli_listing {
	PGresult *(*query)(PGconn *c, struct cd_error *err);
	const char *json_key;
	json_t *(*row_json)(const PGresult *r, int row);
	int ncols;
	const char *const *header;
	const bool *right;
	/* Sets cell[0..ncols-1] for the table; buf[c] is room for a cell made
	 * here (a number, a local time). */
	void (*row_cells)(const PGresult *r, int row, const char **cell, char (*buf)[CLI_TIME_BUF]);
	/* printed instead of an empty table */
	const char *none;
};

/* Connects, runs l->query and prints its rows; the command's exit code. */
int cli_list(struct cli *cli, const struct cli_args *a, const struct cli_listing *l);

/* ---- the HTTP API (cli_api.c, libcurl's easy interface) ---- */

/* Loads the configuration (the display zone, [tls] cert_file) and reads
 * the token file; on false, *rc is the exit code and the message printed. */
bool cli_api_setup(struct cli *cli, int *rc);
/* One call of the API: the answer's JSON (the caller owns it) on a 2xx;
 * NULL with *rc set and the message printed otherwise: 1 with the API's
 * error message for an HTTP error, 3 when the daemon cannot be reached.
 * body (may be NULL; the call takes its reference) is sent as JSON; path is
 * absolute ("/v1/..."). */
json_t *cli_api_call(struct cli *cli, const char *method, const char *path, json_t *body, int *rc);
void cli_api_free(struct cli *cli);
struct loan;
struct loan_view;
/* A loan of the API's answer (codec_loan_json's shape) as the database
 * mode's printers take it, with its status and blockers as the daemon
 * evaluated them; what the answer does not hold (the branch and officer of
 * the visit, the cancellation's reason, whether first_time_borrower was
 * stated) is left empty. False when it is not such a loan. */
bool cli_loan_from_json(const json_t *o, struct loan *l, struct loan_view *v);
struct policy_table;
/* The policy of GET /v1/policy (codec_policy_json's shape) as its table;
 * its strings point into o. False when it is not such a policy. */
bool cli_policy_from_json(const json_t *o, struct policy_table *t);

/* The commands (cmd_*.c). */
int cmd_migrate(struct cli *cli, const struct cli_args *a);
int cmd_lender_add(struct cli *cli, const struct cli_args *a);
int cmd_client_add(struct cli *cli, const struct cli_args *a);
int cmd_client_revoke(struct cli *cli, const struct cli_args *a);
int cmd_client_list(struct cli *cli, const struct cli_args *a);
int cmd_lender_list(struct cli *cli, const struct cli_args *a);
int cmd_mrp_set(struct cli *cli, const struct cli_args *a);
int cmd_mrp_list(struct cli *cli, const struct cli_args *a);
int cmd_policy_show(struct cli *cli, const struct cli_args *a);
int cmd_loan_show(struct cli *cli, const struct cli_args *a);
int cmd_loan_events(struct cli *cli, const struct cli_args *a);
int cmd_borrower(struct cli *cli, const struct cli_args *a);
int cmd_loans(struct cli *cli, const struct cli_args *a);
int cmd_stats_decisions(struct cli *cli, const struct cli_args *a);
int cmd_audit_verify(struct cli *cli, const struct cli_args *a);
int cmd_audit_verify_export(struct cli *cli, const struct cli_args *a);
int cmd_audit_keygen(struct cli *cli, const struct cli_args *a);
int cmd_export(struct cli *cli, const struct cli_args *a);
int cmd_refusals_import(struct cli *cli, const struct cli_args *a);
int cmd_refusals_show(struct cli *cli, const struct cli_args *a);
int cmd_payees_import(struct cli *cli, const struct cli_args *a);
int cmd_payees_show(struct cli *cli, const struct cli_args *a);

/* The import of a registry's CSV file (a->arg[0], - for stdin), all or
 * nothing, streamed (cmd_refusals.c): the header checked, each record
 * parsed into item and sent into the staging COPY, then ended (committed
 * only when every line was good). */
struct csv_reader;
struct registry_import {
	const char *name;   /* "refusals import", for messages and the progress bar */
	const char *header; /* the header's text, for a file without one */
	void *item;         /* the parsed record, between parse and send */
	bool (*begin)(PGconn *c, struct cd_error *err);
	bool (*header_check)(const struct csv_reader *r, struct cd_error *err);
	bool (*parse)(const struct csv_reader *r, int64_t today, void *item, struct cd_error *err);
	bool (*send)(PGconn *c, int64_t line, const void *item, struct cd_error *err);
	bool (*end)(PGconn *c, bool commit, int64_t *total, int64_t *added, struct cd_error *err);
};
int cli_registry_import(struct cli *cli, const struct cli_args *a,
                        const struct registry_import *imp);
/* `refusals show` and `payees show`: the changes of one entry, the one in
 * force (index f, -1 for none) at now. */
struct refusal_change;
void cli_print_registry_changes(const struct refusal_change *c, size_t n, int f, int64_t now);
int cmd_webhook_add(struct cli *cli, const struct cli_args *a);
int cmd_webhook_list(struct cli *cli, const struct cli_args *a);
int cmd_webhook_remove(struct cli *cli, const struct cli_args *a);

#endif
