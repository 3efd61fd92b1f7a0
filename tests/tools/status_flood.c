/*
 * status_flood - load for the daemon's status socket (integration tests).
 *
 *   status_flood SOCKET CLIENTS HALF_OPEN DURATION_MS HOLD_MS
 *
 * Opens HALF_OPEN connections to the unix socket SOCKET that each send the
 * start of a request and never finish it. Then, in rounds until
 * DURATION_MS has passed (at least one round), opens CLIENTS connections at
 * once (non-blocking connects, retried while the backlog is full), sends
 * each a complete GET /metrics and reads the reply to the end with poll().
 * A client counts as served when its reply is an HTTP 200 that holds
 * ntpverify_build_info. Finally it waits until HOLD_MS after the half-open
 * connections were made and counts how many of them the server has closed.
 *
 * Prints one line of key=value pairs (served, failed, latencies,
 * half-open closed) and exits 0 when every client was served, 1 otherwise,
 * 2 on usage or local errors. Every loop is bounded by a deadline.
 *
 *   status_flood --trickle SOCKET CLIENTS DURATION_MS
 *
 * Slowloris: keeps CLIENTS connections open for DURATION_MS, each sending
 * the request line and then one header line a second, never the blank
 * line that would end the request. A connection the server closes is
 * replaced at once. Prints how many connections were made, how many the
 * server closed and how long those had lived (from connect() to EOF);
 * exits 0 unless something local failed.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ROUND_DEADLINE_MS 30000 /* one round of clients, at most */
#define MAX_REPLY (1u << 20)

enum client_state { C_CONNECT, C_SEND, C_READ, C_DONE, C_FAILED };

struct client {
	int fd;
	enum client_state state;
	size_t sent;
	char *buf;        /* reply so far */
	size_t len, cap;
	uint64_t t0_ms;   /* first connect attempt */
	uint64_t took_ms; /* until the reply was complete */
};

static const char full_req[] = "GET /metrics HTTP/1.0\r\nHost: flood\r\n\r\n";
/* No blank line: the server must wait for more, then time out. */
static const char half_req[] = "GET /metrics HTTP/1.1\r\nHost: flood\r\nX-Slow: ";

static struct sockaddr_un sun;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int new_socket(void)
{
	return socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* 1 connected, 0 try again later (backlog full), -1 failed. */
static int try_connect(int fd)
{
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return 1;
	if (errno == EISCONN)
		return 1;
	if (errno == EAGAIN || errno == EINPROGRESS || errno == EINTR)
		return 0;
	return -1;
}

static void client_fail(struct client *c)
{
	c->state = C_FAILED;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void client_read(struct client *c, uint64_t now)
{
	ssize_t r;

	if (c->cap - c->len < 4096) {
		size_t ncap = c->cap ? c->cap * 2 : 16384;
		char *nb = ncap <= MAX_REPLY ? realloc(c->buf, ncap) : NULL;
		if (nb == NULL) {
			client_fail(c);
			return;
		}
		c->buf = nb;
		c->cap = ncap;
	}
	r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r < 0) {
		client_fail(c);
		return;
	}
	if (r > 0) {
		c->len += (size_t)r;
		return;
	}
	c->buf[c->len] = '\0';
	close(c->fd);
	c->fd = -1;
	c->took_ms = now - c->t0_ms;
	if (strncmp(c->buf, "HTTP/1.", 7) == 0 &&
	    strncmp(c->buf + 8, " 200", 4) == 0 &&
	    strstr(c->buf, "\nntpverify_build_info{") != NULL)
		c->state = C_DONE;
	else
		c->state = C_FAILED;
}

/* One round: n clients at once. Returns the number served. */
static unsigned run_round(struct client *cl, struct pollfd *pf, unsigned n,
			  uint64_t *lat, size_t *n_lat)
{
	uint64_t start = now_ms(), deadline = start + ROUND_DEADLINE_MS;
	unsigned served = 0, open = n;

	for (unsigned i = 0; i < n; i++) {
		cl[i] = (struct client){ .fd = new_socket(), .state = C_CONNECT,
					 .t0_ms = start };
		if (cl[i].fd < 0) {
			perror("status_flood: socket");
			client_fail(&cl[i]);
		}
	}
	while (open > 0 && now_ms() < deadline) {
		unsigned np = 0;
		bool connecting = false;
		int r;

		for (unsigned i = 0; i < n; i++) {
			struct client *c = &cl[i];
			if (c->state == C_CONNECT) {
				int k = try_connect(c->fd);
				if (k < 0)
					client_fail(c);
				else if (k > 0)
					c->state = C_SEND;
				else
					connecting = true;
			}
			if (c->state == C_SEND || c->state == C_READ) {
				pf[np].fd = c->fd;
				pf[np].events =
					c->state == C_SEND ? POLLOUT : POLLIN;
				pf[np].revents = 0;
				np++;
			}
		}
		r = poll(pf, np, connecting ? 5 : 200);
		if (r < 0 && errno != EINTR) {
			perror("status_flood: poll");
			break;
		}
		uint64_t now = now_ms();
		unsigned k = 0;
		for (unsigned i = 0; i < n && r > 0; i++) {
			struct client *c = &cl[i];
			if (c->state != C_SEND && c->state != C_READ)
				continue;
			short rev = pf[k++].revents;
			if (rev == 0)
				continue;
			if (c->state == C_SEND) {
				ssize_t w = send(c->fd, full_req + c->sent,
						 sizeof(full_req) - 1 - c->sent,
						 MSG_NOSIGNAL);
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					client_fail(c);
				else if (w > 0 && (c->sent += (size_t)w) ==
							  sizeof(full_req) - 1)
					c->state = C_READ;
			} else {
				client_read(c, now);
			}
		}
		open = 0;
		for (unsigned i = 0; i < n; i++)
			if (cl[i].state != C_DONE && cl[i].state != C_FAILED)
				open++;
	}
	for (unsigned i = 0; i < n; i++) {
		if (cl[i].state == C_DONE) {
			served++;
			lat[(*n_lat)++] = cl[i].took_ms;
		} else if (cl[i].state != C_FAILED) {
			client_fail(&cl[i]); /* still open at the deadline */
		}
		free(cl[i].buf);
	}
	return served;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Room for every client and half-open connection at once. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			perror("status_flood: setrlimit");
	}
}

/*
 * Open n half-open connections into half[] (-1 where one failed): each
 * sends the start of a request and never the rest. Returns how many
 * got that far.
 */
static unsigned open_half(int *half, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t dl = now_ms() + 5000;
		int k = 0;
		half[i] = new_socket();
		while (half[i] >= 0 && (k = try_connect(half[i])) == 0 &&
		       now_ms() < dl)
			usleep(1000);
		if (half[i] < 0 || k != 1 ||
		    send(half[i], half_req, sizeof(half_req) - 1,
			 MSG_NOSIGNAL) != (ssize_t)sizeof(half_req) - 1) {
			if (half[i] >= 0)
				close(half[i]);
			half[i] = -1;
			continue;
		}
		ok++;
	}
	return ok;
}

/*
 * Close the half-open connections; returns how many the server had
 * already closed (EOF or reset after whatever it said last).
 */
static unsigned close_half(const int *half, unsigned n)
{
	unsigned closed = 0;

	for (unsigned i = 0; i < n; i++) {
		struct pollfd p = { half[i], POLLIN, 0 };
		char b[512];
		if (half[i] < 0)
			continue;
		if (poll(&p, 1, 0) == 1) {
			ssize_t r;
			/* Whatever the server said last, then EOF or reset. */
			while ((r = recv(half[i], b, sizeof(b), MSG_DONTWAIT)) > 0)
				;
			if (r == 0 || (r < 0 && errno != EAGAIN))
				closed++;
		}
		close(half[i]);
	}
	return closed;
}

/* --- trickle mode ------------------------------------------------------ */

#define TRICKLE_MAX_LIVES 200000

struct trickler {
	int fd;          /* -1: not connected */
	uint64_t t0_ms;  /* connect() */
	uint64_t next_ms; /* next header line due */
};

static const char trickle_first[] = "GET /metrics HTTP/1.1\r\n";
static const char trickle_line[] = "X-Trickle: a\r\n";

struct trickle_stats {
	unsigned connects, closed, connect_failed;
	uint64_t *lives; /* lifetimes of server-closed connections, ms */
	size_t n_lives;
};

static void trickle_start(struct trickler *t, struct trickle_stats *st,
			  uint64_t now)
{
	int k;

	t->fd = new_socket();
	if (t->fd < 0)
		return;
	k = try_connect(t->fd);
	if (k <= 0) { /* backlog full (or worse): try again next tick */
		if (k < 0)
			st->connect_failed++;
		close(t->fd);
		t->fd = -1;
		return;
	}
	st->connects++;
	t->t0_ms = now;
	t->next_ms = now + 1000;
	if (send(t->fd, trickle_first, sizeof(trickle_first) - 1,
		 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		t->next_ms = now; /* noticed as closed below */
}

/* The server closed t (EOF, reset or a failed send): note its lifetime. */
static void trickle_closed(struct trickler *t, struct trickle_stats *st,
			   uint64_t now)
{
	st->closed++;
	if (st->n_lives < TRICKLE_MAX_LIVES)
		st->lives[st->n_lives++] = now - t->t0_ms;
	close(t->fd);
	t->fd = -1;
}

static void trickle_tick(struct trickler *tr, struct pollfd *pf, unsigned n,
			 struct trickle_stats *st)
{
	uint64_t now = now_ms();
	char b[512];

	for (unsigned i = 0; i < n; i++) {
		if (tr[i].fd < 0)
			trickle_start(&tr[i], st, now);
		if (tr[i].fd >= 0 && now >= tr[i].next_ms) {
			tr[i].next_ms = now + 1000;
			if (send(tr[i].fd, trickle_line, sizeof(trickle_line) - 1,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
			    errno != EAGAIN) {
				trickle_closed(&tr[i], st, now);
				continue;
			}
		}
		pf[i].fd = tr[i].fd; /* poll() skips negative fds */
		pf[i].events = POLLIN;
		pf[i].revents = 0;
	}
	if (poll(pf, n, 100) <= 0)
		return;
	now = now_ms();
	for (unsigned i = 0; i < n; i++) {
		ssize_t r;

		if (tr[i].fd < 0 || pf[i].revents == 0)
			continue;
		/* Whatever the server says (a 408), then EOF or a reset. */
		while ((r = recv(tr[i].fd, b, sizeof(b), MSG_DONTWAIT)) > 0)
			;
		if (r == 0 || errno != EAGAIN)
			trickle_closed(&tr[i], st, now);
	}
}

static int trickle_main(int argc, char **argv)
{
	struct trickle_stats st = { 0 };
	struct trickler *tr;
	struct pollfd *pf;
	unsigned n;
	uint64_t duration, t0;

	if (argc != 5 || strlen(argv[2]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: status_flood --trickle SOCKET CLIENTS "
				"DURATION_MS\n");
		return 2;
	}
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[2], strlen(argv[2]) + 1);
	n = (unsigned)strtoul(argv[3], NULL, 10);
	duration = strtoull(argv[4], NULL, 10);
	if (n == 0 || n > 100000 || duration > 3600000) {
		fprintf(stderr, "status_flood: bad arguments\n");
		return 2;
	}
	raise_nofile();
	tr = calloc(n, sizeof(*tr));
	pf = calloc(n, sizeof(*pf));
	st.lives = calloc(TRICKLE_MAX_LIVES, sizeof(*st.lives));
	if (tr == NULL || pf == NULL || st.lives == NULL) {
		fprintf(stderr, "status_flood: out of memory\n");
		return 2;
	}
	for (unsigned i = 0; i < n; i++)
		tr[i].fd = -1;
	t0 = now_ms();
	while (now_ms() - t0 < duration)
		trickle_tick(tr, pf, n, &st);
	unsigned open_at_end = 0;
	for (unsigned i = 0; i < n; i++)
		if (tr[i].fd >= 0) {
			open_at_end++;
			close(tr[i].fd);
		}
	qsort(st.lives, st.n_lives, sizeof(*st.lives), cmp_u64);
	printf("trickle clients=%u connects=%u closed_by_server=%u "
	       "open_at_end=%u connect_failed=%u life_min_ms=%llu "
	       "life_p50_ms=%llu life_max_ms=%llu\n",
	       n, st.connects, st.closed, open_at_end, st.connect_failed,
	       st.n_lives ? (unsigned long long)st.lives[0] : 0ULL,
	       st.n_lives ? (unsigned long long)st.lives[st.n_lives / 2] : 0ULL,
	       st.n_lives ? (unsigned long long)st.lives[st.n_lives - 1] : 0ULL);
	free(tr);
	free(pf);
	free(st.lives);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n, n_half, rounds = 0, served = 0, failed = 0, half_ok = 0,
			    half_closed = 0;
	uint64_t duration, hold, t_start, t_half;
	int *half;
	struct client *cl;
	struct pollfd *pf;
	uint64_t *lat;
	size_t n_lat = 0, max_lat;

	if (argc > 1 && strcmp(argv[1], "--trickle") == 0)
		return trickle_main(argc, argv);
	if (argc != 6) {
		fprintf(stderr, "usage: status_flood SOCKET CLIENTS HALF_OPEN "
				"DURATION_MS HOLD_MS\n");
		return 2;
	}
	n = (unsigned)strtoul(argv[2], NULL, 10);
	n_half = (unsigned)strtoul(argv[3], NULL, 10);
	duration = strtoull(argv[4], NULL, 10);
	hold = strtoull(argv[5], NULL, 10);
	if (n == 0 || n > 100000 || n_half > 100000 ||
	    strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "status_flood: bad arguments\n");
		return 2;
	}
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);

	raise_nofile();

	max_lat = (size_t)n * (duration / 50 + 2);
	half = calloc(n_half + 1, sizeof(*half));
	cl = calloc(n, sizeof(*cl));
	pf = calloc(n, sizeof(*pf));
	lat = calloc(max_lat, sizeof(*lat));
	if (half == NULL || cl == NULL || pf == NULL || lat == NULL) {
		fprintf(stderr, "status_flood: out of memory\n");
		return 2;
	}

	t_start = t_half = now_ms();
	half_ok = open_half(half, n_half);

	do {
		unsigned s = run_round(cl, pf, n, lat, &n_lat);
		served += s;
		failed += n - s;
		rounds++;
	} while (now_ms() - t_start < duration && n_lat + n <= max_lat);

	/* The server must drop the half-open ones by itself, in time. */
	while (now_ms() - t_half < hold) {
		usleep(50000);
	}
	half_closed = close_half(half, n_half);

	qsort(lat, n_lat, sizeof(*lat), cmp_u64);
	printf("rounds=%u clients=%u served=%u failed=%u p50_ms=%llu "
	       "p99_ms=%llu max_ms=%llu half_open=%u half_open_closed=%u "
	       "elapsed_ms=%llu\n",
	       rounds, rounds * n, served, failed,
	       n_lat ? (unsigned long long)lat[n_lat / 2] : 0ULL,
	       n_lat ? (unsigned long long)lat[n_lat * 99 / 100] : 0ULL,
	       n_lat ? (unsigned long long)lat[n_lat - 1] : 0ULL, half_ok,
	       half_closed, (unsigned long long)(now_ms() - t_start));
	free(half);
	free(cl);
	free(pf);
	free(lat);
	return failed == 0 && half_ok == n_half ? 0 : 1;
}
