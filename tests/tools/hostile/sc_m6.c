/*
 * sc_m6.c - the mode 6 scenarios that send one unfragmented reply: the
 * legal variants the prober must accept, values that must not verify,
 * header fields gone wrong, and error replies.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hostile.h"

/* The correct reply: NAME=TOKEN. */
void sc_good(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	emit_data(c, d, var_line(c, d, sizeof(d), hr.token));
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
			ins = hr.token;
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

void sc_good_quoted(struct reply_ctx *c) { sc_text(c, "%N=\"%T\"\r\n"); }
void sc_good_in_list(struct reply_ctx *c) { sc_text(c, "version=\"ntpd 4.2.8p15\", %N=%T, stratum=16\r\n"); }
void sc_token_prefix(struct reply_ctx *c) { sc_text(c, "%N=%Tx\r\n"); }
void sc_token_suffix(struct reply_ctx *c) { sc_text(c, "%N=x%T\r\n"); }
void sc_in_other_var(struct reply_ctx *c) { sc_text(c, "other=%N=%T\r\n"); }
void sc_in_other_var_q(struct reply_ctx *c) { sc_text(c, "other=\"%N=%T\"\r\n"); }
void sc_quoted_commas(struct reply_ctx *c) { sc_text(c, "%N=\"%T,x=y\"\r\n"); }
void sc_dup_var(struct reply_ctx *c) { sc_text(c, "%N=wrong-value, %N=%T\r\n"); }
void sc_empty_value(struct reply_ctx *c) { sc_text(c, "%N=\r\n"); }
void sc_no_value(struct reply_ctx *c) { sc_text(c, "%N\r\n"); }
void sc_unterminated(struct reply_ctx *c) { sc_text(c, "%N=\"%T\r\n"); }

/*
 * The right token only to requests from one source address (the
 * scenario's arg, host order), another value to every other source: what
 * an attacker on the path to one perspective (or a prefix hijack seen from
 * there) can do. Corroboration from other perspectives must expose it.
 */
void sc_token_to_source(struct reply_ctx *c)
{
	if (ntohl(c->rq->peer.sin_addr.s_addr) == (uint32_t)c->sc->arg)
		sc_good(c);
	else
		sc_token_suffix(c);
}

void sc_token_truncated(struct reply_ctx *c)
{
	char v[FRAG_MAX], d[FRAG_MAX];
	size_t l = strlen(hr.token);

	snprintf(v, sizeof(v), "%.*s", (int)(l > 0 ? l - 1 : 0), hr.token);
	emit_data(c, d, var_line(c, d, sizeof(d), v));
}

/* The value uppercased (arg 0), or the name (arg 1). */
void sc_different_case(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), hr.token);
	size_t eq = strlen(c->rq->name);

	for (size_t i = 0; i < n; i++) {
		bool in_name = i < eq;
		if (in_name == (c->sc->arg == 1) && d[i] >= 'a' && d[i] <= 'z')
			d[i] = (char)(d[i] - 'a' + 'A');
	}
	emit_data(c, d, n);
}

/* A NUL right after the token: a C-string compare would stop there. */
void sc_token_nul(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), hr.token);

	if (n < 2)
		return;
	memmove(d + n - 1, d + n - 2, 2); /* "...TOKEN\r\n" -> "...TOKEN\0\r\n" */
	d[n - 2] = '\0';
	emit_data(c, d, n + 1);
}

/* count covers "NAME=" only; the token sits in the bytes past it. */
void sc_token_in_padding(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), hr.token);
	struct m6_out o = m6_default(c);

	o.count = (uint16_t)(strlen(c->rq->name) + 1);
	o.data = (const uint8_t *)d;
	o.data_len = n;
	emit_m6(c, &o);
}

/* A valid data reply with one header field wrong (arg: BAD_*). */
void sc_bad_header(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), hr.token);
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
void sc_error(struct reply_ctx *c)
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
void sc_error_with_token(struct reply_ctx *c)
{
	char d[FRAG_MAX];
	size_t n = var_line(c, d, sizeof(d), hr.token);
	struct m6_out o = m6_default(c);

	o.b1 |= B_E;
	o.status = 0;
	o.count = (uint16_t)n;
	o.data = (const uint8_t *)d;
	o.data_len = n;
	emit_m6(c, &o);
}

/* Fragment orders; arg selects. All but the last are legal. */
