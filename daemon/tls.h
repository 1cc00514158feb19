/*
 * HTTPS ([tls], docs/tls.md): one OpenSSL context for the whole daemon,
 * made at start-up and made anew on SIGHUP, and per connection an OpenSSL bufferevent that evhttp
 * reads and writes as it would a plain socket.
 */
#ifndef CD_TLS_H
#define CD_TLS_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Loads tls.cert_file and tls.key_file (checking that they belong
 * together), tls.client_ca_file when set (then a client certificate signed
 * by that CA is required) and tls.min_version. On any problem NULL, and msg
 * names the key and what is wrong. */
SSL_CTX *tls_ctx_new(const struct config *c, char *msg, size_t msg_size);

/* Puts next in *slot (the context new connections get) and drops the
 * slot's reference to the one it held; called by the main thread, while
 * workers may be in tls_bufferevent_new(). */
void tls_ctx_replace(SSL_CTX **slot, SSL_CTX *next);

/* The notAfter of the context's certificate, in seconds since the epoch;
 * -1 when it has none. */
int64_t tls_ctx_not_after(SSL_CTX *ctx);

/* A server-side OpenSSL bufferevent (no socket yet: evhttp sets it) with
 * the context in *slot (see tls_ctx_replace), or NULL when out of memory. */
struct bufferevent *tls_bufferevent_new(struct event_base *base, SSL_CTX **slot);

/* The subject CN of the client certificate of a connection's bufferevent
 * (the OpenSSL one that tls_bevcb gave evhttp), printable ASCII only; ""
 * for a plain connection or when no certificate was sent. */
void tls_peer_cn(struct bufferevent *bev, char *out, size_t size);

#endif
