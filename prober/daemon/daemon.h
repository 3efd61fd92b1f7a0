/*
 * daemon.h - `ntpverify run`: the long-running prober.
 *
 * Data flows one way: the store leases due verifications, the scheduler
 * applies the destination policy and the rate limits, a probe runs on the
 * wire, its outcome goes back to the store (and to the counters). The
 * daemon's state is private to prober/daemon/ (daemon_int.h); the status
 * server sees only snapshots of it.
 */
#ifndef NTPVERIFY_DAEMON_H
#define NTPVERIFY_DAEMON_H

#include "config/config.h"

/* Exit statuses of daemon_run(). */
#define DAEMON_EXIT_OK 0      /* stopped by SIGTERM/SIGINT, everything written */
#define DAEMON_EXIT_LOST 1    /* stopped, but results could not be written */
#define DAEMON_EXIT_CONFIG 2  /* configuration or start-up error */
#define DAEMON_EXIT_SCHEMA 3  /* the database's schema is not this binary's */

/*
 * Load the configuration at path (its errors go to err), open the store,
 * the status socket and the loop, and run until SIGTERM or SIGINT.
 * Returns one of the statuses above. The command line is cli/'s.
 */
int daemon_run(const char *path, config_error_fn err, void *err_arg);

#endif
