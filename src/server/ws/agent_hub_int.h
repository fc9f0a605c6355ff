#ifndef RM_SERVER_WS_AGENT_HUB_INT_H
#define RM_SERVER_WS_AGENT_HUB_INT_H
/* Internals shared by agent_hub.c (sockets, hello, heartbeats, commands) and
 * agent_events.c (batched persistence of job events, acks, fan-out). */
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "common/ulid.h"
#include "common/proto.h"
#include "server/store/store.h"

#define HUB_BUCKETS 16384
#define HB_FLUSH_MS 1000
/* A heartbeat's last_seen_at is persisted at most this often per host (or every
 * offline_after / 3 if that is shorter): the DB value only has to beat the sweeper's
 * offline_after; the dashboard reads the in-memory time (presence_last_seen). */
#define HB_PERSIST_MAX_MS 30000
#define ACK_MAX_IDS 1000
#define AGENT_QUEUE_MAX (8u * 1024 * 1024)
#define LOG_LINES_MAX 1000

struct agent_conn {
	struct ws_conn *ws; /* NULL once closed */
	struct agent_hub *hub;
	char host_id[RM_ULID_BUF];
	char ip[64];
	int hello_done;
	int in_map;
	int replaced;
	int offline_marked;           /* the sweeper marked the host offline while connected */
	int hb_dirty;                 /* host id is in hub->seen */
	int64_t last_seen_ms;         /* last message (hello/heartbeat), wall clock */
	int64_t persisted_ms;         /* when last_seen_at was last written for this host */
	int pending;                  /* queued events pointing here */
	json_t *acks;                 /* ids to acknowledge after the current flush */
	char last_job[RM_ULID_BUF];   /* last job id verified to belong to this host */
	struct host_secrets *secrets; /* redacted from what this agent reports (after hello) */
	struct agent_conn *hnext;     /* hash chain */
};

struct agent_ev {
	struct agent_ev *next;
	struct agent_conn *conn;
	enum rm_msg_type type;
	char id[RM_PROTO_ID_MAX + 1];
	json_t *root;    /* owned */
	json_t *payload; /* borrowed from root */
	int fanout;      /* persisted and relevant: fan out after commit */
	char job_id[RM_ULID_BUF];
};

struct agent_hub {
	struct app *app;
	uv_check_t check;
	uv_timer_t hb_timer;
	int check_active;
	int handles_open;
	int stopped;
	struct agent_conn *buckets[HUB_BUCKETS];
	size_t nconns;
	struct agent_ev *q_head, *q_tail;
	size_t q_len;
	char (*seen)[RM_ULID_BUF];
	size_t seen_len, seen_cap;
	int64_t persist_ms; /* per-host last_seen_at write interval */
	struct store_log_line *linebuf;
	size_t linebuf_cap;
};

/* agent_hub.c */
void agent_conn_release(struct agent_conn *c);
int agent_conn_send(struct agent_conn *c, enum rm_msg_type t, json_t *payload_take);
int agent_conn_send_id(struct agent_conn *c, enum rm_msg_type t, json_t *payload_take,
                       char id_out[RM_ULID_BUF]);
void agent_conn_ack(struct agent_conn *c, const char *id);
/* agent_events.c */
/* RM_OK when job_id belongs to the connection's host (cached per connection). */
int agent_job_owned(struct agent_conn *c, const char *job_id);
/* Queues a job event of c for the next batched transaction (one per loop turn). */
void agent_enqueue(struct agent_hub *h, struct agent_conn *c, struct rm_envelope *env);
/* Persists and acknowledges everything queued now (also at stop). */
void agent_queue_flush(struct agent_hub *h);
void agent_ev_free(struct agent_ev *ev);

#endif
