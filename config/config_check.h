/*
 * config_check.h - config/'s private interface between the option table
 * (config.c, the only user of libconfuse) and the value checks
 * (config_check.c, which needs no libconfuse). Not for use outside config/.
 */
#ifndef NTPVERIFY_CONFIG_CHECK_H
#define NTPVERIFY_CONFIG_CHECK_H

#include "config.h"

/* sun_path is 108 bytes including the terminating NUL. */
#define CONFIG_MAX_SOCKET_PATH 107

/* How a key's text is checked and where its value goes. */
enum config_kind {
	CONFIG_KIND_STRING,   /* any text, stored as char * */
	CONFIG_KIND_NAME,     /* [A-Za-z0-9_.-], max chars, stored as char * */
	CONFIG_KIND_PATH,     /* absolute unix socket path, stored as char * */
	CONFIG_KIND_LISTEN,   /* "addr:port" / "[v6]:port", stored as char * */
	CONFIG_KIND_BOOL,     /* true/false yes/no on/off, stored as bool */
	CONFIG_KIND_UINT,     /* decimal in min..max, stored as unsigned */
	CONFIG_KIND_PORT,     /* decimal in min..max, stored as uint16_t */
	CONFIG_KIND_RATE,     /* decimal fraction in (0, max], stored as double */
	CONFIG_KIND_DURATION, /* duration in min..max ms, stored as uint64_t */
	CONFIG_KIND_SOURCES,  /* list of unicast address literals */
	CONFIG_KIND_SCHEDULE, /* list of durations in min..max ms */
	CONFIG_KIND_ALLOW,    /* list of address prefixes "a.b.c.d/n", "v6/n" */
};

/* One configuration key: a row of config_keys[] in config.c. */
struct config_key {
	const char *section;   /* enclosing section, NULL at top level */
	const char *name;      /* the key as written in the file */
	enum config_kind kind; /* how the value is checked and stored */
	const char *def;       /* default in file syntax; NULL = unset */
	uint64_t min;          /* inclusive lower bound (ms for durations) */
	uint64_t max;          /* inclusive upper bound (ms for durations) */
	size_t offset;         /* its field in struct nv_config */
};

/* One parsed value: a scalar or one list element. */
struct config_value {
	uint64_t number;           /* UINT, PORT; milliseconds for durations */
	double rate;               /* RATE */
	bool flag;                 /* BOOL */
	struct config_source src;  /* SOURCES element */
	struct config_prefix prefix; /* ALLOW element */
};

static inline bool config_kind_is_list(enum config_kind kind)
{
	return kind == CONFIG_KIND_SOURCES || kind == CONFIG_KIND_SCHEDULE ||
	       kind == CONFIG_KIND_ALLOW;
}

/* "probe.timeout" or "variable": how messages name a key. */
void config_key_label(const struct config_key *key, char *buf, size_t len);

/*
 * Check one value of `key` (a scalar, or one element of a list). Returns 0
 * with *out filled, or -1 with a message (without "file:line: ") in msg.
 */
int config_check_value(const struct config_key *key, const char *text,
		       struct config_value *out, char *msg, size_t len)
	__attribute__((warn_unused_result));

/* Same address, ports ignored. */
bool config_same_address(const struct sockaddr_storage *a,
			 const struct sockaddr_storage *b);

/*
 * Put a value checked by config_check_value() in its field of *cfg:
 * strings are copied (the old copy freed), list elements appended up to
 * the list's capacity. Returns 0, or -1 if out of memory.
 */
int config_store(struct nv_config *cfg, const struct config_key *key,
		 const char *text, const struct config_value *value)
	__attribute__((warn_unused_result));

#endif
