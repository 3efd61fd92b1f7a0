/*
 * cmd_status.c - `ntpverify status`: ask the running daemon how it is.
 *
 * Speaks HTTP/1.0 to the daemon's unix status socket (GET /status), with
 * one deadline over connect, send and receive, so a wedged daemon cannot
 * hang an admin's shell or a monitoring script. --json prints the document
 * as received; otherwise it is flattened into "path = value" pairs
 * (database.connected, counters.attempts.verified, recent.0.server, ...)
 * and summarised in a few aligned lines. Strings from the daemon are
 * printed through text_put_escaped(): the server addresses and details in
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
#include "config/config.h"
#include "core/textout.h"
#include "ntpwire/hex.h"

#define STATUS_CLIENT_TIMEOUT_MS 5000
#define STATUS_CLIENT_MAX_REPLY (4u << 20) /* far above any real /status */
#define STATUS_JSON_MAX_DEPTH 16
#define STATUS_PATH_MAX 160

static uint64_t status_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, for poll(); 0 once it has passed. */
static int status_left_ms(uint64_t deadline)
{
	uint64_t now = status_now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/*
 * GET `what` over the unix socket at `path`. On success *reply holds the
 * whole response (NUL-terminated, caller frees) and 0 is returned; on
 * failure -1 with a reason in err.
 */
static int status_fetch(const char *path, const char *what, char **reply,
			size_t *reply_len, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	uint64_t deadline = status_now_ms() + STATUS_CLIENT_TIMEOUT_MS;
	struct timeval tv = { STATUS_CLIENT_TIMEOUT_MS / 1000, 0 };
	char req[256];
	size_t req_len, sent = 0, len = 0, cap = 0;
	char *buf = NULL;
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: localhost\r\n"
		     "User-Agent: ntpverify-status\r\n\r\n",
		     what);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	req_len = (size_t)n;

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

	for (;;) {
		struct pollfd pfd = { fd, sent < req_len ? POLLOUT : POLLIN, 0 };
		int left = status_left_ms(deadline);
		ssize_t r;

		if (left == 0) {
			snprintf(err, errlen, "no complete answer within %d s",
				 STATUS_CLIENT_TIMEOUT_MS / 1000);
			goto fail;
		}
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			continue; /* the deadline check above ends it */
		if (sent < req_len) {
			r = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r < 0) {
				snprintf(err, errlen, "send: %s", strerror(errno));
				goto fail;
			}
			sent += (size_t)r;
			continue;
		}
		if (cap - len < 4096 + 1) {
			size_t ncap = cap == 0 ? 16384 : cap * 2;
			char *nb;
			if (ncap > STATUS_CLIENT_MAX_REPLY + 1) {
				snprintf(err, errlen, "answer larger than %u bytes",
					 STATUS_CLIENT_MAX_REPLY);
				goto fail;
			}
			nb = realloc(buf, ncap);
			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break; /* HTTP/1.0: the daemon closes after the reply */
		len += (size_t)r;
	}
	close(fd);
	if (buf == NULL) {
		snprintf(err, errlen, "the connection closed without an answer");
		return -1;
	}
	buf[len] = '\0';
	*reply = buf;
	*reply_len = len;
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
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

/* --- a small JSON flattener ------------------------------------------ */

struct status_jv {
	char *path;  /* "database.connected", "recent.0.server" */
	char *value; /* decoded string, or the literal (12, true, null) */
	bool string; /* value was a JSON string */
};

struct status_jdoc {
	struct status_jv *v;
	size_t n, cap;
};

struct status_jparser {
	const char *p, *end;
	struct status_jdoc *doc;
};

static void status_jdoc_free(struct status_jdoc *doc)
{
	for (size_t i = 0; i < doc->n; i++) {
		free(doc->v[i].path);
		free(doc->v[i].value);
	}
	free(doc->v);
	memset(doc, 0, sizeof(*doc));
}

static int status_jdoc_add(struct status_jdoc *doc, const char *path,
			   char *value, bool string)
{
	if (doc->n == doc->cap) {
		size_t ncap = doc->cap == 0 ? 64 : doc->cap * 2;
		struct status_jv *nv = realloc(doc->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		doc->v = nv;
		doc->cap = ncap;
	}
	doc->v[doc->n].path = strdup(path);
	if (doc->v[doc->n].path == NULL)
		return -1;
	doc->v[doc->n].value = value;
	doc->v[doc->n].string = string;
	doc->n++;
	return 0;
}

static void status_jskip_ws(struct status_jparser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
				   *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

/*
 * A JSON string at jp->p into a new heap string. \u escapes above 0xff
 * become '?': the daemon only writes \u00XX, for single bytes.
 */
static char *status_jstring(struct status_jparser *jp)
{
	size_t cap = 32, n = 0;
	char *s;

	if (jp->p >= jp->end || *jp->p != '"')
		return NULL;
	jp->p++;
	s = malloc(cap);
	if (s == NULL)
		return NULL;
	while (jp->p < jp->end && *jp->p != '"') {
		char c = *jp->p++;
		if (c == '\\') {
			if (jp->p >= jp->end)
				goto bad;
			c = *jp->p++;
			switch (c) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case '"': case '\\': case '/': break;
			case 'u': {
				int u = 0;
				if (jp->end - jp->p < 4)
					goto bad;
				for (int k = 0; k < 4; k++) {
					int h = hex_digit(jp->p[k]);
					if (h < 0)
						goto bad;
					u = u * 16 + h;
				}
				jp->p += 4;
				c = u <= 0xff ? (char)u : '?';
				break;
			}
			default:
				goto bad;
			}
		}
		if (n + 2 > cap) {
			char *ns = realloc(s, cap * 2);
			if (ns == NULL)
				goto bad;
			s = ns;
			cap *= 2;
		}
		s[n++] = c;
	}
	if (jp->p >= jp->end)
		goto bad;
	jp->p++; /* closing quote */
	s[n] = '\0';
	return s;
bad:
	free(s);
	return NULL;
}

static int status_jvalue(struct status_jparser *jp, char *path, size_t plen,
			 int depth);

/* Members of an object or elements of an array, path extended in place. */
static int status_jcontainer(struct status_jparser *jp, char *path,
			     size_t plen, int depth, bool object)
{
	char close_c = object ? '}' : ']';
	unsigned index = 0;

	jp->p++; /* { or [ */
	status_jskip_ws(jp);
	if (jp->p < jp->end && *jp->p == close_c) {
		jp->p++;
		return 0;
	}
	for (;;) {
		char part[64];
		size_t used = strlen(path);
		int rc;

		status_jskip_ws(jp);
		if (object) {
			char *key = status_jstring(jp);
			if (key == NULL)
				return -1;
			snprintf(part, sizeof(part), "%s", key);
			free(key);
			status_jskip_ws(jp);
			if (jp->p >= jp->end || *jp->p++ != ':')
				return -1;
		} else {
			snprintf(part, sizeof(part), "%u", index++);
		}
		if (used + 1 + strlen(part) + 1 > plen)
			return -1;
		snprintf(path + used, plen - used, "%s%s", used ? "." : "",
			 part);
		rc = status_jvalue(jp, path, plen, depth + 1);
		path[used] = '\0';
		if (rc < 0)
			return -1;
		status_jskip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close_c) {
			jp->p++;
			return 0;
		}
		return -1;
	}
}

static int status_jvalue(struct status_jparser *jp, char *path, size_t plen,
			 int depth)
{
	const char *start;
	char *v;

	if (depth > STATUS_JSON_MAX_DEPTH)
		return -1;
	status_jskip_ws(jp);
	if (jp->p >= jp->end)
		return -1;
	if (*jp->p == '{' || *jp->p == '[')
		return status_jcontainer(jp, path, plen, depth, *jp->p == '{');
	if (*jp->p == '"') {
		v = status_jstring(jp);
		if (v == NULL)
			return -1;
		if (status_jdoc_add(jp->doc, path, v, true) < 0) {
			free(v);
			return -1;
		}
		return 0;
	}
	/* Numbers, true, false, null: kept as their literal text. */
	start = jp->p;
	while (jp->p < jp->end && strchr(",}] \t\r\n", *jp->p) == NULL)
		jp->p++;
	if (jp->p == start)
		return -1;
	v = strndup(start, (size_t)(jp->p - start));
	if (v == NULL || status_jdoc_add(jp->doc, path, v, false) < 0) {
		free(v);
		return -1;
	}
	return 0;
}

static int status_jparse(const char *text, size_t len, struct status_jdoc *doc)
{
	struct status_jparser jp = { text, text + len, doc };
	char path[STATUS_PATH_MAX] = "";

	if (status_jvalue(&jp, path, sizeof(path), 0) < 0)
		return -1;
	status_jskip_ws(&jp);
	return jp.p == jp.end ? 0 : -1;
}

static const char *status_jget(const struct status_jdoc *doc, const char *path)
{
	for (size_t i = 0; i < doc->n; i++)
		if (strcmp(doc->v[i].path, path) == 0)
			return doc->v[i].value;
	return NULL;
}

/* --- the summary --------------------------------------------------------- */

static void status_put(const char *s)
{
	text_put_escaped(stdout, s, strlen(s));
}

/* A value or "?" when the daemon did not send it. */
static const char *status_val(const struct status_jdoc *doc, const char *path)
{
	const char *v = status_jget(doc, path);

	return v != NULL ? v : "?";
}

static void status_print_uptime(const char *text)
{
	unsigned long long s = strtoull(text, NULL, 10);

	if (s >= 86400)
		printf("%llud %02lluh %02llum %02llus", s / 86400,
		       s % 86400 / 3600, s % 3600 / 60, s % 60);
	else if (s >= 3600)
		printf("%lluh %02llum %02llus", s / 3600, s % 3600 / 60, s % 60);
	else
		printf("%llum %02llus", s / 60, s % 60);
}

/* "name n, name n" for every non-zero member under prefix. */
static void status_print_nonzero(const struct status_jdoc *doc,
				 const char *prefix, const char *none)
{
	size_t plen = strlen(prefix);
	bool any = false;

	for (size_t i = 0; i < doc->n; i++) {
		const struct status_jv *jv = &doc->v[i];
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

static void status_print(const struct status_jdoc *doc)
{
	char key[STATUS_PATH_MAX];
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
		if (status_jget(doc, key) == NULL) {
			if (i == 0)
				printf("none configured (the kernel picks)");
			break;
		}
		printf("%s", i > 0 ? ", " : "");
		status_put(status_jget(doc, key));
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
	status_put(strcmp(lease, "null") == 0 ? "never" : lease);

	printf("\n%-12s%s in flight, %s leases held, %s started, %s packets "
	       "sent, %s received",
	       "probes", status_val(doc, "in_flight"),
	       status_val(doc, "leases_held"),
	       status_val(doc, "counters.probes_started"),
	       status_val(doc, "counters.packets_sent"),
	       status_val(doc, "counters.packets_received"));
	printf("\n%-12s", "outcomes");
	status_print_nonzero(doc, "counters.attempts.", "none yet");
	printf("\n%-12s%s verified, %s expired", "final",
	       status_val(doc, "counters.verifications.verified"),
	       status_val(doc, "counters.verifications.expired"));
	printf("\n%-12s%s packets held back, %s refused by policy; deferred: ",
	       "limits", status_val(doc, "counters.packets_held"),
	       status_val(doc, "counters.refused_by_policy"));
	status_print_nonzero(doc, "counters.ratelimit_deferrals.", "none");
	printf("\n%-12s%s database errors, %s reconnects, %s stale results "
	       "discarded, %s dropped",
	       "errors", status_val(doc, "counters.database_errors"),
	       status_val(doc, "counters.database_reconnects"),
	       status_val(doc, "counters.stale_results_discarded"),
	       status_val(doc, "counters.results_dropped"));

	printf("\n%-12s", "recent");
	for (unsigned i = 0;; i++) {
		/* at  #id  server  outcome  detail */
		static const char *const f[] = { "at", "id", "server", "outcome",
						 "detail" };
		static const char *const sep[] = { "", "  #", "  ", "  ", "  " };
		snprintf(key, sizeof(key), "recent.%u.at", i);
		if (status_jget(doc, key) == NULL) {
			if (i == 0)
				printf("none yet");
			break;
		}
		if (i > 0)
			printf("\n%-12s", "");
		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
			snprintf(key, sizeof(key), "recent.%u.%s", i, f[k]);
			fputs(sep[k], stdout);
			status_put(status_val(doc, key));
		}
	}
	printf("\n");
}

static void status_usage(FILE *f)
{
	fprintf(f, "usage: ntpverify status [--socket PATH] [--config FILE] "
		   "[--json]\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG_PATH, *socket_path = NULL;
	struct nv_config cfg;
	struct status_jdoc doc = { 0 };
	bool json = false, have_cfg = false;
	char err[256], *reply = NULL, *body;
	size_t reply_len = 0, body_len;
	int c, code, rc = EXIT_NEGATIVE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:c:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		default:
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		status_usage(stderr);
		return EXIT_USAGE;
	}
	/* With --socket the configuration is not needed at all. */
	if (socket_path == NULL) {
		if (config_load(&cfg, config_path, print_config_error, NULL) < 0)
			return EXIT_USAGE;
		have_cfg = true;
		socket_path = cfg.status_socket;
		if (socket_path == NULL || socket_path[0] == '\0') {
			fprintf(stderr, "%s: no status_socket configured\n",
				config_path);
			config_free(&cfg);
			return EXIT_USAGE;
		}
	}

	if (status_fetch(socket_path, "/status", &reply, &reply_len, err,
			 sizeof(err)) < 0) {
		fprintf(stderr,
			"ntpverify status: cannot reach the daemon at %s: %s "
			"(is ntpverify running, and may this user open the "
			"socket?)\n",
			socket_path, err);
		goto out;
	}
	code = status_http_split(reply, reply_len, &body, &body_len);
	if (code != 200) {
		fprintf(stderr, "ntpverify status: %s: %s%d\n", socket_path,
			code < 0 ? "not an HTTP answer" : "the daemon answered ",
			code < 0 ? 0 : code);
		goto out;
	}
	if (json) {
		if (fwrite(body, 1, body_len, stdout) != body_len ||
		    (body_len > 0 && body[body_len - 1] != '\n' &&
		     putchar('\n') == EOF)) {
			fprintf(stderr, "ntpverify status: %s\n",
				strerror(errno));
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (status_jparse(body, body_len, &doc) < 0) {
		fprintf(stderr, "ntpverify status: %s: the daemon's answer is "
				"not the JSON expected\n",
			socket_path);
		goto out;
	}
	status_print(&doc);
	rc = fflush(stdout) == 0 ? 0 : EXIT_NEGATIVE;
out:
	status_jdoc_free(&doc);
	free(reply);
	if (have_cfg)
		config_free(&cfg);
	return rc;
}
