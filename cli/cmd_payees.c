/*
 * The suspicious payee registry from the command line: the import of the
 * anti-fraud centre's file (the registries' import, cli_registry_import())
 * and one payee's entry. A card number is refused as in the API, and no
 * message repeats a payee's id that was refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "db.h"
#include "payee.h"
#include "timeutil.h"

/* A line of the file: the payee and its change. */
struct payee_line {
	struct payee p;
	struct refusal_req q;
};

static bool payee_parse(const struct csv_reader *r, int64_t today, void *item, struct cd_error *err)
{
	(void)today; /* no date in a payee's line depends on it */
	struct payee_line *x = item;
	return payee_csv_record(r, &x->p, &x->q, err);
}

static bool payee_send(PGconn *c, int64_t line, const void *item, struct cd_error *err)
{
	const struct payee_line *x = item;
	return db_payee_import_row(c, line, &x->p, &x->q, err);
}

int cmd_payees_import(struct cli *cli, const struct cli_args *a)
{
	struct payee_line x;
	const struct registry_import imp = {.name = "payees import",
	                                    .header = PAYEE_CSV_HEADER,
	                                    .item = &x,
	                                    .begin = db_payee_import_begin,
	                                    .header_check = payee_csv_header_check,
	                                    .parse = payee_parse,
	                                    .send = payee_send,
	                                    .end = db_payee_import_end};
	return cli_registry_import(cli, a, &imp);
}

int cmd_payees_show(struct cli *cli, const struct cli_args *a)
{
	struct payee p = {0};
	int kind;
	if (!name_lookup(&payee_kind_names, a->arg[0], &kind))
		return cli_usage(cli, "KIND must be account, card or wallet");
	p.kind = (enum payee_kind)kind;
	const char *why = NULL;
	/* the rejected id is not echoed: it may be a card number */
	if (!payee_id_valid(p.kind, a->arg[1], &why))
		return cli_usage(cli, "not a valid payee id: %s", why);
	snprintf(p.id, sizeof(p.id), "%s", a->arg[1]);
	bool json = cli_opt(cli, a, "json") != NULL;
	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	PGresult *r = db_payee_get(cli->conn, &p, &err);
	if (r == NULL)
		return cli_db_fail(cli, &err);
	size_t n;
	struct db_refusal_meta m;
	struct refusal_change *c = db_refusal_rows(r, &n, &m);
	if (c == NULL) {
		PQclear(r);
		return cli_fail(cli, CLI_FAIL, "no change was ever recorded for this payee");
	}
	if (json) {
		json_t *entry = codec_payee_entry_json(&p, c, n, m.now);
		free(c);
		PQclear(r);
		return cli_print_json(cli, entry);
	}
	int f = refusal_in_force(c, n, m.now);
	printf("payee:        %s %s\n", name_of(&payee_kind_names, (int)p.kind), p.id);
	printf("flagged:      %s\n", f >= 0 && c[f].active ? "yes: no payout may go to it" : "no");
	cli_print_registry_changes(c, n, f, m.now);
	free(c);
	PQclear(r);
	return CLI_OK;
}
