/*
 * status.c - the status socket: what /metrics and /status answer, and the
 * sockets they are served on.
 *
 * The connections themselves are status_http.c's: cap, deadline,
 * allow-list. Here: binding the unix socket and status_listen, sizing the
 * client cap to the descriptors left after the probes', and routing. For
 * each request the daemon's snapshot callback fills a status_snapshot and
 * status_render.c turns it into a memory stream that is sent in one
 * piece; nothing here blocks or waits on the database.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "core/log.h"
#include "daemon/status.h"
#include "daemon/status_http.h"
#include "daemon/status_render.h"

#define STATUS_CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define STATUS_CT_JSON "application/json"
#define STATUS_CT_TEXT "text/plain; charset=utf-8"

struct status {
	status_snapshot_fn snapshot;      /* fills a snapshot per request */
	void *snapshot_arg;               /* its argument; not owned */
	struct status_http *http;         /* serves both listeners */
	char *unix_path;                  /* to unlink at close; owned */
	dev_t unix_dev;                   /* identity of the socket file we */
	ino_t unix_ino;                   /*   made, so close unlinks only it */
	unsigned max_clients;             /* per listener, after the fd budget */
};

/* --- what is served ------------------------------------------------------ */

static void status_text(struct status_reply *r, int code, const char *reason,
			const char *text)
{
	r->code = code;
	r->reason = reason;
	r->ctype = STATUS_CT_TEXT;
	r->body = strdup(text);
	r->len = r->body != NULL ? strlen(text) : 0;
}

/* Render one document into memory; 500 if that failed. */
static void status_serve(struct status_reply *r, const struct status *st,
			 int (*render)(const struct status_snapshot *, FILE *),
			 const char *ctype)
{
	struct status_snapshot snap;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL) {
		log_warn("status: cannot render a reply: %s", strerror(errno));
		status_text(r, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	memset(&snap, 0, sizeof(snap));
	st->snapshot(st->snapshot_arg, &snap);
	status_http_stats(st->http, &snap.http);
	rc = render(&snap, f);
	if (fclose(f) != 0)
		rc = -1;
	if (rc < 0) {
		free(buf);
		log_warn("status: cannot render a reply: out of memory");
		status_text(r, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	r->code = 200;
	r->reason = "OK";
	r->ctype = ctype;
	r->body = buf;
	r->len = len;
}

static void status_route(void *arg, const char *path, struct status_reply *r)
{
	const struct status *st = arg;

	if (strcmp(path, "/metrics") == 0)
		status_serve(r, st, status_render_metrics, STATUS_CT_METRICS);
	else if (strcmp(path, "/status") == 0)
		status_serve(r, st, status_render_json, STATUS_CT_JSON);
	else
		status_text(r, 404, "Not Found",
			    "not found: try /metrics or /status\n");
}

/* --- listeners ----------------------------------------------------------- */

/*
 * A socket file left by a daemon that died is replaced; one that accepts
 * connections belongs to a live process and is left alone, and so is
 * anything that is not a socket (a typo must not delete a file).
 */
static int status_clear_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat sb;
	int fd, rc, err;

	if (lstat(path, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("status socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		log_err("status socket %s: exists and is not a socket; not "
			"replacing it",
			path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("status socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN) {
		log_err("status socket %s: another process is listening on it "
			"(is ntpverify already running?)",
			path);
		return -1;
	}
	if (err != ECONNREFUSED) {
		log_err("status socket %s: %s", path, strerror(err));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		log_err("status socket %s: cannot remove the stale socket: %s",
			path, strerror(errno));
		return -1;
	}
	log_debug("status socket %s: removed a stale socket", path);
	return 0;
}

static int status_listen_unix(struct status *st, const char *path)
{
	struct sockaddr_un sun;
	struct stat sb;
	mode_t old_mask;
	int fd, rc, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		log_err("status socket '%s': the path must be 1 to %zu bytes",
			path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (status_clear_stale(path, &sun) < 0)
		return -1;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("status socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	/* Created 0660 from the start: no window with looser permissions. */
	old_mask = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	err = errno;
	umask(old_mask);
	if (rc < 0) {
		log_err("status socket %s: cannot bind: %s%s", path,
			strerror(err),
			err == ENOENT ? " (its directory must exist; under "
					"systemd, RuntimeDirectory= makes it)"
				      : "");
		close(fd);
		return -1;
	}
	if (chmod(path, 0660) < 0 || stat(path, &sb) < 0) {
		log_err("status socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	st->unix_dev = sb.st_dev;
	st->unix_ino = sb.st_ino;
	st->unix_path = strdup(path);
	if (st->unix_path == NULL || listen(fd, SOMAXCONN) < 0) {
		log_err("status socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (status_http_listen(st->http, fd, false, path) < 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

static int status_listen_tcp(struct status *st, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (config_parse_listen(text, &ss, &len) < 0) {
		log_err("status_listen '%s': not ADDRESS:PORT or [IPV6]:PORT",
			text);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		log_err("status_listen %s: socket: %s", text, strerror(errno));
		return -1;
	}
	/* A restart must not wait for old connections in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		log_err("status_listen %s: setsockopt: %s", text,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		log_err("status_listen %s: cannot listen: %s", text,
			strerror(errno));
		close(fd);
		return -1;
	}
	return status_http_listen(st->http, fd, true, text);
}

/* Probes and the database first: raise the soft limit, return it. */
static rlim_t status_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t old;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return RLIM_INFINITY;
	}
	if (rl.rlim_cur >= rl.rlim_max) {
		log_debug("open file limit: %ju", (uintmax_t)rl.rlim_cur);
		return rl.rlim_cur;
	}
	old = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("cannot raise the open file limit from %ju to %ju: %s",
			 (uintmax_t)old, (uintmax_t)rl.rlim_max,
			 strerror(errno));
		return old;
	}
	log_debug("open file limit raised from %ju to %ju", (uintmax_t)old,
		  (uintmax_t)rl.rlim_cur);
	return rl.rlim_cur;
}

/*
 * The descriptors status clients may hold: what the limit leaves after
 * one per probe in flight and STATUS_FD_RESERVE for everything else,
 * shared by the listeners. Below STATUS_MIN_CLIENTS per listener the
 * daemon refuses to start (-1): it could neither probe at full width nor
 * be watched. Otherwise the configured cap, lowered (with a warning) to
 * what fits.
 */
static int status_budget(const struct status_params *p, unsigned listeners,
			 unsigned *cap)
{
	rlim_t lim = status_raise_nofile();
	uintmax_t need = (uintmax_t)p->max_in_flight + STATUS_FD_RESERVE +
			 (uintmax_t)listeners * (1 + STATUS_MIN_CLIENTS);
	uintmax_t room;

	*cap = p->max_clients > 0 ? p->max_clients : STATUS_DEFAULT_MAX_CLIENTS;
	if (lim == RLIM_INFINITY)
		return 0;
	if ((uintmax_t)lim < need) {
		log_err("open file limit %ju is too low: probe.max_in_flight "
			"(%u), %d for the database, logs and listeners, and %d "
			"status clients per listener need %ju; raise it (ulimit "
			"-n, LimitNOFILE=) or lower probe.max_in_flight",
			(uintmax_t)lim, p->max_in_flight, STATUS_FD_RESERVE,
			STATUS_MIN_CLIENTS, need);
		return -1;
	}
	room = ((uintmax_t)lim - p->max_in_flight - STATUS_FD_RESERVE) /
		       listeners - 1;
	if (room < *cap) {
		log_warn("status_max_clients lowered from %u to %ju per "
			 "listener: the open file limit %ju must also hold "
			 "%u probes and %d descriptors for the rest",
			 *cap, room, (uintmax_t)lim, p->max_in_flight,
			 STATUS_FD_RESERVE);
		*cap = (unsigned)room;
	}
	return 0;
}

struct status *status_open(struct event_base *base,
			   const struct status_params *params,
			   status_snapshot_fn snapshot, void *arg)
{
	struct status *st;
	const char *path = params->socket_path;
	const char *listen_text = params->listen;
	bool tcp = listen_text != NULL && listen_text[0] != '\0';

	if (path == NULL) {
		log_err("status socket: no status_socket configured");
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		log_err("status socket: %s", strerror(errno));
		return NULL;
	}
	st->snapshot = snapshot;
	st->snapshot_arg = arg;
	if (status_budget(params, tcp ? 2 : 1, &st->max_clients) < 0) {
		free(st);
		return NULL;
	}
	st->http = status_http_new(base, st->max_clients, params->allow,
				   params->n_allow, status_route, st);
	if (st->http == NULL ||
	    status_listen_unix(st, path) < 0 ||
	    (tcp && status_listen_tcp(st, listen_text) < 0)) {
		status_close(st);
		return NULL;
	}
	log_info("status socket %s%s%s; at most %u clients per listener", path,
		 tcp ? ", metrics also on " : "", tcp ? listen_text : "",
		 st->max_clients);
	return st;
}

void status_close(struct status *st)
{
	struct stat sb;

	if (st == NULL)
		return;
	/* Closes the listeners and every client. */
	status_http_free(st->http);
	/* A successor may already have bound the path: only remove ours. */
	if (st->unix_path != NULL && stat(st->unix_path, &sb) == 0 &&
	    sb.st_dev == st->unix_dev && sb.st_ino == st->unix_ino &&
	    unlink(st->unix_path) < 0)
		log_warn("status socket %s: cannot remove it: %s",
			 st->unix_path, strerror(errno));
	free(st->unix_path);
	free(st);
}
