#ifndef RM_SERVER_ENGINE_UPDATE_INT_H
#define RM_SERVER_ENGINE_UPDATE_INT_H
/* Inside the update engine (update.c, update_run.c). */
#include <stdint.h>
#include <uv.h>

#include "server/engine/update.h"

struct inflight {
	char host_id[32];
	char update_id[32];
	char run_id[32]; /* "" outside a rolling run */
	int64_t deadline_ms;
};

struct update_engine {
	char *pubkey; /* base64; NULL: none */
	int pubkey_tried;
	struct inflight *fl;
	size_t n, cap;
	uv_timer_t timer; /* 1 s, while anything is in flight: deadlines */
	int timer_init;
	char run_id[32]; /* the active rolling run, "" none */
};

struct update_engine *update_engine(struct app *app);

#endif
