/*
 * hostile.h - what the pieces of hostile_responder share: the request as
 * parsed, the per-address entries, the scenario table's row, the packet
 * writers and the scenario handlers.
 *
 * hostile_responder is one process with one event loop; the state below
 * (struct hostile_run, the entries, the floods) lives for the whole run
 * and is never freed. See main.c for the command line and what the
 * responder does as a whole.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ntpwire/ntpauth.h"

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
#define MAX_KEYS 8            /* --key */
#define LIMIT_SOURCES 8       /* rate-limit states per address (--limited) */
#define PROBE_LOG 64          /* probes (source ports) counted per address */

/* Mode 6 header, second octet: response, error, more. */
#define B_R 0x80
#define B_E 0x40
#define B_M 0x20

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
	const uint8_t *pkt;       /* the datagram (valid while handled) */
	size_t pkt_len;           /* its length: > 48 for a keyed mode 3 */
};

/* --limited: ntp.org ntpd's `restrict ... limited` (see limited.c). */
enum limited_mode {
	LIMITED_OFF = 0,
	LIMITED_DROP, /* `limited`: packets over the limit are dropped */
	LIMITED_KOD,  /* `kod limited`: mode 3 over it gets a RATE kiss */
};

/* What --limited decided for one packet. */
enum limited_verdict {
	LV_PASS = 0, /* within the limits: answer as the scenario says */
	LV_KOD,      /* over: a RATE kiss (mode 3 only; mode 6 drops) */
	LV_DROP,     /* over: nothing */
};

/* One source address's standing at one destination, as ntpd's MRU. */
struct limit_state {
	struct in_addr src;  /* the prober's address; 0: slot free */
	long long last_ms;   /* CLOCK_MONOTONIC of its last packet */
	long long leak_ms;   /* ntpd's leaky-bucket counter, in ms */
};

/* How many packets one probe (one source port) sent to an address. */
struct probe_count {
	uint16_t port;       /* the probe's source port */
	unsigned pkts;       /* datagrams from it */
};

/* Per destination address: its scenario and what happened there. */
struct entry {
	struct in_addr addr;         /* the destination address */
	const struct scenario *sc;   /* what it answers with */
	unsigned long m6, m3, other; /* requests received */
	unsigned long sent, junk;    /* datagrams sent (junk included) */
	bool have_seq;               /* a mode 6 request arrived: */
	uint16_t seq;                /* its sequence (junk must never hit it) */
	/* The last two mode 6 requests, [0] the latest: source port,
	 * sequence, CLOCK_REALTIME ms (0 = none), so a test can tell
	 * independent probes apart. */
	struct { uint16_t port, seq; long long ms; } m6_log[2];
	long long first_ms, last_ms; /* CLOCK_REALTIME; 0 = never */
	unsigned long keyed;         /* of m3: carrying a MAC */
	unsigned long lim_kod, lim_drop; /* --limited: kissed, dropped */
	long long min_gap_ms;        /* smallest gap between two packets
					from one source; -1: none yet */
	struct limit_state lim[LIMIT_SOURCES]; /* --limited, per source */
	struct probe_count probes[PROBE_LOG]; /* the first PROBE_LOG probes */
	unsigned n_probes;           /* probes seen (may exceed PROBE_LOG) */
	bool own_limited;            /* the map line named a --limited mode: */
	enum limited_mode limited;   /* this one, instead of --limited's */
};

enum m3_reply {
	M3_SILENT = 0,
	M3_GOOD,        /* a valid mode 4 reply */
	M3_KOD_RATE,    /* Kiss-o'-Death RATE */
	M3_BAD_ORIGIN,  /* mode 4, origin not echoed */
	M3_JUNK,        /* start a flood instead */
	M3_NTPD,        /* as ntpd: plain answered, keyed checked (--key) */
	M3_PLAIN_ONLY,  /* plain answered, keyed requests never */
};

enum route {
	ROUTE_SAME = 0,   /* from the address and port asked */
	ROUTE_OTHER_PORT, /* from the address asked, another port */
	ROUTE_OTHER_ADDR, /* from port 123 of another local address */
};

struct reply_ctx;
typedef void (*m6_fn)(struct reply_ctx *c);

/* One row of the scenario table (scenarios.c). */
struct scenario {
	const char *name;  /* as in the map file and --default */
	m6_fn m6;          /* NULL: mode 6 stays silent */
	int arg;           /* for the handler (error code, ...) */
	enum m3_reply m3;  /* what mode 3 gets */
	enum route route;  /* where replies come from */
	const char *what;  /* for --list */
};

/* Where and how a reply goes out. */
struct reply_ctx {
	const struct request *rq;  /* what is answered */
	struct entry *e;           /* whose counters move */
	const struct scenario *sc; /* how (route, arg) */
};

/* A mode 6 header; every field settable, defaults echo the request. */
struct m6_out {
	uint8_t b0;          /* LI | VN | mode */
	uint8_t b1;          /* R E M opcode */
	uint16_t sequence;   /* as sent */
	uint16_t status;     /* as sent */
	uint16_t assoc;      /* as sent */
	uint16_t offset;     /* as sent */
	uint16_t count;      /* as sent */
	const uint8_t *data; /* octets written after the header */
	size_t data_len;     /* may differ from count (count_too_big) */
	size_t pad_to;       /* total length at least this (0: pad to 4) */
};

/* The run's options, sockets and totals; defined in main.c. */
struct hostile_run {
	const char *token;         /* --token: what good replies carry */
	unsigned junk;             /* --junk: datagrams per flood */
	struct in_addr other_addr; /* --other-addr: for ROUTE_OTHER_ADDR */
	int fd_main;               /* --listen:--port, IP_PKTINFO */
	int fd_other;              /* --listen:--other-port */
	unsigned long junk_total;  /* junk sent over the run */
	bool stats_dirty;          /* counters changed since the last save */
	enum limited_mode limited; /* --limited */
	long long limited_min_ms;  /* --limited-min: ntpd's discard minimum */
	long long limited_avg_ms;  /* --limited-average: discard average */
	struct ntpauth_key keys[MAX_KEYS]; /* --key ID:TYPE:HEX */
	unsigned n_keys;
};

extern struct hostile_run hr;
extern volatile sig_atomic_t hr_stop; /* set by SIGTERM/SIGINT */

/* packet.c: clocks, randomness, and writing replies byte by byte. */
long long now_ms(clockid_t clk);
void rnd_seed(uint64_t mix);
uint32_t rnd(void);
uint8_t *put16(uint8_t *p, uint16_t v);
uint16_t get16(const uint8_t *p);
void emit_raw(struct reply_ctx *c, const uint8_t *buf, size_t len);
struct m6_out m6_default(const struct reply_ctx *c);
void emit_m6(struct reply_ctx *c, const struct m6_out *o);
void emit_data(struct reply_ctx *c, const char *data, size_t len);
void emit_frags(struct reply_ctx *c, const char *data, size_t len,
		size_t fs, const unsigned *order, size_t n_order);
size_t var_line(const struct reply_ctx *c, char *buf, size_t cap,
		const char *value);
size_t long_reply(const struct reply_ctx *c, char *buf, size_t total);

/* sc_m6.c: mode 6 replies, legal and not. */
void sc_good(struct reply_ctx *c);
void sc_good_quoted(struct reply_ctx *c);
void sc_good_in_list(struct reply_ctx *c);
void sc_token_prefix(struct reply_ctx *c);
void sc_token_suffix(struct reply_ctx *c);
void sc_in_other_var(struct reply_ctx *c);
void sc_in_other_var_q(struct reply_ctx *c);
void sc_quoted_commas(struct reply_ctx *c);
void sc_dup_var(struct reply_ctx *c);
void sc_empty_value(struct reply_ctx *c);
void sc_token_to_source(struct reply_ctx *c);
void sc_no_value(struct reply_ctx *c);
void sc_unterminated(struct reply_ctx *c);
void sc_token_truncated(struct reply_ctx *c);
void sc_different_case(struct reply_ctx *c);
void sc_token_nul(struct reply_ctx *c);
void sc_token_in_padding(struct reply_ctx *c);
void sc_bad_header(struct reply_ctx *c);
void sc_error(struct reply_ctx *c);
void sc_error_with_token(struct reply_ctx *c);

/* A valid data reply with one header field wrong (sc_bad_header's arg). */
enum { BAD_SEQ, BAD_OPCODE, BAD_ASSOC, BAD_MODE, BAD_R, BAD_VERSION,
       BAD_COUNT, BAD_COUNT_HUGE, BAD_SHORT, BAD_OVERSIZED, BAD_MODE4 };

/* sc_frag.c: fragmented replies. */
void sc_frags(struct reply_ctx *c);
void sc_never_ends(struct reply_ctx *c);

/* Fragment orders (sc_frags' arg). All but the last are legal. */
enum { FR_REVERSE, FR_SHUFFLE, FR_DUP, FR_GAP, FR_OVERLAP, FR_DUP_CONFLICT,
       FR_32, FR_33, FR_M_ON_LAST };

/* junk.c: junk datagrams, alone or in paced floods. */
void sc_junk(struct reply_ctx *c);
void sc_junk_then_good(struct reply_ctx *c);
/* Starts a paced flood of hr.junk datagrams; none if MAX_FLOODS run. */
void start_flood(const struct request *rq, struct entry *e);
bool run_floods(void); /* one batch each; true while any runs */

/* sc_m3.c: the mode 3 answer of every scenario. */
/* The valid mode 4 reply to rq (stratum 2, origin = its transmit) into
 * b[0..48): M3_GOOD, and the base of the keyed replies (sc_key.c). */
void m4_good_header(const struct request *rq, uint8_t *b);
void emit_m3(struct reply_ctx *c);

/* sc_key.c: keyed mode 3 (M3_NTPD) and RATE kisses, signed when keyed. */
void emit_m3_ntpd(struct reply_ctx *c);
void emit_kiss(struct reply_ctx *c);
int add_key(const char *spec); /* "ID:TYPE:HEX"; -1, said on stderr */

/* limited.c: --limited, and the per-probe counters. */
enum limited_verdict limited_check(struct entry *e, const struct request *rq);
void count_probe(struct entry *e, const struct request *rq);
/* "off", "drop", "kod" into *out; -1: none of them. */
int limited_parse(const char *mode, enum limited_mode *out);

/* scenarios.c: the table. */
const struct scenario *find_scenario(const char *name); /* NULL: none */
void list_scenarios(FILE *f); /* one "NAME DESCRIPTION" a line */

/* entries.c: the map file, the counters per address, the stats file. */
int load_map(const char *path); /* -1, said on stderr, on a bad line */
void set_default_scenario(const struct scenario *sc);
struct entry *find_entry(struct in_addr a); /* never NULL: the default */
void write_stats(FILE *f);
void save_stats(const char *path); /* atomically; NULL: no file */

/* requests.c: reading and dispatching datagrams. */
void read_some(void); /* up to READ_BURST datagrams, without blocking */

#endif
