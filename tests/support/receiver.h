/*
 * A webhook receiver for the end-to-end tests: an HTTP server on a free
 * loopback port, in a thread of its own (libevent's evhttp), that records
 * every request it gets (body and the Coolingd-* headers) and answers each
 * with the status the test sets, or not at all (to make coolingd time
 * out). Start it inside the test (Check forks each test; a thread does
 * not survive the fork).
 */
#ifndef CD_TEST_RECEIVER_H
#define CD_TEST_RECEIVER_H

#include <stdbool.h>

struct receiver;

struct delivery {
	char *body;       /* malloc'd */
	char *signature;  /* Coolingd-Signature, "" when absent; malloc'd */
	char *webhook_id; /* Coolingd-Webhook-Id, "" when absent; malloc'd */
	char *content_type;
	int answered; /* the status it was answered with; 0: left unanswered */
};

/* NULL when it cannot listen. */
struct receiver *receiver_start(void);
int receiver_port(const struct receiver *r);
/* The status of the answers from now on; 0: leave requests unanswered. */
void receiver_set_status(struct receiver *r, int status);
/* Requests received so far. */
int receiver_count(struct receiver *r);
/* A copy of request i (free with delivery_free); false past the last. */
bool receiver_get(struct receiver *r, int i, struct delivery *out);
void delivery_free(struct delivery *d);
void receiver_stop(struct receiver *r);

#endif
