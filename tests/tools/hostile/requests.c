/*
 * requests.c - reading datagrams off the main socket, parsing them the
 * way a server would, and handing each to its address's scenario.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "hostile.h"

/* Parse one datagram as a server would. False: not a request we answer. */
static bool parse_request(const uint8_t *b, size_t len, struct request *rq)
{
	if (len < 1)
		return false;
	rq->version = (b[0] >> 3) & 7;
	rq->pkt = b;
	rq->pkt_len = len;
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
		/* and for stratum and refid after it ("VAR,stratum,refid"):
		 * the scenarios answer for the first name only */
		rq->name[strcspn(rq->name, ",")] = '\0';
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
	hr.stats_dirty = true;
	count_probe(e, rq);
	enum limited_verdict lv = limited_check(e, rq);
	if (!rq->m6) {
		e->m3++;
		if (rq->pkt_len > 48)
			e->keyed++;
		if (lv == LV_KOD)
			emit_kiss(&c);
		else if (lv == LV_PASS)
			emit_m3(&c);
		return;
	}
	e->m6++;
	e->have_seq = true;
	e->seq = rq->sequence;
	e->m6_log[1] = e->m6_log[0];
	e->m6_log[0].port = ntohs(rq->peer.sin_port);
	e->m6_log[0].seq = rq->sequence;
	e->m6_log[0].ms = e->last_ms;
	if (e->sc->m6 != NULL && lv == LV_PASS)
		e->sc->m6(&c);
}

void read_some(void)
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
		ssize_t n = recvmsg(hr.fd_main, &msg, MSG_DONTWAIT);
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
			hr.stats_dirty = true;
			continue;
		}
		handle(&rq);
	}
}
