/* The load threads of support/load.h. */
#include "support/load.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

static void *load_main(void *arg)
{
	struct load *l = arg;
	const struct load_spec *s = l->spec;
	for (int i = 0; i < s->loans && !atomic_load(s->stop); i++) {
		struct load_loan *rec = &l->loans[l->count];
		snprintf(rec->id, sizeof rec->id, "%s-%d-%d", s->lender, l->n, i);
		struct e2e_loan o = {.iin_seed = (unsigned)(l->n * 1000 + i % 1000)};
		char consent[32], body[1024], path[256], headers[128];
		e2e_ts_from_now(consent, 0);
		o.consent_at = consent;
		/* a retried approval is the same request, consent time included */
		e2e_approval_body(body, sizeof body, rec->id, &o);
		e2e_loan_path(path, sizeof path, s->lender, NULL, NULL);
		struct http_resp r;
		l->count++;
		if (!s->until_2xx(l, path, body, NULL, &r))
			break;
		rec->approved = true;
		http_resp_free(&r);
		e2e_loan_path(path, sizeof path, s->lender, rec->id, "disbursement");
		snprintf(headers, sizeof headers, "Idempotency-Key: pay-%s\r\n", rec->id);
		if (!s->until_2xx(l, path, "{}", headers, &r))
			break;
		const char *d = e2e_jstr(r.json, "decision");
		rec->allowed = d != NULL && strcmp(d, "allowed") == 0;
		if (!rec->allowed && l->other[0] == '\0')
			snprintf(l->other, sizeof l->other, "payout not allowed: %s", r.body);
		http_resp_free(&r);
	}
	return NULL;
}

void load_start(struct load *loads, int n, const struct load_spec *spec)
{
	for (int i = 0; i < n; i++) {
		loads[i].n = i;
		loads[i].spec = spec;
		loads[i].loans = calloc((size_t)spec->loans, sizeof(struct load_loan));
		ck_assert_ptr_nonnull(loads[i].loans);
		ck_assert_int_eq(pthread_create(&loads[i].th, NULL, load_main, &loads[i]), 0);
	}
}

void load_stop(struct load *loads, int n)
{
	if (n > 0)
		atomic_store(loads[0].spec->stop, true);
	for (int i = 0; i < n; i++)
		pthread_join(loads[i].th, NULL);
}

struct load_acks load_check(PGconn *c, const struct load *loads, int n)
{
	struct load_acks a = {0};
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < loads[i].count; k++) {
			const struct load_loan *rec = &loads[i].loans[k];
			if (!rec->approved)
				continue;
			a.approved++;
			const char *p[] = {loads[i].spec->lender, rec->id};
			PGresult *r = PQexecParams(c,
			                           "SELECT disbursed_at IS NOT NULL FROM loan "
			                           "WHERE lender_id = $1 AND loan_id = $2",
			                           2, NULL, p, NULL, NULL, 0);
			ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
			if (PQntuples(r) != 1) {
				a.missing++;
				fprintf(stderr, "approved and lost: %s\n", rec->id);
			} else if (rec->allowed) {
				a.allowed++;
				if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
					a.unpaid++;
					fprintf(stderr, "allowed and not disbursed: %s\n", rec->id);
				}
			}
			PQclear(r);
		}
		if (loads[i].other[0] != '\0')
			fprintf(stderr, "unexpected answer: %s\n", loads[i].other);
	}
	return a;
}
