/*
 * coolingctl: the operator and compliance command line of coolingd.
 *
 * This file is the table of contents: the table of commands (name, function,
 * synopsis, options), the parsing of the command line and the help texts.
 * The commands themselves live in cmd_admin.c (migrations, lenders, clients,
 * MRP), cmd_loan.c (loans, their events and borrowers, read-only),
 * cmd_stats.c (decision statistics), cmd_audit.c (audit verify),
 * cmd_export.c (export) and cmd_holidays.c (the calendar of non-working
 * days); cli_util.c holds what they share.
 *
 * The command line is read in two passes. The first finds the command words
 * ("lender add"), skipping the global options that may come before them;
 * the second runs getopt_long over everything else with the global options
 * plus the options of that command, so that options and arguments may come
 * in any order.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "migrations.h"

/* A command that takes exactly n arguments; none when left out. */
#define NARGS(n) .min_args = (n), .max_args = (n)

static const struct command commands[] = {
    {
        .name = "migrate",
        .run = cmd_migrate,
        .synopsis = "",
        .summary = "apply the database migrations not yet applied",
        .help = "Applies the migrations compiled into this build that the database has not\n"
                "seen yet, in order, each in its own transaction, under an advisory lock.\n"
                "A second run changes nothing.\n"
                "\n"
                "output: applied N migration(s); schema version V\n",
    },
    {
        .name = "lender add",
        .run = cmd_lender_add,
        .synopsis = "ID --kind bank|mfo [--name TEXT]",
        .summary = "register a lender",
        .help = "Registers a lender. ID is 1-64 characters of A-Z a-z 0-9 . _ : -\n"
                "\n"
                "options:\n"
                "  --kind bank|mfo   a bank or a microfinance organisation (required)\n"
                "  --name TEXT       a display name, 1-200 characters, no control characters\n",
        .options = {"kind=", "name="},
        NARGS(1),
    },
    {
        .name = "lender list",
        .run = cmd_lender_list,
        .synopsis = "[--json]",
        .summary = "list the lenders",
        .help = "Lists the lenders by id: kind, display name and when each was added.\n"
                "\n"
                "options:\n"
                "  --json            {\"lenders\": [{\"lender\", \"kind\", \"name\",\n"
                "                    \"created_at\"}, ...]}\n",
        .options = {"json"},
        NARGS(0),
    },
    {
        .name = "client add",
        .run = cmd_client_add,
        .synopsis = "--name NAME --role lender|compliance|auditor|registry|antifraud "
                    "[--lender ID] "
                    "[--expires-in DURATION]",
        .summary = "create an API client and print its bearer token",
        .help = "Creates an API client and prints its bearer token, alone on one line of\n"
                "stdout. The token is shown this once: only its SHA-256 is stored.\n"
                "\n"
                "options:\n"
                "  --name NAME       the client's unique name, 1-64 of A-Z a-z 0-9 . _ : -\n"
                "  --role ROLE       lender, compliance, auditor, registry (the connector\n"
                "                    that brings the credit bureau's voluntary refusals in:\n"
                "                    it may only PUT and GET /v1/voluntary-refusals/...) or\n"
                "                    antifraud (the connector of the anti-fraud centre's\n"
                "                    lists: PUT and GET /v1/suspicious-payees/...)\n"
                "  --lender ID       the lender a lender client acts for; required for the\n"
                "                    lender role, refused for the others\n"
                "  --expires-in DURATION\n"
                "                    the token expires this long after now (the database's\n"
                "                    clock): a whole number and s, m, h or d (90d, 12h);\n"
                "                    from then on the daemon answers 401 \"token expired\".\n"
                "                    Without it the token lasts until revoked.\n",
        .options = {"name=", "role=", "lender=", "expires-in="},
    },
    {
        .name = "client revoke",
        .run = cmd_client_revoke,
        .synopsis = "NAME",
        .summary = "revoke an API client's token at once",
        .help = "Revokes the token of the API client NAME; the daemon refuses it from the\n"
                "next request on. Revoking a client twice fails.\n",
        NARGS(1),
    },
    {
        .name = "client list",
        .run = cmd_client_list,
        .synopsis = "[--json]",
        .summary = "list the API clients for an access review (never a token)",
        .help =
            "Lists the API clients by name: role, lender, when each was created, when\n"
            "its token expires and when it was revoked (\"-\": never). Never prints a\n"
            "token or its hash; a coolingd_admin login cannot even read them.\n"
            "\n"
            "options:\n"
            "  --json            {\"clients\": [{\"name\", \"role\", \"lender\", \"created_at\",\n"
            "                    \"expires_at\", \"revoked_at\"}, ...]} (times in UTC, null:\n"
            "                    never)\n",
        .options = {"json"},
        NARGS(0),
    },
    {
        .name = "mrp set",
        .run = cmd_mrp_set,
        .synopsis = "YYYY-MM-DD TENGE",
        .summary = "set the MRP in force from a local (Asia/Almaty) date",
        .help = "Sets the MRP (monthly calculation index), in whole tenge, in force from\n"
                "the local date YYYY-MM-DD until the next date in the table. Setting a\n"
                "date again replaces its value. Loans keep the MRP of their approval.\n",
        NARGS(2),
    },
    {
        .name = "mrp list",
        .run = cmd_mrp_list,
        .synopsis = "[--json]",
        .summary = "list the MRP table",
        .help = "Lists the MRP table, oldest first: valid_from and tenge.\n"
                "\n"
                "options:\n"
                "  --json            {\"mrp\": [{\"valid_from\": \"2025-01-01\", \"tenge\": 3932}, "
                "...]}\n",
        .options = {"json"},
    },
    {
        .name = "policy show",
        .run = cmd_policy_show,
        .synopsis = "[--json]",
        .summary = "print the rules in force, every number with its config key",
        .help = "Prints the effective table of rules of the configured [policy] profile:\n"
                "each band (lender kind, above / up to how many MRP, the period), the\n"
                "exemptions, reconfirmation, the in-person and the age rules, each number\n"
                "beside the configuration key that sets it; under a schedule of profiles\n"
                "(NAME, NAME@YYYY-MM-DD, ...), its entries and each profile's table.\n"
                "Reads the configuration and the environment as coolingd does; needs no\n"
                "database.\n"
                "\n"
                "options:\n"
                "  --json            {\"profile\": ..., \"aggregation\": ..., \"rules\": [...],\n"
                "                    \"exemptions\": [...], \"extra_confirmation\": {...},\n"
                "                    \"schedule\": [...], \"profiles\": [...]}; a schedule of\n"
                "                    several: {\"schedule\": [...], \"profiles\": [...]}\n",
        .options = {"json"},
        .flags = CMD_API,
        NARGS(0),
    },
    {
        .name = "loan show",
        .run = cmd_loan_show,
        .synopsis = "LENDER LOAN_ID [--json]",
        .summary = "show one loan and its status",
        .help = "Shows one loan: every recorded field, its status, what blocks a\n"
                "disbursement now and the earliest disbursement, evaluated at the\n"
                "database's clock. Times in Asia/Almaty local time with their offset,\n"
                "amounts in tenge.\n"
                "\n"
                "options:\n"
                "  --json            the loan exactly as the HTTP API gives it\n",
        .options = {"json"},
        .flags = CMD_API,
        NARGS(2),
    },
    {
        .name = "loan events",
        .run = cmd_loan_events,
        .synopsis = "LENDER LOAN_ID [--json]",
        .summary = "list one loan's audit events in order",
        .help = "Seals the committed audit events, then lists the loan's events in chain\n"
                "order: seq, time (Asia/Almaty local time with its offset), type, actor\n"
                "and detail, as a table.\n"
                "\n"
                "options:\n"
                "  --json            {\"events\": [...]} with GET /v1/audit's fields, as the\n"
                "                    HTTP API gives them\n",
        .options = {"json"},
        .flags = CMD_API,
        NARGS(2),
    },
    {
        .name = "stats decisions",
        .run = cmd_stats_decisions,
        .synopsis = "--from TS --to TS [--bucket hour|day] [--lender ID] [--json]",
        .summary = "count allowed and refused disbursements per hour or local day",
        .help = "Counts the sealed disbursement decisions per bucket: allowed, refused, and\n"
                "refused by each blocker (a refusal counts once for each of its blockers).\n"
                "Buckets are UTC hours, or local days of [policy] timezone (Asia/Almaty),\n"
                "from the one holding --from to the one holding the instant before --to;\n"
                "empty buckets are listed too, at most 1000 buckets.\n"
                "\n"
                "options:\n"
                "  --from TS          RFC 3339 with an offset (required)\n"
                "  --to TS            RFC 3339 with an offset, later than --from (required)\n"
                "  --bucket hour|day  default hour\n"
                "  --lender ID        one lender's decisions; default all lenders\n"
                "  --json             {\"buckets\": [...]} as GET /v1/stats/decisions gives it\n",
        .options = {"from=", "to=", "bucket=", "lender=", "json"},
        .flags = CMD_API,
    },
    {
        .name = "loans",
        .run = cmd_loans,
        .synopsis = "[--status S] [--lender L] [--from TS] [--to TS] [--limit N] [--json]",
        .summary = "list the loans approved in a period, every page",
        .help = "Lists the loans of GET /v1/loans, newest approval first, every page of\n"
                "it: the borrower command's table, or with --json {\"loans\": [...]}.\n"
                "\n"
                "options:\n"
                "  --status S        the loans of that status at this moment (docs/api.md:\n"
                "                    cancelled, disbursed, cooling, eligible, ...)\n"
                "  --lender L        one lender's loans\n"
                "  --from TS         approved at or after (RFC 3339 with an offset)\n"
                "  --to TS           approved before\n"
                "  --limit N         loans per page read (1-1000, default 100)\n"
                "  --json            {\"loans\": [...]} with the HTTP API's loans\n",
        .options = {"status=", "lender=", "from=", "to=", "limit=", "json"},
        .flags = CMD_API,
    },
    {
        .name = "borrower",
        .run = cmd_borrower,
        .synopsis = "IIN [--json]",
        .summary = "list all loans of one borrower",
        .help = "Lists every loan of the borrower with this IIN, all lenders, newest\n"
                "first, as a table (times in Asia/Almaty local time), or prints\n"
                "\"no loans for this borrower\".\n"
                "\n"
                "options:\n"
                "  --json            {\"loans\": [...]} exactly as the HTTP API gives it\n",
        .options = {"json"},
        .flags = CMD_API,
        NARGS(1),
    },
    {
        .name = "refusals import",
        .run = cmd_refusals_import,
        .synopsis = "FILE|-",
        .summary = "import the credit bureau's voluntary refusals (CSV), all or nothing",
        .help = "Imports the changes of the voluntary refusal registry from the bureau's\n"
                "file (- for stdin): RFC 4180 CSV with the header\n"
                "iin,active,effective_at,source,reference; active is true or false,\n"
                "effective_at RFC 3339 with an offset, source 1-64 of A-Z a-z 0-9 . _ : -,\n"
                "reference 1-200 characters or empty (none). All or nothing, in one\n"
                "transaction: each bad line is named with its line number (the header is\n"
                "line 1; a record over several lines by its first) and field, and then\n"
                "nothing is imported (exit 1). A change already known, or given twice,\n"
                "is kept once; each new change is one audit event. Streams: memory stays\n"
                "flat for millions of lines. A progress bar goes to a terminal.\n"
                "\n"
                "output: imported N changes (M new, K already known)\n",
        NARGS(1),
    },
    {
        .name = "refusals show",
        .run = cmd_refusals_show,
        .synopsis = "IIN [--json]",
        .summary = "show one borrower's voluntary refusal and its changes",
        .help = "Shows whether a voluntary refusal of the borrower is active at the\n"
                "database's clock, since when and from which source, and every change in\n"
                "(effective_at, arrival) order; exit 1 when the IIN has never had one.\n"
                "\n"
                "options:\n"
                "  --json            the entry exactly as GET /v1/voluntary-refusals/{iin}\n"
                "                    gives it\n",
        .options = {"json"},
        NARGS(1),
    },
    {
        .name = "payees import",
        .run = cmd_payees_import,
        .synopsis = "FILE|-",
        .summary = "import the anti-fraud centre's suspicious payees (CSV), all or nothing",
        .help = "Imports the changes of the suspicious payee registry from the anti-fraud\n"
                "centre's file (- for stdin): RFC 4180 CSV with the header\n"
                "kind,id,active,effective_at,source,reference; kind is account, card or\n"
                "wallet, id 1-64 of A-Z a-z 0-9 . _ : - (a card by the lender's token or\n"
                "hash, never its number: 13-19 digits under card are refused), the other\n"
                "fields as in refusals import. All or nothing, in one transaction: each\n"
                "bad line is named with its line number and field (never its id), and\n"
                "then nothing is imported (exit 1). A change already known, or given\n"
                "twice, is kept once; each new change is one audit event. Streams: memory\n"
                "stays flat for millions of lines. A progress bar goes to a terminal.\n"
                "\n"
                "output: imported N changes (M new, K already known)\n",
        NARGS(1),
    },
    {
        .name = "payees show",
        .run = cmd_payees_show,
        .synopsis = "KIND ID [--json]",
        .summary = "show one payee's suspicious flag and its changes",
        .help = "Shows whether the payee (KIND account, card or wallet, and its ID) is\n"
                "flagged at the database's clock, since when and from which source, and\n"
                "every change in (effective_at, arrival) order; exit 1 when the payee has\n"
                "never had one.\n"
                "\n"
                "options:\n"
                "  --json            the entry exactly as\n"
                "                    GET /v1/suspicious-payees/{kind}/{id} gives it\n",
        .options = {"json"},
        NARGS(2),
    },
    {
        .name = "holidays import",
        .run = cmd_holidays_import,
        .synopsis = "FILE|-",
        .summary = "import the calendar of non-working days (CSV), replacing the years it holds",
        .help = "Imports the calendar of non-working days (- for stdin) that the Belarus\n"
                "profile's next working day is counted with: RFC 4180 CSV with the header\n"
                "date,name; date YYYY-MM-DD (a local date of the years 2000-2099), name\n"
                "1-200 characters. Saturdays and Sundays are always non-working and need\n"
                "no line; a holiday that falls on one may be listed. The file replaces the\n"
                "calendar of every year it holds: a day of those years that the file does\n"
                "not list is removed (a day off moved by decree), the other years are left\n"
                "as they are. All or nothing, in one transaction: each bad line is named\n"
                "with its line number and field (a date given twice too), and then nothing\n"
                "is imported (exit 1). Each day added, renamed or removed is one audit\n"
                "event (holiday_set, holiday_removed); a second import of the same file\n"
                "changes nothing.\n"
                "\n"
                "output: imported N non-working days of YEARS (A new, R renamed,\n"
                "        U unchanged, D removed): the file is now the calendar of these\n"
                "        years; ...\n",
        NARGS(1),
    },
    {
        .name = "holidays show",
        .run = cmd_holidays_show,
        .synopsis = "YEAR [--json]",
        .summary = "show one year's non-working days besides Saturdays and Sundays",
        .help = "Shows the non-working days of YEAR (2000-2099) in the calendar, by date,\n"
                "with their weekday and name. Saturdays and Sundays are always\n"
                "non-working and are listed only when a holiday falls on one.\n"
                "\n"
                "options:\n"
                "  --json            {\"year\", \"weekend\": [\"saturday\", \"sunday\"],\n"
                "                    \"days\": [{\"date\", \"weekday\", \"name\",\n"
                "                    \"recorded_at\"}, ...]}\n",
        .options = {"json"},
        NARGS(1),
    },
    {
        .name = "webhook add",
        .run = cmd_webhook_add,
        .synopsis = "--lender ID --url URL [--secret-file FILE] [--after SEQ]",
        .summary = "register an endpoint that the lender's events are pushed to",
        .help = "Registers a webhook endpoint of a lender and prints \"id: ID\" and, when\n"
                "the secret was generated, \"secret: SECRET\": shown this once, the only\n"
                "time it is ever printed. Deliveries are signed with it (HMAC-SHA256;\n"
                "docs/api.md). The secret is stored sealed with the key that\n"
                "[webhooks] secret_key names (docs/security.md): the command needs it.\n"
                "\n"
                "options:\n"
                "  --lender ID        the lender whose events are delivered (required)\n"
                "  --url URL          https://..., or http:// to a loopback address (required)\n"
                "  --secret-file FILE the secret to sign with, 64 lowercase hex characters\n"
                "                     (a trailing newline is dropped); default: a new one\n"
                "  --after SEQ        deliver the events after SEQ; default: from the\n"
                "                     lender's first event\n",
        .options = {"lender=", "url=", "secret-file=", "after="},
    },
    {
        .name = "webhook list",
        .run = cmd_webhook_list,
        .synopsis = "[--json]",
        .summary = "list the webhook endpoints and how far each is delivered",
        .help = "Lists the endpoints not removed: id, lender, url, delivered_seq (the last\n"
                "event the endpoint acknowledged), events_behind, failures (in a row),\n"
                "next_attempt_at and last_error. Never a secret.\n"
                "\n"
                "options:\n"
                "  --json            {\"webhooks\": [...]}\n",
        .options = {"json"},
    },
    {
        .name = "webhook remove",
        .run = cmd_webhook_remove,
        .synopsis = "ID",
        .summary = "stop deliveries to a webhook endpoint",
        .help = "Stops the deliveries to the endpoint ID (as webhook list shows it); exit 1\n"
                "when there is no such endpoint.\n",
        NARGS(1),
    },
    {
        .name = "audit verify",
        .run = cmd_audit_verify,
        .synopsis = "[--public-key FILE.pub]... [--against EXPORT]",
        .summary = "re-compute the audit hash chain and name the first event that does not fit",
        .help = "Seals the committed audit events not sealed yet, then re-computes every\n"
                "hash of the chain from the events' columns and checks that the sequence\n"
                "numbers run 1, 2, 3... without a gap and that no entry lost its event.\n"
                "\n"
                "options:\n"
                "  --public-key FILE  also check every signed checkpoint: its signature by\n"
                "                     one of the keys given (a file may hold several PEM\n"
                "                     keys; the option may be repeated, for old keys after a\n"
                "                     rotation), and that the chain still has the event and\n"
                "                     the hash it names; a cut end or a recomputed chain\n"
                "                     fails\n"
                "  --against EXPORT   also check the chain against the hash of every event\n"
                "                     of an earlier export (CSV or JSONL), and against the\n"
                "                     checkpoints of EXPORT.checkpoints when it exists\n"
                "\n"
                "output: audit chain intact: N events (exit 0), then a line per check, or\n"
                "        one line on stderr naming the first event or checkpoint that does\n"
                "        not fit (exit 1)\n",
        .options = {"public-key=*", "against="},
    },
    {
        .name = "audit verify-export",
        .run = cmd_audit_verify_export,
        .synopsis = "FILE --public-key FILE.pub...",
        .summary = "verify an export and its checkpoints with no database",
        .help = "Checks an export (CSV or JSON Lines) and its FILE.checkpoints alone,\n"
                "without a database: every event's hash re-computed from its fields and\n"
                "the one before it (the first event of a file that starts at seq 1 from\n"
                "the genesis), seq running on without a gap, and every checkpoint of the\n"
                "side file signed by one of the keys and, when its seq is in the file, on\n"
                "the event's hash. A checkpoint past the file's end is a cut end; a file\n"
                "with events but no checkpoint among them is refused.\n"
                "\n"
                "options:\n"
                "  --public-key FILE  the auditors' public key(s) (repeatable, as for audit\n"
                "                     verify); required\n"
                "\n"
                "output: export chain intact: N events (exit 0) and the newest checkpoint\n"
                "        (a cut after it cannot be seen in an export alone), or one line on\n"
                "        stderr naming the file's first line that does not fit (exit 1;\n"
                "        the CSV header is line 1)\n",
        .options = {"public-key=*"},
        NARGS(1),
    },
    {
        .name = "audit keygen",
        .run = cmd_audit_keygen,
        .synopsis = "--output FILE",
        .summary = "make an Ed25519 key pair for signing audit checkpoints",
        .help = "Writes a new Ed25519 key pair: FILE, the private key (PEM, mode 0600), for\n"
                "coolingd's [audit] signing_key, and FILE.pub, the public key (PEM), for the\n"
                "auditors, who keep it outside the database. Neither file may exist yet.\n"
                "Needs no database.\n"
                "\n"
                "output: the two files and the key id (SHA-256 of the raw public key)\n",
        .options = {"output="},
    },
    {
        .name = "export",
        .run = cmd_export,
        .synopsis = "[--format csv|jsonl] [--from TS] [--to TS] [--output FILE] | "
                    "--since-last JOB --output FILE [--format csv|jsonl]",
        .summary = "export the audit trail as CSV or JSON Lines",
        .help = "Seals the committed audit events, then writes the sealed ones in chain\n"
                "order: CSV (RFC 4180, CRLF line ends, a header row\n"
                "seq,at,actor,lender,loan_id,type,detail,hash) or JSON Lines (one event\n"
                "per line, with GET /v1/audit's fields and order). A progress bar goes to\n"
                "stderr when it is a terminal; a summary line goes to stderr at the end.\n"
                "\n"
                "options:\n"
                "  --format csv|jsonl   default csv\n"
                "  --from TS            events at or after TS (RFC 3339 with offset)\n"
                "  --to TS              events before TS\n"
                "  --output FILE        written as FILE.tmp, then renamed; - or none:\n"
                "                       standard output\n"
                "  --since-last JOB     for cron: exactly the events after JOB's watermark,\n"
                "                       to FILE and FILE.sha256; the watermark moves only\n"
                "                       once both are written and synced, so a crash repeats\n"
                "                       nothing and loses nothing (see docs/export.md)\n",
        .options = {"format=", "from=", "to=", "output=", "since-last="},
        .flags = CMD_API,
    },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_help[] =
    "global options (before or after the command):\n"
    "  -c, --config FILE   configuration file (default " CONFIG_DEFAULT_PATH ";\n"
    "                      the default may be missing)\n"
    "  --database URL      libpq connection string or URI; beats COOLINGD_DATABASE_URL,\n"
    "                      which beats the configuration's [database] url\n"
    "  --api URL           the read commands (loan show, loan events, borrower, loans,\n"
    "                      stats decisions, policy show, export) through coolingd's\n"
    "                      HTTP API instead of the database: no database login needed\n"
    "  --token-file FILE   with --api: the file that holds the API token\n"
    "  --cacert FILE       with --api over HTTPS: the CA to verify the daemon with;\n"
    "                      default the configuration's [tls] cert_file\n"
    "  -h, --help          help, also after any command: coolingctl lender add --help\n"
    "  --version           print the version\n"
    "\n"
    "exit status:\n"
    "  0  success\n"
    "  1  failure: not found, conflict, configuration or database error\n"
    "  2  usage error: unknown command or option, missing or invalid argument\n"
    "  3  the database cannot be reached\n";

enum {
	OPT_DATABASE = 256,
	OPT_VERSION,
	OPT_CONFIG,
	OPT_HELP,
	OPT_API,
	OPT_TOKEN_FILE,
	OPT_CACERT,
	OPT_COMMAND
};

static const struct option global_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"database", required_argument, NULL, OPT_DATABASE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"api", required_argument, NULL, OPT_API},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"cacert", required_argument, NULL, OPT_CACERT},
};

#define NGLOBAL (sizeof(global_options) / sizeof(global_options[0]))

/* ---- help ---- */

static void print_command_list(FILE *f, const char *group)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		size_t glen = group ? strlen(group) : 0;
		if (group && (strncmp(c->name, group, glen) != 0 || c->name[glen] != ' '))
			continue;
		fprintf(f, "  %s%s%s\n      %s\n", c->name, c->synopsis[0] ? " " : "", c->synopsis,
		        c->summary);
	}
}

static void print_usage(const char *group)
{
	if (group) {
		printf("usage: coolingctl %s SUBCOMMAND ...\n\ncommands:\n", group);
	} else {
		printf("usage: coolingctl [-c FILE] [--database URL] COMMAND [ARGUMENTS]\n"
		       "       coolingctl COMMAND --help | --help | --version\n"
		       "\n"
		       "The operator and compliance tool of coolingd: database migrations,\n"
		       "lenders, API clients, the MRP table, loans for compliance staff, and\n"
		       "the audit trail's export and verification.\n"
		       "\n"
		       "commands:\n");
	}
	print_command_list(stdout, group);
	printf("\n%s", global_help);
}

static void print_command_help(const struct command *c)
{
	printf("usage: coolingctl %s%s%s\n\n%s\n%s", c->name, c->synopsis[0] ? " " : "",
	       c->synopsis, c->help, global_help);
}

static void print_version(void)
{
	printf("coolingctl %s schema %d-%d\n", COOLINGD_VERSION, DB_SCHEMA_VERSION,
	       migrations[migrations_count - 1].version);
}

/* ---- pass 1: the command words ---- */

/* The global long option that name (without "--", up to '=') is an exact
 * name or unique prefix of; NULL when none. */
static const struct option *global_long(const char *s)
{
	size_t n = strcspn(s, "=");
	const struct option *found = NULL;
	for (size_t i = 0; i < NGLOBAL; i++) {
		if (strncmp(global_options[i].name, s, n) != 0)
			continue;
		if (strlen(global_options[i].name) == n)
			return &global_options[i];
		if (found)
			return NULL;
		found = &global_options[i];
	}
	return found;
}

/* Commands whose name starts with the words so far ("lender", "lender add"). */
static int count_matches(const char *words, const struct command **exact)
{
	int n = 0;
	size_t len = strlen(words);
	*exact = NULL;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *name = commands[i].name;
		if (strncmp(name, words, len) != 0 || (name[len] != '\0' && name[len] != ' '))
			continue;
		n++;
		if (name[len] == '\0')
			*exact = &commands[i];
	}
	return n;
}

/* An option's name for a message, without any "=value" (which might hold a
 * password). */
static void option_display(const char *arg, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)strcspn(arg, "="), arg);
}

/* Finds the command; marks its words in is_word. Returns -1 when a command
 * was found, else the exit code (help and version included). */
static int find_command(int argc, char **argv, bool *is_word, const struct command **cmd)
{
	char words[64] = "";
	const struct command *exact = NULL;
	bool literal = false;

	for (int i = 1; i < argc && exact == NULL; i++) {
		const char *s = argv[i];
		if (!literal && strcmp(s, "--") == 0) {
			literal = true;
			continue;
		}
		if (!literal && s[0] == '-' && s[1] != '\0') {
			const struct option *o = NULL;
			if (s[1] == '-')
				o = global_long(s + 2);
			if (strcmp(s, "-h") == 0 || (o && o->val == OPT_HELP)) {
				print_usage(words[0] ? words : NULL);
				return CLI_OK;
			}
			if (o && o->val == OPT_VERSION) {
				print_version();
				return CLI_OK;
			}
			if (strncmp(s, "-c", 2) == 0) {
				i += s[2] == '\0';
				continue;
			}
			if (o) {
				i += strchr(s, '=') == NULL;
				continue;
			}
			char name[64];
			option_display(s, name, sizeof(name));
			fprintf(stderr, "coolingctl: option '%s' must follow the command\n", name);
			return CLI_USAGE;
		}
		size_t used = strlen(words);
		if (used + strlen(s) + 2 > sizeof(words)) {
			fprintf(stderr, "coolingctl: unknown command (see coolingctl --help)\n");
			return CLI_USAGE;
		}
		snprintf(words + used, sizeof(words) - used, "%s%s", used ? " " : "", s);
		is_word[i] = true;
		if (count_matches(words, &exact) == 0) {
			fprintf(stderr,
			        "coolingctl: unknown command '%s' (see coolingctl --help)\n",
			        words);
			return CLI_USAGE;
		}
	}
	if (exact == NULL) {
		if (words[0] == '\0')
			fprintf(stderr, "coolingctl: no command given (see coolingctl --help)\n");
		else
			fprintf(stderr,
			        "coolingctl: %s: a subcommand is missing (see coolingctl %s "
			        "--help)\n",
			        words, words);
		return CLI_USAGE;
	}
	*cmd = exact;
	return -1;
}

/* ---- pass 2: options and arguments of the command ---- */

static void long_name_of(const struct option *opts, int val, char *out, size_t size)
{
	if (val == 'c') {
		snprintf(out, size, "-c");
		return;
	}
	for (int i = 0; opts[i].name; i++) {
		if (opts[i].val == val) {
			snprintf(out, size, "--%s", opts[i].name);
			return;
		}
	}
	snprintf(out, size, "-%c", val > 32 && val < 127 ? val : '?');
}

static int parse_command_line(struct cli *cli, int argc, char **argv, const bool *is_word,
                              struct cli_args *a)
{
	const struct command *cmd = cli->cmd;
	struct option opts[NGLOBAL + CLI_MAX_OPTIONS + 1];
	char names[CLI_MAX_OPTIONS][32];
	int nopts = 0;

	for (size_t i = 0; i < NGLOBAL; i++)
		opts[nopts++] = global_options[i];
	for (int i = 0; cmd->options[i]; i++) {
		const char *o = cmd->options[i];
		size_t n = strcspn(o, "=");
		snprintf(names[i], sizeof(names[i]), "%.*s", (int)n, o);
		opts[nopts++] = (struct option){
		    names[i], o[n] == '=' ? required_argument : no_argument, NULL, OPT_COMMAND + i};
	}
	opts[nopts] = (struct option){NULL, 0, NULL, 0};

	char **av = malloc(sizeof(char *) * ((size_t)argc + 1));
	if (av == NULL)
		return cli_fail(cli, CLI_FAIL, "out of memory");
	int ac = 0;
	for (int i = 0; i < argc; i++)
		if (!is_word[i])
			av[ac++] = argv[i];
	av[ac] = NULL;

	bool help = false, version = false;
	char error[160] = "";
	int ch;
	opterr = 0;
	optind = 0; /* full re-initialisation of GNU getopt */
	/* "-": arguments come back in order as option 1, wherever they are */
	while ((ch = getopt_long(ac, av, "-:c:h", opts, NULL)) != -1) {
		char name[64];
		if (ch == 1) {
			if (a->nargs < CLI_MAX_ARGS)
				a->arg[a->nargs] = optarg;
			a->nargs++;
		} else if (ch == 'c' || ch == OPT_CONFIG) {
			cli->config_path = optarg;
			cli->config_is_default = false;
		} else if (ch == OPT_DATABASE) {
			cli->database_opt = optarg;
		} else if (ch == OPT_API) {
			cli->api_url = optarg;
		} else if (ch == OPT_TOKEN_FILE) {
			cli->token_file = optarg;
		} else if (ch == OPT_CACERT) {
			cli->cacert = optarg;
		} else if (ch == 'h' || ch == OPT_HELP) {
			help = true;
		} else if (ch == OPT_VERSION) {
			version = true;
		} else if (ch >= OPT_COMMAND) {
			int i = ch - OPT_COMMAND;
			bool repeatable = strstr(cmd->options[i], "=*") != NULL;
			if (repeatable && a->nall[i] == CLI_MAX_REPEAT && error[0] == '\0')
				snprintf(error, sizeof(error),
				         "option '--%s' given more than %d times",
				         opts[ch - OPT_COMMAND + NGLOBAL].name, CLI_MAX_REPEAT);
			else if (!repeatable && a->opt[i] != NULL && error[0] == '\0')
				snprintf(error, sizeof(error), "option '--%s' given twice",
				         opts[ch - OPT_COMMAND + NGLOBAL].name);
			if (repeatable && a->nall[i] < CLI_MAX_REPEAT)
				a->all[i][a->nall[i]++] = optarg;
			if (a->opt[i] == NULL || !repeatable)
				a->opt[i] = optarg ? optarg : "";
		} else if (error[0] != '\0') {
			continue;
		} else if (ch == ':') {
			long_name_of(opts, optopt, name, sizeof(name));
			snprintf(error, sizeof(error), "option '%s' needs a value", name);
		} else if (optopt != 0 && optopt < 256) {
			snprintf(error, sizeof(error), "unknown option '-%c'",
			         optopt > 32 && optopt < 127 ? optopt : '?');
		} else if (optopt != 0) {
			long_name_of(opts, optopt, name, sizeof(name));
			snprintf(error, sizeof(error), "option '%s' takes no value", name);
		} else {
			option_display(av[optind - 1], name, sizeof(name));
			snprintf(error, sizeof(error), "unknown option '%s'", name);
		}
	}
	for (; optind < ac; optind++) {
		if (a->nargs < CLI_MAX_ARGS)
			a->arg[a->nargs] = av[optind];
		a->nargs++;
	}
	free(av);

	if (help) {
		print_command_help(cmd);
		return CLI_OK;
	}
	if (version) {
		print_version();
		return CLI_OK;
	}
	if (error[0] != '\0')
		return cli_usage(cli, "%s", error);
	if (cli->api_url != NULL && !(cmd->flags & CMD_API))
		return cli_usage(cli, "--api: only the read commands run through the API");
	if ((cli->token_file != NULL || cli->cacert != NULL) && cli->api_url == NULL)
		return cli_usage(cli, "--token-file and --cacert go with --api");
	if (cli->api_url != NULL && cli->database_opt != NULL)
		return cli_usage(cli, "--api and --database exclude each other");
	if (a->nargs < cmd->min_args || a->nargs > cmd->max_args) {
		if (cmd->max_args == 0)
			return cli_usage(cli, "takes no arguments; usage: coolingctl %s %s",
			                 cmd->name, cmd->synopsis);
		return cli_usage(cli, "%s arguments; usage: coolingctl %s %s",
		                 a->nargs < cmd->min_args ? "missing" : "too many", cmd->name,
		                 cmd->synopsis);
	}
	return -1;
}

int main(int argc, char **argv)
{
	/* Every time shown to a person is local time with its offset, in
	 * [policy] timezone once the configuration is read (cli_connect), in
	 * its default until then; tzdata knows the zone's history (Almaty:
	 * UTC+6 until 2024-03-01). */
	setenv("TZ", CLI_TIMEZONE, 1);
	tzset();

	struct cli cli = {.config_path = CONFIG_DEFAULT_PATH, .config_is_default = true};
	struct cli_args args = {0};
	bool *is_word = calloc((size_t)argc + 1, sizeof(bool));
	if (is_word == NULL) {
		fprintf(stderr, "coolingctl: out of memory\n");
		return CLI_FAIL;
	}

	int rc = find_command(argc, argv, is_word, &cli.cmd);
	if (rc < 0)
		rc = parse_command_line(&cli, argc, argv, is_word, &args);
	free(is_word);
	if (rc < 0)
		rc = cli.cmd->run(&cli, &args);

	if (cli.conn != NULL)
		PQfinish(cli.conn);
	cli_api_free(&cli);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "coolingctl: cannot write to standard output\n");
		if (rc == CLI_OK)
			rc = CLI_FAIL;
	}
	return rc;
}
