/*
 * The limit on failed authentications per source address: after
 * server.auth_failures_per_minute failures from one address within
 * server.auth_failure_window, requests from it that carry an Authorization
 * header get 429 until the window has passed, without a database round trip.
 *
 * A token that authenticated recently is not limited (below).
 *
 * One table for the whole process (every worker), behind a mutex: a bounded
 * number of addresses (RATELIMIT_ENTRIES), eviction of the least recently
 * seen within a small set when full. IPv6 addresses count per /64, since
 * anyone who has one address has the whole /64.
 */
#ifndef CD_RATELIMIT_H
#define CD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_ENTRIES 4096

/* An address as the limiter counts it. */
struct rl_key {
	uint8_t family; /* 4 or 6; 0: unknown (never limited) */
	uint8_t addr[8];
};

/* Sets up the process-wide table. limit 0 turns the limiter off. False when
 * out of memory. */
bool ratelimit_init(int64_t limit, int64_t window_s);
void ratelimit_free(void);
/* False when the limit is off (limit 0): nothing to count or check. */
bool ratelimit_enabled(void);

/* The key of a numeric address ("192.0.2.1", "2001:db8::1",
 * "::ffff:192.0.2.1" counts as 192.0.2.1). False (and family 0) when it does
 * not parse. */
bool ratelimit_key(const char *numeric_addr, struct rl_key *k);

/* When k is blocked now: the whole seconds (at least 1) until its window
 * ends; else 0. */
int64_t ratelimit_blocked(const struct rl_key *k);

/* Counts one failed authentication of k. True when this one reached the
 * limit (k is blocked from now on, until its window ends). */
bool ratelimit_failure(const struct rl_key *k);

/* The same, with the caller's monotonic clock in milliseconds (tests). */
int64_t ratelimit_blocked_at(const struct rl_key *k, int64_t now_ms);
bool ratelimit_failure_at(const struct rl_key *k, int64_t now_ms);

/*
 * Tokens that authenticated recently, so that a valid token is never
 * refused because other tokens failed from its address: a request whose
 * token is remembered here skips the limit (and only the limit: it is
 * still checked against the database, so a revoked token stops working at
 * once, and is forgotten when it fails). Keyed by the token's SHA-256, of
 * which only 64 bits are kept; someone who does not hold a valid token
 * cannot find such a value. A fixed table of RATELIMIT_VALID_SLOTS, shared
 * by the workers without a lock (a token seen on one worker is known on all);
 * a newer token may take an older one's slot.
 */
#define RATELIMIT_VALID_SLOTS 4096

void ratelimit_valid_remember(const unsigned char hash[32]);
bool ratelimit_valid_known(const unsigned char hash[32]);
void ratelimit_valid_forget(const unsigned char hash[32]);

#endif
