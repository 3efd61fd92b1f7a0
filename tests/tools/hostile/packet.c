/*
 * packet.c - the packets hostile_responder writes, byte by byte: most
 * scenarios need replies that ntpwire refuses to build. Also the clocks
 * and the random numbers every scenario uses.
 */
#include <string.h>
#include <sys/socket.h>

#include "hostile.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

long long now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: reproducible enough, and no libc state shared with anyone. */
uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Mixes the run's time and pid into the generator, once at start-up. */
void rnd_seed(uint64_t mix)
{
	rng_state ^= mix;
}

uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Send one datagram to the prober. The source address is set per packet
 * with IP_PKTINFO, so the wildcard socket answers from the address the
 * request went to (or, for ROUTE_OTHER_ADDR, from another one).
 */
void emit_raw(struct reply_ctx *c, const uint8_t *buf, size_t len)
{
	struct in_addr src = c->rq->dst;
	int fd = hr.fd_main;
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
		fd = hr.fd_other;
	else if (c->sc->route == ROUTE_OTHER_ADDR)
		src = hr.other_addr;
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
	hr.stats_dirty = true;
}

/* A reply header that echoes the request, for a scenario to change. */
struct m6_out m6_default(const struct reply_ctx *c)
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

void emit_m6(struct reply_ctx *c, const struct m6_out *o)
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
void emit_data(struct reply_ctx *c, const char *data, size_t len)
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
void emit_frags(struct reply_ctx *c, const char *data, size_t len,
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
size_t var_line(const struct reply_ctx *c, char *buf, size_t cap,
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
size_t long_reply(const struct reply_ctx *c, char *buf, size_t total)
{
	char mid[FRAG_MAX + 64];
	int m = snprintf(mid, sizeof(mid), ", %s=%s, post=", c->rq->name,
			 hr.token);
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
