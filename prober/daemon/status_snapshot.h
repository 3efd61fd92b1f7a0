/*
 * status_snapshot.h - everything /metrics and /status show, copied out of
 * the daemon, the store and the rate limiter at one moment. The renderers
 * (status_render.h) are pure functions of it; the HTTP server (status.h)
 * asks the daemon for one per request and never sees the daemon itself.
 */
#ifndef NTPVERIFY_STATUS_SNAPSHOT_H
#define NTPVERIFY_STATUS_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/counters.h"

#define STATUS_MAX_SOURCES 16 /* at least CONFIG_MAX_SOURCES */
#define STATUS_MAX_ERR_CLASSES 16 /* at least STORE_ERR_COUNT */

/* The status server's own counters (status_http.c), and its clients now. */
struct status_http_stats {
	unsigned clients;             /* connections open now, all listeners */
	uint64_t rejected_not_allowed; /* TCP peers outside status_allow */
	uint64_t rejected_deadline;   /* closed at the deadline without a reply */
	uint64_t rejected_bad_request; /* answered 400: unparsable or too long */
	uint64_t paused_max_clients;  /* a listener stopped accepting at the cap */
	uint64_t paused_descriptors;  /* accept() failed with no descriptor left */
};

/*
 * The process itself, read from /proc/self when the snapshot is taken
 * (Prometheus's standard process_* metrics). ok is false where /proc is
 * not there; the renderers then leave the process_* series out.
 */
struct status_process {
	bool ok;                /* the fields below were read */
	double start_time_s;    /* Unix time the process started */
	double cpu_s;           /* user plus system CPU time, seconds */
	uint64_t open_fds;      /* descriptors open now */
	uint64_t max_fds;       /* RLIMIT_NOFILE soft limit; 0 = unlimited */
	uint64_t resident_bytes; /* resident set size */
	uint64_t virtual_bytes; /* virtual memory size */
};

struct status_snapshot {
	const char *version;    /* the build, e.g. NTPVERIFY_VERSION */
	double uptime_s;        /* seconds since the daemon started */
	/*
	 * The strings below are borrowed from the daemon's configuration and
	 * stay valid until the daemon runs again (the snapshot is rendered at
	 * once, in the same callback).
	 */
	const char *prober;     /* prober_name; NULL renders as JSON null */
	const char *perspective; /* the perspective it probes from; NULL: null */
	const char *region;     /* the perspective's region; NULL: null */
	const char *sources[STATUS_MAX_SOURCES]; /* source addresses as written */
	size_t n_sources;       /* entries used in sources[] */

	bool db_connected;      /* the store's connection is up */
	int64_t pending_seen;   /* pending rows at the last count; < 0 unknown */
	int64_t exceptions_seen[2]; /* rows awaiting approval, verified by an
				     * admin's exception; < 0 unknown */
	unsigned results_waiting; /* results not yet written */
	double last_lease_at;   /* wall clock of the last lease; 0 = none */
	uint64_t db_errors;     /* failed statements and connections */
	uint64_t db_reconnects; /* connections re-established after a loss */
	uint64_t results_dropped; /* results the store had to drop: queue full */
	uint64_t results_rejected; /* unverified results dropped as bad data */
	uint64_t corroborations; /* our results that made our perspective corroborate */
	uint64_t decided_verified; /* quorum decisions on our results: verified */
	uint64_t decided_pending;  /* ... quorum not (yet) met */
	bool db_writes_blocked; /* the database refuses writes; results wait */
	/* Failed writes by SQLSTATE class; names borrowed (static strings). */
	struct {
		const char *cls;    /* label value, e.g. "resources" */
		uint64_t n;         /* writes refused with it */
	} db_refused[STATUS_MAX_ERR_CLASSES];
	size_t n_db_refused;    /* entries used in db_refused[] */

	unsigned in_flight;     /* probes on the wire */
	unsigned leases_held;   /* leased rows, waiting or probing */

	size_t ratelimit_destinations; /* destinations with limiter state */
	uint64_t deferred_interval;    /* starts postponed: destination interval */
	uint64_t deferred_kod;         /* ... KoD holdoff */
	uint64_t deferred_global;      /* ... global packet rate */
	uint64_t deferred_daily;       /* ... daily budget */
	uint64_t deferred_prefix_interval; /* ... IPv6 prefix interval */
	uint64_t deferred_prefix_daily;    /* ... IPv6 prefix daily budget */
	uint64_t deferred_table_full;      /* ... destination table full */
	uint64_t held_global;          /* packets held: no global token */
	uint64_t held_daily;           /* ... address daily budget spent */
	uint64_t held_kod;             /* ... KoD holdoff */
	uint64_t held_prefix_daily;    /* ... IPv6 prefix daily budget spent */
	uint64_t held_table_full;      /* ... destination table full */

	struct daemon_counters c; /* the daemon's own counters, copied */
	struct status_http_stats http; /* filled by the status server itself */
	struct status_process proc; /* the daemon's process, from /proc/self */
};

/*
 * How the status server gets a snapshot: fill *out (the server zeroes it
 * first). Runs from the event loop for every request.
 */
typedef void (*status_snapshot_fn)(void *arg, struct status_snapshot *out);

#endif
