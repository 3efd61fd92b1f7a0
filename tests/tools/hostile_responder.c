/*
 * hostile_responder.c - an NTP responder that answers the prober's requests
 * in adversarial ways, one scenario per destination address.
 *
 * usage: hostile_responder --token TOKEN [--map FILE] [--default SCENARIO]
 *            [--listen ADDR] [--port N] [--other-port N] [--other-addr ADDR]
 *            [--stats FILE] [--junk N] [--lifetime SECONDS]
 *        hostile_responder --list
 *
 * One IPv4 UDP socket bound to ADDR:PORT (default 0.0.0.0:123) with
 * IP_PKTINFO, so a single responder answers for every 127.x.y.z of a test
 * namespace's loopback and replies from the address each request was sent
 * to. The map file says which scenario each destination address gets, one
 * "ADDRESS SCENARIO" per line ('#' comments); other addresses get
 * --default (silent unless given). TOKEN is what the "good"-like scenarios
 * echo as the variable's value; the hostile ones mangle it.
 *
 * Requests are parsed the way a server would: mode 6 (version, sequence,
 * opcode, the variable name asked for) and mode 3 (the transmit timestamp,
 * to echo as the origin). Replies are written byte by byte, not with
 * ntpwire: most scenarios need packets that ntpwire refuses to build.
 *
 * Counters per address (requests seen, datagrams sent, when) are written to
 * the stats file at most every 100 ms while they change, and on SIGTERM,
 * so a test can assert what each destination received and sent:
 *
 *     ADDRESS SCENARIO m6=N m3=N other=N sent=N junk=N first_ms=T last_ms=T
 *
 * first_ms/last_ms are CLOCK_REALTIME milliseconds of the first request
 * and of the last datagram sent or received for that address (0 = none),
 * comparable with timestamps PostgreSQL records.
 *
 * Everything is bounded: at most MAX_FRAGS fragments per request, --junk
 * (at most JUNK_MAX) junk datagrams per request, JUNK_TOTAL_MAX in all,
 * and the process exits after --lifetime seconds (default 600).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENTRIES 1024      /* map file lines */
#define MAX_FRAGS 200         /* fragments sent per request, any scenario */
#define FRAG_MAX 468          /* what ntpd puts in one fragment */
#define DATA_MAX 16384        /* a crafted reply before fragmenting */
#define JUNK_DEFAULT 400      /* junk datagrams per request */
#define JUNK_MAX 5000
#define JUNK_TOTAL_MAX 200000 /* over the whole run */
#define JUNK_BATCH 2          /* per flood and loop turn (~1 ms) */
#define JUNK_BURST 64         /* junk_then_good: junk before the answer */
#define MAX_FLOODS 64         /* floods in progress at once */
#define READ_BURST 64         /* datagrams read per loop turn */
#define RECV_MAX 2048

/* One request, as parsed. */
struct request {
	bool m6;                  /* mode 6; else mode 3 */
	uint8_t version;          /* VN, echoed */
	uint16_t sequence;        /* mode 6 */
	uint8_t opcode;           /* mode 6 */
	char name[FRAG_MAX + 1];  /* mode 6: the data, NUL-terminated */
	uint8_t xmt[8];           /* mode 3: transmit timestamp */
	struct sockaddr_in peer;  /* the prober's address and port */
	struct in_addr dst;       /* the address it was sent to */
};

/* Per destination address: its scenario and what happened there. */
struct entry {
	struct in_addr addr;
	const struct scenario *sc;
	unsigned long m6, m3, other; /* requests received */
	unsigned long sent, junk;    /* datagrams sent (junk included) */
	bool have_seq;               /* a mode 6 request arrived: */
	uint16_t seq;                /* its sequence (junk must never hit it) */
	long long first_ms, last_ms; /* CLOCK_REALTIME; 0 = never */
};

enum m3_reply {
	M3_SILENT = 0,
	M3_GOOD,        /* a valid mode 4 reply */
	M3_KOD_RATE,    /* Kiss-o'-Death RATE */
	M3_BAD_ORIGIN,  /* mode 4, origin not echoed */
	M3_JUNK,        /* start a flood instead */
};

enum route {
	ROUTE_SAME = 0,   /* from the address and port asked */
	ROUTE_OTHER_PORT, /* from the address asked, another port */
	ROUTE_OTHER_ADDR, /* from port 123 of another local address */
};

struct reply_ctx;
typedef void (*m6_fn)(struct reply_ctx *c);

struct scenario {
	const char *name;
	m6_fn m6;          /* NULL: mode 6 stays silent */
	int arg;           /* for the handler (error code, ...) */
	enum m3_reply m3;
	enum route route;
	const char *what;  /* for --list */
};

/* Where and how a reply goes out. */
struct reply_ctx {
	const struct request *rq;
	struct entry *e;
	const struct scenario *sc;
};

/* A flood of junk in progress, sent JUNK_BATCH per loop turn. */
struct flood {
	bool used;
	struct request rq;  /* copy: the flood outlives the request */
	struct entry *e;
	unsigned left;      /* junk datagrams still to send */
	unsigned n;         /* sent so far */
};

static const char *opt_token;
static unsigned opt_junk = JUNK_DEFAULT;
static struct in_addr opt_other_addr;
static int fd_main = -1, fd_other = -1;
static struct entry entries[MAX_ENTRIES];
static unsigned n_entries;
static struct entry default_entry;
static struct flood floods[MAX_FLOODS];
static unsigned long junk_total;
static bool stats_dirty;
static volatile sig_atomic_t stop;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static long long now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: reproducible enough, and no libc state shared with anyone. */
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- sending ---------------------------------------------------------- */

/*
 * Send one datagram to the prober. The source address is set per packet
 * with IP_PKTINFO, so the wildcard socket answers from the address the
 * request went to (or, for ROUTE_OTHER_ADDR, from another one).
 */
static void emit_raw(struct reply_ctx *c, const uint8_t *buf, size_t len)
{
	struct in_addr src = c->rq->dst;
	int fd = fd_main;
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)&c->rq->peer,
		.msg_namelen = sizeof(c->rq->peer),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct in_pktinfo pi;
	struct cmsghdr *cm;

	if (c->sc->route == ROUTE_OTHER_PORT)
		fd = fd_other;
	else if (c->sc->route == ROUTE_OTHER_ADDR)
		src = opt_other_addr;
	memset(cbuf, 0, sizeof(cbuf));
	memset(&pi, 0, sizeof(pi));
	pi.ipi_spec_dst = src;
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	if (sendmsg(fd, &msg, 0) < 0)
		return; /* the prober may have closed its port: ICMP, no error */
	c->e->sent++;
	c->e->last_ms = now_ms(CLOCK_REALTIME);
	stats_dirty = true;
}

/* A mode 6 header; every field settable, defaults echo the request. */
struct m6_out {
	uint8_t b0;          /* LI | VN | mode */
	uint8_t b1;          /* R E M opcode */
	uint16_t sequence;
	uint16_t status;
	uint16_t assoc;
	uint16_t offset;
	uint16_t count;
	const uint8_t *data; /* octets written after the header */
	size_t data_len;     /* may differ from count (count_too_big) */
	size_t pad_to;       /* total length at least this (0: pad to 4) */
};

#define B_R 0x80
#define B_E 0x40
#define B_M 0x20

static struct m6_out m6_default(const struct reply_ctx *c)
{
	struct m6_out o = {
		/* LI 3 (unsynchronised), the request's VN, mode 6 */
		.b0 = (uint8_t)(3 << 6 | (c->rq->version & 7) << 3 | 6),
		.b1 = (uint8_t)(B_R | (c->rq->opcode & 0x1f)),
		.sequence = c->rq->sequence,
		.status = 0xc016, /* what unsynchronised ntpd reports */
	};
	return o;
}

static void emit_m6(struct reply_ctx *c, const struct m6_out *o)
{
	uint8_t buf[12 + DATA_MAX + 4], *p = buf;
	size_t len;

	*p++ = o->b0;
	*p++ = o->b1;
	p = put16(p, o->sequence);
	p = put16(p, o->status);
	p = put16(p, o->assoc);
	p = put16(p, o->offset);
	p = put16(p, o->count);
	if (o->data_len > DATA_MAX)
		return;
	if (o->data_len > 0)
		memcpy(p, o->data, o->data_len);
	len = 12 + o->data_len;
	while (len % 4 != 0)
		buf[len++] = 0;
	if (o->pad_to > len && o->pad_to <= sizeof(buf)) {
		memset(buf + len, 0, o->pad_to - len);
		len = o->pad_to;
	}
	emit_raw(c, buf, len);
}

/* One unfragmented data reply (len <= FRAG_MAX). */
static void emit_data(struct reply_ctx *c, const char *data, size_t len)
{
	struct m6_out o = m6_default(c);

	o.count = (uint16_t)len;
	o.data = (const uint8_t *)data;
	o.data_len = len;
	emit_m6(c, &o);
}

/*
 * Cut data into fragments of `fs` octets (M set on all but the last) and
 * send those listed in order[] (indices may repeat or be left out).
 */
static void emit_frags(struct reply_ctx *c, const char *data, size_t len,
		       size_t fs, const unsigned *order, size_t n_order)
{
	size_t n_frags = (len + fs - 1) / fs;

	for (size_t k = 0; k < n_order && k < MAX_FRAGS; k++) {
		size_t i = order[k], off = i * fs;
		struct m6_out o = m6_default(c);

		if (i >= n_frags)
			continue;
		o.offset = (uint16_t)off;
		o.count = (uint16_t)(len - off < fs ? len - off : fs);
		o.data = (const uint8_t *)data + off;
		o.data_len = o.count;
		if (i + 1 < n_frags)
			o.b1 |= B_M;
		emit_m6(c, &o);
	}
}

/* ---- reply data ------------------------------------------------------- */

/* "NAME=VALUE\r\n" for the name asked for. */
static size_t var_line(const struct reply_ctx *c, char *buf, size_t cap,
		       const char *value)
{
	int n = snprintf(buf, cap, "%s=%s\r\n", c->rq->name, value);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/*
 * A valid reply of exactly `total` octets with the token in the middle:
 * "pre=aaa..., NAME=TOKEN, post=bbb...\r\n", so fragments split both the
 * fillers and the token itself.
 */
static size_t long_reply(const struct reply_ctx *c, char *buf, size_t total)
{
	char mid[FRAG_MAX + 64];
	int m = snprintf(mid, sizeof(mid), ", %s=%s, post=", c->rq->name,
			 opt_token);
	size_t fixed = strlen("pre=") + (size_t)m + strlen("\r\n");

	if (m < 0 || total > DATA_MAX || total < fixed + 2)
		return 0;
	size_t fill = total - fixed, pre = fill / 2, post = fill - pre;
	size_t n = 0;

	memcpy(buf + n, "pre=", 4);
	n += 4;
	for (size_t i = 0; i < pre; i++)
		buf[n++] = (char)('a' + i % 26);
	memcpy(buf + n, mid, (size_t)m);
	n += (size_t)m;
	for (size_t i = 0; i < post; i++)
		buf[n++] = (char)('A' + i % 26);
	memcpy(buf + n, "\r\n", 2);
	n += 2;
	return n;
}

/* ---- mode 6 scenarios ------------------------------------------------- */

static void sc_good(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	emit_data(c, d, var_line(c, d, sizeof(d), opt_token));
}

/* Reply data from a template: %N is the name asked for, %T the token. */
static void sc_text(struct reply_ctx *c, const char *text)
{
	char d[FRAG_MAX];
	size_t n = 0;

	for (const char *p = text; *p != '\0' && n + 1 < sizeof(d); p++) {
		const char *ins = NULL;
		if (p[0] == '%' && p[1] == 'N')
			ins = c->rq->name;
		else if (p[0] == '%' && p[1] == 'T')
			ins = opt_token;
		if (ins != NULL) {
			size_t l = strlen(ins);
			if (n + l >= sizeof(d))
				break;
			memcpy(d + n, ins, l);
			n += l;
			p++;
			continue;
		}
		d[n++] = *p;
	}
	emit_data(c, d, n);
}

static void sc_good_quoted(struct reply_ctx *c) { sc_text(c, "%N=\"%T\"\r\n"); }
static void sc_good_in_list(struct reply_ctx *c) { sc_text(c, "version=\"ntpd 4.2.8p15\", %N=%T, stratum=16\r\n"); }
static void sc_token_prefix(struct reply_ctx *c) { sc_text(c, "%N=%Tx\r\n"); }
static void sc_token_suffix(struct reply_ctx *c) { sc_text(c, "%N=x%T\r\n"); }
static void sc_in_other_var(struct reply_ctx *c) { sc_text(c, "other=%N=%T\r\n"); }
static void sc_in_other_var_q(struct reply_ctx *c) { sc_text(c, "other=\"%N=%T\"\r\n"); }
static void sc_quoted_commas(struct reply_ctx *c) { sc_text(c, "%N=\"%T,x=y\"\r\n"); }
static void sc_dup_var(struct reply_ctx *c) { sc_text(c, "%N=wrong-value, %N=%T\r\n"); }
static void sc_empty_value(struct reply_ctx *c) { sc_text(c, "%N=\r\n"); }
static void sc_no_value(struct reply_ctx *c) { sc_text(c, "%N\r\n"); }
static void sc_unterminated(struct reply_ctx *c) { sc_text(c, "%N=\"%T\r\n"); }

static void sc_token_truncated(struct reply_ctx *c)
{
	char v[FRAG_MAX], d[FRAG_MAX];
	size_t l = strlen(opt_token);

	snprintf(v, sizeof(v), "%.*s", (int)(l > 0 ? l - 1 : 0), opt_token);
	emit_data(c, d, var_line(c, d, sizeof(d), v));
}

/* The value uppercased (arg 0), or the name (arg 1). */
static void sc_different_case(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), opt_token);
	size_t eq = strlen(c->rq->name);

	for (size_t i = 0; i < n; i++) {
		bool in_name = i < eq;
		if (in_name == (c->sc->arg == 1) && d[i] >= 'a' && d[i] <= 'z')
			d[i] = (char)(d[i] - 'a' + 'A');
	}
	emit_data(c, d, n);
}

/* A NUL right after the token: a C-string compare would stop there. */
static void sc_token_nul(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), opt_token);

	if (n < 2)
		return;
	memmove(d + n - 1, d + n - 2, 2); /* "...TOKEN\r\n" -> "...TOKEN\0\r\n" */
	d[n - 2] = '\0';
	emit_data(c, d, n + 1);
}

/* count covers "NAME=" only; the token sits in the bytes past it. */
static void sc_token_in_padding(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), opt_token);
	struct m6_out o = m6_default(c);

	o.count = (uint16_t)(strlen(c->rq->name) + 1);
	o.data = (const uint8_t *)d;
	o.data_len = n;
	emit_m6(c, &o);
}

/* A valid data reply with one header field wrong (arg selects which). */
enum { BAD_SEQ, BAD_OPCODE, BAD_ASSOC, BAD_MODE, BAD_R, BAD_VERSION,
       BAD_COUNT, BAD_COUNT_HUGE, BAD_SHORT, BAD_OVERSIZED, BAD_MODE4 };

static void sc_bad_header(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), opt_token);
	struct m6_out o = m6_default(c);
	uint8_t vn = c->rq->version & 7;

	o.count = (uint16_t)n;
	o.data = (const uint8_t *)d;
	o.data_len = n;
	switch (c->sc->arg) {
	case BAD_SEQ:
		o.sequence = (uint16_t)(c->rq->sequence + 1);
		break;
	case BAD_OPCODE:
		o.b1 = (uint8_t)(B_R | 1); /* READSTAT */
		break;
	case BAD_ASSOC:
		o.assoc = 1;
		break;
	case BAD_MODE:
		o.b0 = (uint8_t)((o.b0 & ~7) | 7);
		break;
	case BAD_MODE4:
		o.b0 = (uint8_t)((o.b0 & ~7) | 4);
		break;
	case BAD_R:
		o.b1 &= (uint8_t)~B_R;
		break;
	case BAD_VERSION:
		o.b0 = (uint8_t)((o.b0 & ~0x38) | (vn == 4 ? 3 : vn + 1) << 3);
		break;
	case BAD_COUNT:
		o.count = (uint16_t)(n + 200); /* still <= 468: only the datagram is short */
		break;
	case BAD_COUNT_HUGE:
		o.count = 0xffff;
		break;
	case BAD_SHORT: {
		uint8_t b[11] = { o.b0, o.b1 };
		put16(b + 2, o.sequence);
		emit_raw(c, b, sizeof(b));
		return;
	}
	case BAD_OVERSIZED:
		o.pad_to = 3000; /* larger than any valid reply */
		break;
	}
	emit_m6(c, &o);
}

/* An error reply: E set, count 0, code in the status word's high byte. */
static void sc_error(struct reply_ctx *c)
{
	struct m6_out o = m6_default(c);

	o.b1 |= B_E;
	o.status = (uint16_t)(c->sc->arg << 8);
	/* ntpd leaves a stale offset in error replies (capture V4). */
	if (c->sc->arg == 2)
		o.offset = 468;
	emit_m6(c, &o);
}

/* An error reply that nevertheless carries the token as data. */
static void sc_error_with_token(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), opt_token);
	struct m6_out o = m6_default(c);

	o.b1 |= B_E;
	o.status = 0;
	o.count = (uint16_t)n;
	o.data = (const uint8_t *)d;
	o.data_len = n;
	emit_m6(c, &o);
}

/* Fragment orders; arg selects. All but the last are legal. */
enum { FR_REVERSE, FR_SHUFFLE, FR_DUP, FR_GAP, FR_OVERLAP, FR_DUP_CONFLICT,
       FR_32, FR_33, FR_M_ON_LAST };

static void sc_frags(struct reply_ctx *c)
{
	char d[DATA_MAX];
	unsigned order[2 * MAX_FRAGS];
	size_t fs = 50, len, nf, n = 0;

	switch (c->sc->arg) {
	case FR_32:
		fs = 10;
		len = long_reply(c, d, 32 * fs - 3);
		break;
	case FR_33:
		fs = 10;
		len = long_reply(c, d, 32 * fs + 3);
		break;
	default:
		len = long_reply(c, d, 7 * fs + 17); /* 8 fragments */
		break;
	}
	if (len == 0)
		return;
	nf = (len + fs - 1) / fs;

	switch (c->sc->arg) {
	case FR_REVERSE:
		for (size_t i = 0; i < nf; i++)
			order[n++] = (unsigned)(nf - 1 - i);
		break;
	case FR_SHUFFLE:
		for (size_t i = 0; i < nf; i++)
			order[n++] = (unsigned)i;
		for (size_t i = nf - 1; i > 0; i--) { /* Fisher-Yates */
			size_t j = rnd() % (i + 1);
			unsigned t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		break;
	case FR_DUP:
		/* every fragment twice, the last one first and three times */
		order[n++] = (unsigned)(nf - 1);
		for (size_t i = 0; i < nf; i++) {
			order[n++] = (unsigned)i;
			order[n++] = (unsigned)i;
		}
		break;
	case FR_GAP:
		for (size_t i = 0; i < nf; i++)
			if (i != 2)
				order[n++] = (unsigned)i;
		break;
	case FR_OVERLAP: {
		/*
		 * Two fragments whose ranges share 10 octets of identical
		 * content: harmless-looking, but ntpq's rule rejects it.
		 */
		struct m6_out o = m6_default(c);
		o.b1 |= B_M;
		o.count = 60;
		o.data = (const uint8_t *)d;
		o.data_len = 60;
		emit_m6(c, &o);
		o = m6_default(c);
		o.offset = 50;
		o.count = (uint16_t)(len - 50);
		o.data = (const uint8_t *)d + 50;
		o.data_len = len - 50;
		emit_m6(c, &o);
		return;
	}
	case FR_DUP_CONFLICT: {
		/* fragment 1 again at the same offset, one octet changed */
		struct m6_out o = m6_default(c);
		char alt[FRAG_MAX];
		unsigned first[] = { 0, 1 };
		emit_frags(c, d, len, fs, first, 2);
		memcpy(alt, d + fs, fs);
		alt[0] ^= 0x20;
		o.b1 |= B_M;
		o.offset = (uint16_t)fs;
		o.count = (uint16_t)fs;
		o.data = (const uint8_t *)alt;
		o.data_len = fs;
		emit_m6(c, &o);
		for (size_t i = 2; i < nf; i++)
			order[n++] = (unsigned)i;
		break;
	}
	case FR_32:
	case FR_33:
	default:
		for (size_t i = 0; i < nf; i++)
			order[n++] = (unsigned)i;
		break;
	}
	emit_frags(c, d, len, fs, order, n);
}

/*
 * Full fragments, every one with M set, offsets running on until the
 * 16-bit offset field would wrap (140 fragments per request): a reply
 * that never ends and never overlaps itself.
 */
static void sc_never_ends(struct reply_ctx *c)
{
	char d[FRAG_MAX];

	memset(d, 'x', sizeof(d));
	for (unsigned i = 0; i < MAX_FRAGS && (i + 1) * FRAG_MAX <= 0xffff; i++) {
		struct m6_out o = m6_default(c);
		o.b1 |= B_M;
		o.offset = (uint16_t)(i * FRAG_MAX);
		o.count = FRAG_MAX;
		o.data = (const uint8_t *)d;
		o.data_len = FRAG_MAX;
		emit_m6(c, &o);
	}
}

static void start_flood(const struct request *rq, struct entry *e);
static void emit_junk(struct flood *f);

/* arg 0: a paced flood of --junk datagrams; mode 6 is never answered. */
static void sc_junk(struct reply_ctx *c)
{
	start_flood(c->rq, c->e);
}

/*
 * JUNK_BURST junk datagrams back to back, then the correct reply: the
 * prober must read past the junk (more than it reads per event) to find
 * it. A burst, not a paced flood, so that a loaded machine cannot delay
 * the answer past the probe's timeout; small enough for the default
 * socket receive buffer.
 */
static void sc_junk_then_good(struct reply_ctx *c)
{
	struct flood f = { .used = true, .rq = *c->rq, .e = c->e };

	for (f.n = 0; f.n < JUNK_BURST && junk_total < JUNK_TOTAL_MAX; f.n++) {
		emit_junk(&f);
		c->e->junk++;
		junk_total++;
	}
	sc_good(c);
}

/* ---- mode 3 ----------------------------------------------------------- */

static void emit_m3(struct reply_ctx *c)
{
	uint8_t b[48];

	memset(b, 0, sizeof(b));
	b[0] = (uint8_t)((c->rq->version & 7) << 3 | 4); /* LI 0, mode 4 */
	switch (c->sc->m3) {
	case M3_SILENT:
		return;
	case M3_JUNK:
		start_flood(c->rq, c->e);
		return;
	case M3_KOD_RATE:
		/* as ntpd 4.2.8p15 sends it (capture V6): org = rec = xmt */
		b[0] = (uint8_t)(3 << 6 | (c->rq->version & 7) << 3 | 4);
		memcpy(b + 12, "RATE", 4);
		memcpy(b + 24, c->rq->xmt, 8);
		memcpy(b + 32, c->rq->xmt, 8);
		memcpy(b + 40, c->rq->xmt, 8);
		break;
	case M3_GOOD:
	case M3_BAD_ORIGIN:
		b[1] = 2;    /* stratum */
		b[2] = 6;    /* poll */
		b[3] = 0xe8; /* precision */
		b[12] = 127; /* refid 127.0.0.1 */
		b[15] = 1;
		for (int i = 16; i < 24; i++)
			b[i] = (uint8_t)(0xe0 + i);
		memcpy(b + 24, c->rq->xmt, 8);
		if (c->sc->m3 == M3_BAD_ORIGIN)
			b[31] ^= 0x01;
		for (int i = 32; i < 48; i++)
			b[i] = (uint8_t)(0xe1 + i);
		break;
	}
	emit_raw(c, b, sizeof(b));
}

/* ---- junk floods ------------------------------------------------------ */

static void start_flood(const struct request *rq, struct entry *e)
{
	for (unsigned i = 0; i < MAX_FLOODS; i++) {
		if (floods[i].used)
			continue;
		floods[i].used = true;
		floods[i].rq = *rq;
		floods[i].e = e;
		floods[i].left = opt_junk;
		floods[i].n = 0;
		if (!rq->m6) /* near-miss replies need a name to carry */
			snprintf(floods[i].rq.name, sizeof(floods[i].rq.name),
				 "ntppool_verify");
		return;
	}
}

/*
 * One junk datagram. Cycles through kinds so every layer gets exercised:
 * random octets of random length, a plausible mode 6 reply carrying the
 * token but a wrong sequence, a mode 4 reply with a wrong origin, a
 * datagram larger than any valid reply.
 */
static void emit_junk(struct flood *f)
{
	static const struct scenario junk_sc = { .name = "junk" };
	struct reply_ctx c = { .rq = &f->rq, .e = f->e, .sc = &junk_sc };
	uint8_t b[3000];
	size_t len;

	switch (f->n % 8) {
	case 1: {
		if (!f->e->have_seq)
			goto random_octets;
		char d[FRAG_MAX];
		size_t n = var_line(&c, d, sizeof(d), opt_token);
		struct m6_out o = m6_default(&c);
		uint16_t bump = (uint16_t)(1 + rnd() % 65535);
		o.b0 = (uint8_t)(3 << 6 | 2 << 3 | 6); /* VN 2, as the prober sends */
		o.b1 = B_R | 2;
		o.sequence = (uint16_t)(f->e->seq + bump); /* never equal */
		o.count = (uint16_t)n;
		o.data = (const uint8_t *)d;
		o.data_len = n;
		emit_m6(&c, &o);
		return;
	}
	case 3:
		len = 48;
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)rnd();
		b[0] = 0x24; /* mode 4: the prober's mode 3 path */
		break;
	case 7:
		len = sizeof(b);
		memset(b, 0xd6, len);
		break;
	default:
	random_octets:
		len = 1 + rnd() % 600;
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)rnd();
		break;
	}
	emit_raw(&c, b, len);
}

/* Advance every flood by a batch. Returns true while any is running. */
static bool run_floods(void)
{
	bool any = false;

	for (unsigned i = 0; i < MAX_FLOODS; i++) {
		struct flood *f = &floods[i];
		if (!f->used)
			continue;
		for (unsigned k = 0; k < JUNK_BATCH && f->left > 0; k++) {
			if (junk_total >= JUNK_TOTAL_MAX) {
				f->left = 0;
				break;
			}
			emit_junk(f);
			f->n++;
			f->left--;
			f->e->junk++;
			junk_total++;
		}
		if (f->left == 0)
			f->used = false;
		else
			any = true;
	}
	return any;
}

/* ---- the scenario table ----------------------------------------------- */

static const struct scenario scenarios[] = {
	/* positive controls: legal replies that must verify */
	{ "good", sc_good, 0, M3_GOOD, ROUTE_SAME, "correct reply with the token" },
	{ "good_quoted", sc_good_quoted, 0, M3_GOOD, ROUTE_SAME, "NAME=\"TOKEN\"" },
	{ "good_in_list", sc_good_in_list, 0, M3_GOOD, ROUTE_SAME, "token among other variables" },
	{ "frag_reverse", sc_frags, FR_REVERSE, M3_GOOD, ROUTE_SAME, "8 fragments, last first" },
	{ "frag_shuffle", sc_frags, FR_SHUFFLE, M3_GOOD, ROUTE_SAME, "8 fragments, random order" },
	{ "frag_dup", sc_frags, FR_DUP, M3_GOOD, ROUTE_SAME, "every fragment twice or more" },
	{ "frag_32", sc_frags, FR_32, M3_GOOD, ROUTE_SAME, "exactly 32 fragments (the limit)" },
	{ "junk_then_good", sc_junk_then_good, 0, M3_GOOD, ROUTE_SAME, "64 junk datagrams, then the correct reply" },
	/* reassembly */
	{ "frag_overlap", sc_frags, FR_OVERLAP, M3_GOOD, ROUTE_SAME, "two fragments sharing 10 octets" },
	{ "frag_dup_conflict", sc_frags, FR_DUP_CONFLICT, M3_GOOD, ROUTE_SAME, "a fragment repeated with other content" },
	{ "frag_gap", sc_frags, FR_GAP, M3_GOOD, ROUTE_SAME, "one fragment never sent" },
	{ "frag_33", sc_frags, FR_33, M3_GOOD, ROUTE_SAME, "33 fragments" },
	{ "never_ends", sc_never_ends, 0, M3_GOOD, ROUTE_SAME, "140 full fragments, all with M set" },
	/* header checks */
	{ "count_too_big", sc_bad_header, BAD_COUNT, M3_GOOD, ROUTE_SAME, "count 200 more than the datagram holds" },
	{ "count_huge", sc_bad_header, BAD_COUNT_HUGE, M3_GOOD, ROUTE_SAME, "count 65535" },
	{ "short", sc_bad_header, BAD_SHORT, M3_GOOD, ROUTE_SAME, "11-octet datagram" },
	{ "oversized", sc_bad_header, BAD_OVERSIZED, M3_GOOD, ROUTE_SAME, "valid reply padded to 3000 octets" },
	{ "wrong_seq", sc_bad_header, BAD_SEQ, M3_GOOD, ROUTE_SAME, "sequence + 1" },
	{ "wrong_opcode", sc_bad_header, BAD_OPCODE, M3_GOOD, ROUTE_SAME, "opcode 1" },
	{ "wrong_assoc", sc_bad_header, BAD_ASSOC, M3_GOOD, ROUTE_SAME, "association 1" },
	{ "wrong_mode", sc_bad_header, BAD_MODE, M3_GOOD, ROUTE_SAME, "mode 7" },
	{ "wrong_mode4", sc_bad_header, BAD_MODE4, M3_GOOD, ROUTE_SAME, "mode 4 in a mode 6 reply" },
	{ "no_r_bit", sc_bad_header, BAD_R, M3_GOOD, ROUTE_SAME, "R bit clear" },
	{ "wrong_version", sc_bad_header, BAD_VERSION, M3_GOOD, ROUTE_SAME, "VN differs from the request's" },
	/* where the reply comes from */
	{ "from_other_port", sc_good, 0, M3_GOOD, ROUTE_OTHER_PORT, "correct replies from --other-port" },
	{ "from_other_addr", sc_good, 0, M3_GOOD, ROUTE_OTHER_ADDR, "correct replies from --other-addr" },
	/* error replies */
	{ "error_0", sc_error, 0, M3_GOOD, ROUTE_SAME, "E bit, code 0 (unspecified)" },
	{ "error_1", sc_error, 1, M3_GOOD, ROUTE_SAME, "E bit, code 1 (permission)" },
	{ "error_2", sc_error, 2, M3_GOOD, ROUTE_SAME, "E bit, code 2 (bad format), stale offset" },
	{ "error_3", sc_error, 3, M3_GOOD, ROUTE_SAME, "E bit, code 3 (bad opcode)" },
	{ "error_4", sc_error, 4, M3_GOOD, ROUTE_SAME, "E bit, code 4 (bad association)" },
	{ "error_5", sc_error, 5, M3_GOOD, ROUTE_SAME, "E bit, code 5 (unknown variable)" },
	{ "error_6", sc_error, 6, M3_GOOD, ROUTE_SAME, "E bit, code 6 (bad value)" },
	{ "error_7", sc_error, 7, M3_GOOD, ROUTE_SAME, "E bit, code 7 (restrict)" },
	{ "error_200", sc_error, 200, M3_GOOD, ROUTE_SAME, "E bit, code 200 (undefined)" },
	{ "error_with_token", sc_error_with_token, 0, M3_GOOD, ROUTE_SAME, "E bit, data holds the token" },
	/* the value */
	{ "token_prefix", sc_token_prefix, 0, M3_GOOD, ROUTE_SAME, "value TOKEN + \"x\"" },
	{ "token_suffix", sc_token_suffix, 0, M3_GOOD, ROUTE_SAME, "value \"x\" + TOKEN" },
	{ "token_truncated", sc_token_truncated, 0, M3_GOOD, ROUTE_SAME, "value TOKEN minus its last octet" },
	{ "token_nul", sc_token_nul, 0, M3_GOOD, ROUTE_SAME, "value TOKEN NUL" },
	{ "token_in_padding", sc_token_in_padding, 0, M3_GOOD, ROUTE_SAME, "count covers NAME= only, token after it" },
	{ "token_in_other_var", sc_in_other_var, 0, M3_GOOD, ROUTE_SAME, "other=NAME=TOKEN" },
	{ "token_in_other_var_quoted", sc_in_other_var_q, 0, M3_GOOD, ROUTE_SAME, "other=\"NAME=TOKEN\"" },
	{ "quoted_with_commas", sc_quoted_commas, 0, M3_GOOD, ROUTE_SAME, "NAME=\"TOKEN,x=y\"" },
	{ "unterminated_quote", sc_unterminated, 0, M3_GOOD, ROUTE_SAME, "NAME=\"TOKEN" },
	{ "dup_var", sc_dup_var, 0, M3_GOOD, ROUTE_SAME, "NAME twice, the token second" },
	{ "empty_value", sc_empty_value, 0, M3_GOOD, ROUTE_SAME, "NAME=" },
	{ "no_value", sc_no_value, 0, M3_GOOD, ROUTE_SAME, "NAME without =" },
	{ "different_case", sc_different_case, 0, M3_GOOD, ROUTE_SAME, "value uppercased" },
	{ "different_case_name", sc_different_case, 1, M3_GOOD, ROUTE_SAME, "name uppercased" },
	/* floods, silence, mode 3 */
	{ "junk_flood", sc_junk, 0, M3_JUNK, ROUTE_SAME, "--junk junk datagrams per request, nothing valid" },
	{ "mode3_only", NULL, 0, M3_GOOD, ROUTE_SAME, "mode 3 answered, mode 6 silent" },
	{ "kod_rate", NULL, 0, M3_KOD_RATE, ROUTE_SAME, "mode 3 KoD RATE, mode 6 silent" },
	{ "m3_bad_origin", NULL, 0, M3_BAD_ORIGIN, ROUTE_SAME, "mode 4 with a wrong origin, mode 6 silent" },
	{ "silent", NULL, 0, M3_SILENT, ROUTE_SAME, "never answers" },
};

static const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

/* ---- requests --------------------------------------------------------- */

static struct entry *find_entry(struct in_addr a)
{
	for (unsigned i = 0; i < n_entries; i++)
		if (entries[i].addr.s_addr == a.s_addr)
			return &entries[i];
	return &default_entry;
}

/* Parse one datagram as a server would. False: not a request we answer. */
static bool parse_request(const uint8_t *b, size_t len, struct request *rq)
{
	if (len < 1)
		return false;
	rq->version = (b[0] >> 3) & 7;
	switch (b[0] & 7) {
	case 6: {
		if (len < 12 || (b[1] & B_R) != 0)
			return false;
		size_t count = get16(b + 10);
		if (count > FRAG_MAX || 12 + count > len)
			return false;
		rq->m6 = true;
		rq->opcode = b[1] & 0x1f;
		rq->sequence = get16(b + 2);
		memcpy(rq->name, b + 12, count);
		rq->name[count] = '\0';
		/* the prober asks for one name; anything odd, answer for it */
		if (strlen(rq->name) != count || count == 0)
			snprintf(rq->name, sizeof(rq->name), "ntppool_verify");
		return true;
	}
	case 3:
		if (len < 48)
			return false;
		rq->m6 = false;
		memcpy(rq->xmt, b + 40, 8);
		return true;
	default:
		return false;
	}
}

static void handle(struct request *rq)
{
	struct entry *e = find_entry(rq->dst);
	struct reply_ctx c = { .rq = rq, .e = e, .sc = e->sc };

	if (e->first_ms == 0)
		e->first_ms = now_ms(CLOCK_REALTIME);
	e->last_ms = now_ms(CLOCK_REALTIME);
	stats_dirty = true;
	if (!rq->m6) {
		e->m3++;
		emit_m3(&c);
		return;
	}
	e->m6++;
	e->have_seq = true;
	e->seq = rq->sequence;
	if (e->sc->m6 != NULL)
		e->sc->m6(&c);
}

static void read_some(void)
{
	for (int i = 0; i < READ_BURST; i++) {
		uint8_t buf[RECV_MAX];
		char cbuf[256];
		struct request rq;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = {
			.msg_name = &rq.peer,
			.msg_namelen = sizeof(rq.peer),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};

		memset(&rq, 0, sizeof(rq));
		ssize_t n = recvmsg(fd_main, &msg, MSG_DONTWAIT);
		if (n < 0)
			return;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		     cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level == IPPROTO_IP &&
			    cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				rq.dst = pi.ipi_addr;
			}
		}
		if (!parse_request(buf, (size_t)n, &rq)) {
			struct entry *e = find_entry(rq.dst);
			e->other++;
			stats_dirty = true;
			continue;
		}
		handle(&rq);
	}
}

/* ---- stats ------------------------------------------------------------ */

static void write_entry(FILE *f, const struct entry *e, const char *addr)
{
	fprintf(f, "%s %s m6=%lu m3=%lu other=%lu sent=%lu junk=%lu "
		   "first_ms=%lld last_ms=%lld\n",
		addr, e->sc->name, e->m6, e->m3, e->other, e->sent, e->junk,
		e->first_ms, e->last_ms);
}

static void write_stats(FILE *f)
{
	char a[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < n_entries; i++) {
		inet_ntop(AF_INET, &entries[i].addr, a, sizeof(a));
		write_entry(f, &entries[i], a);
	}
	write_entry(f, &default_entry, "default");
}

static void save_stats(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	write_stats(f);
	if (fclose(f) == 0)
		rename(tmp, path);
	stats_dirty = false;
}

/* ---- set-up ----------------------------------------------------------- */

static int load_map(const char *path)
{
	char line[512];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char addr[128], name[128];
		lineno++;
		line[strcspn(line, "#")] = '\0';
		int got = sscanf(line, "%127s %127s", addr, name);
		if (got <= 0)
			continue;
		struct entry *e = &entries[n_entries];
		if (got != 2 || inet_pton(AF_INET, addr, &e->addr) != 1 ||
		    (e->sc = find_scenario(name)) == NULL ||
		    n_entries + 1 >= MAX_ENTRIES) {
			fprintf(stderr, "%s:%u: want \"IPV4ADDRESS SCENARIO\" "
					"(hostile_responder --list)\n",
				path, lineno);
			fclose(f);
			return -1;
		}
		n_entries++;
	}
	fclose(f);
	return 0;
}

static int udp_socket(struct in_addr a, uint16_t port, bool pktinfo)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a,
				   .sin_port = htons(port) };
	int on = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* A flood needs room in both directions. */
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if ((pktinfo &&
	     setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hostile_responder --token TOKEN [--map FILE] "
		"[--default SCENARIO]\n"
		"           [--listen ADDR] [--port N] [--other-port N] "
		"[--other-addr ADDR]\n"
		"           [--stats FILE] [--junk N] [--lifetime SECONDS]\n"
		"       hostile_responder --list\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "map", required_argument, NULL, 'm' },
		{ "default", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "other-port", required_argument, NULL, 'P' },
		{ "other-addr", required_argument, NULL, 'A' },
		{ "stats", required_argument, NULL, 's' },
		{ "junk", required_argument, NULL, 'j' },
		{ "lifetime", required_argument, NULL, 'L' },
		{ "list", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *map = NULL, *stats = NULL, *def = "silent";
	struct in_addr listen_addr = { .s_addr = htonl(INADDR_ANY) };
	long port = 123, other_port = 124, lifetime = 600;
	int c;

	inet_pton(AF_INET, "127.0.0.99", &opt_other_addr);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opt_token = optarg;
			break;
		case 'm':
			map = optarg;
			break;
		case 'd':
			def = optarg;
			break;
		case 'l':
			if (inet_pton(AF_INET, optarg, &listen_addr) != 1) {
				fprintf(stderr, "--listen: not an IPv4 address\n");
				return 2;
			}
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'P':
			other_port = strtol(optarg, NULL, 10);
			break;
		case 'A':
			if (inet_pton(AF_INET, optarg, &opt_other_addr) != 1) {
				fprintf(stderr, "--other-addr: not an IPv4 address\n");
				return 2;
			}
			break;
		case 's':
			stats = optarg;
			break;
		case 'j':
			opt_junk = (unsigned)strtoul(optarg, NULL, 10);
			if (opt_junk > JUNK_MAX)
				opt_junk = JUNK_MAX;
			break;
		case 'L':
			lifetime = strtol(optarg, NULL, 10);
			break;
		case 'i':
			for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
				printf("%-26s %s\n", scenarios[i].name, scenarios[i].what);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (opt_token == NULL || optind != argc || port < 1 || port > 65535 ||
	    other_port < 1 || other_port > 65535 || other_port == port ||
	    lifetime < 1) {
		usage(stderr);
		return 2;
	}
	default_entry.sc = find_scenario(def);
	if (default_entry.sc == NULL) {
		fprintf(stderr, "--default: no scenario %s (see --list)\n", def);
		return 2;
	}
	if (map != NULL && load_map(map) < 0)
		return 2;

	fd_main = udp_socket(listen_addr, (uint16_t)port, true);
	fd_other = udp_socket(listen_addr, (uint16_t)other_port, false);
	if (fd_main < 0 || fd_other < 0) {
		perror("hostile_responder: bind");
		return 1;
	}
	rng_state ^= (uint64_t)now_ms(CLOCK_REALTIME) << 20 ^ (uint64_t)getpid();

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	long long end = now_ms(CLOCK_MONOTONIC) + lifetime * 1000LL;
	long long next_save = 0;
	bool flooding = false;

	save_stats(stats); /* the file's existence says "listening" */
	while (!stop && now_ms(CLOCK_MONOTONIC) < end) {
		struct pollfd pfd = { .fd = fd_main, .events = POLLIN };
		int n = poll(&pfd, 1, flooding ? 1 : 100);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pfd.revents & POLLIN))
			read_some();
		flooding = run_floods();
		long long t = now_ms(CLOCK_MONOTONIC);
		if (stats_dirty && t >= next_save) {
			save_stats(stats);
			next_save = t + 100;
		}
	}
	save_stats(stats);
	write_stats(stderr);
	return 0;
}
