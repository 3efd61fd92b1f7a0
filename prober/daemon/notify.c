#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "daemon/notify.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static uint64_t watchdog_ms;

int notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wd_pid = getenv("WATCHDOG_PID");
	size_t n;

	if (wd != NULL && (wd_pid == NULL || atol(wd_pid) == (long)getpid()))
		watchdog_ms = strtoull(wd, NULL, 10) / 2000;
	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(notify_addr.sun_path)) {
		log_warn("NOTIFY_SOCKET '%s' is not usable", path);
		return -1;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, n);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0'; /* abstract namespace */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0) {
		log_warn("NOTIFY_SOCKET: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void notify_send(const char *msg)
{
	if (notify_fd < 0)
		return;
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
		   (struct sockaddr *)&notify_addr, notify_len) < 0)
		log_debug("NOTIFY_SOCKET: %s", strerror(errno));
}

uint64_t notify_watchdog_ms(void)
{
	return watchdog_ms;
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
