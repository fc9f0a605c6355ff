#ifndef RM_SERVER_ENGINE_NOTIFY_H
#define RM_SERVER_ENGINE_NOTIFY_H
/* Change notifications: "this host's / this job's row changed". Whoever changes a host or
 * a job in the store calls notify_*_changed after the change is committed; whoever shows
 * or caches those rows (the browser hubs in ws/, the dashboard cache in api/) subscribes
 * with a callback. This is how lower layers tell upper ones without including them
 * (docs/internals/architecture.md). Subscribers are called synchronously, in subscription
 * order, on the loop thread; they must not (un)subscribe from inside a callback. */
struct notify;

/* NOTIFY_ALERTS: the set of alerts changed (id "alerts"; the open count may differ). */
enum notify_kind { NOTIFY_HOST = 1, NOTIFY_JOB = 2, NOTIFY_USER = 4, NOTIFY_ALERTS = 8 };

/* id is borrowed for the duration of the call. */
typedef void (*notify_fn)(void *ud, enum notify_kind kind, const char *id);

struct notify *notify_new(void);
void notify_free(struct notify *n); /* NULL ok */
/* kinds: NOTIFY_HOST | NOTIFY_JOB (a mask). n NULL: no-op. */
void notify_subscribe(struct notify *n, unsigned kinds, notify_fn fn, void *ud);
/* Removes every subscription with this fn and ud. n NULL ok. */
void notify_unsubscribe(struct notify *n, notify_fn fn, void *ud);
/* n NULL or id NULL: no-op. */
void notify_host_changed(struct notify *n, const char *host_id);
void notify_job_changed(struct notify *n, const char *job_id);
/* A user's access changed (disabled, deleted, role, signed out, password): open browser
 * streams of that user are closed so that they authenticate again. */
void notify_user_changed(struct notify *n, const char *user_id);
void notify_alerts_changed(struct notify *n);

#endif
