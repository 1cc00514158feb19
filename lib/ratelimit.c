/*
 * Failed authentications per source address (ratelimit.h).
 *
 * Each address has a window that opens at its first failure and lasts
 * window_ms; the limit counts the failures inside it. The table is
 * set-associative: an address hashes (with a per-process random seed, so
 * that nobody can aim many addresses at one set) to a set of RL_WAYS
 * entries. A new address takes a free or expired entry of its set, else the
 * least recently seen one that is not blocked, else the least recently seen.
 * Every operation touches one set: constant time under the mutex. While no
 * address is blocked (blocked_until has passed), a check takes no lock at
 * all: the request path shares nothing but one atomic load.
 */
#include "ratelimit.h"

#include "clock.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RL_WAYS 8
#define RL_SETS (RATELIMIT_ENTRIES / RL_WAYS)

struct rl_entry {
	struct rl_key key;
	bool used;
	uint32_t count;
	int64_t start_ms; /* the window's opening: its first failure */
	int64_t seen_ms;  /* the latest failure */
};

static struct {
	pthread_mutex_t mu;
	struct rl_entry *entries; /* RL_SETS * RL_WAYS */
	int64_t limit;
	int64_t window_ms;
	uint64_t seed;
	_Atomic int64_t blocked_until; /* no address is blocked from then on */
} rl = {.mu = PTHREAD_MUTEX_INITIALIZER};

bool ratelimit_init(int64_t limit, int64_t window_s)
{
	rl.limit = limit;
	rl.window_ms = window_s * 1000;
	if (limit <= 0)
		return true;
	rl.entries = calloc(RL_SETS * RL_WAYS, sizeof(*rl.entries));
	if (rl.entries == NULL)
		return false;
	if (getrandom(&rl.seed, sizeof(rl.seed), 0) != sizeof(rl.seed))
		rl.seed = (uint64_t)mono_ms() * 0x9e3779b97f4a7c15ULL;
	return true;
}

bool ratelimit_enabled(void)
{
	return rl.entries != NULL;
}

void ratelimit_free(void)
{
	free(rl.entries);
	rl.entries = NULL;
}

bool ratelimit_key(const char *numeric_addr, struct rl_key *k)
{
	memset(k, 0, sizeof(*k));
	unsigned char a[16];
	if (inet_pton(AF_INET, numeric_addr, a) == 1) {
		k->family = 4;
		memcpy(k->addr, a, 4);
		return true;
	}
	if (inet_pton(AF_INET6, numeric_addr, a) == 1) {
		static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
		                                           0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			k->family = 4;
			memcpy(k->addr, a + 12, 4);
		} else {
			k->family = 6;
			memcpy(k->addr, a, 8); /* the /64 */
		}
		return true;
	}
	return false;
}

static struct rl_entry *set_of(const struct rl_key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ rl.seed;
	h = (h ^ k->family) * 0x100000001b3ULL;
	for (size_t i = 0; i < sizeof(k->addr); i++)
		h = (h ^ k->addr[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	return &rl.entries[(h % RL_SETS) * RL_WAYS];
}

static bool same_key(const struct rl_key *a, const struct rl_key *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static bool expired(const struct rl_entry *e, int64_t now_ms)
{
	return now_ms - e->start_ms >= rl.window_ms;
}

static struct rl_entry *find(struct rl_entry *set, const struct rl_key *k)
{
	for (int i = 0; i < RL_WAYS; i++)
		if (set[i].used && same_key(&set[i].key, k))
			return &set[i];
	return NULL;
}

int64_t ratelimit_blocked_at(const struct rl_key *k, int64_t now_ms)
{
	if (rl.entries == NULL || k->family == 0 || now_ms >= atomic_load(&rl.blocked_until))
		return 0;
	int64_t retry_s = 0;
	pthread_mutex_lock(&rl.mu);
	struct rl_entry *e = find(set_of(k), k);
	if (e != NULL && e->count >= rl.limit && !expired(e, now_ms)) {
		int64_t left_ms = e->start_ms + rl.window_ms - now_ms;
		retry_s = (left_ms + 999) / 1000;
		if (retry_s < 1)
			retry_s = 1;
	}
	pthread_mutex_unlock(&rl.mu);
	return retry_s;
}

/* The entry a new address takes in its set. */
static struct rl_entry *victim(struct rl_entry *set, int64_t now_ms)
{
	struct rl_entry *lru = NULL, *lru_unblocked = NULL;
	for (int i = 0; i < RL_WAYS; i++) {
		struct rl_entry *e = &set[i];
		if (!e->used || expired(e, now_ms))
			return e;
		if (lru == NULL || e->seen_ms < lru->seen_ms)
			lru = e;
		if (e->count < rl.limit &&
		    (lru_unblocked == NULL || e->seen_ms < lru_unblocked->seen_ms))
			lru_unblocked = e;
	}
	return lru_unblocked != NULL ? lru_unblocked : lru;
}

bool ratelimit_failure_at(const struct rl_key *k, int64_t now_ms)
{
	if (rl.entries == NULL || k->family == 0)
		return false;
	pthread_mutex_lock(&rl.mu);
	struct rl_entry *set = set_of(k);
	struct rl_entry *e = find(set, k);
	if (e == NULL)
		e = victim(set, now_ms);
	if (!e->used || !same_key(&e->key, k) || expired(e, now_ms)) {
		e->key = *k;
		e->used = true;
		e->count = 0;
		e->start_ms = now_ms;
	}
	if (e->count < UINT32_MAX)
		e->count++;
	e->seen_ms = now_ms;
	bool reached = e->count == (uint64_t)rl.limit;
	if (reached && e->start_ms + rl.window_ms > atomic_load(&rl.blocked_until))
		atomic_store(&rl.blocked_until, e->start_ms + rl.window_ms);
	pthread_mutex_unlock(&rl.mu);
	return reached;
}

int64_t ratelimit_blocked(const struct rl_key *k)
{
	return ratelimit_blocked_at(k, mono_ms());
}

bool ratelimit_failure(const struct rl_key *k)
{
	return ratelimit_failure_at(k, mono_ms());
}

/* ---- tokens known to be valid ---- */

/* 0: an empty slot. Relaxed atomics: a slot is one word, read and written
 * whole; a lost race only means one more trip through the limit. */
static _Atomic uint64_t valid_slots[RATELIMIT_VALID_SLOTS];

static uint64_t fingerprint(const unsigned char hash[32], size_t *slot)
{
	uint64_t fp = 0, ix = 0;
	for (int i = 0; i < 8; i++) {
		fp = (fp << 8) | hash[i];
		ix = (ix << 8) | hash[8 + i];
	}
	*slot = (size_t)(ix % RATELIMIT_VALID_SLOTS);
	return fp != 0 ? fp : 1;
}

void ratelimit_valid_remember(const unsigned char hash[32])
{
	size_t slot;
	uint64_t fp = fingerprint(hash, &slot);
	/* no store (and no shared cache line made dirty) when already there */
	if (atomic_load_explicit(&valid_slots[slot], memory_order_relaxed) != fp)
		atomic_store_explicit(&valid_slots[slot], fp, memory_order_relaxed);
}

bool ratelimit_valid_known(const unsigned char hash[32])
{
	size_t slot;
	uint64_t fp = fingerprint(hash, &slot);
	return atomic_load_explicit(&valid_slots[slot], memory_order_relaxed) == fp;
}

void ratelimit_valid_forget(const unsigned char hash[32])
{
	size_t slot;
	uint64_t fp = fingerprint(hash, &slot);
	atomic_compare_exchange_strong(&valid_slots[slot], &fp, 0);
}
