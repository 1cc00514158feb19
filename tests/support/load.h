/*
 * A load of the end-to-end tests that take coolingd through a change under
 * traffic (a rolling upgrade, a failover): threads that each approve loans
 * and pay them out, one after another, through a sender of the test's own
 * that retries a call until it is answered 2xx. Every loan is recorded with
 * what coolingd acknowledged, to be checked against the database at the end.
 */
#ifndef CD_TEST_LOAD_H
#define CD_TEST_LOAD_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "support/httpc.h"

struct load_loan {
	char id[32];
	bool approved; /* answered 2xx */
	bool allowed;  /* the payout answered 200 allowed */
};

struct load;

struct load_spec {
	const char *lender; /* the loans' lender, also the prefix of their ids */
	int loans;          /* per thread, at most */
	atomic_bool *stop;  /* set by load_stop() */
	/* Sends one POST again until it is answered 2xx (*out, the caller
	 * frees it); false when the load stops. May note the first unexpected
	 * answer in l->other. */
	bool (*until_2xx)(struct load *l, const char *path, const char *body, const char *headers,
	                  struct http_resp *out);
};

struct load {
	int n;
	pthread_t th;
	struct load_loan *loans; /* spec->loans of them */
	int count;               /* loans[0..count-1] were tried */
	char other[512];         /* the first unexpected answer */
	const struct load_spec *spec;
};

/* Starts n threads (fails the test when one cannot start). */
void load_start(struct load *loads, int n, const struct load_spec *spec);
/* Sets *spec->stop and waits for the threads to end. */
void load_stop(struct load *loads, int n);

/* What the load was answered 2xx for, compared with the database on c. */
struct load_acks {
	long approved, allowed; /* answered 2xx; of those, payouts allowed */
	long missing, unpaid;   /* approvals not in the database; payouts not made */
};
/* Names every loan lost or unpaid, and every load's unexpected answer, on
 * stderr. */
struct load_acks load_check(PGconn *c, const struct load *loads, int n);

#endif
