/*
 * The audit-chain sealer: every SEAL_INTERVAL_MS, worker 0 asks the database
 * to seal the committed audit events that are not sealed yet
 * (cd_audit_seal, sql/002_audit_chain.sql). Writers never wait for it; with
 * several daemons on one database, an advisory lock lets one seal at a time
 * and the others skip. See docs/audit.md.
 *
 * With [audit] signing_key it also signs checkpoints: after sealing it reads
 * the chain's head (cd_audit_seal_head, sql/004_audit_checkpoints.sql) and,
 * when this key has not signed that head yet and CHECKPOINT_INTERVAL_MS have
 * passed since its last checkpoint, signs (seq, hash, the database's now)
 * in the loop (Ed25519 takes microseconds) and stores the signature with
 * one more asynchronous statement. The private key never leaves this
 * process. Only worker 0's thread runs the sealer, so its state below
 * needs no lock.
 *
 * Worker 0 also counts, every UNSEALED_INTERVAL_MS, the events not sealed
 * yet (one asynchronous statement, never two at once) for
 * coolingd_audit_unsealed_events; it counts whether this daemon seals or
 * not, since another daemon on the database may be the one that does.
 */
#include "sealer.h"

#include <string.h>

#include "audit_sign.h"
#include "clock.h"
#include "hex.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "timeutil.h"

#define SEAL_INTERVAL_MS 200
/* At most one checkpoint a second: a steady load seals every 200 ms, and a
 * row per sealing would grow the table five times faster for little more
 * protection (events after the newest checkpoint can be cut unseen). */
#define CHECKPOINT_INTERVAL_MS 1000

/* How often, and up to how many (the count is a range scan as long as the
 * backlog). */
#define UNSEALED_INTERVAL_MS 1000
#define UNSEALED_CAP         "1000000"

static struct audit_key key; /* key.pkey NULL: no checkpoints */
static int64_t last_checkpoint_ms = INT64_MIN / 2;
static bool more_after_checkpoint; /* the sealing before it was a full batch */

bool sealer_key_load(const struct config *cfg, char *msg, size_t msg_size)
{
	if (cfg->audit_signing_key[0] == '\0')
		return true;
	char why[512];
	if (!audit_key_load_private(&key, cfg->audit_signing_key, why, sizeof(why))) {
		snprintf(msg, msg_size, "audit.signing_key: %s", why);
		return false;
	}
	return true;
}

const char *sealer_key_id(void)
{
	return key.pkey != NULL ? key.id : "";
}

void sealer_key_free(void)
{
	audit_key_free(&key);
}

static void seal_now(struct worker *w);

/* Ends a round: the timer starts the next, or at once after a full batch. */
static void round_done(struct worker *w, bool more)
{
	w->sealing = false;
	if (more && !w->draining)
		seal_now(w);
}

static void on_sealed(PGresult *res, void *arg)
{
	struct worker *w = arg;
	w->sealing = false;
	if (res == NULL)
		return; /* the database is away; the timer tries again */
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_kv(LOG_ERROR, "audit sealing failed", "error", PQresultErrorMessage(res), NULL);
		return;
	}
	/* a full batch: there is more; go on at once */
	round_done(w, db_sealed_of(res) == DB_SEAL_BATCH);
}

static void on_checkpoint_added(PGresult *res, void *arg)
{
	struct worker *w = arg;
	if (res == NULL) { /* the database is away; the timer tries again */
		round_done(w, false);
		return;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_kv(LOG_ERROR, "storing an audit checkpoint failed", "error",
		       PQresultErrorMessage(res), NULL);
		round_done(w, false);
		return;
	}
	last_checkpoint_ms = mono_ms();
	round_done(w, more_after_checkpoint);
}

/* Signs the chain's head (STMT_AUDIT_SEAL_HEAD) and stores the checkpoint;
 * false when there is nothing to sign now. */
static bool checkpoint(struct worker *w, const struct audit_head *h)
{
	if (h->seq == 0 || h->signed_by_key ||
	    mono_ms() - last_checkpoint_ms < CHECKPOINT_INTERVAL_MS)
		return false;
	int64_t seq = h->seq, now = h->now_us;
	const char *hash_hex = h->hash;
	unsigned char hash[AUDIT_HASH_LEN], sig[AUDIT_SIG_LEN];
	if (!audit_hash_from_hex(hash_hex, hash) ||
	    !audit_checkpoint_sign(&key, seq, hash, now, sig)) {
		log_kv(LOG_ERROR, "signing an audit checkpoint failed", NULL);
		return false;
	}
	char sig_hex[AUDIT_SIG_HEX_BUF];
	hex_encode(sig, sizeof(sig), sig_hex);
	struct db_num n[2];
	const char *params[] = {db_num(&n[0], seq), hash_hex, db_num(&n[1], now), key.id, sig_hex};
	return pgpool_exec(w->pool, STMT_AUDIT_CHECKPOINT_ADD, params, on_checkpoint_added, w);
}

static void on_sealed_head(PGresult *res, void *arg)
{
	struct worker *w = arg;
	if (res == NULL) {
		round_done(w, false);
		return;
	}
	struct audit_head h;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || !db_audit_head_row(res, &h)) {
		log_kv(LOG_ERROR, "audit sealing failed", "error", PQresultErrorMessage(res), NULL);
		round_done(w, false);
		return;
	}
	bool more = h.sealed == DB_SEAL_BATCH;
	more_after_checkpoint = more;
	if (!checkpoint(w, &h))
		round_done(w, more);
}

static void seal_now(struct worker *w)
{
	if (w->sealing || !pgpool_up(w->pool))
		return;
	struct db_num batch;
	if (key.pkey != NULL) {
		const char *params[] = {db_num(&batch, DB_SEAL_BATCH), key.id};
		w->sealing = pgpool_exec(w->pool, STMT_AUDIT_SEAL_HEAD, params, on_sealed_head, w);
		return;
	}
	const char *params[] = {db_num(&batch, DB_SEAL_BATCH)};
	w->sealing = pgpool_exec(w->pool, STMT_AUDIT_SEAL, params, on_sealed, w);
}

static void on_seal_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	seal_now(arg);
}

bool sealer_setup(struct worker *w)
{
	if (key.pkey != NULL)
		log_kv(LOG_INFO, "audit checkpoints on", "key_id", key.id, NULL);
	else
		log_kv(LOG_WARN,
		       "audit checkpoints off: [audit] signing_key is not set, so a cut end or a "
		       "recomputed audit chain cannot be detected (docs/audit.md)",
		       NULL);
	w->seal_timer = event_new(w->base, -1, EV_PERSIST, on_seal_timer, w);
	if (w->seal_timer == NULL)
		return false;
	struct timeval tv = {0, SEAL_INTERVAL_MS * 1000};
	return event_add(w->seal_timer, &tv) == 0;
}

/* ---- the count of unsealed events ---- */

static bool counting; /* a count is in flight */

static void on_unsealed(PGresult *res, void *arg)
{
	struct worker *w = arg;
	counting = false;
	if (res == NULL)
		return; /* the database is away: the gauge keeps its last value */
	int64_t n = PQresultStatus(res) == PGRES_TUPLES_OK ? db_unsealed_of(res) : -1;
	if (n < 0) {
		log_kv(LOG_WARN, "counting the unsealed audit events failed", "error",
		       PQresultErrorMessage(res), NULL);
		return;
	}
	metrics_audit_unsealed(w, n);
}

static void on_unsealed_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (counting || w->draining || !pgpool_up(w->pool))
		return;
	const char *params[] = {UNSEALED_CAP};
	counting = pgpool_exec(w->pool, STMT_AUDIT_UNSEALED, params, on_unsealed, w);
}

bool unsealed_count_setup(struct worker *w)
{
	w->unsealed_timer = event_new(w->base, -1, EV_PERSIST, on_unsealed_timer, w);
	if (w->unsealed_timer == NULL)
		return false;
	struct timeval tv = {UNSEALED_INTERVAL_MS / 1000, (UNSEALED_INTERVAL_MS % 1000) * 1000};
	return event_add(w->unsealed_timer, &tv) == 0;
}
