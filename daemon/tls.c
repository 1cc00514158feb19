/*
 * HTTPS with OpenSSL 3 and libevent's OpenSSL bufferevents (tls.h). The
 * context is made before the workers start, and shared by all of them
 * (OpenSSL contexts are safe to share between threads once set up); each
 * connection gets its own SSL object. A reload replaces the context whole:
 * a context is never changed once in use, and each SSL holds a reference
 * to its own, so connections open at the reload go on with the old one.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

/* Held while a worker takes a reference to the context in force and while
 * the main thread replaces it, so that no worker takes one to a context
 * being freed. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

/* "KEY: PATH: why" with OpenSSL's most recent error, if any, as the why. */
static void tls_setup_fail(char *msg, size_t msg_size, const char *key, const char *path,
                           const char *why)
{
	char ssl_err[256] = "";
	unsigned long e, last = 0;
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, ssl_err, sizeof(ssl_err));
	snprintf(msg, msg_size, "%s: %s%s%s%s%s", key, path ? path : "", path ? ": " : "", why,
	         ssl_err[0] ? ": " : "", ssl_err);
}

/* A file that cannot be opened gets the system's reason, which is clearer
 * than OpenSSL's. */
static bool readable(const char *key, const char *path, char *msg, size_t msg_size)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(msg, msg_size, "%s: %s: %s", key, path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

/* Refused client certificates are worth a line in the log: who tried, with
 * which certificate, and why it was refused. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
	if (ok)
		return ok;
	int err = X509_STORE_CTX_get_error(store);
	char subject[256] = "";
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	if (cert != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	char addr[INET6_ADDRSTRLEN] = "";
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	int fd = ssl ? SSL_get_fd(ssl) : -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		getnameinfo((struct sockaddr *)&ss, len, addr, sizeof(addr), NULL, 0,
		            NI_NUMERICHOST);
	log_kv(LOG_WARN, "TLS client certificate refused", "peer", addr, "subject", subject,
	       "reason", X509_verify_cert_error_string(err), NULL);
	return ok;
}

SSL_CTX *tls_ctx_new(const struct config *c, char *msg, size_t msg_size)
{
	if (c->tls_cert_file[0] == '\0') {
		snprintf(msg, msg_size, "tls.cert_file: required when tls.listen is set");
		return NULL;
	}
	if (c->tls_key_file[0] == '\0') {
		snprintf(msg, msg_size, "tls.key_file: required when tls.listen is set");
		return NULL;
	}
	if (!readable("tls.cert_file", c->tls_cert_file, msg, msg_size) ||
	    !readable("tls.key_file", c->tls_key_file, msg, msg_size) ||
	    (c->tls_client_ca_file[0] != '\0' &&
	     !readable("tls.client_ca_file", c->tls_client_ca_file, msg, msg_size)))
		return NULL;

	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_setup_fail(msg, msg_size, "tls", NULL, "cannot create an OpenSSL context");
		return NULL;
	}
	int min = strcmp(c->tls_min_version, "TLSv1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
	if (!SSL_CTX_set_min_proto_version(ctx, min)) {
		tls_setup_fail(msg, msg_size, "tls.min_version", c->tls_min_version,
		               "not supported");
		goto err;
	}
	/* No client-initiated renegotiation (a cheap way to make a server
	 * work hard); the server's cipher order; buffers released while a
	 * connection is idle, for many open connections. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) != 1) {
		tls_setup_fail(msg, msg_size, "tls.cert_file", c->tls_cert_file,
		               "not a PEM certificate (chain)");
		goto err;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key_file, SSL_FILETYPE_PEM) != 1) {
		bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
		tls_setup_fail(msg, msg_size, "tls.key_file", c->tls_key_file,
		               mismatch ? "does not match the certificate in tls.cert_file"
		                        : "not a PEM private key");
		goto err;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_setup_fail(msg, msg_size, "tls.key_file", c->tls_key_file,
		               "does not match the certificate in tls.cert_file");
		goto err;
	}

	if (c->tls_client_ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, c->tls_client_ca_file, NULL) != 1) {
			tls_setup_fail(msg, msg_size, "tls.client_ca_file", c->tls_client_ca_file,
			               "not a PEM CA certificate");
			goto err;
		}
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->tls_client_ca_file);
		if (names == NULL) {
			tls_setup_fail(msg, msg_size, "tls.client_ca_file", c->tls_client_ca_file,
			               "no CA certificate in it");
			goto err;
		}
		SSL_CTX_set_client_CA_list(ctx, names); /* the list is the context's now */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		                   verify_cb);
		SSL_CTX_set_verify_depth(ctx, 4);
		/* resumed sessions need this once clients are verified */
		static const unsigned char sid_ctx[] = "coolingd";
		SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	}
	return ctx;
err:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_replace(SSL_CTX **slot, SSL_CTX *next)
{
	pthread_mutex_lock(&ctx_lock);
	SSL_CTX *old = *slot;
	*slot = next;
	pthread_mutex_unlock(&ctx_lock);
	if (old != NULL)
		SSL_CTX_free(old); /* the connections that use it hold their own references */
}

int64_t tls_ctx_not_after(SSL_CTX *ctx)
{
	X509 *cert = ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL;
	const ASN1_TIME *end = cert != NULL ? X509_get0_notAfter(cert) : NULL;
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0;
	bool ok = end != NULL && epoch != NULL && ASN1_TIME_diff(&days, &secs, epoch, end) == 1;
	ASN1_TIME_free(epoch);
	return ok ? (int64_t)days * 86400 + secs : -1;
}

struct bufferevent *tls_bufferevent_new(struct event_base *base, SSL_CTX **slot)
{
	pthread_mutex_lock(&ctx_lock);
	SSL *ssl = SSL_new(*slot);
	pthread_mutex_unlock(&ctx_lock);
	if (ssl == NULL)
		return NULL;
	/* frees ssl itself when it fails, and on bufferevent_free */
	struct bufferevent *bev =
	    bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev != NULL) {
		/* a client that closes without close_notify has still closed:
		 * EOF, not an error */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	return bev;
}

void tls_peer_cn(struct bufferevent *bev, char *out, size_t size)
{
	out[0] = '\0';
	if (bev == NULL || size == 0)
		return;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	if (ssl == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (cert == NULL)
		return;
	X509_NAME *name = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return;
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n < 0)
		return;
	size_t o = 0;
	int k = 0;
	for (; k < n && o + 1 < size; k++) {
		unsigned char ch = utf8[k];
		out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	/* cut short: not in the middle of a UTF-8 sequence */
	if (k < n)
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
	if (k < n && o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
		o--;
	out[o] = '\0';
	OPENSSL_free(utf8);
}
