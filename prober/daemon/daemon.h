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

/* Parse the options, load the configuration, run until SIGTERM; exit code. */
int cmd_run(int argc, char **argv);

#endif
