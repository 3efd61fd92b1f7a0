/*
 * config.h - ntpverify's configuration as one plain struct.
 *
 * The file is parsed with libconfuse (config.c is the only file that
 * includes confuse.h); every value is range-checked while parsing and each
 * problem is reported as "file:line: message". All errors are collected
 * before giving up, so an admin fixes them in one pass.
 *
 * Values may be written unquoted when they hold no blanks and none of
 * # = + , * " ' { } ( ) (3s, 2001:db8::10, /run/x.sock); quote the rest.
 * Comments: '#' or '//' to the end of the line, or C-style blocks.
 *
 * Example (dist/ntpverify.conf is the commented version):
 *
 *     prober_name = "prober-fra1"
 *     database = "host=/run/postgresql dbname=ntpverify"
 *     source_addresses = { "192.0.2.10", "2001:db8::10" }
 *     probe { timeout = 5s  retransmit = 2s  max_in_flight = 256 }
 *     rate_limit { global_pps = 100  per_destination_interval = 30s }
 *     retry { schedule = { 1m, 2m, 5m, 15m, 1h, 3h, 6h }  expiry = 72h }
 */
#ifndef NTPVERIFY_CONFIG_H
#define NTPVERIFY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_MAX_SOURCES 16
#define CONFIG_MAX_SCHEDULE 32
#define CONFIG_MAX_ALLOW 32

/* An address prefix of status_allow: "10.0.0.0/8", "::1" (= ::1/128). */
struct config_prefix {
	char text[64];           /* as written */
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];  /* network byte order; IPv4 uses 4 bytes */
	unsigned bits;           /* prefix length, 0..32 or 0..128 */
};

/* A published prober address, as written and as parsed. */
struct config_source {
	char text[64];                /* the literal, e.g. "2001:db8::10" */
	struct sockaddr_storage addr; /* port 0 */
	socklen_t addrlen;            /* sizeof sockaddr_in or sockaddr_in6 */
	int family;                   /* AF_INET or AF_INET6 */
};

/* Durations are kept in milliseconds everywhere. */
struct nv_config {
	char *prober_name;       /* names this prober in the database; required for run */
	char *perspective;       /* the site this prober probes from; probers of one
				    perspective share its work; default "default" */
	char *region;            /* the perspective's region (e.g. an RIR); default "default" */
	char *database;          /* libpq conninfo string; may be empty */
	struct config_source sources[CONFIG_MAX_SOURCES]; /* published addresses */
	size_t n_sources;        /* entries used in sources[]; 0 = none configured */
	char *variable;          /* READVAR name, default "ntppool_verify" */
	uint16_t ntp_port;       /* default 123 */
	bool allow_private_targets; /* default false: refuse private/reserved */
	char *status_socket;     /* unix socket path; default /run/ntpverify/status.sock */
	char *status_listen;     /* "addr:port" / "[v6]:port" or NULL for none */
	unsigned status_max_clients; /* status connections per listener at once; default 256 */
	struct config_prefix status_allow[CONFIG_MAX_ALLOW]; /* TCP status clients served */
	size_t n_status_allow;   /* entries used; default 127.0.0.0/8 and ::1 */

	struct {
		uint64_t timeout_ms;    /* give up on one attempt; default 5s */
		uint64_t retransmit_ms; /* pacing gap and resend interval; default 2s */
		unsigned max_in_flight; /* probes at once; default 256 */
	} probe;

	struct {
		double global_pps;      /* packets per second, all destinations; default 50 */
		unsigned global_burst;  /* token-bucket depth; default 10 */
		uint64_t per_destination_interval_ms; /* min gap between attempts to one address; default 30s */
		unsigned per_destination_daily_packets; /* per address per 24h; default 30 */
		uint64_t kod_holdoff_ms; /* after a RATE kiss, leave the address alone; default 1h */
		unsigned max_destinations; /* limiter table entries (addresses and IPv6 prefixes); default 300000 */
		unsigned ipv6_prefix_length; /* IPv6 addresses in one prefix share a budget; 128 = off; default 64 */
		unsigned per_prefix_daily_packets; /* per IPv6 prefix per 24h; default 300 */
		uint64_t per_prefix_interval_ms; /* min gap between attempts into one IPv6 prefix; 0 = none; default 10s */
	} rate_limit;

	struct {
		uint64_t schedule_ms[CONFIG_MAX_SCHEDULE]; /* backoff; the last repeats */
		size_t n_schedule;      /* default 1m 2m 5m 15m 1h 3h 6h */
		uint64_t expiry_ms;     /* pending -> expired after this; default 72h */
	} retry;

	struct {
		unsigned lease_batch;   /* rows leased per query; default 50 */
		uint64_t lease_time_ms; /* lease length; default 2m */
		uint64_t poll_interval_ms; /* scan even without NOTIFY; default 10s */
		uint64_t reconnect_max_ms; /* cap of the reconnect backoff; default 30s */
		unsigned max_unwritten; /* results kept while the database is away; default 10000 */
		uint64_t lock_timeout_ms; /* the prober's session lock_timeout, 0 = none; default 5s */
	} queue;
};

/*
 * Called once per problem with a complete "file:line: message" (or
 * "file: message" when no line applies), without a trailing newline.
 */
typedef void (*config_error_fn)(void *arg, const char *message);

/*
 * Set every field to its default (heap strings included: free them with
 * config_free()). Whatever *cfg held before is overwritten, not freed.
 */
void config_defaults(struct nv_config *cfg);

/*
 * Parse `path` into *cfg. Every error goes to `err` (stderr when NULL), all
 * of them before giving up; libconfuse syntax errors (unknown key, missing
 * brace, ...) stop its parser, so errors after such a line go unreported.
 * Returns 0 on success: the caller owns *cfg and frees it with
 * config_free(). Returns -1 with *cfg holding the numeric defaults and no
 * heap memory (strings NULL), so a caller may simply exit; config_free() on
 * it is harmless. Whatever *cfg held before is overwritten, not freed.
 *
 * Not thread-safe: libconfuse's lexer keeps global state. Load the
 * configuration from one thread.
 */
int config_load(struct nv_config *cfg, const char *path, config_error_fn err,
		void *arg) __attribute__((warn_unused_result));

/*
 * Free the heap strings in *cfg and set them to NULL (so a second call is
 * harmless); the struct itself belongs to the caller.
 */
void config_free(struct nv_config *cfg);

/*
 * Parse a duration with a unit: "500ms", "2s", "5m", "72h", "1d"; a bare
 * number is seconds. Returns 0 and sets *ms, or -1 on syntax error or
 * overflow.
 */
int config_parse_duration(const char *text, uint64_t *ms)
	__attribute__((warn_unused_result));

/*
 * Write `ms` with the largest unit that divides it exactly ("90s" -> "90s",
 * 60000 -> "1m", 1500 -> "1500ms"), so the text parses back to the same
 * value. Truncated to `len` like snprintf.
 */
void config_format_duration(uint64_t ms, char *buf, size_t len);

/*
 * Parse an IPv4 or IPv6 literal (no port, no brackets, no scope) into *ss.
 * Returns 0, or -1 if it is not an address literal.
 */
int config_parse_address(const char *text, struct sockaddr_storage *ss,
			 socklen_t *len) __attribute__((warn_unused_result));

/*
 * Parse "192.0.2.1:8080" or "[2001:db8::1]:8080" (port 1..65535; no host
 * names, no unbracketed IPv6) into *ss with the port set, as used by
 * status_listen. Returns 0, or -1 if the text has another form.
 */
int config_parse_listen(const char *text, struct sockaddr_storage *ss,
			socklen_t *len) __attribute__((warn_unused_result));

#endif
