/*
 * notify.h - the systemd notification protocol, spoken directly.
 *
 * sd_notify(3) is one datagram of "KEY=VALUE\n" lines to the unix socket
 * named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace); no
 * libsystemd needed. Without $NOTIFY_SOCKET every call is a no-op, so the
 * daemon runs the same by hand, in tests and under systemd.
 */
#ifndef NTPVERIFY_NOTIFY_H
#define NTPVERIFY_NOTIFY_H

#include <stdint.h>

/* Read $NOTIFY_SOCKET and $WATCHDOG_USEC; 0, or -1 if the socket is unusable. */
int notify_init(void) __attribute__((warn_unused_result));

/* Send one message, e.g. "READY=1\nSTATUS=probing". Errors are ignored. */
void notify_send(const char *msg);

/* Half the watchdog interval in ms (send WATCHDOG=1 that often), or 0. */
uint64_t notify_watchdog_ms(void);

void notify_close(void);

#endif
