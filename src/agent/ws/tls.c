/* TLS for the agent's client connections: certificate pinning and the CA store (see
 * tls.h). */
#include "agent/ws/tls.h"

#include <ctype.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/err.h"
#include "common/log.h"

int ws_tls_pin_ok(X509 *cert, const char *pin_hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	if (!cert || !pin_hex || !X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return 0;
	rm_hex_encode(md, mdlen, hex);
	if (strlen(pin_hex) != 64)
		return 0;
	char want[65];
	for (int i = 0; i < 64; i++)
		want[i] = (char)tolower((unsigned char)pin_hex[i]);
	want[64] = 0;
	return rm_str_ct_eq(hex, want);
}

int ws_tls_verify_pin(const char *pin, X509_STORE_CTX *x)
{
	if (!pin)
		return 0; /* plain CA verification by OpenSSL / lws */
	int depth = X509_STORE_CTX_get_error_depth(x);
	if (depth > 0) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 0;
	}
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	if (ws_tls_pin_ok(cert, pin)) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 0;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char got[2 * EVP_MAX_MD_SIZE + 1] = "";
	if (cert && X509_digest(cert, EVP_sha256(), md, &mdlen))
		rm_hex_encode(md, mdlen, got);
	RM_ERROR("server certificate does not match the configured tls_pin; refusing to connect",
	         "expected_sha256", pin, "got_sha256", got);
	X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
	return 1;
}

/* Without a pin: trust the OS CAs through OpenSSL's hashed certificate directory, which
 * it reads one certificate at a time as a handshake needs it. lws's default
 * (SSL_CTX_set_default_verify_paths) also parses the whole bundle file, ~150 certificates
 * kept in memory for the life of the process (~1.2 MB of heap). Falls back to the
 * bundle when the directory has no hash links (c_rehash / update-ca-certificates). */
static int cert_dir_hashed(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		found = n == 10 && e->d_name[8] == '.' && e->d_name[9] == '0' &&
		        strspn(e->d_name, "0123456789abcdef") == 8;
	}
	closedir(d);
	return found;
}

void ws_tls_ctx_setup(SSL_CTX *ctx, const char *pin)
{
	if (!ctx)
		return;
	/* free the ~34 KiB of TLS record buffers while the connection idles */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (pin) /* the pin replaces CA checks: no store at all */
		return;
	/* SSL_CERT_FILE / SSL_CERT_DIR are honoured, as OpenSSL's defaults would */
	const char *file = getenv(X509_get_default_cert_file_env());
	const char *dir = getenv(X509_get_default_cert_dir_env());
	int loaded = 0;
	if (file && *file)
		loaded |= SSL_CTX_load_verify_file(ctx, file) == 1;
	if (!dir || !*dir)
		dir = X509_get_default_cert_dir();
	if (cert_dir_hashed(dir))
		loaded |= SSL_CTX_load_verify_dir(ctx, dir) == 1;
	if (!loaded) {
		RM_DEBUG("no hashed CA directory; loading OpenSSL's default CA bundle", "dir", dir);
		SSL_CTX_set_default_verify_paths(ctx);
	}
}
