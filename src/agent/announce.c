/* `restic-manager-agent enroll --server URL` without a token: announce-and-approve.
 *
 * The agent makes an Ed25519 key pair (the seed kept in <state>/announce.key, 0600, so a
 * restarted `enroll` continues the same announcement), prints the key's fingerprint,
 * announces itself and polls until an administrator accepts or rejects it on the server,
 * comparing the fingerprint the server lists with the one printed here. Each poll signs
 * (id, nonce) with the key: knowing the announcement id is not enough to collect the
 * bearer. Blocking, one-shot CLI (like token enrollment). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/config.h"
#include "agent/enroll.h"
#include "agent/host.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sign.h"

#ifndef RM_VERSION
#define RM_VERSION "0.0.0"
#endif

#define KEY_FILE "announce.key"
#define MAX_WAIT_S (6 * 3600) /* give up after this long without a decision */
#define MAX_REANNOUNCE 5      /* stale nonces in a row before giving up */
#define BACKOFF_MAX_S 60
#define REMIND_S 300 /* repeat the fingerprint line this often while waiting */

struct announce {
	const struct enroll_opts *o;
	const struct enroll_host *h;
	uint8_t pk[RM_SIGN_PK_BYTES], sk[RM_SIGN_SK_BYTES];
	char pk_b64[RM_SIGN_PK_B64_LEN + 1];
	char fp[RM_SIGN_FP_LEN];
	char id[64], nonce[64];
	int poll_after_s;
	char *key_path;
};

static void sleep_s(int s)
{
	struct timespec ts = { .tv_sec = s, .tv_nsec = 0 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Loads the seed from <state>/announce.key, or makes and stores a new one. */
static int load_key(struct announce *a)
{
	uint8_t seed[RM_SIGN_SEED_BYTES];
	char *txt = NULL;
	int rc = rm_read_file(a->key_path, 256, &txt, NULL);
	if (rc == RM_OK) {
		size_t n = strcspn(txt, "\r\n");
		txt[n] = 0;
		rc = rm_hex_decode(txt, seed, sizeof seed);
		sodium_memzero(txt, n);
		free(txt);
		if (rc) {
			RM_ERROR("announce key file is damaged; remove it to start over", "path",
			         a->key_path);
			return RM_ERR_INVAL;
		}
	} else if (rc == RM_ERR_NOTFOUND) {
		char hex[2 * RM_SIGN_SEED_BYTES + 2];
		rm_random_bytes(seed, sizeof seed);
		rm_hex_encode(seed, sizeof seed, hex);
		hex[2 * RM_SIGN_SEED_BYTES] = '\n';
		hex[2 * RM_SIGN_SEED_BYTES + 1] = 0;
		if (agent_mkdirs(a->o->state_dir, 0700))
			RM_WARN("cannot create state directory", "path", a->o->state_dir);
		rc = rm_write_file_atomic(a->key_path, hex, strlen(hex), 0600);
		sodium_memzero(hex, sizeof hex);
		if (rc) {
			RM_ERROR("cannot write the announce key", "path", a->key_path);
			sodium_memzero(seed, sizeof seed);
			return rc;
		}
	} else {
		RM_ERROR("cannot read the announce key", "path", a->key_path);
		return rc;
	}
	rm_sign_keypair(seed, a->pk, a->sk);
	sodium_memzero(seed, sizeof seed);
	rm_sign_pk_b64(a->pk, a->pk_b64);
	rm_sign_fingerprint(a->pk, a->fp);
	return RM_OK;
}

/* Logs a refusal from the server and maps it to the exit reason; 0 for "try again". */
static int terminal(long status, const json_t *resp)
{
	const char *code = rmj_str(resp, "code");
	if (status == 403) {
		RM_ERROR("an administrator rejected this host; it will not be enrolled (it stops "
		         "asking)",
		         "code", code);
		printf("Rejected: an administrator refused this host. Not asking again.\n");
		return RM_ERR_FORBIDDEN;
	}
	if (status == 410) {
		RM_ERROR("nobody accepted this host in time; run enroll again to ask again", "code",
		         code);
		printf("Expired: nobody accepted this host in time.\n");
		return RM_ERR_EXPIRED;
	}
	if (status == 404) {
		RM_ERROR("the server no longer knows this announcement (expired or removed); run "
		         "enroll again",
		         "code", code);
		printf("Unknown announcement: it expired or was removed.\n");
		return RM_ERR_NOTFOUND;
	}
	if (status == 400 || status == 405 || status == 413 || status == 415) {
		RM_ERROR("the server refused the announcement", "code", code, "error",
		         rmj_str(resp, "error"));
		return RM_ERR_INVAL;
	}
	return RM_OK;
}

/* Takes id, nonce and poll_after_s from a 200/201 answer. */
static int take_row(struct announce *a, const json_t *resp)
{
	const char *id = rmj_str(resp, "id"), *nonce = rmj_str(resp, "nonce");
	const char *fp = rmj_str(resp, "fingerprint");
	if (!id || !nonce || rm_strlcpy(a->id, id, sizeof a->id) ||
	    rm_strlcpy(a->nonce, nonce, sizeof a->nonce)) {
		RM_ERROR("the server's answer lacks the announcement id or nonce");
		return RM_ERR_IO;
	}
	if (fp && strcmp(fp, a->fp))
		RM_WARN("the server lists a different fingerprint than this key's", "server", fp,
		        "agent", a->fp);
	json_int_t p = json_integer_value(json_object_get(resp, "poll_after_s"));
	a->poll_after_s = p < 1 ? 3 : p > 60 ? 60 : (int)p;
	return RM_OK;
}

/* One request; RM_OK with status and resp, or RM_ERR_IO (unreachable). */
static int request(struct announce *a, const char *path, json_t *body_take, long *status,
                   json_t **resp)
{
	char *url = enroll_api_url(a->o->server_url, a->h->server_len, path);
	char *body = rmj_dumps(body_take);
	json_decref(body_take);
	*resp = NULL;
	int rc = enroll_post(a->o, url, body, status, resp);
	free(url);
	free(body);
	return rc;
}

/* One announcement: RM_OK with the row, RM_ERR_AGAIN to retry later (unreachable, 429,
 * 503, 5xx), else the server refused for good. */
static int announce_once(struct announce *a)
{
	long status = 0;
	json_t *resp = NULL;
	json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "pubkey", a->pk_b64, "hostname",
	                        a->h->hostname, "os", "linux", "arch", host_arch(), "agent_version",
	                        RM_VERSION, "restic_version", a->h->restic_version);
	int rc = request(a, "agents/announce", req, &status, &resp);
	if (rc)
		rc = RM_ERR_AGAIN;
	else if (status == 200 || status == 201)
		rc = take_row(a, resp);
	else if ((rc = terminal(status, resp)) == RM_OK) {
		RM_WARN("announcement not taken yet; retrying", "code", rmj_str(resp, "code"));
		rc = RM_ERR_AGAIN;
	}
	json_decref(resp);
	return rc;
}

/* One signed poll. *done = 1 when enrolled; RM_OK to keep waiting, else a terminal rc. */
static int poll_once(struct announce *a, int *done, int *stale)
{
	char *msg = rm_sign_poll_message(a->id, a->nonce);
	char *sig = rm_sign_detached_b64(a->sk, msg, strlen(msg));
	free(msg);
	char *path = rm_xasprintf("agents/announce/%s", a->id);
	long status = 0;
	json_t *resp = NULL;
	int rc = request(a, path, json_pack("{s:s,s:s}", "nonce", a->nonce, "signature", sig),
	                 &status, &resp);
	free(path);
	free(sig);
	if (rc) /* unreachable: keep waiting */
		return RM_OK;
	if (status == 200) {
		const char *state = rmj_str(resp, "state");
		if (state && !strcmp(state, "accepted")) {
			rc = enroll_save_answer(a->o, a->h->server_len, resp, a->h->restic);
			*done = rc == RM_OK;
		} else {
			rc = take_row(a, resp);
		}
		*stale = 0;
	} else if (status == 401) {
		*stale += 1; /* the nonce moved on (a lost answer): fetch the current one */
		rc = *stale > MAX_REANNOUNCE ? RM_ERR_AUTH : RM_OK;
		if (!rc)
			a->id[0] = 0;
		else
			RM_ERROR("the server keeps refusing this key's signature");
	} else {
		rc = terminal(status, resp);
	}
	rmj_wipe(resp);
	json_decref(resp);
	return rc;
}

static void banner(const struct announce *a)
{
	printf("This host asks %.*s to enroll it.\n"
	       "An administrator must accept it on the server's Pending hosts page.\n"
	       "Key fingerprint: %s\n"
	       "Accept only if the page shows this same fingerprint.\n",
	       (int)a->h->server_len, a->o->server_url, a->fp);
	fflush(stdout);
}

int announce_run(const struct enroll_opts *o, const struct enroll_host *h)
{
	struct announce a = { .o = o, .h = h, .poll_after_s = 3 };
	a.key_path = rm_xasprintf("%s/%s", o->state_dir, KEY_FILE);
	int rc = load_key(&a);
	if (rc)
		goto out;
	banner(&a);
	int backoff = 1, stale = 0, done = 0;
	time_t told = 0;
	time_t start = time(NULL);
	while (!done) {
		if (time(NULL) - start > MAX_WAIT_S) {
			RM_ERROR("no decision after 6 hours; giving up");
			rc = RM_ERR_EXPIRED;
			break;
		}
		if (!a.id[0]) {
			rc = announce_once(&a);
			if (rc == RM_ERR_AGAIN) {
				sleep_s(backoff);
				backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
				continue;
			}
			if (rc)
				break;
			backoff = 1;
		}
		/* printed once the server has the announcement, then every 5 minutes */
		if (!told || time(NULL) - told >= REMIND_S) {
			printf("%swaiting for approval, fingerprint %s\n", told ? "still " : "",
			       a.fp);
			fflush(stdout);
			RM_INFO("waiting for approval", "fingerprint", a.fp, "server",
			        o->server_url);
			told = time(NULL);
		}
		sleep_s(a.poll_after_s);
		rc = poll_once(&a, &done, &stale);
		if (rc)
			break;
	}
	if (done) {
		printf("Accepted: this host is enrolled.\n");
		fflush(stdout);
		if (remove(a.key_path) != 0) /* its job is done: the bearer is the credential */
			RM_WARN("cannot remove the announce key", "path", a.key_path);
	}
	fflush(stdout);
out:
	sodium_memzero(a.sk, sizeof a.sk);
	free(a.key_path);
	return rc;
}
