/* agentsim — a fleet of simulated agents speaking the real protocol over real WebSockets.
 *
 * One libuv loop, raw TCP + a minimal RFC 6455 client (masked frames out, unmasked in),
 * so that thousands of connections cost the simulator little and measure the server.
 *
 *   agentsim --url http://127.0.0.1:8080 --creds FILE --n 2000 [--hb-ms 1000]
 *            [--duration-s 20] [--mode fleet|logs|dispatch|storm] [--lines 20000] [--rate L]
 *            [--conc 256] [--spread-ms 0] [--burst 200] [--storm-lines 50] [--lines-per-env 10]
 *            [--progress 10] [--settle-ms 2000] [--ready-timeout-s 180] [--storm-timeout-s 180]
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
 *  storm     a schedule storm: once every agent is connected and its init job is done
 *            (or --ready-timeout-s passed), each agent starts one scheduled backup of its
 *            own (agent-minted ULID job id, origin "schedule", the schedule/group ids of
 *            its schedule.set) and sends the whole sequence: job.started (seq 1),
 *            --storm-lines log lines in log.stream envelopes of --lines-per-env, with
 *            --progress job.progress messages interleaved, job.finished (succeeded, with
 *            stats) and snapshots.report. Starts are spread evenly over --spread-ms
 *            (0 = all at once, like a cron minute). It then waits for the ack of every
 *            envelope (bounded by --storm-timeout-s) and prints the drain time (first
 *            send -> last ack), the jobs fully acknowledged and the failures.
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
#include "common/ulid.h"

#define STORM_MAX_ENV 64 /* job.started + log envelopes + job.finished + snapshots.report */

struct samples {
	int64_t *v;
	size_t n, cap;
};

struct sim;

struct agent {
	struct sim *sim;
	uv_tcp_t tcp;
	uv_connect_t conn_req;
	uv_timer_t hb;
	char host_id[32];
	char bearer[96];
	struct rm_buf in;  /* raw bytes received */
	struct rm_buf msg; /* fragmented message being reassembled */
	int upgraded;
	int open;
	int closed;
	char hb_id[32];
	int64_t hb_sent_us;
	/* logs mode */
	char job_id[32];
	long long seq;
	long lines_sent;
	int unacked; /* log.stream envelopes in flight */
	struct {
		char id[27];
		int lines;
	} inflight[8];
	char fin_id[27]; /* job.finished in flight */
	int finishing;
	uv_timer_t pace; /* paced logs mode */
	int pace_on;
	long budget; /* lines allowed so far in paced mode */
	/* storm mode */
	char init_fin[27]; /* job.finished of a server-dispatched (init) job in flight */
	char sched_id[32]; /* from schedule.set */
	char group_id[32];
	char storm_job[27];
	char (*storm_ids)[27]; /* envelopes of the scheduled job not yet acknowledged */
	int storm_n_ids;
	int storm_unacked;
	int storm_state; /* 0 not sent, 1 sent, 2 fully acknowledged, 3 failed */
	int64_t storm_sent_us;
};

struct sim {
	uv_loop_t *loop;
	char host[64];
	int port;
	int n;
	int hb_ms;
	int duration_s;
	long lines;
	long rate; /* logs mode: lines/s per agent (0 = as fast as acks allow) */
	const char *mode;
	struct agent *agents;
	int connected;
	int connecting;
	int next_connect;
	int failed;
	int64_t t_start_us;
	int64_t t_all_connected_us;
	struct samples rtt; /* heartbeat RTT samples (us) */
	long lines_acked;
	int jobs_done;
	uv_timer_t stop_timer;
	uv_timer_t connect_timer;
	uv_signal_t sigint;
	int conc; /* connections being opened at once */
	int stopping;
	/* storm mode */
	int storm_lines, per_env, progress, spread_ms, settle_ms, ready_timeout_s, storm_timeout_s;
	int burst;
	int inits_pending;
	int64_t last_cmd_us;
	int storm_started, storm_next, connected_at_start;
	int64_t t_storm_us, t_first_send_us, t_last_send_us, t_last_ack_us;
	int jobs_sent, jobs_ok, not_connected, disconnected, incomplete, server_errors;
	struct samples jlat; /* per job: first send -> last ack (us) */
	uv_timer_t storm_timer;
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

static void record(struct samples *x, int64_t us)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 4096;
		x->v = rm_xrealloc(x->v, x->cap * sizeof(*x->v));
	}
	x->v[x->n++] = us;
}

static void send_job_finished(struct agent *a, const char *job_id, long long seq, char id_out[27])
{
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), ts);
	send_env(a, RM_MSG_JOB_FINISHED,
	         json_pack("{s:s,s:I,s:s,s:i,s:s}", "job_id", job_id, "seq", seq, "status",
	                   "succeeded", "exit_code", 0, "finished_at", ts),
	         id_out);
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
		for (int i = 0;
		     i < 200 && a->lines_sent < s->lines && (!s->rate || a->lines_sent < a->budget);
		     i++) {
			char payload[160];
			snprintf(payload, sizeof(payload),
			         "t=%" PRId64 " simulated restic output line %ld of job", now_us(),
			         a->lines_sent);
			json_array_append_new(
			    lines, json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)++a->seq, "ts",
			                     ts, "stream", "stdout", "payload", payload));
			a->lines_sent++;
		}
		int nl = (int)json_array_size(lines);
		char id[27];
		send_env(a, RM_MSG_LOG_STREAM,
		         json_pack("{s:s,s:o}", "job_id", a->job_id, "lines", lines), id);
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

/* ---------------------------------------------------------------- storm mode */
static void stop_all(struct sim *s);
static int cmp_i64(const void *x, const void *y);
static double pct(int64_t *v, size_t n, double p);

static void storm_track(struct agent *a, const char id[27])
{
	if (a->storm_n_ids >= STORM_MAX_ENV)
		return;
	rm_strlcpy(a->storm_ids[a->storm_n_ids++], id, 27);
	a->storm_unacked++;
}

static void storm_send_lines(struct agent *a, long long *seq, int n)
{
	char ts[RM_TIME_STRLEN], id[27];
	rm_time_fmt(rm_now_ms(), ts);
	json_t *lines = json_array();
	for (int i = 0; i < n; i++) {
		char payload[160];
		long long k = *seq;
		snprintf(payload, sizeof(payload),
		         "[0:%02lld] %lld.00%%  %lld files %lld MiB, total 4096 files 512 MiB, "
		         "0 errors ETA 0:%02lld",
		         k % 60, k * 2, k * 80, k * 10, 59 - k % 60);
		json_array_append_new(lines,
		                      json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)++ * seq,
		                                "ts", ts, "stream", "stdout", "payload", payload));
	}
	send_env(a, RM_MSG_LOG_STREAM,
	         json_pack("{s:s,s:o}", "job_id", a->storm_job, "lines", lines), id);
	storm_track(a, id);
}

static void storm_send_progress(struct agent *a, int i, int n)
{
	double f = (double)(i + 1) / (double)n;
	send_env(a, RM_MSG_JOB_PROGRESS,
	         json_pack("{s:s,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "job_id", a->storm_job,
	                   "percent_done", f, "files_done", (json_int_t)(4096 * f), "total_files",
	                   (json_int_t)4096, "bytes_done", (json_int_t)(536870912.0 * f),
	                   "total_bytes", (json_int_t)536870912, "eta_seconds",
	                   (json_int_t)(60 * (1 - f)), "throughput_bps", (json_int_t)8947848,
	                   "current_file", "/tmp/bench/data/file.bin"),
	         NULL);
}

static void storm_send_end(struct agent *a, long long seq)
{
	char ts[RM_TIME_STRLEN], id[27], snap[65];
	rm_time_fmt(rm_now_ms(), ts);
	send_env(a, RM_MSG_JOB_FINISHED,
	         json_pack("{s:s,s:I,s:s,s:i,s:s,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:f,s:s}}",
	                   "job_id", a->storm_job, "seq", (json_int_t)seq, "status", "succeeded",
	                   "exit_code", 0, "finished_at", ts, "stats", "files_new", 12,
	                   "files_changed", 3, "files_unmodified", 4081, "dirs_new", 0,
	                   "dirs_changed", 2, "dirs_unmodified", 140, "data_added",
	                   (json_int_t)1048576, "total_bytes_processed", (json_int_t)536870912,
	                   "total_duration", 58.2, "snapshot_id", a->storm_job),
	         id);
	storm_track(a, id);
	for (int i = 0; i < 64; i++)
		snap[i] = "0123456789abcdef"[rand() & 15];
	snap[64] = 0;
	char short_id[9];
	rm_strlcpy(short_id, snap, sizeof(short_id));
	char host[64];
	snprintf(host, sizeof(host), "sim-%s", a->host_id);
	send_env(a, RM_MSG_SNAPSHOTS_REPORT,
	         json_pack("{s:[{s:s,s:s,s:s,s:s,s:[s],s:[s],s:I,s:i}]}", "snapshots", "id", snap,
	                   "short_id", short_id, "time", ts, "hostname", host, "paths", "/tmp",
	                   "tags", "bench", "size_bytes", (json_int_t)536870912, "file_count",
	                   4096),
	         id);
	storm_track(a, id);
}

/* One scheduled backup's whole event sequence, back to back (the agent's outbox keeps
 * every persisted event until it is acknowledged). */
static void storm_send(struct agent *a)
{
	struct sim *s = a->sim;
	char ts[RM_TIME_STRLEN], id[27];
	if (!a->sched_id[0])
		rm_ulid_new(a->sched_id);
	if (!a->group_id[0])
		rm_ulid_new(a->group_id);
	rm_ulid_new(a->storm_job);
	rm_time_fmt(rm_now_ms(), ts);
	a->storm_ids = rm_xcalloc(STORM_MAX_ENV, sizeof(*a->storm_ids));
	a->storm_state = 1;
	a->storm_sent_us = now_us();
	if (!s->t_first_send_us)
		s->t_first_send_us = a->storm_sent_us;
	send_env(a, RM_MSG_JOB_STARTED,
	         json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:{s:[s],s:[s]}}", "job_id",
	                   a->storm_job, "seq", (json_int_t)1, "kind", "backup", "started_at", ts,
	                   "origin", "schedule", "schedule_id", a->sched_id, "group_id",
	                   a->group_id, "group", "default", "attempt", 1, "args", "paths", "/tmp",
	                   "tags", "bench"),
	         id);
	storm_track(a, id);
	long long seq = 1;
	int envs = (s->storm_lines + s->per_env - 1) / s->per_env;
	int steps = envs > s->progress ? envs : s->progress;
	int left = s->storm_lines;
	for (int i = 0; i < steps; i++) {
		if (i < envs) {
			int n = left < s->per_env ? left : s->per_env;
			storm_send_lines(a, &seq, n);
			left -= n;
		}
		if (i < s->progress)
			storm_send_progress(a, i, s->progress);
	}
	storm_send_end(a, seq + 1);
	s->jobs_sent++;
	s->t_last_send_us = now_us();
}

static void storm_acked(struct agent *a, const char *id)
{
	struct sim *s = a->sim;
	if (a->init_fin[0] && strcmp(id, a->init_fin) == 0) {
		a->init_fin[0] = 0;
		s->inits_pending--;
		return;
	}
	if (a->storm_state != 1)
		return;
	for (int k = 0; k < a->storm_n_ids; k++) {
		if (a->storm_ids[k][0] && strcmp(a->storm_ids[k], id) == 0) {
			a->storm_ids[k][0] = 0;
			if (--a->storm_unacked == 0) {
				a->storm_state = 2;
				s->jobs_ok++;
				s->t_last_ack_us = now_us();
				record(&s->jlat, s->t_last_ack_us - a->storm_sent_us);
			}
			return;
		}
	}
}

static int storm_finished(struct sim *s)
{
	return s->storm_started && s->storm_next >= s->n &&
	       s->jobs_ok + s->not_connected + s->disconnected + s->incomplete >= s->n;
}

static int storm_ready(struct sim *s, int64_t now)
{
	int64_t quiet_since =
	    s->last_cmd_us > s->t_all_connected_us ? s->last_cmd_us : s->t_all_connected_us;
	if (s->connected == s->n && s->inits_pending == 0 &&
	    now - quiet_since >= (int64_t)s->settle_ms * 1000)
		return 1;
	return now - s->t_start_us >= (int64_t)s->ready_timeout_s * 1000000;
}

/* Every 5 ms: start the storm when ready, start the agents whose turn came (a burst at a
 * time), stop when
 * every job is acknowledged or failed, or at --storm-timeout-s. */
static void storm_tick(uv_timer_t *t)
{
	struct sim *s = t->data;
	int64_t now = now_us();
	if (!s->storm_started) {
		if (!storm_ready(s, now))
			return;
		s->storm_started = 1;
		s->t_storm_us = now;
		s->connected_at_start = s->connected;
		fprintf(stderr,
		        "agentsim: storm: %d of %d agents connected, %d init jobs pending\n",
		        s->connected, s->n, s->inits_pending);
	}
	/* at most --burst starts per tick, so that acknowledgements are read in between */
	for (int b = 0; s->storm_next < s->n && b < s->burst; b++) {
		int64_t off = (int64_t)s->spread_ms * 1000 * s->storm_next / s->n;
		if (now - s->t_storm_us < off)
			break;
		struct agent *a = &s->agents[s->storm_next++];
		if (a->open) {
			storm_send(a);
		} else {
			a->storm_state = 3;
			s->not_connected++;
		}
	}
	if (storm_finished(s) || now - s->t_storm_us >= (int64_t)s->storm_timeout_s * 1000000)
		stop_all(s);
}

static void print_storm(struct sim *s)
{
	qsort(s->jlat.v, s->jlat.n, sizeof(*s->jlat.v), cmp_i64);
	printf(
	    "{\"mode\":\"storm\",\"agents\":%d,\"connected_at_start\":%d,\"connect_all_ms\":%.1f,"
	    "\"jobs_sent\":%d,\"jobs_acked\":%d,\"drain_ms\":%.1f,\"send_ms\":%.1f,"
	    "\"job_p50_ms\":%.1f,\"job_p99_ms\":%.1f,\"job_max_ms\":%.1f,\"lines_per_job\":%d,"
	    "\"failures\":{\"not_connected\":%d,\"disconnected\":%d,\"incomplete\":%d,"
	    "\"connect_failed\":%d,\"server_errors\":%d}",
	    s->n, s->connected_at_start,
	    s->t_all_connected_us ? (double)(s->t_all_connected_us - s->t_start_us) / 1000.0 : -1.0,
	    s->jobs_sent, s->jobs_ok,
	    s->t_last_ack_us ? (double)(s->t_last_ack_us - s->t_first_send_us) / 1000.0 : -1.0,
	    s->t_last_send_us ? (double)(s->t_last_send_us - s->t_first_send_us) / 1000.0 : -1.0,
	    pct(s->jlat.v, s->jlat.n, 0.50), pct(s->jlat.v, s->jlat.n, 0.99),
	    pct(s->jlat.v, s->jlat.n, 1.0), s->storm_lines, s->not_connected, s->disconnected,
	    s->incomplete, s->failed, s->server_errors);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf(",\"sim_cpu_s\":%.1f,\"failed_hosts\":[",
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	int shown = 0;
	for (int i = 0; i < s->n && shown < 20; i++)
		if (s->agents[i].storm_state != 2)
			printf("%s\"%s\"", shown++ ? "," : "", s->agents[i].host_id);
	printf("]}\n");
}

/* Keeps the ids of the agent's first schedule and its first group for the storm's
 * job.started, and acknowledges the version like the real agent. */
static void take_schedule(struct agent *a, const json_t *p)
{
	const json_t *sc = json_array_get(json_object_get(p, "schedules"), 0);
	const char *sid = json_string_value(json_object_get(sc, "id"));
	const char *gid = json_string_value(json_array_get(json_object_get(sc, "group_ids"), 0));
	if (sid && gid) {
		rm_strlcpy(a->sched_id, sid, sizeof(a->sched_id));
		rm_strlcpy(a->group_id, gid, sizeof(a->group_id));
	}
	char ts[RM_TIME_STRLEN];
	rm_time_fmt(rm_now_ms(), ts);
	send_env(a, RM_MSG_SCHEDULE_ACK,
	         json_pack("{s:I,s:s}", "version",
	                   json_integer_value(json_object_get(p, "version")), "applied_at", ts),
	         NULL);
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
		json_array_foreach (ids, i, v) {
			const char *id = json_string_value(v);
			if (!id)
				continue;
			if (a->hb_id[0] && strcmp(id, a->hb_id) == 0) {
				/* steady state only: skip the connect storm (hello, init jobs) */
				if (s->t_all_connected_us &&
				    a->hb_sent_us > s->t_all_connected_us + 3000000)
					record(&s->rtt, now_us() - a->hb_sent_us);
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
			if (strcmp(s->mode, "storm") == 0)
				storm_acked(a, id);
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
		} else if (strcmp(s->mode, "storm") == 0) {
			if (!a->init_fin[0])
				s->inits_pending++;
			s->last_cmd_us = now_us();
			send_job_finished(a, job_id, 2, a->init_fin);
		} else {
			send_job_finished(a, job_id, 2, NULL);
		}
		break;
	}
	case RM_MSG_SCHEDULE_SET:
		if (strcmp(s->mode, "storm") == 0)
			take_schedule(a, env.payload);
		break;
	case RM_MSG_ERROR:
		if (s->server_errors++ < 5)
			fprintf(stderr, "agentsim: server error: %.200s\n", data);
		break;
	default: break;
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
	                   "agent_version", "agentsim", "restic_version", "0.14.0", "hostname",
	                   host, "os", "linux", "arch", "amd64", "running_jobs"),
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
	if (a->storm_state == 1) {
		a->storm_state = 3;
		if (a->sim->stopping)
			a->sim->incomplete++;
		else
			a->sim->disconnected++;
	}
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
	char *hs =
	    rm_xasprintf("GET /ws/agent HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
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
	while (s->next_connect < s->n && s->connecting < s->conc) {
		struct agent *a = &s->agents[s->next_connect++];
		struct sockaddr_in addr;
		uv_ip4_addr(s->host, s->port, &addr);
		uv_tcp_init(s->loop, &a->tcp);
		a->tcp.data = a;
		a->conn_req.data = a;
		s->connecting++;
		if (uv_tcp_connect(&a->conn_req, &a->tcp, (const struct sockaddr *)&addr,
		                   on_connect)) {
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
	if (s->stopping)
		return;
	s->stopping = 1;
	if (strcmp(s->mode, "storm") == 0) {
		uv_timer_stop(&s->storm_timer);
		uv_close((uv_handle_t *)&s->storm_timer, NULL);
	}
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

struct iopt {
	const char *name;
	int *v;
};

/* 1 if name is one of the integer options (and val a non-negative integer). */
static int int_option(struct iopt *o, size_t n, const char *name, const char *val)
{
	long long v;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(o[i].name, name) && rm_parse_i64(val, &v) == RM_OK && v >= 0 &&
		    v <= 1000000000) {
			*o[i].v = (int)v;
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct sim s = { .n = 100,
		         .hb_ms = 1000,
		         .duration_s = 20,
		         .lines = 20000,
		         .mode = "fleet",
		         .conc = 256,
		         .storm_lines = 50,
		         .per_env = 10,
		         .progress = 10,
		         .settle_ms = 2000,
		         .burst = 200,
		         .ready_timeout_s = 180,
		         .storm_timeout_s = 180 };
	struct iopt iopts[] = { { "--conc", &s.conc },
		                { "--spread-ms", &s.spread_ms },
		                { "--burst", &s.burst },
		                { "--storm-lines", &s.storm_lines },
		                { "--lines-per-env", &s.per_env },
		                { "--progress", &s.progress },
		                { "--settle-ms", &s.settle_ms },
		                { "--ready-timeout-s", &s.ready_timeout_s },
		                { "--storm-timeout-s", &s.storm_timeout_s } };
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
		else if (int_option(iopts, sizeof(iopts) / sizeof(iopts[0]), argv[i], argv[i + 1]))
			continue;
		else {
			fprintf(stderr, "agentsim: bad option %s\n", argv[i]);
			return 2;
		}
	}
	if (!creds || sscanf(url, "http://%63[^:]:%d", s.host, &s.port) != 2) {
		fprintf(stderr,
		        "usage: agentsim --url http://HOST:PORT --creds FILE [--n N] ...\n");
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
	int storm = strcmp(s.mode, "storm") == 0;
	if (storm) {
		if (s.burst < 1)
			s.burst = 1;
		if (s.per_env < 1)
			s.per_env = 1;
		if ((s.storm_lines + s.per_env - 1) / s.per_env > STORM_MAX_ENV - 3)
			s.per_env = (s.storm_lines + STORM_MAX_ENV - 4) / (STORM_MAX_ENV - 3);
		uv_timer_init(s.loop, &s.storm_timer);
		s.storm_timer.data = &s;
		uv_timer_start(&s.storm_timer, storm_tick, 5, 5);
	}
	uv_signal_init(s.loop, &s.sigint);
	s.sigint.data = &s;
	uv_signal_start(&s.sigint, on_sigint, SIGINT);
	fprintf(stderr, "agentsim: %d agents, mode %s, heartbeat %d ms, %d s\n", s.n, s.mode,
	        s.hb_ms, s.duration_s);
	int connected_peak = 0;
	/* run until stopped; the peak count is sampled from the stop callback via connected */
	uv_run(s.loop, UV_RUN_DEFAULT);
	connected_peak = s.t_all_connected_us ? s.n : -1;
	if (storm)
		print_storm(&s);
	qsort(s.rtt.v, s.rtt.n, sizeof(*s.rtt.v), cmp_i64);
	if (!storm)
		printf("{\"agents\":%d,\"all_connected\":%s,\"connect_all_ms\":%.1f,\"failed\":%d,"
		       "\"heartbeats\":%zu,\"hb_rtt_p50_ms\":%.3f,\"hb_rtt_p99_ms\":%.3f,"
		       "\"lines_acked\":%ld,\"jobs_done\":%d}\n",
		       s.n, connected_peak == s.n ? "true" : "false",
		       s.t_all_connected_us ? (double)(s.t_all_connected_us - s.t_start_us) / 1000.0
		                            : -1.0,
		       s.failed, s.rtt.n, pct(s.rtt.v, s.rtt.n, 0.50), pct(s.rtt.v, s.rtt.n, 0.99),
		       s.lines_acked, s.jobs_done);
	for (int i = 0; i < s.n; i++) {
		rm_buf_cleanup(&s.agents[i].in);
		rm_buf_cleanup(&s.agents[i].msg);
		free(s.agents[i].storm_ids);
	}
	free(s.agents);
	free(s.rtt.v);
	free(s.jlat.v);
	uv_loop_close(s.loop);
	return 0;
}
