/*
 * responder.c - a fast fake NTP server for the benchmarks.
 *
 * Answers NTP mode 6 READVAR with "VAR=TOKEN\r\n" (and the stratum and
 * refid when asked, as the prober does) and mode 3 client
 * requests with a synchronised stratum 2 mode 4 reply, for every address
 * it is reached on: it binds 0.0.0.0:PORT, and inside a private network
 * namespace all of 127.0.0.0/8 is local on lo, so one socket serves
 * 127.10.0.1 ... 127.11.x.y alike. IP_PKTINFO gives each request's
 * destination address, and the reply leaves from that same address (what
 * a connected client socket insists on).
 *
 * Datagrams are read and written in batches (recvmmsg/sendmmsg); with -j N
 * there are N threads, each with its own SO_REUSEPORT socket. It exists
 * only to be cheap: there is no rate limit, no restrict list and no
 * fragmenting (the reply always fits in one datagram).
 *
 *     responder -t TOKEN [-V VAR] [-p PORT] [-j THREADS] [-d MAX_SECONDS]
 *
 * Prints "ready" on stdout once every socket is bound. SIGUSR1 prints the
 * counters as one line ("counts rx=... m6=... m3=..."), SIGTERM/SIGINT
 * print them and exit 0; after MAX_SECONDS (default 1800) it exits by
 * itself, so a forgotten responder never outlives the bench for long.
 *
 * Replies, by request:
 *   mode 6 READVAR, associd 0, names from VAR, stratum and refid (the
 *       prober asks for "VAR,stratum,refid"), or an empty list:
 *       the system variables asked for first, as ntpd orders them
 *       (stratum=2, refid=192.0.2.1, as the mode 3 reply says), then
 *       VAR=TOKEN, ", " between items (an empty list, as nmap's ntp-info
 *       sends, gets version="...", stratum=2 and VAR=TOKEN)
 *   mode 6 READVAR naming any other variable: error "unknown variable",
 *       as ntpd fails the whole request
 *   mode 6 READSTAT: an empty association list
 *   other mode 6 opcodes: error "bad opcode"; associd != 0: "bad association"
 *   mode 3 (any version 1-4, 48 octets or more): mode 4, stratum 2,
 *       origin = the request's transmit timestamp
 *   anything else (mode 6 replies, versions 0 and 5-7, short): dropped
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64            /* datagrams per recvmmsg / sendmmsg */
#define RX_MAX 2048         /* longer datagrams are truncated and dropped */
#define TX_MAX 512          /* every reply fits */
#define MAX_THREADS 8
#define NTP_EPOCH_OFFSET 2208988800u /* 1900 -> 1970 */

/* What the responder saw and did; one per thread, summed for printing. */
struct counts {
	atomic_ulong rx;          /* datagrams received */
	atomic_ulong tx;          /* replies sent */
	atomic_ulong m6_readvar;  /* READVAR answered with data */
	atomic_ulong m6_empty;    /* of those, with an empty name list */
	atomic_ulong m6_error;    /* mode 6 answered with an error */
	atomic_ulong m6_readstat; /* READSTAT answered */
	atomic_ulong m3;          /* mode 3 answered */
	atomic_ulong dropped;     /* not answered (bad or not a request) */
	atomic_ulong send_err;    /* sendmmsg failures */
};

struct worker {
	pthread_t thread;
	int fd;
	struct counts c;
};

static const char *opt_token;
static const char *opt_var = "ntppool_verify";
static size_t var_len;
static volatile sig_atomic_t stopping;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The current time as an NTP timestamp (seconds since 1900, 32.32). */
static void ntp_now(uint8_t *p, int32_t offset_s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	put32(p, (uint32_t)((uint64_t)ts.tv_sec + NTP_EPOCH_OFFSET + (uint64_t)(int64_t)offset_s));
	put32(p + 4, (uint32_t)(((uint64_t)ts.tv_nsec << 32) / 1000000000u));
}

/* The names a READVAR may ask for, as bits. */
#define NAME_VAR 1u
#define NAME_STRATUM 2u
#define NAME_REFID 4u

static unsigned name_bit(const uint8_t *d, size_t n)
{
	if (n == var_len && memcmp(d, opt_var, var_len) == 0)
		return NAME_VAR;
	if (n == 7 && memcmp(d, "stratum", 7) == 0)
		return NAME_STRATUM;
	if (n == 5 && memcmp(d, "refid", 5) == 0)
		return NAME_REFID;
	return 0;
}

/*
 * Which of our names the comma-separated list asks for (0 for an empty
 * list); false when it names anything else.
 */
static bool names_ok(const uint8_t *d, size_t n, unsigned *want)
{
	size_t i = 0;

	*want = 0;
	while (i < n) {
		while (i < n && (d[i] == ' ' || d[i] == ','))
			i++;
		size_t s = i;
		while (i < n && d[i] != ',' && d[i] != '=' && d[i] != ' ' &&
		       d[i] != '\0' && d[i] != '\r' && d[i] != '\n')
			i++;
		if (i > s) {
			unsigned bit = name_bit(d + s, i - s);
			if (bit == 0)
				return false;
			*want |= bit;
		}
		while (i < n && d[i] != ',')
			i++;
	}
	return true;
}

/* Append ", " (after the first item) and the item; returns the length. */
static size_t put_item(char *buf, size_t cap, size_t len, const char *item)
{
	int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", item);

	return n > 0 && (size_t)n < cap - len ? len + (size_t)n : len;
}

/*
 * The data of a READVAR reply: the system variables asked for first, in
 * ntpd's order, then VAR=TOKEN, then CR LF. An empty list (`want` 0)
 * gets version, stratum and VAR. Always fits: the token is at most 200.
 */
static size_t readvar_data(char *buf, size_t cap, unsigned want)
{
	char item[300];
	size_t len = 0;

	if (want == 0) {
		len = put_item(buf, cap, len,
			       "version=\"ntpverify bench responder\"");
		want = NAME_STRATUM | NAME_VAR;
	}
	if (want & NAME_STRATUM)
		len = put_item(buf, cap, len, "stratum=2");
	if (want & NAME_REFID)
		len = put_item(buf, cap, len, "refid=192.0.2.1");
	if (want & NAME_VAR) {
		snprintf(item, sizeof(item), "%s=%s", opt_var, opt_token);
		len = put_item(buf, cap, len, item);
	}
	memcpy(buf + len, "\r\n", 2);
	return len + 2;
}

/* Build the reply to one mode 6 request; 0 = drop it. */
static size_t answer_m6(struct counts *c, const uint8_t *q, size_t len,
			uint8_t *r)
{
	uint8_t vn = (q[0] >> 3) & 7;
	uint8_t op = q[1] & 0x1f;
	uint16_t count = get16(q + 10);
	uint16_t assoc = get16(q + 6);
	int err = -1;
	size_t dlen = 0;
	unsigned want;

	if ((q[1] & 0xe0) != 0 || count > len - 12) {
		atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
		return 0;
	}
	memset(r, 0, 12);
	r[0] = (uint8_t)(vn << 3 | 6); /* LI 0 */
	r[1] = (uint8_t)(0x80 | op);   /* R */
	memcpy(r + 2, q + 2, 2);       /* sequence */
	put16(r + 4, 0x0618);          /* system status: synchronised to NTP */
	memcpy(r + 6, q + 6, 2);       /* association ID */

	if (op == 2) { /* READVAR */
		if (assoc != 0)
			err = 4;
		else if (!names_ok(q + 12, count, &want))
			err = 5;
		else {
			dlen = readvar_data((char *)r + 12, TX_MAX - 16, want);
			atomic_fetch_add_explicit(&c->m6_readvar, 1,
						  memory_order_relaxed);
			if (want == 0)
				atomic_fetch_add_explicit(&c->m6_empty, 1,
							  memory_order_relaxed);
		}
	} else if (op == 1) { /* READSTAT: no associations */
		atomic_fetch_add_explicit(&c->m6_readstat, 1,
					  memory_order_relaxed);
	} else {
		err = 3;
	}
	if (err >= 0) {
		r[1] |= 0x40; /* E */
		put16(r + 4, (uint16_t)(err << 8));
		dlen = 0;
		atomic_fetch_add_explicit(&c->m6_error, 1, memory_order_relaxed);
	}
	put16(r + 10, (uint16_t)dlen);
	size_t padded = (dlen + 3) & ~(size_t)3;
	memset(r + 12 + dlen, 0, padded - dlen);
	return 12 + padded;
}

/* Build the mode 4 reply to one mode 3 request. */
static size_t answer_m3(struct counts *c, const uint8_t *q, uint8_t *r)
{
	static const uint8_t refid[4] = { 192, 0, 2, 1 }; /* just a label */
	uint8_t vn = (q[0] >> 3) & 7;

	memset(r, 0, 48);
	r[0] = (uint8_t)(vn << 3 | 4); /* LI 0, mode 4 */
	r[1] = 2;                      /* stratum */
	r[2] = q[2] ? q[2] : 6;        /* poll */
	r[3] = (uint8_t)-20;           /* precision ~1 us */
	put32(r + 4, 0x00000100);      /* root delay ~3.9 ms */
	put32(r + 8, 0x00000200);      /* root dispersion ~7.8 ms */
	memcpy(r + 12, refid, 4);
	ntp_now(r + 16, -16);          /* reference */
	memcpy(r + 24, q + 40, 8);     /* origin = their transmit */
	ntp_now(r + 32, 0);            /* receive */
	ntp_now(r + 40, 0);            /* transmit */
	atomic_fetch_add_explicit(&c->m3, 1, memory_order_relaxed);
	return 48;
}

static size_t answer(struct counts *c, const uint8_t *q, size_t len,
		     uint8_t *r)
{
	uint8_t vn, mode;

	if (len < 12 || len > RX_MAX)
		goto drop;
	vn = (q[0] >> 3) & 7;
	mode = q[0] & 7;
	if (vn < 1 || vn > 4)
		goto drop;
	if (mode == 6)
		return answer_m6(c, q, len, r);
	if (mode == 3 && len >= 48)
		return answer_m3(c, q, r);
drop:
	atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
	return 0;
}

/* Control-message room for one struct in_pktinfo, suitably aligned. */
union pktinfo_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct cmsghdr align;
};

/* Reply from the address the request went to: addr, via IP_PKTINFO. */
static void reply_from(struct msghdr *h, union pktinfo_cmsg *cb,
		       struct in_addr addr)
{
	h->msg_control = cb->buf;
	h->msg_controllen = sizeof(cb->buf);
	struct cmsghdr *cm = CMSG_FIRSTHDR(h);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo po = { .ipi_ifindex = 0, .ipi_spec_dst = addr };
	memcpy(CMSG_DATA(cm), &po, sizeof(po));
}

/* Send the m replies in out[], skipping any the kernel refuses. */
static void send_replies(struct worker *w, struct mmsghdr *out, int m)
{
	for (int done = 0; done < m;) {
		int s = sendmmsg(w->fd, out + done, (unsigned)(m - done), 0);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			/* Skip the one that failed (e.g. ECONNREFUSED). */
			atomic_fetch_add_explicit(&w->c.send_err, 1,
						  memory_order_relaxed);
			done++;
			continue;
		}
		atomic_fetch_add_explicit(&w->c.tx, (unsigned long)s,
					  memory_order_relaxed);
		done += s;
	}
}

static void *serve(void *arg)
{
	struct worker *w = arg;
	static _Thread_local uint8_t rx[BATCH][RX_MAX];
	static _Thread_local uint8_t tx[BATCH][TX_MAX];
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iin[BATCH], iout[BATCH];
	struct sockaddr_in from[BATCH];
	union pktinfo_cmsg cin[BATCH], cout[BATCH];

	while (!stopping) {
		for (int i = 0; i < BATCH; i++) {
			iin[i] = (struct iovec){ rx[i], RX_MAX };
			in[i].msg_hdr = (struct msghdr){
				.msg_name = &from[i],
				.msg_namelen = sizeof(from[i]),
				.msg_iov = &iin[i],
				.msg_iovlen = 1,
				.msg_control = cin[i].buf,
				.msg_controllen = sizeof(cin[i].buf),
			};
		}
		/* Blocks for the first datagram (SO_RCVTIMEO bounds it). */
		int n = recvmmsg(w->fd, in, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				continue;
			perror("responder: recvmmsg");
			break;
		}
		atomic_fetch_add_explicit(&w->c.rx, (unsigned long)n,
					  memory_order_relaxed);
		int m = 0;
		for (int i = 0; i < n; i++) {
			struct in_pktinfo *pi = NULL;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&in[i].msg_hdr);
			     cm != NULL; cm = CMSG_NXTHDR(&in[i].msg_hdr, cm))
				if (cm->cmsg_level == IPPROTO_IP &&
				    cm->cmsg_type == IP_PKTINFO)
					pi = (struct in_pktinfo *)CMSG_DATA(cm);
			size_t len = in[i].msg_hdr.msg_flags & MSG_TRUNC
					     ? RX_MAX + 1
					     : in[i].msg_len;
			size_t rlen = answer(&w->c, rx[i], len, tx[m]);
			if (rlen == 0)
				continue;
			iout[m] = (struct iovec){ tx[m], rlen };
			out[m].msg_hdr = (struct msghdr){
				.msg_name = &from[i],
				.msg_namelen = sizeof(from[i]),
				.msg_iov = &iout[m],
				.msg_iovlen = 1,
			};
			if (pi != NULL)
				reply_from(&out[m].msg_hdr, &cout[m], pi->ipi_addr);
			m++;
		}
		send_replies(w, out, m);
	}
	return NULL;
}

static int open_socket(uint16_t port)
{
	int one = 1, big = 8 << 20;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	/* Root may exceed rmem_max; otherwise take what we get. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	return fd;
}

static void print_counts(struct worker *w, int nw, const char *what)
{
	unsigned long s[9] = { 0 };

	for (int i = 0; i < nw; i++) {
		struct counts *c = &w[i].c;
		s[0] += atomic_load(&c->rx);
		s[1] += atomic_load(&c->tx);
		s[2] += atomic_load(&c->m6_readvar);
		s[3] += atomic_load(&c->m6_empty);
		s[4] += atomic_load(&c->m6_error);
		s[5] += atomic_load(&c->m6_readstat);
		s[6] += atomic_load(&c->m3);
		s[7] += atomic_load(&c->dropped);
		s[8] += atomic_load(&c->send_err);
	}
	printf("%s rx=%lu tx=%lu m6_readvar=%lu m6_empty=%lu m6_error=%lu "
	       "m6_readstat=%lu m3=%lu dropped=%lu send_err=%lu\n",
	       what, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: responder -t TOKEN [-V VAR] [-p PORT] "
			"[-j THREADS] [-d MAX_SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long port = 123, threads = 1, max_s = 1800;
	struct worker w[MAX_THREADS];
	sigset_t set;
	int c;

	while ((c = getopt(argc, argv, "t:V:p:j:d:")) != -1) {
		switch (c) {
		case 't': opt_token = optarg; break;
		case 'V': opt_var = optarg; break;
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'j': threads = strtol(optarg, NULL, 10); break;
		case 'd': max_s = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (opt_token == NULL || strlen(opt_token) > 200 || strlen(opt_var) > 64 ||
	    port < 1 || port > 65535 || threads < 1 || threads > MAX_THREADS ||
	    max_s < 1 || max_s > 86400)
		usage();
	var_len = strlen(opt_var);

	/* Signals go to the main thread's sigtimedwait only. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	memset(w, 0, sizeof(w));
	for (int i = 0; i < threads; i++) {
		w[i].fd = open_socket((uint16_t)port);
		if (w[i].fd < 0) {
			perror("responder: socket/bind");
			return 1;
		}
	}
	for (int i = 0; i < threads; i++)
		if (pthread_create(&w[i].thread, NULL, serve, &w[i]) != 0) {
			fprintf(stderr, "responder: cannot start thread\n");
			return 1;
		}
	printf("ready\n");
	fflush(stdout);

	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec tick = { .tv_sec = 1, .tv_nsec = 0 };
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGUSR1) {
			print_counts(w, (int)threads, "counts");
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= max_s) {
			fprintf(stderr, "responder: %ld s limit reached\n", max_s);
			break;
		}
	}
	stopping = 1;
	for (int i = 0; i < threads; i++)
		pthread_join(w[i].thread, NULL);
	print_counts(w, (int)threads, "final");
	for (int i = 0; i < threads; i++)
		close(w[i].fd);
	return 0;
}
