#ifndef RM_AGENT_WS_TLS_H
#define RM_AGENT_WS_TLS_H
/* TLS for the agent's client connections (WebSocket and enrollment): an optional pin
 * (SHA-256 of the server's leaf certificate) that replaces CA and name checks, and a CA
 * store that loads lazily. OpenSSL objects are borrowed for the call. */
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* 1 if SHA-256 of the certificate's DER equals pin_hex (64 hex chars, any case). */
int ws_tls_pin_ok(X509 *cert, const char *pin_hex);
/* For lws' PERFORM_SERVER_CERT_VERIFICATION callback: with no pin, 0 (OpenSSL's own CA
 * verification stands); with a pin, accepts the chain iff the leaf matches it (logged
 * with both fingerprints when not). Returns what the callback returns. */
int ws_tls_verify_pin(const char *pin, X509_STORE_CTX *x);
/* Client SSL_CTX setup: release idle buffers; without a pin, load the OS CAs (hashed
 * directory when it has hash links, else the default bundle). ctx may be NULL. */
void ws_tls_ctx_setup(SSL_CTX *ctx, const char *pin);

#endif
