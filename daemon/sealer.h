/*
 * The signing key of the audit sealer ([audit] signing_key): loaded once at
 * start, before the workers exist, and only read afterwards.
 */
#ifndef CD_SEALER_H
#define CD_SEALER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Loads cfg's [audit] signing_key, if any. On false, msg names the key and
 * why (the file unreadable, not an Ed25519 PEM key, or open to group or
 * others): the daemon must not start. */
bool sealer_key_load(const struct config *cfg, char *msg, size_t msg_size);

/* The loaded key's id, "" when there is none. */
const char *sealer_key_id(void);

void sealer_key_free(void);

#endif
