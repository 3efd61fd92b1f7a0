/*
 * sc_m3.c - the mode 3 side of every scenario: a valid mode 4 reply, a
 * Kiss-o'-Death, a wrong origin, silence, a junk flood, or ntpd's answer
 * to a keyed request (sc_key.c), or silence for keyed requests only.
 */
#include <string.h>

#include "hostile.h"

void m4_good_header(const struct request *rq, uint8_t *b)
{
	memset(b, 0, 48);
	b[0] = (uint8_t)((rq->version & 7) << 3 | 4); /* LI 0, mode 4 */
	b[1] = 2;    /* stratum */
	b[2] = 6;    /* poll */
	b[3] = 0xe8; /* precision */
	b[12] = 127; /* refid 127.0.0.1 */
	b[15] = 1;
	for (int i = 16; i < 24; i++)
		b[i] = (uint8_t)(0xe0 + i);
	memcpy(b + 24, rq->xmt, 8);
	for (int i = 32; i < 48; i++)
		b[i] = (uint8_t)(0xe1 + i);
}

void emit_m3(struct reply_ctx *c)
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
	case M3_NTPD:
		emit_m3_ntpd(c);
		return;
	case M3_KOD_RATE:
		/* as ntpd 4.2.8p15 sends it (capture V6): org = rec = xmt */
		b[0] = (uint8_t)(3 << 6 | (c->rq->version & 7) << 3 | 4);
		memcpy(b + 12, "RATE", 4);
		memcpy(b + 24, c->rq->xmt, 8);
		memcpy(b + 32, c->rq->xmt, 8);
		memcpy(b + 40, c->rq->xmt, 8);
		break;
	case M3_PLAIN_ONLY:
		if (c->rq->pkt_len > 48)
			return; /* a keyed request: never answered */
		__attribute__((fallthrough));
	case M3_GOOD:
	case M3_BAD_ORIGIN:
		m4_good_header(c->rq, b);
		if (c->sc->m3 == M3_BAD_ORIGIN)
			b[31] ^= 0x01;
		break;
	}
	emit_raw(c, b, sizeof(b));
}
