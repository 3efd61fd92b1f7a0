/*
 * junk.c - junk datagrams: in a paced flood (a few per loop turn, so a
 * flood never starves the socket loop) or in one burst before the
 * correct reply.
 */
#include <stdio.h>
#include <string.h>

#include "hostile.h"

/* A flood of junk in progress, sent JUNK_BATCH per loop turn. */
struct flood {
	bool used;          /* a flood is in progress in this slot */
	struct request rq;  /* copy: the flood outlives the request */
	struct entry *e;    /* whose counters move */
	unsigned left;      /* junk datagrams still to send */
	unsigned n;         /* sent so far */
};

static struct flood floods[MAX_FLOODS];

static void emit_junk(struct flood *f);

/* arg 0: a paced flood of --junk datagrams; mode 6 is never answered. */
void sc_junk(struct reply_ctx *c)
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
void sc_junk_then_good(struct reply_ctx *c)
{
	struct flood f = { .used = true, .rq = *c->rq, .e = c->e };

	for (f.n = 0; f.n < JUNK_BURST && hr.junk_total < JUNK_TOTAL_MAX; f.n++) {
		emit_junk(&f);
		c->e->junk++;
		hr.junk_total++;
	}
	sc_good(c);
}

void start_flood(const struct request *rq, struct entry *e)
{
	for (unsigned i = 0; i < MAX_FLOODS; i++) {
		if (floods[i].used)
			continue;
		floods[i].used = true;
		floods[i].rq = *rq;
		floods[i].e = e;
		floods[i].left = hr.junk;
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
 * datagram larger than any valid reply. A wrong sequence ends the probe
 * at once (it fails closed), so a paced flood sends it only as its last
 * datagram: until then the probe's socket stays open and takes the flood.
 */
static void emit_junk(struct flood *f)
{
	static const struct scenario junk_sc = { .name = "junk" };
	struct reply_ctx c = { .rq = &f->rq, .e = f->e, .sc = &junk_sc };
	uint8_t b[3000];
	size_t len;
	unsigned kind = f->left == 1 ? 1 : f->n % 8; /* left 0: a burst */

	switch (kind) {
	case 1: {
		if (!f->e->have_seq || f->left > 1)
			goto random_octets;
		char d[FRAG_MAX];
		size_t n = var_line(&c, d, sizeof(d), hr.token);
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
bool run_floods(void)
{
	bool any = false;

	for (unsigned i = 0; i < MAX_FLOODS; i++) {
		struct flood *f = &floods[i];
		if (!f->used)
			continue;
		for (unsigned k = 0; k < JUNK_BATCH && f->left > 0; k++) {
			if (hr.junk_total >= JUNK_TOTAL_MAX) {
				f->left = 0;
				break;
			}
			emit_junk(f);
			f->n++;
			f->left--;
			f->e->junk++;
			hr.junk_total++;
		}
		if (f->left == 0)
			f->used = false;
		else
			any = true;
	}
	return any;
}
