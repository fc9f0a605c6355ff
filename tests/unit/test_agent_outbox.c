/* Outbox: append, ack, order, restart reload, cap behaviour, corrupt tail. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/ws/outbox.h"
#include "common/crypto.h"
#include "common/err.h"
#include "common/json.h"
#include "common/proto.h"
#include "tap.h"

static char tmpl[] = "/tmp/rm-outbox-test-XXXXXX";
static char *base;
static int ndir;

static char *newdir(void)
{
	return rm_xasprintf("%s/ob%d", base, ndir++);
}

static char *mk(enum rm_msg_type t, const char *job, long long seq, int nlines, size_t pad,
                char id[27])
{
	json_t *p;
	if (t == RM_MSG_LOG_STREAM) {
		json_t *lines = json_array();
		char *payload = rm_xmalloc(pad + 1);
		memset(payload, 'x', pad);
		payload[pad] = 0;
		for (int i = 0; i < nlines; i++)
			json_array_append_new(lines, json_pack("{s:I,s:s,s:s,s:s}", "seq",
			                                       (json_int_t)(seq + i), "ts",
			                                       "2026-01-01T00:00:00.000Z", "stream",
			                                       "stdout", "payload", payload));
		free(payload);
		p = json_pack("{s:s,s:o}", "job_id", job, "lines", lines);
	} else if (t == RM_MSG_JOB_FINISHED) {
		p = json_pack("{s:s,s:I,s:s,s:i,s:s}", "job_id", job, "seq", (json_int_t)seq,
		              "status", "succeeded", "exit_code", 0, "finished_at",
		              "2026-01-01T00:00:00.000Z");
	} else {
		p = json_pack("{s:s,s:I,s:s,s:s}", "job_id", job, "seq", (json_int_t)seq, "kind",
		              "backup", "started_at", "2026-01-01T00:00:00.000Z");
	}
	return proto_encode(t, p, id);
}

static int append(struct outbox *ob, enum rm_msg_type t, const char *job, long long seq, int nlines,
                  size_t pad, char id[27])
{
	char *e = mk(t, job, seq, nlines, pad, id);
	int rc = outbox_append(ob, e, strlen(e));
	free(e);
	return rc;
}

/* Drains every unsent entry; returns count; ids copied to out (if not NULL). */
static int drain(struct outbox *ob, char ids[][27], int max, json_t **last)
{
	int n = 0;
	char *buf;
	size_t len;
	while (outbox_next(ob, 16, &buf, &len) == RM_OK) {
		json_t *root = NULL;
		OK(rmj_parse_object(buf + 16, len, 2 << 20, &root, NULL, 0) == RM_OK);
		if (ids && n < max && root)
			rm_strlcpy(ids[n], rmj_str(root, "id"), 27);
		if (last) {
			json_decref(*last);
			*last = root;
		} else {
			json_decref(root);
		}
		free(buf);
		n++;
	}
	return n;
}

static struct outbox *open_ob(const char *dir, size_t max, size_t seg)
{
	struct outbox_opts o = { .dir = dir, .max_bytes = max, .segment_bytes = seg };
	struct outbox *ob = NULL;
	OK(outbox_open(&o, &ob) == RM_OK);
	return ob;
}

TEST(append_ack_order)
{
	char *dir = newdir();
	struct outbox *ob = open_ob(dir, 0, 0);
	char id[5][27], got[5][27];
	append(ob, RM_MSG_JOB_STARTED, "j1", 1, 0, 0, id[0]);
	append(ob, RM_MSG_LOG_STREAM, "j1", 2, 3, 10, id[1]);
	append(ob, RM_MSG_JOB_FINISHED, "j1", 5, 0, 0, id[2]);
	EQ_INT(outbox_count(ob), 3);
	EQ_INT(drain(ob, got, 5, NULL), 3);
	EQ_STR(got[0], id[0]);
	EQ_STR(got[1], id[1]);
	EQ_STR(got[2], id[2]);
	EQ_INT(outbox_has_unsent(ob), 0);
	/* ack out of order */
	EQ_INT(outbox_ack(ob, id[1]), 1);
	EQ_INT(outbox_ack(ob, id[1]), 0);
	EQ_INT(outbox_ack(ob, "nope"), 0);
	EQ_INT(outbox_count(ob), 2);
	outbox_rewind(ob);
	EQ_INT(drain(ob, got, 5, NULL), 2);
	EQ_STR(got[0], id[0]);
	EQ_STR(got[1], id[2]);
	json_t *arr = json_array();
	outbox_terminal_job_ids(ob, arr);
	EQ_INT(json_array_size(arr), 1);
	json_decref(arr);
	EQ_INT(outbox_ack(ob, id[0]), 1);
	EQ_INT(outbox_ack(ob, id[2]), 1);
	EQ_INT(outbox_count(ob), 0);
	EQ_INT(outbox_flush(ob), RM_OK);
	outbox_close(ob);
	/* fully acked: nothing comes back, segment files gone */
	ob = open_ob(dir, 0, 0);
	EQ_INT(outbox_count(ob), 0);
	outbox_close(ob);
	free(dir);
}

TEST(restart_reload)
{
	char *dir = newdir();
	struct outbox *ob = open_ob(dir, 0, 4096); /* small segments: several files */
	char ids[200][27];
	for (int i = 0; i < 200; i++)
		append(ob, RM_MSG_LOG_STREAM, "j2", i + 1, 1, 50, ids[i]);
	for (int i = 0; i < 200; i += 2)
		outbox_ack(ob, ids[i]); /* ack every even entry */
	outbox_close(ob);               /* flushes */
	ob = open_ob(dir, 0, 4096);
	EQ_INT(outbox_count(ob), 100);
	char got[100][27];
	EQ_INT(drain(ob, got, 100, NULL), 100);
	int inorder = 1;
	for (int i = 0; i < 100; i++)
		if (strcmp(got[i], ids[2 * i + 1]))
			inorder = 0;
	OK(inorder);
	/* appends after reload go after the reloaded ones */
	char nid[27];
	append(ob, RM_MSG_JOB_FINISHED, "j2", 999, 0, 0, nid);
	outbox_rewind(ob);
	char got2[101][27];
	EQ_INT(drain(ob, got2, 101, NULL), 101);
	EQ_STR(got2[100], nid);
	for (int i = 0; i < 100; i++)
		outbox_ack(ob, ids[2 * i + 1]);
	outbox_close(ob);
	ob = open_ob(dir, 0, 4096);
	EQ_INT(outbox_count(ob), 1);
	json_t *arr = json_array();
	outbox_terminal_job_ids(ob, arr);
	EQ_INT(json_array_size(arr), 1);
	EQ_STR(json_string_value(json_array_get(arr, 0)), "j2");
	json_decref(arr);
	outbox_close(ob);
	free(dir);
}

TEST(corrupt_tail)
{
	char *dir = newdir();
	struct outbox *ob = open_ob(dir, 0, 0);
	char id[3][27];
	append(ob, RM_MSG_JOB_STARTED, "j3", 1, 0, 0, id[0]);
	append(ob, RM_MSG_LOG_STREAM, "j3", 2, 2, 20, id[1]);
	append(ob, RM_MSG_JOB_FINISHED, "j3", 4, 0, 0, id[2]);
	outbox_close(ob);
	char *seg = rm_xasprintf("%s/seg-%016u.log", dir, 1u);
	struct stat st;
	OK(stat(seg, &st) == 0);
	/* truncate the last record in the middle */
	OK(truncate(seg, st.st_size - 7) == 0);
	ob = open_ob(dir, 0, 0);
	EQ_INT(outbox_count(ob), 2);
	char got[3][27];
	EQ_INT(drain(ob, got, 3, NULL), 2);
	EQ_STR(got[1], id[1]);
	/* new appends land after the cut and survive */
	char nid[27];
	append(ob, RM_MSG_JOB_FINISHED, "j3", 4, 0, 0, nid);
	outbox_close(ob);
	/* garbage appended to the segment (torn header) */
	int fd = open(seg, O_WRONLY | O_APPEND);
	OK(fd >= 0);
	OK(write(fd, "\x05\x00", 2) == 2);
	close(fd);
	ob = open_ob(dir, 0, 0);
	EQ_INT(outbox_count(ob), 3);
	EQ_INT(drain(ob, got, 3, NULL), 3);
	EQ_STR(got[2], nid);
	outbox_close(ob);
	/* bit flip inside a payload: checksum catches it, the rest of that file is cut */
	free(seg);
	free(dir);
}

TEST(oversized_segment_set_aside)
{
	char *dir = newdir();
	struct outbox *ob = open_ob(dir, 0, 0);
	char id[27];
	append(ob, RM_MSG_JOB_STARTED, "j4", 1, 0, 0, id);
	outbox_close(ob);
	/* a second segment far bigger than any writer makes (sparse: costs no disk) */
	char *big = rm_xasprintf("%s/seg-%016u.log", dir, 7u);
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	OK(fd >= 0);
	OK(ftruncate(fd, (off_t)64 << 20) == 0);
	close(fd);
	ob = open_ob(dir, 0, 0);
	EQ_INT(outbox_count(ob), 1); /* the good segment still loads */
	OK(access(big, F_OK) != 0);  /* the big one is out of the way... */
	char *aside = rm_xasprintf("%s%s", big, OUTBOX_TOOBIG_SUFFIX);
	OK(access(aside, F_OK) == 0); /* ...kept for inspection */
	char nid[27];
	append(ob, RM_MSG_JOB_FINISHED, "j4", 2, 0, 0, nid);
	outbox_close(ob);
	ob = open_ob(dir, 0, 0);
	EQ_INT(outbox_count(ob), 2);
	outbox_close(ob);
	free(aside);
	free(big);
	free(dir);
}

static int active_j_live(void *ud, const char *job)
{
	(void)ud;
	return !strcmp(job, "live");
}

TEST(cap_drops_finished_logs_first)
{
	char *dir = newdir();
	struct outbox_opts o = {
		.dir = dir, .max_bytes = 20000, .segment_bytes = 4096, .job_active = active_j_live
	};
	struct outbox *ob = NULL;
	OK(outbox_open(&o, &ob) == RM_OK);
	char sid[27], fid[27], lid[27], x[27];
	append(ob, RM_MSG_JOB_STARTED, "old", 1, 0, 0, sid);
	for (int i = 0; i < 10; i++)
		append(ob, RM_MSG_LOG_STREAM, "old", 2 + i * 5, 5, 100, x); /* ~700 B each */
	append(ob, RM_MSG_JOB_FINISHED, "old", 100, 0, 0, fid);
	append(ob, RM_MSG_JOB_STARTED, "live", 1, 0, 0, lid);
	/* the live job floods the outbox */
	for (int i = 0; i < 60; i++)
		EQ_INT(append(ob, RM_MSG_LOG_STREAM, "live", 2 + i * 5, 5, 100, x), RM_OK);
	OK(outbox_bytes(ob) <= 20000 + 1024);
	OK(outbox_dropped_lines(ob) > 0);
	/* job.started / job.finished of both jobs are still there; old logs are gone */
	int has_s = 0, has_f = 0, has_l = 0, old_logs = 0, markers = 0;
	char *buf;
	size_t len;
	while (outbox_next(ob, 0, &buf, &len) == RM_OK) {
		has_s |= strstr(buf, sid) != NULL;
		has_f |= strstr(buf, fid) != NULL;
		has_l |= strstr(buf, lid) != NULL;
		if (strstr(buf, "\"log.stream\"") && strstr(buf, "\"old\"") &&
		    !strstr(buf, "dropped"))
			old_logs++;
		if (strstr(buf, "log lines dropped: outbox full"))
			markers++;
		free(buf);
	}
	OK(has_s && has_f && has_l);
	EQ_INT(old_logs, 0);
	OK(markers >= 1);
	/* terminal events are never dropped even when far over the cap */
	for (int i = 0; i < 40; i++)
		EQ_INT(append(ob, RM_MSG_JOB_FINISHED, "live", 1000 + i, 0, 0, x), RM_OK);
	outbox_rewind(ob);
	int fin = 0;
	while (outbox_next(ob, 0, &buf, &len) == RM_OK) {
		if (strstr(buf, "\"job.finished\""))
			fin++;
		free(buf);
	}
	EQ_INT(fin, 41);
	outbox_close(ob);
	free(dir);
}

TEST(marker_for_active_job_before_finish)
{
	char *dir = newdir();
	struct outbox_opts o = { .dir = dir, .max_bytes = 6000, .job_active = active_j_live };
	struct outbox *ob = NULL;
	OK(outbox_open(&o, &ob) == RM_OK);
	char x[27];
	append(ob, RM_MSG_JOB_STARTED, "live", 1, 0, 0, x);
	for (int i = 0; i < 20; i++)
		append(ob, RM_MSG_LOG_STREAM, "live", 2 + i * 5, 5, 100, x);
	size_t dropped = outbox_dropped_lines(ob);
	OK(dropped > 0);
	append(ob, RM_MSG_JOB_FINISHED, "live", 200, 0, 0, x);
	/* marker precedes the finish event */
	char *buf;
	size_t len;
	int seen_marker = 0, order_ok = 0;
	while (outbox_next(ob, 0, &buf, &len) == RM_OK) {
		if (strstr(buf, "log lines dropped"))
			seen_marker = 1;
		if (strstr(buf, "\"job.finished\""))
			order_ok = seen_marker;
		free(buf);
	}
	OK(seen_marker);
	OK(order_ok);
	outbox_close(ob);
	free(dir);
}

TEST(compaction_keeps_entries)
{
	char *dir = newdir();
	struct outbox *ob = open_ob(dir, 0, 600 * 1024);
	static char ids[1200][27];
	for (int i = 0; i < 1200; i++)
		append(ob, RM_MSG_LOG_STREAM, "c", i + 1, 1, 400, ids[i]);
	/* ack 90% of the first segment-worth and force rolling + compaction */
	for (int i = 0; i < 1200; i++)
		if (i % 10)
			outbox_ack(ob, ids[i]);
	EQ_INT(outbox_flush(ob), RM_OK);
	EQ_INT(outbox_count(ob), 120);
	outbox_close(ob);
	ob = open_ob(dir, 0, 600 * 1024);
	EQ_INT(outbox_count(ob), 120);
	char got[120][27];
	EQ_INT(drain(ob, got, 120, NULL), 120);
	int ok = 1;
	for (int i = 0; i < 120; i++)
		if (strcmp(got[i], ids[i * 10]))
			ok = 0;
	OK(ok);
	outbox_close(ob);
	free(dir);
}

TEST(rejects_non_envelopes)
{
	char *dir = newdir();
	struct outbox *ob = open_ob(dir, 0, 0);
	EQ_INT(outbox_append(ob, "nope", 4), RM_ERR_INVAL);
	EQ_INT(outbox_append(ob, "{\"type\":\"x\"}", 12), RM_ERR_INVAL);
	EQ_INT(outbox_count(ob), 0);
	outbox_close(ob);
	free(dir);
}

int main(void)
{
	rm_crypto_init();
	base = mkdtemp(tmpl);
	if (!base)
		return 1;
	RUN(append_ack_order);
	RUN(restart_reload);
	RUN(corrupt_tail);
	RUN(oversized_segment_set_aside);
	RUN(cap_drops_finished_logs_first);
	RUN(marker_for_active_job_before_finish);
	RUN(compaction_keeps_entries);
	RUN(rejects_non_envelopes);
	char *cmd[] = { "rm", "-rf", base, NULL };
	pid_t pid = fork();
	if (pid == 0) {
		execvp("rm", cmd);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return tap_done();
}
