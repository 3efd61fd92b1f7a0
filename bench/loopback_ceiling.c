/*
 * loopback_ceiling.c - how many request/response pairs per second this
 * machine's loopback carries to the bench responder, one pair per target.
 *
 *     loopback_ceiling --targets FILE [--mode shared|connected]
 *                      [--pairs 1|2] [--window W] [--port P]
 *                      [--timeout-ms T] [--max-seconds S]
 *
 * Each target (one IPv4 literal per line, the same file `ntpverify check`
 * reads) gets one mode 6 READVAR request (and with --pairs 2 also a mode 3
 * request, as the prober sends), and is done when its reply (or both) came
 * back. At most W targets are outstanding, like probe.max_in_flight.
 *
 * --mode shared (the ceiling): one unconnected UDP socket, requests out
 *     with sendmmsg and replies in with recvmmsg, 64 per system call,
 *     matched to targets by source address. Nothing per target but the
 *     packets themselves: this is the most the loopback and the responder
 *     can do for one request/response pair per target, and the yardstick
 *     for the probe engine.
 * --mode connected: what the prober's safety rules cost. A fresh connected
 *     socket per target (socket, connect, send, epoll, recv, close), which
 *     is what docs/design.md requires of the prober (random source port per
 *     probe; the kernel filters other sources; ICMP errors come back).
 *
 * Prints one line: key=value pairs (targets, answered, lost, seconds,
 * pairs_per_s, packets_per_s, cpu_s). Bounded: a target unanswered after
 * T ms is counted lost, and the whole run stops after S seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define VAR "ntppool_verify"

static struct in_addr *targets;
static size_t n_targets;
static uint16_t port = 123;
static unsigned window = 1024;
static int pairs = 1;
static long timeout_ms = 1000;
static long max_seconds = 120;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The READVAR request, as the prober builds it (VN 2, padded to 4). */
static size_t build_m6(uint8_t *p, uint16_t seq)
{
	size_t n = strlen(VAR);

	memset(p, 0, 12 + ((n + 3) & ~(size_t)3));
	p[0] = 2 << 3 | 6;
	p[1] = 2;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[10] = (uint8_t)(n >> 8);
	p[11] = (uint8_t)n;
	memcpy(p + 12, VAR, n);
	return 12 + ((n + 3) & ~(size_t)3);
}

static size_t build_m3(uint8_t *p, uint64_t xmt)
{
	memset(p, 0, 48);
	p[0] = 4 << 3 | 3;
	for (int i = 0; i < 8; i++)
		p[40 + i] = (uint8_t)(xmt >> (56 - 8 * i));
	return 48;
}

static int load_targets(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char line[256];
	size_t cap = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, " \t\r\n#")] = '\0';
		if (line[0] == '\0')
			continue;
		if (n_targets == cap) {
			cap = cap ? cap * 2 : 1024;
			targets = realloc(targets, cap * sizeof(*targets));
			if (targets == NULL)
				return -1;
		}
		if (inet_pton(AF_INET, line, &targets[n_targets]) != 1) {
			fprintf(stderr, "loopback_ceiling: not IPv4: %s\n", line);
			return -1;
		}
		n_targets++;
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

/* ---- shared: one socket, sendmmsg/recvmmsg --------------------------- */

/* Open-addressing map from address to target index (addresses are unique). */
static uint32_t *map;
static size_t map_mask;

static size_t map_slot(uint32_t a)
{
	return (size_t)((a * 2654435761u) ^ (a >> 13)) & map_mask;
}

static void map_build(void)
{
	size_t cap = 1;

	while (cap < n_targets * 2)
		cap <<= 1;
	map = malloc(cap * sizeof(*map));
	memset(map, 0xff, cap * sizeof(*map));
	map_mask = cap - 1;
	for (size_t i = 0; i < n_targets; i++) {
		size_t s = map_slot(targets[i].s_addr);
		while (map[s] != UINT32_MAX)
			s = (s + 1) & map_mask;
		map[s] = (uint32_t)i;
	}
}

static long map_find(uint32_t a)
{
	for (size_t s = map_slot(a);; s = (s + 1) & map_mask) {
		if (map[s] == UINT32_MAX)
			return -1;
		if (targets[map[s]].s_addr == a)
			return map[s];
	}
}

struct result {
	size_t answered, lost, packets;
	double seconds, cpu;
};

/* run_shared's progress, shared by its send, receive and expiry steps. */
struct shared {
	int fd;              /* the one unconnected socket */
	uint8_t *got;        /* per target: bit 1 m6, 2 m3 seen; 0x80 lost */
	double *sent_at;     /* per target: when its requests went out */
	uint8_t want;        /* got[] of a target fully answered */
	size_t next;         /* the next target to send to */
	size_t done;         /* targets answered or lost */
	size_t oldest;       /* targets before this are answered or lost */
	struct result *res;  /* counters */
};

/* Give up on the oldest targets past their timeout. */
static void shared_expire(struct shared *sh, double now)
{
	while (sh->oldest < sh->next &&
	       (sh->got[sh->oldest] == sh->want ||
		now - sh->sent_at[sh->oldest] > timeout_ms / 1e3)) {
		if (sh->got[sh->oldest] != sh->want) {
			sh->got[sh->oldest] = sh->want | 0x80; /* lost */
			sh->res->lost++;
			sh->done++;
		}
		sh->oldest++;
	}
}

/* Send up to the window, one batch at a time. */
static void shared_send(struct shared *sh, double now)
{
	uint8_t txb[BATCH][64];
	struct mmsghdr out[BATCH];
	struct iovec iov_out[BATCH];
	struct sockaddr_in dst[BATCH];
	size_t outstanding = sh->next - sh->done;
	int m = 0;

	if (sh->next >= n_targets || outstanding >= window)
		return;
	while (m + pairs <= BATCH && sh->next < n_targets &&
	       outstanding < window) {
		for (int k = 0; k < pairs; k++) {
			dst[m] = (struct sockaddr_in){
				.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr = targets[sh->next] };
			size_t len = k == 0 ? build_m6(txb[m], (uint16_t)sh->next)
					    : build_m3(txb[m], sh->next + 1);
			iov_out[m] = (struct iovec){ txb[m], len };
			out[m].msg_hdr = (struct msghdr){
				.msg_name = &dst[m],
				.msg_namelen = sizeof(dst[m]),
				.msg_iov = &iov_out[m],
				.msg_iovlen = 1 };
			m++;
		}
		sh->sent_at[sh->next] = now;
		sh->next++;
		outstanding++;
	}
	for (int s = 0; s < m;) {
		int r = sendmmsg(sh->fd, out + s, (unsigned)(m - s), 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			s++; /* skip it; it will time out */
			continue;
		}
		sh->res->packets += (size_t)r;
		s += r;
	}
}

/* Read whatever has come back; returns recvmmsg's result. */
static int shared_recv(struct shared *sh)
{
	uint8_t rxb[BATCH][512];
	struct mmsghdr in[BATCH];
	struct iovec iov_in[BATCH];
	struct sockaddr_in src[BATCH];

	for (int i = 0; i < BATCH; i++) {
		iov_in[i] = (struct iovec){ rxb[i], sizeof(rxb[i]) };
		in[i].msg_hdr = (struct msghdr){
			.msg_name = &src[i],
			.msg_namelen = sizeof(src[i]),
			.msg_iov = &iov_in[i],
			.msg_iovlen = 1 };
	}
	int r = recvmmsg(sh->fd, in, BATCH, MSG_DONTWAIT, NULL);
	if (r <= 0)
		return r;
	sh->res->packets += (size_t)r;
	for (int i = 0; i < r; i++) {
		long t = map_find(src[i].sin_addr.s_addr);
		if (t < 0 || in[i].msg_len < 12 || sh->got[t] & 0x80)
			continue;
		uint8_t bit;
		if ((rxb[i][0] & 7) == 6 && (rxb[i][1] & 0x80) &&
		    (uint16_t)(rxb[i][2] << 8 | rxb[i][3]) == (uint16_t)t)
			bit = 1;
		else if ((rxb[i][0] & 7) == 4 && in[i].msg_len >= 48)
			bit = 2;
		else
			continue;
		if (sh->got[t] & bit)
			continue;
		sh->got[t] |= bit;
		if (sh->got[t] == sh->want) {
			sh->res->answered++;
			sh->done++;
		}
	}
	return r;
}

static void run_shared(struct result *res)
{
	struct shared sh = {
		.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP),
		.got = calloc(n_targets, 1),
		.sent_at = calloc(n_targets, sizeof(double)),
		.want = pairs == 2 ? 3 : 1,
		.res = res,
	};
	int big = 8 << 20;
	double t0, c0, deadline;

	if (sh.fd < 0 || sh.got == NULL || sh.sent_at == NULL) {
		perror("loopback_ceiling");
		exit(1);
	}
	if (setsockopt(sh.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(sh.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	map_build();
	t0 = now_s();
	c0 = cpu_s();
	deadline = t0 + (double)max_seconds;
	while (sh.done < n_targets) {
		double now = now_s();
		if (now > deadline)
			break;
		shared_expire(&sh, now);
		shared_send(&sh, now);
		if (shared_recv(&sh) <= 0 &&
		    (sh.next >= n_targets || sh.next - sh.done >= window)) {
			struct timespec nap = { 0, 20000 };
			nanosleep(&nap, NULL);
		}
	}
	res->seconds = now_s() - t0;
	res->cpu = cpu_s() - c0;
	close(sh.fd);
}

/* ---- connected: a socket per target, epoll ---------------------------- */

struct slot {
	int fd;
	size_t target;
	uint8_t got;
	double started;
};

/* run_connected's progress, shared by its fill, read and sweep steps. */
struct connected {
	int ep;              /* epoll set of the slots' sockets */
	struct slot *slots;  /* window of them; fd -1 when free */
	uint8_t want;        /* got of a slot fully answered */
	size_t next;         /* the next target to start */
	size_t finished;     /* targets answered or lost */
	unsigned active;     /* slots in use */
	struct result *res;  /* counters */
};

/* Start a target in every free slot: socket, connect, send. */
static void connected_fill(struct connected *cn)
{
	uint8_t pkt[64];

	for (unsigned i = 0; i < window && cn->next < n_targets; i++) {
		struct slot *s = &cn->slots[i];
		if (s->fd >= 0)
			continue;
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons(port),
					  .sin_addr = targets[cn->next] };
		s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK,
			       IPPROTO_UDP);
		if (s->fd < 0 ||
		    connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("loopback_ceiling: socket/connect");
			exit(1);
		}
		s->target = cn->next++;
		s->got = 0;
		s->started = now_s();
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u32 = i };
		epoll_ctl(cn->ep, EPOLL_CTL_ADD, s->fd, &ev);
		if (send(s->fd, pkt, build_m6(pkt, (uint16_t)s->target), 0) > 0)
			cn->res->packets++;
		if (pairs == 2 &&
		    send(s->fd, pkt, build_m3(pkt, s->target + 1), 0) > 0)
			cn->res->packets++;
		cn->active++;
	}
}

/* Read the replies epoll reports; a slot fully answered is freed. */
static void connected_read(struct connected *cn)
{
	struct epoll_event evs[BATCH];
	uint8_t buf[512];
	int n = epoll_wait(cn->ep, evs, BATCH, 10);

	for (int e = 0; e < n; e++) {
		struct slot *s = &cn->slots[evs[e].data.u32];
		ssize_t len;
		while (s->fd >= 0 &&
		       (len = recv(s->fd, buf, sizeof(buf), 0)) >= 12) {
			cn->res->packets++;
			if ((buf[0] & 7) == 6 && (buf[1] & 0x80))
				s->got |= 1;
			else if ((buf[0] & 7) == 4 && len >= 48)
				s->got |= 2;
			if (s->got == cn->want) {
				close(s->fd); /* also leaves the epoll set */
				s->fd = -1;
				cn->active--;
				cn->finished++;
				cn->res->answered++;
			}
		}
	}
}

/* Free the slots whose target is past its timeout, counting it lost. */
static void connected_sweep(struct connected *cn, double now)
{
	for (unsigned i = 0; i < window; i++) {
		struct slot *s = &cn->slots[i];
		if (s->fd >= 0 && now - s->started > timeout_ms / 1e3) {
			close(s->fd);
			s->fd = -1;
			cn->active--;
			cn->finished++;
			cn->res->lost++;
		}
	}
}

static void run_connected(struct result *res)
{
	struct connected cn = {
		.ep = epoll_create1(0),
		.slots = calloc(window, sizeof(struct slot)),
		.want = pairs == 2 ? 3 : 1,
		.res = res,
	};
	double t0 = now_s(), c0 = cpu_s(), deadline = t0 + (double)max_seconds;
	double last_sweep = t0;

	if (cn.ep < 0 || cn.slots == NULL) {
		perror("loopback_ceiling");
		exit(1);
	}
	for (unsigned i = 0; i < window; i++)
		cn.slots[i].fd = -1;
	while (cn.finished < n_targets && now_s() < deadline) {
		connected_fill(&cn);
		connected_read(&cn);
		double now = now_s();
		if (now - last_sweep > 0.05) {
			last_sweep = now;
			connected_sweep(&cn, now);
		}
	}
	res->seconds = now_s() - t0;
	res->cpu = cpu_s() - c0;
	for (unsigned i = 0; i < window; i++)
		if (cn.slots[i].fd >= 0)
			close(cn.slots[i].fd);
	close(cn.ep);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "targets", required_argument, NULL, 'f' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pairs", required_argument, NULL, 'P' },
		{ "window", required_argument, NULL, 'w' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "max-seconds", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *mode = "shared";
	struct result res = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "f:m:P:w:p:T:S:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 'm': mode = optarg; break;
		case 'P': pairs = atoi(optarg); break;
		case 'w': window = (unsigned)atoi(optarg); break;
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 'T': timeout_ms = atol(optarg); break;
		case 'S': max_seconds = atol(optarg); break;
		default:
			fprintf(stderr, "usage: loopback_ceiling --targets FILE "
					"[--mode shared|connected] [--pairs 1|2] "
					"[--window W]\n");
			return 2;
		}
	}
	if (path == NULL || (pairs != 1 && pairs != 2) || window < 1 ||
	    window > 65536 || timeout_ms < 1 || max_seconds < 1 ||
	    max_seconds > 3600 || load_targets(path) < 0 || n_targets == 0) {
		fprintf(stderr, "loopback_ceiling: bad arguments or targets\n");
		return 2;
	}
	if (strcmp(mode, "shared") == 0)
		run_shared(&res);
	else if (strcmp(mode, "connected") == 0)
		run_connected(&res);
	else {
		fprintf(stderr, "loopback_ceiling: --mode shared|connected\n");
		return 2;
	}
	printf("mode=%s pairs=%d window=%u targets=%zu answered=%zu lost=%zu "
	       "seconds=%.4f pairs_per_s=%.0f packets_per_s=%.0f cpu_s=%.3f "
	       "cpu_us_per_target=%.2f\n",
	       mode, pairs, window, n_targets, res.answered, res.lost,
	       res.seconds, res.answered / res.seconds,
	       res.packets / res.seconds, res.cpu,
	       res.cpu * 1e6 / (double)n_targets);
	return res.answered == n_targets ? 0 : 1;
}
