/*
 * status.c - the status socket: /metrics and /status over evhttp.
 *
 * Only HTTP lives here: listeners, limits, routing. For each request the
 * daemon's snapshot callback fills a status_snapshot, status_render.c turns
 * it into a memory stream, and evhttp gets it in one piece; nothing here
 * blocks or waits on the database.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/log.h"
#include "daemon/status.h"
#include "daemon/status_render.h"

/* After accept() runs out of descriptors, pause accepting this long. */
#define STATUS_ACCEPT_PAUSE_MS 250

#define STATUS_CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define STATUS_CT_JSON "application/json"
#define STATUS_CT_TEXT "text/plain; charset=utf-8"

struct status {
	status_snapshot_fn snapshot;      /* fills a snapshot per request */
	void *snapshot_arg;               /* its argument; not owned */
	char *tcp_text;                   /* status_listen as configured; owned */
	struct evhttp *http;              /* serves both listeners */
	struct evhttp_bound_socket *unix_bs; /* owns the unix socket fd */
	struct evhttp_bound_socket *tcp_bs;  /* NULL without status_listen */
	char *unix_path;                  /* to unlink at close; owned */
	dev_t unix_dev;                   /* identity of the socket file we */
	ino_t unix_ino;                   /*   made, so close unlinks only it */
	struct event ev_resume;           /* re-enable accepting after EMFILE */
	time_t last_pause_log;            /* monotonic s: one warning a minute */
};

/*
 * evconnlistener passes its error callback evhttp's user data, not ours,
 * so the one status server of the process is found through this pointer.
 */
static struct status *status_current;

/* --- HTTP ------------------------------------------------------------- */

static void status_reply(struct evhttp_request *req, int code,
			 const char *reason, const char *ctype,
			 const char *body, size_t len)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	char clen[24];
	bool ok;

	/*
	 * evhttp sends whatever is in the buffer, HEAD or not: for HEAD give
	 * the length a GET would have and leave the body out.
	 */
	snprintf(clen, sizeof(clen), "%zu", len);
	ok = out != NULL && evhttp_add_header(oh, "Content-Type", ctype) == 0 &&
	     evhttp_add_header(oh, "Cache-Control", "no-store") == 0 &&
	     (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD
		      ? evhttp_add_header(oh, "Content-Length", clen) == 0
		      : evbuffer_add(out, body, len) == 0);
	if (ok)
		evhttp_send_reply(req, code, reason, out);
	else
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	if (out != NULL)
		evbuffer_free(out);
}

static void status_reply_text(struct evhttp_request *req, int code,
			      const char *reason, const char *text)
{
	status_reply(req, code, reason, STATUS_CT_TEXT, text, strlen(text));
}

/* Render one document into memory and send it; 500 if that failed. */
static void status_serve(struct evhttp_request *req, const struct status *st,
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
		status_reply_text(req, HTTP_INTERNAL, "Internal Server Error",
				  "out of memory\n");
		return;
	}
	memset(&snap, 0, sizeof(snap));
	st->snapshot(st->snapshot_arg, &snap);
	rc = render(&snap, f);
	if (fclose(f) != 0)
		rc = -1;
	if (rc < 0) {
		free(buf);
		log_warn("status: cannot render a reply: out of memory");
		status_reply_text(req, HTTP_INTERNAL, "Internal Server Error",
				  "out of memory\n");
		return;
	}
	status_reply(req, HTTP_OK, "OK", ctype, buf, len);
	free(buf);
}

static void status_request_cb(struct evhttp_request *req, void *arg)
{
	struct status *st = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		if (evhttp_add_header(evhttp_request_get_output_headers(req),
				      "Allow", "GET, HEAD") < 0) {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return;
		}
		status_reply_text(req, 405, "Method Not Allowed",
				  "only GET and HEAD\n");
		return;
	}
	if (path != NULL && strcmp(path, "/metrics") == 0)
		status_serve(req, st, status_render_metrics, STATUS_CT_METRICS);
	else if (path != NULL && strcmp(path, "/status") == 0)
		status_serve(req, st, status_render_json, STATUS_CT_JSON);
	else
		status_reply_text(req, HTTP_NOTFOUND, "Not Found",
				  "not found: try /metrics or /status\n");
}

/* --- listeners ----------------------------------------------------------- */

static void status_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status *st = arg;

	(void)fd;
	(void)what;
	if (st->unix_bs != NULL &&
	    evconnlistener_enable(evhttp_bound_socket_get_listener(st->unix_bs)) < 0)
		log_warn("status: cannot resume accepting on the unix socket");
	if (st->tcp_bs != NULL &&
	    evconnlistener_enable(evhttp_bound_socket_get_listener(st->tcp_bs)) < 0)
		log_warn("status: cannot resume accepting on %s",
			 st->tcp_text);
}

/*
 * accept() failed for a reason other than "try again". When the process is
 * out of descriptors the listening socket stays readable, and the loop
 * would spin on it: stop accepting for a moment instead; clients wait in
 * the backlog and probes get the descriptors that free up first.
 */
static void status_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct status *st = status_current;
	int err = errno;
	struct timeval tv = { 0, STATUS_ACCEPT_PAUSE_MS * 1000 };
	struct timespec now;

	(void)arg;
	if (st == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (st->last_pause_log == 0 || now.tv_sec - st->last_pause_log >= 60) {
		st->last_pause_log = now.tv_sec;
		log_warn("status: accept: %s; pausing for %d ms (said once a "
			 "minute)",
			 strerror(err), STATUS_ACCEPT_PAUSE_MS);
	}
	if (evconnlistener_disable(lev) < 0 ||
	    evtimer_add(&st->ev_resume, &tv) < 0)
		log_err("status: cannot pause accepting");
}

/* Hand a listening fd to evhttp; on failure the fd is closed. */
static struct evhttp_bound_socket *status_serve_fd(struct status *st, int fd,
						   const char *what)
{
	struct evhttp_bound_socket *bs =
		evhttp_accept_socket_with_handle(st->http, fd);

	if (bs == NULL) {
		log_err("status socket %s: cannot serve it", what);
		close(fd);
		return NULL;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bs),
				    status_accept_error_cb);
	return bs;
}

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
	st->unix_bs = status_serve_fd(st, fd, path);
	if (st->unix_bs == NULL) {
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
	st->tcp_text = strdup(text);
	if (st->tcp_text == NULL) {
		log_err("status_listen %s: %s", text, strerror(errno));
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
	st->tcp_bs = status_serve_fd(st, fd, text);
	return st->tcp_bs != NULL ? 0 : -1;
}

/* A thousand status clients plus the probes' sockets need room. */
static void status_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t old;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur >= rl.rlim_max) {
		log_debug("open file limit: %ju", (uintmax_t)rl.rlim_cur);
		return;
	}
	old = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("cannot raise the open file limit from %ju to %ju: %s",
			 (uintmax_t)old, (uintmax_t)rl.rlim_max,
			 strerror(errno));
		return;
	}
	log_debug("open file limit raised from %ju to %ju", (uintmax_t)old,
		  (uintmax_t)rl.rlim_cur);
}

struct status *status_open(struct event_base *base,
			   const struct status_params *params,
			   status_snapshot_fn snapshot, void *arg)
{
	struct status *st;
	const char *path = params->socket_path;
	const char *listen_text = params->listen;

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
	evtimer_assign(&st->ev_resume, base, status_resume_cb, st);
	status_raise_nofile();

	st->http = evhttp_new(base);
	if (st->http == NULL) {
		log_err("status socket: cannot create the HTTP server");
		free(st);
		return NULL;
	}
	evhttp_set_max_headers_size(st->http, STATUS_MAX_HEADERS);
	evhttp_set_max_body_size(st->http, STATUS_MAX_BODY);
	evhttp_set_timeout(st->http, STATUS_TIMEOUT_S);
	/* Let every method reach the handler, which answers 405 + Allow. */
	evhttp_set_allowed_methods(
		st->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				  EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
				  EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(st->http, STATUS_CT_TEXT);
	evhttp_set_gencb(st->http, status_request_cb, st);
	status_current = st;

	if (status_listen_unix(st, path) < 0 ||
	    (listen_text != NULL && listen_text[0] != '\0' &&
	     status_listen_tcp(st, listen_text) < 0)) {
		status_close(st);
		return NULL;
	}
	log_info("status socket %s%s%s", path,
		 st->tcp_bs != NULL ? ", metrics also on " : "",
		 st->tcp_bs != NULL ? listen_text : "");
	return st;
}

void status_close(struct status *st)
{
	struct stat sb;

	if (st == NULL)
		return;
	evtimer_del(&st->ev_resume);
	/* Frees the bound sockets (closing their fds) and every client. */
	if (st->http != NULL)
		evhttp_free(st->http);
	/* A successor may already have bound the path: only remove ours. */
	if (st->unix_path != NULL && stat(st->unix_path, &sb) == 0 &&
	    sb.st_dev == st->unix_dev && sb.st_ino == st->unix_ino &&
	    unlink(st->unix_path) < 0)
		log_warn("status socket %s: cannot remove it: %s",
			 st->unix_path, strerror(errno));
	if (status_current == st)
		status_current = NULL;
	free(st->unix_path);
	free(st->tcp_text);
	free(st);
}
