#ifndef RM_SERVER_ENGINE_SWEEPER_H
#define RM_SERVER_ENGINE_SWEEPER_H
/* Periodic housekeeping on a uv timer (cfg->sweep_interval_ms): hosts silent longer than
 * offline_after -> offline; queued/running jobs of hosts offline longer than
 * job_lost_after -> failed "agent lost"; expired sessions purged. Loop thread only. */
struct app;
struct sweeper;

struct sweeper *sweeper_start(struct app *app);
/* Runs one sweep now (also used by tests). */
void sweeper_run_once(struct app *app);
/* Stops the timer and frees the sweeper once its handle is closed. NULL ok. */
void sweeper_stop(struct sweeper *s);

#endif
