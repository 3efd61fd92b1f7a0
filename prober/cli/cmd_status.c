/*
 * cmd_status.c - `ntpverify status`: ask the running daemon how it is.
 *
 * Speaks HTTP/1.0 to the daemon's unix status socket (GET /status), with
 * one deadline over connect, send and receive, so a wedged daemon cannot
 * hang an admin's shell or a monitoring script. --json prints the document
 * as received; otherwise status_json.c flattens it into "path = value"
 * pairs (database.connected, counters.attempts.verified, recent.0.server,
 * ...) and it is summarised in a few aligned lines. Strings from the daemon
 * are printed through text_put_escaped(): the server addresses and details in
 * them come from the network.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/timefmt.h"
#include "config/config.h"
#include "core/evtime.h"
#include "core/textout.h"
#include "cli/status_json.h"

#define STATUS_CLIENT_TIMEOUT_MS 5000
#define STATUS_CLIENT_MAX_REPLY (4u << 20) /* far above any real /status */

/* Milliseconds left until deadline, for poll(); 0 once it has passed. */
static int status_left_ms(uint64_t deadline)
{
	uint64_t now = evtime_mono_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/*
 * A non-blocking stream socket connected to the unix socket at `path`;
 * -1 with a reason in err.
 */
static int status_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct timeval tv = { STATUS_CLIENT_TIMEOUT_MS / 1000, 0 };
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * A unix connect() waits while the daemon's backlog is full; the
	 * send timeout bounds that wait. Everything after it runs
	 * non-blocking under poll().
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "%s",
			 errno == EAGAIN || errno == EINPROGRESS
				 ? "timed out connecting"
				 : strerror(errno));
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The answer read so far. */
struct status_buf {
	char *buf;  /* heap, NUL-terminated when complete */
	size_t len; /* octets received */
	size_t cap; /* allocated */
};

/* Room for another recv(); -1 with a reason once the limit is reached. */
static int status_buf_room(struct status_buf *b, char *err, size_t errlen)
{
	size_t ncap;
	char *nb;

	if (b->cap - b->len >= 4096 + 1)
		return 0;
	ncap = b->cap == 0 ? 16384 : b->cap * 2;
	if (ncap > STATUS_CLIENT_MAX_REPLY + 1) {
		snprintf(err, errlen, "answer larger than %u bytes",
			 STATUS_CLIENT_MAX_REPLY);
		return -1;
	}
	nb = realloc(b->buf, ncap);
	if (nb == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->buf = nb;
	b->cap = ncap;
	return 0;
}

/*
 * Send req and read until the daemon closes, all before deadline. 0, or
 * -1 with a reason in err.
 */
static int status_exchange(int fd, const char *req, size_t req_len,
			   uint64_t deadline, struct status_buf *b, char *err,
			   size_t errlen)
{
	size_t sent = 0;

	for (;;) {
		struct pollfd pfd = { fd, sent < req_len ? POLLOUT : POLLIN, 0 };
		int left = status_left_ms(deadline);
		ssize_t r;

		if (left == 0) {
			snprintf(err, errlen, "no complete answer within %d s",
				 STATUS_CLIENT_TIMEOUT_MS / 1000);
			return -1;
		}
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			continue; /* the deadline check above ends it */
		if (sent < req_len) {
			r = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r < 0) {
				snprintf(err, errlen, "send: %s", strerror(errno));
				return -1;
			}
			sent += (size_t)r;
			continue;
		}
		if (status_buf_room(b, err, errlen) < 0)
			return -1;
		r = recv(fd, b->buf + b->len, b->cap - b->len - 1, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			return 0; /* HTTP/1.0: the daemon closes after the reply */
		b->len += (size_t)r;
	}
}

/*
 * GET `what` over the unix socket at `path`. On success *reply holds the
 * whole response (NUL-terminated, caller frees) and 0 is returned; on
 * failure -1 with a reason in err.
 */
static int status_fetch(const char *path, const char *what, char **reply,
			size_t *reply_len, char *err, size_t errlen)
{
	uint64_t deadline = evtime_mono_ms() + STATUS_CLIENT_TIMEOUT_MS;
	struct status_buf b = { NULL, 0, 0 };
	char req[256];
	int fd, n, rc;

	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: localhost\r\n"
		     "User-Agent: ntpverify-status\r\n\r\n",
		     what);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	fd = status_connect(path, err, errlen);
	if (fd < 0)
		return -1;
	rc = status_exchange(fd, req, (size_t)n, deadline, &b, err, errlen);
	close(fd);
	if (rc < 0) {
		free(b.buf);
		return -1;
	}
	if (b.buf == NULL) {
		snprintf(err, errlen, "the connection closed without an answer");
		return -1;
	}
	b.buf[b.len] = '\0';
	*reply = b.buf;
	*reply_len = b.len;
	return 0;
}

/*
 * Split an HTTP/1.x response: returns the status code and points *body at
 * the body, or -1 when it is not HTTP.
 */
static int status_http_split(char *reply, size_t len, char **body,
			     size_t *body_len)
{
	char *end;
	int code;

	if (len < 12 || strncmp(reply, "HTTP/1.", 7) != 0 || reply[8] != ' ' ||
	    sscanf(reply + 9, "%3d", &code) != 1)
		return -1;
	end = strstr(reply, "\r\n\r\n");
	if (end == NULL)
		return -1;
	*body = end + 4;
	*body_len = len - (size_t)(*body - reply);
	return code;
}

/* --- the summary --------------------------------------------------------- */

static void status_put(const char *s)
{
	text_put_escaped(stdout, s, strlen(s));
}

/* A value or "?" when the daemon did not send it. */
static const char *status_val(const struct status_json_doc *doc,
			      const char *path)
{
	const char *v = status_json_get(doc, path);

	return v != NULL ? v : "?";
}

/* Uptime in the one duration style of the human output ("3m 7s"). */
static void status_print_uptime(const char *text)
{
	char buf[TIMEFMT_MAX];

	printf("%s", timefmt_duration(strtoull(text, NULL, 10), buf,
				      sizeof(buf)));
}

/* A time from the document (RFC 3339) as people read it, escaped. */
static void status_put_time(const char *t)
{
	char buf[TIMEFMT_MAX];

	status_put(timefmt_human(t, buf, sizeof(buf)));
}

/* "name n, name n" for every non-zero member under prefix. */
static void status_print_nonzero(const struct status_json_doc *doc,
				 const char *prefix, const char *none)
{
	size_t plen = strlen(prefix);
	bool any = false;

	for (size_t i = 0; i < doc->n; i++) {
		const struct status_json_value *jv = &doc->v[i];
		if (strncmp(jv->path, prefix, plen) != 0 ||
		    strcmp(jv->value, "0") == 0)
			continue;
		printf("%s", any ? ", " : "");
		status_put(jv->path + plen);
		printf(" ");
		status_put(jv->value);
		any = true;
	}
	if (!any)
		printf("%s", none);
}

/* The recent attempts, one per line. */
static void status_print_recent(const struct status_json_doc *doc)
{
	char key[STATUS_JSON_PATH_MAX];

	for (unsigned i = 0;; i++) {
		/* at  #id  server  outcome  detail */
		static const char *const f[] = { "at", "id", "server", "outcome",
						 "detail" };
		static const char *const sep[] = { "", "  #", "  ", "  ", "  " };
		snprintf(key, sizeof(key), "recent.%u.at", i);
		if (status_json_get(doc, key) == NULL) {
			if (i == 0)
				printf("none yet");
			break;
		}
		if (i > 0)
			printf("\n%-12s", "");
		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
			snprintf(key, sizeof(key), "recent.%u.%s", i, f[k]);
			fputs(sep[k], stdout);
			if (k == 0)
				status_put_time(status_val(doc, key));
			else
				status_put(status_val(doc, key));
		}
	}
}

static void status_print(const struct status_json_doc *doc)
{
	char key[STATUS_JSON_PATH_MAX];
	const char *lease;

	printf("%-12s", "version");
	status_put(status_val(doc, "version"));
	printf("\n%-12s", "prober");
	status_put(status_val(doc, "prober"));
	printf("\n%-12s", "uptime");
	status_print_uptime(status_val(doc, "uptime_s"));
	printf("\n%-12s", "sources");
	for (unsigned i = 0;; i++) {
		snprintf(key, sizeof(key), "sources.%u", i);
		if (status_json_get(doc, key) == NULL) {
			if (i == 0)
				printf("none configured (the kernel picks)");
			break;
		}
		printf("%s", i > 0 ? ", " : "");
		status_put(status_json_get(doc, key));
	}

	printf("\n%-12s%s", "database",
	       strcmp(status_val(doc, "database.connected"), "true") == 0
		       ? "connected"
		       : "NOT CONNECTED");
	printf(", %s pending, %s results waiting, last lease ",
	       strcmp(status_val(doc, "database.pending_seen"), "null") == 0
		       ? "?"
		       : status_val(doc, "database.pending_seen"),
	       status_val(doc, "database.results_waiting"));
	lease = status_val(doc, "database.last_lease_at");
	status_put_time(strcmp(lease, "null") == 0 ? "never" : lease);

	printf("\n%-12s%s in flight, %s leases held, %s started, %s packets "
	       "sent, %s received",
	       "probes", status_val(doc, "in_flight"),
	       status_val(doc, "leases_held"),
	       status_val(doc, "counters.attempts_started"),
	       status_val(doc, "counters.packets_sent"),
	       status_val(doc, "counters.packets_received"));
	printf("\n%-12s", "outcomes");
	status_print_nonzero(doc, "counters.attempts.", "none yet");
	printf("\n%-12s%s verified, %s expired", "final",
	       status_val(doc, "counters.verifications.verified"),
	       status_val(doc, "counters.verifications.expired"));
	printf("\n%-12s%s packets held back, %s refused by policy; deferred: ",
	       "limits", status_val(doc, "counters.packets_held"),
	       status_val(doc, "counters.attempts.refused_by_policy"));
	status_print_nonzero(doc, "counters.ratelimit_deferrals.", "none");
	printf("\n%-12s%s database errors, %s reconnects, %s stale results "
	       "discarded, %s dropped",
	       "errors", status_val(doc, "counters.database_errors"),
	       status_val(doc, "counters.database_reconnects"),
	       status_val(doc, "counters.stale_results_discarded"),
	       status_val(doc, "counters.results_dropped"));

	printf("\n%-12s", "recent");
	status_print_recent(doc);
	printf("\n");
}

/* What the command line asked for. */
struct status_opts {
	const char *config_path; /* --config, or the default */
	const char *socket_path; /* --socket, NULL: from the configuration */
	bool json;               /* --json: the document as received */
};

/* Parse the options: 0, 1 after --help, or EXIT_USAGE. */
static int status_parse(int argc, char **argv, struct status_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->config_path = DEFAULT_CONFIG_PATH;
	o->socket_path = NULL;
	o->json = false;
	optind = 1;
	opterr = 0; /* our messages, with the "ntpverify status:" prefix */
	while ((c = getopt_long(argc, argv, ":s:c:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'c':
			o->config_path = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			command_help(stdout, "status");
			return 1;
		default:
			command_bad_option("status", c, argv);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		command_extra_operand("status", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

/* The body as received, ending in a newline; 0 or EXIT_NEGATIVE. */
static int status_put_raw(const char *body, size_t body_len)
{
	if (fwrite(body, 1, body_len, stdout) != body_len ||
	    (body_len > 0 && body[body_len - 1] != '\n' &&
	     putchar('\n') == EOF)) {
		fprintf(stderr, "ntpverify status: %s\n", strerror(errno));
		return EXIT_NEGATIVE;
	}
	return 0;
}

/* Ask the daemon at socket_path and print its answer; the exit status. */
static int status_query(const char *socket_path, bool json)
{
	struct status_json_doc doc = { 0 };
	char err[256], *reply = NULL, *body;
	size_t reply_len = 0, body_len;
	int code, rc = EXIT_NEGATIVE;

	if (status_fetch(socket_path, "/status", &reply, &reply_len, err,
			 sizeof(err)) < 0) {
		fprintf(stderr,
			"ntpverify status: cannot reach the daemon at %s: %s "
			"(is ntpverify running, and may this user open the "
			"socket?)\n",
			socket_path, err);
		return EXIT_NEGATIVE;
	}
	code = status_http_split(reply, reply_len, &body, &body_len);
	if (code != 200) {
		fprintf(stderr, "ntpverify status: %s: %s%d\n", socket_path,
			code < 0 ? "not an HTTP answer" : "the daemon answered ",
			code < 0 ? 0 : code);
	} else if (json) {
		rc = status_put_raw(body, body_len);
	} else if (status_json_parse(body, body_len, &doc) < 0) {
		fprintf(stderr, "ntpverify status: %s: the daemon's answer is "
				"not the JSON expected\n",
			socket_path);
	} else {
		status_print(&doc);
		rc = fflush(stdout) == 0 ? 0 : EXIT_NEGATIVE;
		status_json_free(&doc);
	}
	free(reply);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	struct status_opts o;
	struct nv_config cfg;
	int rc = status_parse(argc, argv, &o);

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	/* With --socket the configuration is not needed at all. */
	if (o.socket_path != NULL)
		return status_query(o.socket_path, o.json);
	if (config_load(&cfg, o.config_path, print_config_error, "status") < 0)
		return EXIT_USAGE;
	if (cfg.status_socket == NULL || cfg.status_socket[0] == '\0') {
		fprintf(stderr, "ntpverify status: %s: no status_socket "
				"configured (or give --socket PATH)\n",
			o.config_path);
		rc = EXIT_USAGE;
	} else {
		rc = status_query(cfg.status_socket, o.json);
	}
	config_free(&cfg);
	return rc;
}
