/*
 * End-to-end tests of HTTPS ([tls], docs/tls.md). At start the test makes a
 * CA, a server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1), a
 * client certificate signed by the CA and a self-signed one, with the
 * `openssl` command in a temporary directory; then talks to coolingd with a
 * small TLS client of its own (OpenSSL's SSL API) that verifies the server
 * against the CA:
 *
 * - HTTPS serves /healthz and authenticated calls; the plain listener stays;
 * - plain HTTP to the HTTPS port gets no HTTP answer;
 * - tls.min_version = TLSv1.3 refuses a TLS 1.2 client;
 * - with tls.client_ca_file (mutual TLS): no client certificate and a
 *   self-signed one are refused in the handshake, one signed by the CA is
 *   served, and its subject CN is in the access log ("tls_client");
 * - an unreadable certificate, and a key that does not match it, stop the
 *   daemon at start with a message naming the key;
 * - SIGHUP loads the certificate and key again: new connections get the new
 *   certificate, and coolingd_tls_certificate_expiry_timestamp_seconds its
 *   notAfter; a pair that does not load is refused whole (the log and
 *   coolingd_config_last_reload_successful say so) and the one in force
 *   stays;
 * - coolingctl --api over HTTPS verifies the daemon against --cacert, or
 *   the configuration's [tls] cert_file (a chain up to the CA), and prints
 *   what it prints from the database; against another CA it refuses.
 */
#include "check_main.h"
#include "support/daemon.h"
#include "support/e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static struct e2e_env env; /* coolingd with HTTPS, no client certificates */
static int tls_port;
static char *tok; /* lender core1 of BANK1 */
static char dir[256];

static char ca_crt[320], server_crt[320], server_key[320], client_crt[320], client_key[320],
    self_crt[320], self_key[320], other_key[320], renewed_crt[320], renewed_key[320];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command in dir; exits the process when it fails (meant for
 * the unchecked fixture). */
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	int n = snprintf(cmd, sizeof cmd, "cd '%s' && ( ", dir);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
	va_end(ap);
	snprintf(cmd + n, sizeof cmd - (size_t)n, " ) >>openssl.log 2>&1");
	if (system(cmd) != 0) {
		fprintf(stderr, "tls setup: failed: %s (see %s/openssl.log)\n", cmd, dir);
		exit(EXIT_FAILURE);
	}
}

static void make_certificates(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/coolingd-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "tls setup: mkdtemp: %s\n", strerror(errno));
		exit(EXIT_FAILURE);
	}
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
	/* the CA */
	sh("openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 -subj '/CN=coolingd test CA'"
	   " -addext basicConstraints=critical,CA:TRUE"
	   " -addext keyUsage=critical,keyCertSign,cRLSign",
	   ec);
	/* the server, for 127.0.0.1 */
	sh("printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext");
	sh("openssl req %s -keyout server.key -out server.csr -subj '/CN=127.0.0.1'", ec);
	sh("openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
	   " -out server.crt -days 2 -extfile server.ext");
	/* a core system's client certificate, signed by the CA */
	sh("printf 'extendedKeyUsage=clientAuth\\n' > client.ext");
	sh("openssl req %s -keyout client.key -out client.csr -subj '/CN=core-bank-1/O=Bank One'",
	   ec);
	sh("openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
	   " -out client.crt -days 2 -extfile client.ext");
	/* the same name, self-signed */
	sh("openssl req -x509 %s -keyout self.key -out self.crt -days 2"
	   " -subj '/CN=core-bank-1/O=Bank One'",
	   ec);
	/* the server's next certificate: another key, another name, a day more */
	sh("openssl req %s -keyout renewed.key -out renewed.csr -subj '/CN=127.0.0.1/O=renewed'",
	   ec);
	sh("openssl x509 -req -in renewed.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
	   " -out renewed.crt -days 3 -extfile server.ext");
	/* a key that belongs to no certificate here */
	sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key");

	snprintf(ca_crt, sizeof ca_crt, "%s/ca.crt", dir);
	snprintf(server_crt, sizeof server_crt, "%s/server.crt", dir);
	snprintf(server_key, sizeof server_key, "%s/server.key", dir);
	snprintf(client_crt, sizeof client_crt, "%s/client.crt", dir);
	snprintf(client_key, sizeof client_key, "%s/client.key", dir);
	snprintf(self_crt, sizeof self_crt, "%s/self.crt", dir);
	snprintf(self_key, sizeof self_key, "%s/self.key", dir);
	snprintf(other_key, sizeof other_key, "%s/other.key", dir);
	snprintf(renewed_crt, sizeof renewed_crt, "%s/renewed.crt", dir);
	snprintf(renewed_key, sizeof renewed_key, "%s/renewed.key", dir);
}

/* "COOLINGD_TLS_..." settings for a daemon with HTTPS on port; client_ca
 * NULL for none; extra one more "KEY=VALUE" or NULL. The strings live in kv
 * (7 entries) and env_out (8). */
static void tls_env(char kv[][400], const char *env_out[], int port, const char *cert,
                    const char *key, const char *client_ca, const char *min_version,
                    const char *extra)
{
	int n = 0;
	snprintf(kv[n], 400, "COOLINGD_TLS_LISTEN=127.0.0.1:%d", port);
	n++;
	snprintf(kv[n], 400, "COOLINGD_TLS_CERT_FILE=%s", cert);
	n++;
	snprintf(kv[n], 400, "COOLINGD_TLS_KEY_FILE=%s", key);
	n++;
	snprintf(kv[n], 400, "COOLINGD_TLS_CLIENT_CA_FILE=%s", client_ca ? client_ca : "");
	n++;
	snprintf(kv[n], 400, "COOLINGD_TLS_MIN_VERSION=%s", min_version ? min_version : "TLSv1.2");
	n++;
	snprintf(kv[n], 400, "COOLINGD_SERVER_THREADS=2");
	n++;
	if (extra != NULL) {
		snprintf(kv[n], 400, "%s", extra);
		n++;
	}
	for (int i = 0; i < n; i++)
		env_out[i] = kv[i];
	env_out[n] = NULL;
}

static void setup(void)
{
	make_certificates();
	tls_port = daemon_free_port();
	static char kv[7][400];
	static const char *e[8];
	tls_env(kv, e, tls_port, server_crt, server_key, NULL, NULL, NULL);
	e2e_start(&env, "tls", e);
	e2e_lender_add(&env, "BANK1", "bank");
	tok = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "tls teardown: could not remove %s\n", dir);
}

/* A client context that verifies the server against the test CA; with a
 * client certificate when cert is not NULL; at most TLS max_version when
 * not 0. */
static SSL_CTX *client_ctx(const char *cert, const char *key, int max_version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(c, ca_crt, NULL), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (cert != NULL) {
		ck_assert_int_eq(SSL_CTX_use_certificate_file(c, cert, SSL_FILETYPE_PEM), 1);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM), 1);
	}
	if (max_version != 0)
		SSL_CTX_set_max_proto_version(c, max_version);
	return c;
}

struct https_result {
	bool handshake;  /* SSL_connect succeeded and the server verified */
	int status;      /* the HTTP status, 0 when no response came */
	char body[4096]; /* the response body */
	char error[256]; /* what OpenSSL said when something failed */
	/* the server's certificate, after a handshake */
	char peer_subject[256];
	char peer_serial[80];     /* hex */
	long long peer_not_after; /* seconds since the epoch */
};

static void peer_certificate(SSL *ssl, struct https_result *res)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL)
		return;
	X509_NAME_oneline(X509_get_subject_name(cert), res->peer_subject, sizeof res->peer_subject);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(res->peer_serial, sizeof res->peer_serial, "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0;
	if (ASN1_TIME_diff(&days, &secs, epoch, X509_get0_notAfter(cert)) == 1)
		res->peer_not_after = (long long)days * 86400 + secs;
	ASN1_TIME_free(epoch);
	X509_free(cert);
}

static void ssl_error(struct https_result *res)
{
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, res->error, sizeof res->error);
	ERR_clear_error();
}

/* One HTTP/1.1 request over TLS to 127.0.0.1:port (Connection: close), the
 * response read to the end. */
static void https_req_body(SSL_CTX *c, int port, const char *method, const char *path,
                           const char *token, const char *body, struct https_result *res)
{
	memset(res, 0, sizeof *res);
	signal(SIGPIPE, SIG_IGN); /* a refused handshake closes the socket under us */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
	              strerror(errno));
	SSL *ssl = SSL_new(c);
	ck_assert_ptr_nonnull(ssl);
	/* the server's certificate must name 127.0.0.1 */
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ssl_error(res);
		goto out;
	}
	res->handshake = SSL_get_verify_result(ssl) == X509_V_OK;
	peer_certificate(ssl, res);
	char req[2048];
	int n = snprintf(req, sizeof req,
	                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s"
	                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n%s",
	                 method, path, token ? "Authorization: Bearer " : "", token ? token : "",
	                 token ? "\r\n" : "", body ? strlen(body) : 0, body ? body : "");
	if (SSL_write(ssl, req, n) != n) {
		ssl_error(res);
		goto out;
	}
	char buf[8192];
	size_t len = 0;
	for (;;) {
		int r = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
		if (r <= 0) {
			if (SSL_get_error(ssl, r) != SSL_ERROR_ZERO_RETURN)
				ssl_error(res);
			break;
		}
		len += (size_t)r;
		if (len == sizeof buf - 1)
			break;
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d", &res->status) != 1)
		res->status = 0;
	const char *rbody = strstr(buf, "\r\n\r\n");
	if (rbody != NULL)
		snprintf(res->body, sizeof res->body, "%s", rbody + 4);
out:
	SSL_free(ssl);
	close(fd);
}

static void https_req(SSL_CTX *c, int port, const char *method, const char *path, const char *token,
                      struct https_result *res)
{
	https_req_body(c, port, method, path, token, NULL, res);
}

START_TEST(test_https_serves_healthz_and_authenticated_calls)
{
	SSL_CTX *c = client_ctx(NULL, NULL, 0);
	struct https_result res;
	https_req(c, tls_port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.handshake, "handshake: %s", res.error);
	ck_assert_msg(res.status == 200, "status %d: %s", res.status, res.body);
	ck_assert_msg(strstr(res.body, "\"ok\"") != NULL, "body: %s", res.body);

	/* real calls: record an approval, read it back */
	https_req_body(c, tls_port, "POST", "/v1/lenders/BANK1/loans", tok,
	               "{\"loan_id\":\"TLS-1\",\"borrower_iin\":\"900101300126\","
	               "\"amount\":\"1000.00\",\"currency\":\"KZT\",\"channel\":\"online\","
	               "\"secured\":false,\"first_time_borrower\":false}",
	               &res);
	ck_assert_msg(res.status == 201, "status %d: %s", res.status, res.body);
	https_req(c, tls_port, "GET", "/v1/lenders/BANK1/loans/TLS-1", tok, &res);
	ck_assert_msg(res.status == 200 && strstr(res.body, "\"loan_id\":\"TLS-1\"") != NULL,
	              "status %d: %s", res.status, res.body);
	https_req(c, tls_port, "GET", "/v1/lenders/BANK1/loans/TLS-1",
	          "cdt_000000000000_0000000000000000000000000000000000000000", &res);
	ck_assert_msg(res.status == 401, "status %d: %s", res.status, res.body);
	SSL_CTX_free(c);

	/* the plain listener keeps working */
	struct http_resp r;
	e2e_call(&env, "GET", "/healthz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	/* no client certificate was asked for, so none is logged; first the
	 * access-log lines of the HTTPS calls, written just after each reply */
	static const char *const lines[][2] = {
	    {"\"path\":\"/v1/lenders/BANK1/loans/TLS-1\"", "\"client\":\"core1\""},
	    {"\"path\":\"/v1/lenders/BANK1/loans/TLS-1\"", "\"client\":\"\""}};
	for (int i = 0; i < 2; i++) {
		long long deadline = test_now_ms() + 30000;
		while (!e2e_file_has_line(env.d.log_path, lines[i][0], lines[i][1]) &&
		       test_now_ms() < deadline)
			test_sleep_ms(20);
		ck_assert_msg(e2e_file_has_line(env.d.log_path, lines[i][0], lines[i][1]),
		              "no access-log line with %s and %s in %s", lines[i][0], lines[i][1],
		              env.d.log_path);
	}
	ck_assert(!e2e_file_has_line(env.d.log_path, "\"tls_client\"", NULL));
}
END_TEST

START_TEST(test_tls_1_2_and_1_3_clients_are_served_by_default)
{
	SSL_CTX *c = client_ctx(NULL, NULL, TLS1_2_VERSION);
	struct https_result res;
	https_req(c, tls_port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.handshake && res.status == 200, "TLS 1.2: %d %s", res.status, res.error);
	SSL_CTX_free(c);
	c = client_ctx(NULL, NULL, TLS1_3_VERSION);
	https_req(c, tls_port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.handshake && res.status == 200, "TLS 1.3: %d %s", res.status, res.error);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_plain_http_to_the_https_port_gets_no_http_answer)
{
	struct http_resp r;
	int rc = http_req(tls_port, "GET", "/healthz", NULL, NULL, NULL, &r);
	ck_assert_msg(rc != 0 || r.status == 0, "plain HTTP on the HTTPS port got status %d",
	              r.status);
	if (rc == 0)
		http_resp_free(&r);
	/* and HTTPS still works afterwards */
	SSL_CTX *c = client_ctx(NULL, NULL, 0);
	struct https_result res;
	https_req(c, tls_port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.status == 200, "status %d: %s", res.status, res.error);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_min_version_tls_1_3_refuses_a_tls_1_2_client)
{
	int port = daemon_free_port();
	char kv[7][400];
	const char *e[8];
	tls_env(kv, e, port, server_crt, server_key, NULL, "TLSv1.3", NULL);
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, e));
	SSL_CTX *c = client_ctx(NULL, NULL, TLS1_2_VERSION);
	struct https_result res;
	https_req(c, port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(!res.handshake && res.status == 0, "a TLS 1.2 client got status %d",
	              res.status);
	SSL_CTX_free(c);
	c = client_ctx(NULL, NULL, 0);
	https_req(c, port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.status == 200, "a TLS 1.3 client: %d %s", res.status, res.error);
	SSL_CTX_free(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(test_mutual_tls_requires_a_client_certificate_signed_by_the_ca)
{
	int port = daemon_free_port();
	char kv[7][400];
	const char *e[8];
	/* a small connection limit: refused handshakes must give their
	 * connection back, or the CA-signed client below would wait forever */
	tls_env(kv, e, port, server_crt, server_key, ca_crt, NULL,
	        "COOLINGD_SERVER_MAX_CONNECTIONS=3");
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, e));
	struct https_result res;

	/* No certificate: refused in the handshake (with TLS 1.3 the client
	 * learns it at its first read), no HTTP answer. */
	SSL_CTX *c = client_ctx(NULL, NULL, 0);
	https_req(c, port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.status == 0, "no client certificate got status %d", res.status);
	SSL_CTX_free(c);
	c = client_ctx(NULL, NULL, TLS1_2_VERSION);
	https_req(c, port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(!res.handshake && res.status == 0,
	              "no client certificate (TLS 1.2) got status %d", res.status);
	SSL_CTX_free(c);

	/* A self-signed certificate with the right name: refused, and logged. */
	c = client_ctx(self_crt, self_key, 0);
	for (int i = 0; i < 4; i++) {
		https_req(c, port, "GET", "/healthz", NULL, &res);
		ck_assert_msg(res.status == 0, "a self-signed client certificate got status %d",
		              res.status);
	}
	SSL_CTX_free(c);
	ck_assert_msg(e2e_file_has_line(d.log_path, "TLS client certificate refused", NULL),
	              "no log line for the refused certificate");

	/* Signed by the CA: served, and the access log names it. */
	c = client_ctx(client_crt, client_key, 0);
	https_req(c, port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.handshake && res.status == 200, "CA-signed: %d %s", res.status,
	              res.error);
	https_req(c, port, "GET", "/v1/lenders/BANK1/loans/NO-SUCH", tok, &res);
	ck_assert_msg(res.status == 404, "CA-signed, authenticated: %d %s", res.status, res.body);
	SSL_CTX_free(c);
	c = client_ctx(client_crt, client_key, TLS1_2_VERSION);
	https_req(c, port, "GET", "/healthz", NULL, &res);
	ck_assert_msg(res.status == 200, "CA-signed over TLS 1.2: %d %s", res.status, res.error);
	SSL_CTX_free(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_msg(e2e_file_has_line(d.log_path, "\"tls_client\":\"core-bank-1\"", NULL),
	              "the access log does not name the client certificate");
	/* the bearer token still decides who the caller is */
	ck_assert(e2e_file_has_line(d.log_path,
	                            "\"client\":\"core1\",\"tls_client\":\"core-bank-1\"", NULL));
}
END_TEST

/* Starts coolingd with these TLS files; it must refuse, naming want_key. */
static void assert_refuses_to_start(const char *cert, const char *key, const char *client_ca,
                                    const char *want_key)
{
	char kv[7][400];
	const char *e[8];
	tls_env(kv, e, daemon_free_port(), cert, key, client_ca, NULL, NULL);
	struct daemon d;
	ck_assert_msg(!daemon_start(&d, env.db_url, e), "coolingd started with a bad %s", want_key);
	ck_assert_msg(e2e_file_has_line(d.log_path, want_key, NULL), "the message does not name %s",
	              want_key);
}

START_TEST(test_bad_certificate_or_key_stops_the_daemon_at_start_naming_the_key)
{
	char missing[400];
	snprintf(missing, sizeof missing, "%s/no-such.crt", dir);
	assert_refuses_to_start(missing, server_key, NULL, "tls.cert_file");
	/* not a certificate at all */
	assert_refuses_to_start(server_key, server_key, NULL, "tls.cert_file");
	/* a key of another certificate */
	assert_refuses_to_start(server_crt, other_key, NULL,
	                        "does not match the certificate in tls.cert_file");
	snprintf(missing, sizeof missing, "%s/no-such.key", dir);
	assert_refuses_to_start(server_crt, missing, NULL, "tls.key_file");
	/* no certificate given */
	assert_refuses_to_start("", server_key, NULL, "tls.cert_file");
	snprintf(missing, sizeof missing, "%s/no-such-ca.crt", dir);
	assert_refuses_to_start(server_crt, server_key, missing, "tls.client_ca_file");
}
END_TEST

/* Copies src over dst, as an operator renewing a certificate would. */
static void copy_over(const char *src, const char *dst)
{
	size_t len = 0;
	char *data = e2e_read_file(src, &len);
	ck_assert_ptr_nonnull(data);
	FILE *f = fopen(dst, "wb");
	ck_assert_msg(f != NULL, "%s: %s", dst, strerror(errno));
	ck_assert_int_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(data);
}

/* The value of a series without labels on the metrics listener of port;
 * -1 when the scrape has none. */
static double metric(int port, const char *name)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
	                          "Connection: close\r\n\r\n";
	char *resp = NULL;
	ck_assert_int_eq(http_raw(port, req, sizeof req - 1, &resp, 10000), 0);
	ck_assert_ptr_nonnull(resp);
	char pattern[200];
	snprintf(pattern, sizeof pattern, "\n%s ", name);
	const char *at = strstr(resp, pattern);
	double v = at ? strtod(at + strlen(pattern), NULL) : -1;
	free(resp);
	return v;
}

/* The certificate that a new connection to port gets; waits up to 5 s for
 * one with the serial `want` (NULL: any). */
static void new_connection_sees(SSL_CTX *c, int port, const char *want, struct https_result *res)
{
	long long t0 = test_now_ms();
	for (;;) {
		https_req(c, port, "GET", "/healthz", NULL, res);
		ck_assert_msg(res->handshake && res->status == 200, "status %d: %s", res->status,
		              res->error);
		if (want == NULL || strcmp(res->peer_serial, want) == 0)
			return;
		ck_assert_msg(test_now_ms() - t0 < 5000, "still serial %s (%s), not %s",
		              res->peer_serial, res->peer_subject, want);
		test_sleep_ms(50);
	}
}

START_TEST(test_sighup_loads_a_renewed_certificate_and_keeps_the_old_one_for_a_bad_pair)
{
	/* the daemon's own copies of the files, which the test replaces */
	char live_crt[340], live_key[340], metrics_kv[64];
	snprintf(live_crt, sizeof live_crt, "%s/live.crt", dir);
	snprintf(live_key, sizeof live_key, "%s/live.key", dir);
	copy_over(server_crt, live_crt);
	copy_over(server_key, live_key);
	ck_assert_int_eq(chmod(live_key, 0600), 0);
	int port = daemon_free_port(), metrics_port = daemon_free_port();
	snprintf(metrics_kv, sizeof metrics_kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d",
	         metrics_port);
	char kv[7][400];
	const char *e[8];
	tls_env(kv, e, port, live_crt, live_key, NULL, NULL, metrics_kv);
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, e));
	SSL_CTX *c = client_ctx(NULL, NULL, 0);
	struct https_result first, renewed, res;
	new_connection_sees(c, port, NULL, &first);
	ck_assert_msg(strstr(first.peer_subject, "renewed") == NULL, "%s", first.peer_subject);
	ck_assert(metric(metrics_port, "coolingd_tls_certificate_expiry_timestamp_seconds") ==
	          (double)first.peer_not_after);

	/* renewed: new connections get the new certificate */
	copy_over(renewed_crt, live_crt);
	copy_over(renewed_key, live_key);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	char serial[80];
	{
		/* the renewed certificate's serial, as the CA wrote it */
		char cmd[700], line[200] = "";
		snprintf(cmd, sizeof cmd, "openssl x509 -in '%s' -noout -serial", renewed_crt);
		FILE *p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
		pclose(p);
		ck_assert_int_eq(sscanf(line, "serial=%79s", serial), 1);
	}
	ck_assert_str_ne(serial, first.peer_serial);
	new_connection_sees(c, port, serial, &renewed);
	ck_assert_msg(strstr(renewed.peer_subject, "O=renewed") != NULL, "%s",
	              renewed.peer_subject);
	ck_assert(renewed.peer_not_after > first.peer_not_after);
	long long t0 = test_now_ms();
	while (metric(metrics_port, "coolingd_tls_certificate_expiry_timestamp_seconds") !=
	       (double)renewed.peer_not_after) {
		ck_assert_msg(test_now_ms() - t0 < 5000, "the expiry metric did not move");
		test_sleep_ms(50);
	}
	ck_assert(metric(metrics_port, "coolingd_config_last_reload_successful") == 1);

	/* a key of another certificate: refused, the renewed pair stays */
	copy_over(other_key, live_key);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	t0 = test_now_ms();
	while (!e2e_file_has_line(d.log_path, "reload failed", "tls.key_file")) {
		ck_assert_msg(test_now_ms() - t0 < 5000, "no reload failure naming tls.key_file");
		test_sleep_ms(50);
	}
	ck_assert(metric(metrics_port, "coolingd_config_last_reload_successful") == 0);
	ck_assert(metric(metrics_port, "coolingd_tls_certificate_expiry_timestamp_seconds") ==
	          (double)renewed.peer_not_after);
	new_connection_sees(c, port, NULL, &res);
	ck_assert_str_eq(res.peer_serial, serial);
	/* and a file that is no certificate at all */
	copy_over(renewed_key, live_key);
	copy_over(renewed_key, live_crt);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	t0 = test_now_ms();
	while (!e2e_file_has_line(d.log_path, "reload failed", "tls.cert_file")) {
		ck_assert_msg(test_now_ms() - t0 < 5000, "no reload failure naming tls.cert_file");
		test_sleep_ms(50);
	}
	new_connection_sees(c, port, NULL, &res);
	ck_assert_str_eq(res.peer_serial, serial);
	SSL_CTX_free(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(test_coolingctl_api_over_https_verifies_the_daemon)
{
	e2e_approve(&env, tok, "BANK1", "TLS-CLI", &(struct e2e_loan){.iin_seed = 9}, NULL);
	char token_file[400], chain[400], url[64];
	snprintf(token_file, sizeof token_file, "%s/token", dir);
	snprintf(chain, sizeof chain, "%s/chain.pem", dir);
	snprintf(url, sizeof url, "https://127.0.0.1:%d", tls_port);
	FILE *f = fopen(token_file, "w");
	ck_assert(f != NULL);
	fprintf(f, "%s\n", tok);
	fclose(f);
	sh("cat server.crt ca.crt > chain.pem");

	const char *const db_args[] = {"loan", "show", "BANK1", "TLS-CLI", "--json", NULL};
	int code;
	char *err;
	char *db = run_ctl_argv(env.db_url, db_args, &code, &err);
	ck_assert_int_eq(code, 0);
	free(err);

	/* --cacert */
	const char *const with_ca[] = {"--api",    url,       "--token-file", token_file,
	                               "--cacert", ca_crt,    "loan",         "show",
	                               "BANK1",    "TLS-CLI", "--json",       NULL};
	char *out = run_ctl_argv(NULL, with_ca, &code, &err);
	ck_assert_msg(code == 0, "exit %d: %s", code, err);
	ck_assert_str_eq(out, db);
	free(out);
	free(err);

	/* [tls] cert_file, a chain that ends with the CA */
	setenv("COOLINGD_TLS_CERT_FILE", chain, 1);
	const char *const from_config[] = {"--api", url,     "--token-file", token_file, "loan",
	                                   "show",  "BANK1", "TLS-CLI",      "--json",   NULL};
	out = run_ctl_argv(NULL, from_config, &code, &err);
	unsetenv("COOLINGD_TLS_CERT_FILE");
	ck_assert_msg(code == 0, "exit %d: %s", code, err);
	ck_assert_str_eq(out, db);
	free(out);
	free(err);

	/* another CA: refused before the request is sent */
	const char *const other_ca[] = {"--api",  url,    "--token-file", token_file, "--cacert",
	                                self_crt, "loan", "show",         "BANK1",    "TLS-CLI",
	                                NULL};
	out = run_ctl_argv(NULL, other_ca, &code, &err);
	ck_assert_int_eq(code, 1);
	ck_assert_msg(strstr(err, "not verified") != NULL, "%s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	free(db);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_https_serves_healthz_and_authenticated_calls);
	tcase_add_test(tc, test_tls_1_2_and_1_3_clients_are_served_by_default);
	tcase_add_test(tc, test_plain_http_to_the_https_port_gets_no_http_answer);
	tcase_add_test(tc, test_min_version_tls_1_3_refuses_a_tls_1_2_client);
	tcase_add_test(tc, test_mutual_tls_requires_a_client_certificate_signed_by_the_ca);
	tcase_add_test(tc, test_bad_certificate_or_key_stops_the_daemon_at_start_naming_the_key);
	tcase_add_test(
	    tc, test_sighup_loads_a_renewed_certificate_and_keeps_the_old_one_for_a_bad_pair);
	tcase_add_test(tc, test_coolingctl_api_over_https_verifies_the_daemon);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(tls_suite)
