/* agentsim — a fleet of simulated agents speaking the real protocol over real WebSockets.
 *
 * One libuv loop, raw TCP + a minimal RFC 6455 client (masked frames out, unmasked in),
 * so that thousands of connections cost the simulator little and measure the server.
 *
 *   agentsim --url http://127.0.0.1:8080 --creds FILE --n 2000 [--hb-ms 1000]
 *            [--duration-s 20] [--mode fleet|logs|dispatch] [--lines 20000] [--rate L]
 *
 * --creds FILE: one "host_id bearer" pair per line (made by bench/run.mjs through the real
 * enrollment API). Output: progress lines on stderr, one JSON object on stdout at the end.
 *
 * Modes:
 *  fleet     hello + heartbeats; measures heartbeat round trips (heartbeat -> ack).
 *  logs      on command.run(backup): job.started, then --lines log lines in log.stream
 *            batches (<= 200 lines, window of 8 unacknowledged envelopes), job.finished.
 *            Each payload is "t=<realtime_us> ..." so subscribers can measure latency.
 *            --rate L paces each agent to L lines/s (for latency at a realistic load).
 *  dispatch  prints "RUN <job_id> <realtime_us>" on stdout for every command.run and
 *            answers with job.started + job.finished so the host is free again.
 * In every mode an init command.run is answered with a succeeded job so repos get ready.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/proto.h"
#include "common/rmtime.h"

struct sim;

struct agent {
	struct sim *sim;
	uv_tcp_t tcp;
	uv_connect_t conn_req;
	uv_timer_t hb;
	char host_id[32];
	char bearer[96];
	struct rm_buf in;       /* raw bytes received */
	struct rm_buf msg;      /* fragmented message being reassembled */
	int upgraded;
	int open;
	int closed;
	char hb_id[32];
	int64_t hb_sent_us;
	/* logs mode */
	char job_id[32];
	long long seq;
	long lines_sent;
	int unacked;            /* log.stream envelopes in flight */
	struct {
		char id[27];
		int lines;
	} inflight[8];
	char fin_id[27];        /* job.finished in flight */
	int finishing;
	uv_timer_t pace;        /* paced logs mode */
	int pace_on;
	long budget;            /* lines allowed so far in paced mode */
};

struct sim {
	uv_loop_t *loop;
	char host[64];
	int port;
	int n;
	int hb_ms;
	int duration_s;
	long lines;
	long rate;          /* logs mode: lines/s per agent (0 = as fast as acks allow) */
	const char *mode;
	struct agent *agents;
	int connected;
	int connecting;
	int next_connect;
	int failed;
	int64_t t_start_us;
	int64_t t_all_connected_us;
	int64_t *rtt;       /* heartbeat RTT samples (us) */
	size_t n_rtt, cap_rtt;
	long lines_acked;
	int jobs_done;
	uv_timer_t stop_timer;
	uv_timer_t connect_timer;
	uv_signal_t sigint;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_write_done(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
	free(req);
}

static void tcp_write(struct agent *a, char *data_take, size_t len)
{
	if (a->closed) {
		free(data_take);
		return;
	}
	uv_write_t *req = rm_xmalloc(sizeof(*req));
	req->data = data_take;
	uv_buf_t b = uv_buf_init(data_take, (unsigned)len);
	if (uv_write(req, (uv_stream_t *)&a->tcp, &b, 1, on_write_done) != 0) {
		free(data_take);
		free(req);
	}
}

/* Client frames are masked (RFC 6455 5.3). */
static void ws_send_frame(struct agent *a, int opcode, const char *data, size_t len)
{
	size_t hdr = 2 + 4 + (len < 126 ? 0 : len < 65536 ? 2 : 8);
	unsigned char *f = rm_xmalloc(hdr + len);
	size_t o = 0;
	f[o++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		f[o++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		f[o++] = 0x80 | 126;
		f[o++] = (unsigned char)(len >> 8);
		f[o++] = (unsigned char)len;
	} else {
		f[o++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			f[o++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	unsigned char mask[4];
	uint32_t r = (uint32_t)rand();
	memcpy(mask, &r, 4);
	memcpy(f + o, mask, 4);
	o += 4;
	for (size_t i = 0; i < len; i++)
		f[o + i] = (unsigned char)data[i] ^ mask[i & 3];
	tcp_write(a, (char *)f, o + len);
}

static void send_env(struct agent *a, enum rm_msg_type t, json_t *payload, char id_out[27])
{
	char *txt = proto_encode(t, payload, id_out);
	ws_send_frame(a, 1, txt, strlen(txt));
	free(txt);
}

static void agent_close(struct agent *a);

static void send_heartbeat(uv_timer_t *t)
{
	struct agent *a = t->data;
	if (!a->open)
		return;
	char id[27];
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), ts);
	send_env(a, RM_MSG_HEARTBEAT, json_pack("{s:s}", "sent_at", ts), id);
	rm_strlcpy(a->hb_id, id, sizeof(a->hb_id));
	a->hb_sent_us = now_us();
}

static void record_rtt(struct sim *s, int64_t us)
{
	if (s->n_rtt == s->cap_rtt) {
		s->cap_rtt = s->cap_rtt ? s->cap_rtt * 2 : 4096;
		s->rtt = rm_xrealloc(s->rtt, s->cap_rtt * sizeof(*s->rtt));
	}
	s->rtt[s->n_rtt++] = us;
}

static void send_job_finished(struct agent *a, const char *job_id, long long seq)
{
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), ts);
	send_env(a, RM_MSG_JOB_FINISHED,
	         json_pack("{s:s,s:I,s:s,s:i,s:s}", "job_id", job_id, "seq", seq, "status",
	                   "succeeded", "exit_code", 0, "finished_at", ts),
	         NULL);
}

static void send_job_started(struct agent *a, const char *job_id, const char *kind)
{
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), ts);
	send_env(a, RM_MSG_JOB_STARTED,
	         json_pack("{s:s,s:I,s:s,s:s}", "job_id", job_id, "seq", (json_int_t)1, "kind",
	                   kind, "started_at", ts),
	         NULL);
}

static void pump_logs(struct agent *a);

static void on_pace(uv_timer_t *t)
{
	struct agent *a = t->data;
	a->budget += a->sim->rate / 100 > 0 ? a->sim->rate / 100 : 1;
	pump_logs(a);
}

/* logs mode: keep up to 8 log.stream envelopes in flight. */
static void pump_logs(struct agent *a)
{
	struct sim *s = a->sim;
	while (a->job_id[0] && a->unacked < 8 && a->lines_sent < s->lines &&
	       (!s->rate || a->lines_sent < a->budget)) {
		json_t *lines = json_array();
		char ts[RM_TIME_STRLEN];
		rm_time_fmt(rm_now_ms(), ts);
		for (int i = 0; i < 200 && a->lines_sent < s->lines &&
		                (!s->rate || a->lines_sent < a->budget);
		     i++) {
			char payload[160];
			snprintf(payload, sizeof(payload),
			         "t=%" PRId64 " simulated restic output line %ld of job", now_us(),
			         a->lines_sent);
			json_array_append_new(lines, json_pack("{s:I,s:s,s:s,s:s}", "seq",
			                                       (json_int_t)++a->seq, "ts", ts, "stream",
			                                       "stdout", "payload", payload));
			a->lines_sent++;
		}
		int nl = (int)json_array_size(lines);
		char id[27];
		send_env(a, RM_MSG_LOG_STREAM, json_pack("{s:s,s:o}", "job_id", a->job_id, "lines", lines),
		         id);
		for (int k = 0; k < 8; k++) {
			if (!a->inflight[k].id[0]) {
				rm_strlcpy(a->inflight[k].id, id, sizeof(a->inflight[k].id));
				a->inflight[k].lines = nl;
				break;
			}
		}
		a->unacked++;
	}
	if (a->job_id[0] && a->lines_sent >= s->lines && a->unacked == 0 && !a->finishing) {
		a->finishing = 1;
		char ts[RM_TIME_STRLEN];
		rm_time_fmt(rm_now_ms(), ts);
		send_env(a, RM_MSG_JOB_FINISHED,
		         json_pack("{s:s,s:I,s:s,s:i,s:s}", "job_id", a->job_id, "seq",
		                   (json_int_t)++a->seq, "status", "succeeded", "exit_code", 0,
		                   "finished_at", ts),
		         a->fin_id);
	}
}

static void handle_message(struct agent *a, const char *data, size_t len)
{
	struct sim *s = a->sim;
	struct rm_envelope env;
	char err[256];
	int rc = proto_decode(data, len, &env, err, sizeof(err));
	if (rc != RM_OK) {
		if (rc != RM_ERR_UNKNOWN)
			fprintf(stderr, "agentsim: bad frame from server: %s\n", err);
		proto_envelope_cleanup(&env);
		return;
	}
	switch (env.type) {
	case RM_MSG_ACK: {
		json_t *ids = json_object_get(env.payload, "ids");
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v) {
			const char *id = json_string_value(v);
			if (!id)
				continue;
			if (a->hb_id[0] && strcmp(id, a->hb_id) == 0) {
				/* steady state only: skip the connect storm (hello, init jobs) */
				if (s->t_all_connected_us && a->hb_sent_us > s->t_all_connected_us + 3000000)
					record_rtt(s, now_us() - a->hb_sent_us);
				a->hb_id[0] = 0;
				continue;
			}
			for (int k = 0; k < 8; k++) {
				if (a->inflight[k].id[0] && strcmp(a->inflight[k].id, id) == 0) {
					a->inflight[k].id[0] = 0;
					s->lines_acked += a->inflight[k].lines;
					a->unacked--;
				}
			}
			if (a->finishing && a->fin_id[0] && strcmp(id, a->fin_id) == 0) {
				a->fin_id[0] = 0;
				a->job_id[0] = 0;
				a->finishing = 0;
				s->jobs_done++;
			}
		}
		if (strcmp(s->mode, "logs") == 0)
			pump_logs(a);
		break;
	}
	case RM_MSG_COMMAND_RUN: {
		const char *job_id = json_string_value(json_object_get(env.payload, "job_id"));
		const char *kind = json_string_value(json_object_get(env.payload, "kind"));
		if (!job_id || !kind)
			break;
		if (strcmp(s->mode, "dispatch") == 0) {
			printf("RUN %s %" PRId64 "\n", job_id, now_us());
			fflush(stdout);
		}
		send_env(a, RM_MSG_COMMAND_RESULT,
		         json_pack("{s:s,s:b}", "job_id", job_id, "accepted", 1), NULL);
		send_job_started(a, job_id, kind);
		if (strcmp(s->mode, "logs") == 0 && strcmp(kind, "backup") == 0) {
			rm_strlcpy(a->job_id, job_id, sizeof(a->job_id));
			a->seq = 1;
			a->lines_sent = 0;
			a->unacked = 0;
			a->finishing = 0;
			a->budget = 0;
			if (s->rate && !a->pace_on) {
				uv_timer_init(s->loop, &a->pace);
				a->pace.data = a;
				uv_timer_start(&a->pace, on_pace, 10, 10);
				a->pace_on = 1;
			}
			pump_logs(a);
		} else {
			send_job_finished(a, job_id, 2);
		}
		break;
	}
	default:
		break;
	}
	proto_envelope_cleanup(&env);
}

/* Parses as many complete frames as the input buffer holds. */
static void parse_frames(struct agent *a)
{
	for (;;) {
		const unsigned char *p = (const unsigned char *)a->in.data;
		size_t n = a->in.len;
		if (n < 2)
			return;
		int fin = p[0] & 0x80, op = p[0] & 0x0f;
		uint64_t len = p[1] & 0x7f;
		size_t o = 2;
		if (len == 126) {
			if (n < 4)
				return;
			len = ((uint64_t)p[2] << 8) | p[3];
			o = 4;
		} else if (len == 127) {
			if (n < 10)
				return;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | p[2 + i];
			o = 10;
		}
		if (p[1] & 0x80)
			o += 4; /* servers do not mask; tolerate */
		if (n < o + len)
			return;
		const char *payload = (const char *)p + o;
		if (op == 0x8) { /* close */
			agent_close(a);
			return;
		} else if (op == 0x9) { /* ping */
			ws_send_frame(a, 0xA, payload, (size_t)len);
		} else if (op == 0x1 || op == 0x0 || op == 0x2) {
			if (rm_buf_append(&a->msg, payload, (size_t)len) != RM_OK) {
				agent_close(a);
				return;
			}
			if (fin) {
				handle_message(a, a->msg.data ? a->msg.data : "", a->msg.len);
				rm_buf_reset(&a->msg);
			}
		}
		rm_buf_consume(&a->in, o + (size_t)len);
	}
}

static void on_open(struct agent *a)
{
	struct sim *s = a->sim;
	a->open = 1;
	s->connected++;
	s->connecting--;
	if (s->connected == s->n)
		s->t_all_connected_us = now_us();
	char host[64];
	snprintf(host, sizeof(host), "sim-%s", a->host_id);
	send_env(a, RM_MSG_HELLO,
	         json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:[]}", "protocol_version", RM_PROTO_VERSION,
	                   "agent_version", "agentsim", "restic_version", "0.14.0", "hostname", host,
	                   "os", "linux", "arch", "amd64", "running_jobs"),
	         NULL);
	/* spread heartbeats over the interval */
	uv_timer_init(s->loop, &a->hb);
	a->hb.data = a;
	uint64_t first = (uint64_t)(rand() % (s->hb_ms > 0 ? s->hb_ms : 1000));
	uv_timer_start(&a->hb, send_heartbeat, first, (uint64_t)s->hb_ms);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)h;
	b->base = rm_xmalloc(sz);
	b->len = sz;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct agent *a = st->data;
	if (nread < 0) {
		free(b->base);
		agent_close(a);
		return;
	}
	if (rm_buf_append(&a->in, b->base, (size_t)nread) != RM_OK) {
		free(b->base);
		agent_close(a);
		return;
	}
	free(b->base);
	if (!a->upgraded) {
		char *end = a->in.data ? strstr(a->in.data, "\r\n\r\n") : NULL;
		if (!end)
			return;
		if (strncmp(a->in.data, "HTTP/1.1 101", 12) != 0) {
			fprintf(stderr, "agentsim: upgrade refused: %.40s\n", a->in.data);
			a->sim->failed++;
			agent_close(a);
			return;
		}
		a->upgraded = 1;
		rm_buf_consume(&a->in, (size_t)(end + 4 - a->in.data));
		on_open(a);
	}
	parse_frames(a);
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void agent_close(struct agent *a)
{
	if (a->closed)
		return;
	a->closed = 1;
	if (a->open) {
		a->open = 0;
		a->sim->connected--;
		uv_timer_stop(&a->hb);
		uv_close((uv_handle_t *)&a->hb, on_closed);
		if (a->pace_on) {
			uv_timer_stop(&a->pace);
			uv_close((uv_handle_t *)&a->pace, on_closed);
			a->pace_on = 0;
		}
	} else {
		a->sim->connecting--;
	}
	uv_read_stop((uv_stream_t *)&a->tcp);
	uv_close((uv_handle_t *)&a->tcp, on_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct agent *a = req->data;
	if (status != 0) {
		fprintf(stderr, "agentsim: connect: %s\n", uv_strerror(status));
		a->sim->failed++;
		agent_close(a);
		return;
	}
	char *hs = rm_xasprintf("GET /ws/agent HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
	                        "Authorization: Bearer %s\r\n\r\n",
	                        a->sim->host, a->sim->port, RM_PROTO_SUBPROTOCOL, a->bearer);
	a->tcp.data = a;
	uv_read_start((uv_stream_t *)&a->tcp, alloc_cb, on_read);
	tcp_write(a, hs, strlen(hs));
}

/* Opens connections in waves so the listen backlog never overflows. */
static void connect_more(uv_timer_t *t)
{
	struct sim *s = t->data;
	while (s->next_connect < s->n && s->connecting < 256) {
		struct agent *a = &s->agents[s->next_connect++];
		struct sockaddr_in addr;
		uv_ip4_addr(s->host, s->port, &addr);
		uv_tcp_init(s->loop, &a->tcp);
		a->tcp.data = a;
		a->conn_req.data = a;
		s->connecting++;
		if (uv_tcp_connect(&a->conn_req, &a->tcp, (const struct sockaddr *)&addr, on_connect)) {
			s->failed++;
			agent_close(a);
		}
	}
	if (s->next_connect >= s->n)
		uv_timer_stop(t);
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

static double pct(int64_t *v, size_t n, double p)
{
	if (!n)
		return -1;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

static void stop_all(struct sim *s)
{
	uv_timer_stop(&s->connect_timer);
	uv_close((uv_handle_t *)&s->connect_timer, NULL);
	uv_timer_stop(&s->stop_timer);
	uv_close((uv_handle_t *)&s->stop_timer, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	for (int i = 0; i < s->n; i++) {
		struct agent *a = &s->agents[i];
		if (i < s->next_connect)
			agent_close(a);
	}
}

static void on_stop(uv_timer_t *t)
{
	stop_all(t->data);
}

static void on_sigint(uv_signal_t *h, int sig)
{
	(void)sig;
	stop_all(h->data);
}

static int load_creds(struct sim *s, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "agentsim: %s: %s\n", path, strerror(errno));
		return -1;
	}
	s->agents = rm_xcalloc((size_t)s->n, sizeof(*s->agents));
	int i = 0;
	char line[256];
	while (i < s->n && fgets(line, sizeof(line), f)) {
		char id[64], bearer[128];
		if (sscanf(line, "%63s %127s", id, bearer) != 2)
			continue;
		rm_strlcpy(s->agents[i].host_id, id, sizeof(s->agents[i].host_id));
		rm_strlcpy(s->agents[i].bearer, bearer, sizeof(s->agents[i].bearer));
		s->agents[i].sim = s;
		rm_buf_init(&s->agents[i].in, 4 << 20);
		rm_buf_init(&s->agents[i].msg, RM_PROTO_MAX_FRAME);
		i++;
	}
	fclose(f);
	if (i < s->n) {
		fprintf(stderr, "agentsim: only %d credentials in %s\n", i, path);
		s->n = i;
	}
	return 0;
}

static void raise_nofile(int need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct sim s = {.n = 100, .hb_ms = 1000, .duration_s = 20, .lines = 20000, .mode = "fleet"};
	const char *url = "http://127.0.0.1:8080", *creds = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		long long v = 0;
		if (!strcmp(argv[i], "--url"))
			url = argv[i + 1];
		else if (!strcmp(argv[i], "--creds"))
			creds = argv[i + 1];
		else if (!strcmp(argv[i], "--mode"))
			s.mode = argv[i + 1];
		else if (rm_parse_i64(argv[i + 1], &v) == RM_OK && !strcmp(argv[i], "--n"))
			s.n = (int)v;
		else if (rm_parse_i64(argv[i + 1], &v) == RM_OK && !strcmp(argv[i], "--hb-ms"))
			s.hb_ms = (int)v;
		else if (rm_parse_i64(argv[i + 1], &v) == RM_OK && !strcmp(argv[i], "--duration-s"))
			s.duration_s = (int)v;
		else if (rm_parse_i64(argv[i + 1], &v) == RM_OK && !strcmp(argv[i], "--lines"))
			s.lines = (long)v;
		else if (rm_parse_i64(argv[i + 1], &v) == RM_OK && !strcmp(argv[i], "--rate"))
			s.rate = (long)v;
		else {
			fprintf(stderr, "agentsim: bad option %s\n", argv[i]);
			return 2;
		}
	}
	if (!creds || sscanf(url, "http://%63[^:]:%d", s.host, &s.port) != 2) {
		fprintf(stderr, "usage: agentsim --url http://HOST:PORT --creds FILE [--n N] ...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(s.n + 256);
	if (load_creds(&s, creds))
		return 1;
	s.loop = uv_default_loop();
	s.t_start_us = now_us();
	uv_timer_init(s.loop, &s.connect_timer);
	s.connect_timer.data = &s;
	uv_timer_start(&s.connect_timer, connect_more, 0, 5);
	uv_timer_init(s.loop, &s.stop_timer);
	s.stop_timer.data = &s;
	uv_timer_start(&s.stop_timer, on_stop, (uint64_t)s.duration_s * 1000, 0);
	uv_signal_init(s.loop, &s.sigint);
	s.sigint.data = &s;
	uv_signal_start(&s.sigint, on_sigint, SIGINT);
	fprintf(stderr, "agentsim: %d agents, mode %s, heartbeat %d ms, %d s\n", s.n, s.mode,
	        s.hb_ms, s.duration_s);
	int connected_peak = 0;
	/* run until stopped; the peak count is sampled from the stop callback via connected */
	uv_run(s.loop, UV_RUN_DEFAULT);
	connected_peak = s.t_all_connected_us ? s.n : -1;
	qsort(s.rtt, s.n_rtt, sizeof(*s.rtt), cmp_i64);
	printf("{\"agents\":%d,\"all_connected\":%s,\"connect_all_ms\":%.1f,\"failed\":%d,"
	       "\"heartbeats\":%zu,\"hb_rtt_p50_ms\":%.3f,\"hb_rtt_p99_ms\":%.3f,"
	       "\"lines_acked\":%ld,\"jobs_done\":%d}\n",
	       s.n, connected_peak == s.n ? "true" : "false",
	       s.t_all_connected_us ? (double)(s.t_all_connected_us - s.t_start_us) / 1000.0 : -1.0,
	       s.failed, s.n_rtt, pct(s.rtt, s.n_rtt, 0.50), pct(s.rtt, s.n_rtt, 0.99),
	       s.lines_acked, s.jobs_done);
	for (int i = 0; i < s.n; i++) {
		rm_buf_cleanup(&s.agents[i].in);
		rm_buf_cleanup(&s.agents[i].msg);
	}
	free(s.agents);
	free(s.rtt);
	uv_loop_close(s.loop);
	return 0;
}
