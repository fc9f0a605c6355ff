/* Fuzz target: arbitrary bytes through the restic line splitter and every output parser.
 * Build: make fuzz; replayed over tests/fuzz/corpus/restic_output by make check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/restic/keys.h"
#include "agent/restic/lines.h"
#include "agent/restic/parse.h"
#include "agent/restic/parse_care.h"
#include "agent/restic/restore.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(void *ud, const char *line, size_t len)
{
	json_t *o = NULL, *x = NULL;
	char *m = NULL;
	int code = 0;
	(void)ud;
	if (strlen(line) != len)
		abort(); /* lines never contain NUL */
	switch (restic_parse_line(line, len, &o)) {
	case RESTIC_LINE_STATUS:
		if (restic_parse_status(o, &x) == RM_OK) {
			if (!json_is_object(x))
				abort();
			json_decref(x);
		}
		if (restic_restore_status(o, &x) == RM_OK)
			json_decref(x);
		break;
	case RESTIC_LINE_SUMMARY:
		if (restic_parse_summary(o, &x) == RM_OK)
			json_decref(x);
		if (restic_restore_summary(o, &x) == RM_OK)
			json_decref(x);
		break;
	case RESTIC_LINE_ERROR:
	case RESTIC_LINE_EXIT_ERROR:
		if (restic_parse_error(o, &m, &code) == RM_OK)
			free(m);
		break;
	default: break;
	}
	json_decref(o);
	m = NULL;
	if (restic_parse_fatal_line(line, len, &m) == RM_OK)
		free(m);
	(void)restic_output_is_already_initialized(line);
	(void)restic_output_is_locked(line, len);
	(void)restic_check_error_line(line, len);
	struct restic_node node;
	if (restic_ls_node(line, len, &o, &node)) {
		if (!node.path || !node.type || node.size < 0)
			abort();
		json_decref(o);
	}
	(void)restic_help_has_flag(line, len, "--no-ownership");
	(void)restic_abs_path_valid(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct restic_lines l;
	json_t *o = NULL;
	char *v = NULL;

	/* split in two feeds to exercise partial lines */
	restic_lines_init(&l, on_line, NULL);
	restic_lines_feed(&l, s, size / 2);
	restic_lines_feed(&l, s + size / 2, size - size / 2);
	restic_lines_flush(&l);
	restic_lines_cleanup(&l);

	/* whole-document parsers */
	if (restic_parse_snapshots(s, size, 100, &o) == RM_OK) {
		if (!json_is_array(o) || json_array_size(o) > 100)
			abort();
		json_decref(o);
	}
	o = NULL;
	if (restic_parse_stats(s, size, &o) == RM_OK)
		json_decref(o);
	o = NULL;
	if (restic_parse_forget(s, size, &o) == RM_OK) {
		if (!json_is_array(json_object_get(o, "keep")) ||
		    !json_is_array(json_object_get(o, "remove")))
			abort();
		json_decref(o);
	}
	if (restic_parse_version(s, size, &v) == RM_OK)
		free(v);
	/* repository care */
	o = NULL;
	if (restic_parse_forget_counts(s, size, &o) == RM_OK) {
		if (!json_is_object(o) || json_integer_value(json_object_get(o, "removed")) < 0)
			abort();
		json_decref(o);
	}
	o = NULL;
	if (restic_parse_prune(s, size, &o) == RM_OK) {
		if (json_integer_value(json_object_get(o, "freed_bytes")) < 0)
			abort();
		json_decref(o);
	}
	o = NULL;
	if (restic_parse_lock_ids(s, size, 50, &o) == RM_OK) {
		if (json_array_size(o) > 50)
			abort();
		json_decref(o);
	}
	o = NULL;
	if (restic_parse_lock("id", s, size, &o) == RM_OK)
		json_decref(o);
	char key[RESTIC_KEY_ID_MAX + 1];
	if (restic_parse_key_current(s, size, key) == RM_OK && !restic_key_id_ok(key))
		abort();
	long long sz = 0;
	if (size < 64 && restic_parse_size(s, size, &sz) == RM_OK && sz < 0)
		abort();
	return 0;
}
