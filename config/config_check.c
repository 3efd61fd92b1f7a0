/*
 * config_check.c - checking one configuration value and storing it in
 * struct nv_config. No libconfuse here: config.c hands over plain strings.
 */
#include "config_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void config_key_label(const struct config_key *key, char *buf,
			     size_t len)
{
	if (key->section != NULL)
		snprintf(buf, len, "%s.%s", key->section, key->name);
	else
		snprintf(buf, len, "%s", key->name);
}

/* Strict decimal: digits only, no sign or blanks. */
static int config_parse_uint(const char *text, uint64_t *value)
{
	uint64_t v = 0;

	if (*text == '\0')
		return -1;
	for (; *text != '\0'; text++) {
		unsigned digit;

		if (*text < '0' || *text > '9')
			return -1;
		digit = (unsigned)(*text - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	*value = v;
	return 0;
}

/* "50", "0.5", "12.25": no sign, exponent, inf or nan, and no locale. */
static int config_parse_rate(const char *text, double *value)
{
	const char *dot = strchr(text, '.');
	uint64_t whole = 0;
	double frac = 0, scale = 1;

	if (dot == text || text[0] == '\0')
		return -1;
	for (const char *p = text; p != dot && *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || whole > UINT64_MAX / 10 - 1)
			return -1;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (dot != NULL) {
		if (dot[1] == '\0')
			return -1;
		for (const char *p = dot + 1; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			scale /= 10;
			frac += scale * (*p - '0');
		}
	}
	*value = (double)whole + frac;
	return 0;
}

static int config_parse_bool(const char *text, bool *value)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value = false;
			return 0;
		}
	}
	return -1;
}

static bool config_is_name(const char *text, size_t max)
{
	size_t len = strlen(text);

	if (len == 0 || len > max)
		return false;
	return strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz"
			    "0123456789_.-") == len;
}

/* A source address must be one the prober can send from and publish. */
static bool config_is_unicast(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);

		return a != 0 && !IN_MULTICAST(a) && a != INADDR_BROADCAST;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	return !IN6_IS_ADDR_UNSPECIFIED(a6) && !IN6_IS_ADDR_MULTICAST(a6);
}

/*
 * Check a duration against key's range. Shared by DURATION keys and
 * SCHEDULE elements.
 */
static int config_check_duration(const struct config_key *key,
				 const char *label, const char *text,
				 struct config_value *out, char *msg,
				 size_t len)
{
	char lo[32], hi[32];

	if (config_parse_duration(text, &out->number) < 0) {
		snprintf(msg, len, "%s: '%.64s' is not a duration (a whole "
			 "number with unit ms, s, m, h or d, e.g. 3s)",
			 label, text);
		return -1;
	}
	if (out->number < key->min || out->number > key->max) {
		config_format_duration(key->min, lo, sizeof(lo));
		config_format_duration(key->max, hi, sizeof(hi));
		snprintf(msg, len, "%s: '%.64s' is out of range (%s..%s)",
			 label, text, lo, hi);
		return -1;
	}
	return 0;
}

static int config_check_path(const struct config_key *key, const char *label,
			     const char *text, char *msg, size_t len)
{
	if (text[0] != '/') {
		snprintf(msg, len, "%s: '%.64s' is not an absolute path",
			 label, text);
		return -1;
	}
	if (strlen(text) > key->max) {
		snprintf(msg, len, "%s: path is %zu bytes long; a unix "
			 "socket path holds at most %llu", label,
			 strlen(text), (unsigned long long)key->max);
		return -1;
	}
	return 0;
}

static int config_check_uint(const struct config_key *key, const char *label,
			     const char *text, struct config_value *out,
			     char *msg, size_t len)
{
	if (config_parse_uint(text, &out->number) < 0) {
		snprintf(msg, len, "%s: '%.64s' is not a whole number",
			 label, text);
		return -1;
	}
	if (out->number < key->min || out->number > key->max) {
		snprintf(msg, len, "%s: '%.64s' is out of range "
			 "(%llu..%llu)", label, text,
			 (unsigned long long)key->min,
			 (unsigned long long)key->max);
		return -1;
	}
	return 0;
}

static int config_check_rate(const struct config_key *key, const char *label,
			     const char *text, struct config_value *out,
			     char *msg, size_t len)
{
	if (config_parse_rate(text, &out->rate) < 0) {
		snprintf(msg, len, "%s: '%.64s' is not a number (e.g. "
			 "50 or 0.5)", label, text);
		return -1;
	}
	if (!(out->rate > 0) || out->rate > (double)key->max) {
		snprintf(msg, len, "%s: '%.64s' is out of range (above "
			 "0, at most %llu)", label, text,
			 (unsigned long long)key->max);
		return -1;
	}
	return 0;
}

static int config_check_source(const char *label, const char *text,
			       struct config_value *out, char *msg, size_t len)
{
	if (config_parse_address(text, &out->src.addr,
				 &out->src.addrlen) < 0) {
		snprintf(msg, len, "%s: '%.64s' is not an IPv4 or IPv6 "
			 "address", label, text);
		return -1;
	}
	if (!config_is_unicast(&out->src.addr)) {
		snprintf(msg, len, "%s: '%.64s' is not a unicast address",
			 label, text);
		return -1;
	}
	/* inet_pton accepted it, so it is at most 45 characters. */
	snprintf(out->src.text, sizeof(out->src.text), "%s", text);
	out->src.family = out->src.addr.ss_family;
	return 0;
}

/* "10.0.0.0/8", "2001:db8::/32", or an address alone (all its bits). */
static int config_check_prefix(const char *label, const char *text,
			       struct config_value *out, char *msg, size_t len)
{
	struct config_prefix *p = &out->prefix;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t n = slash != NULL ? (size_t)(slash - text) : strlen(text);
	uint64_t bits = 0;
	unsigned max;

	if (n >= sizeof(addr) ||
	    (memcpy(addr, text, n), addr[n] = '\0',
	     config_parse_address(addr, &ss, &sslen) < 0) ||
	    (slash != NULL && config_parse_uint(slash + 1, &bits) < 0)) {
		snprintf(msg, len, "%s: '%.64s' is not an address or "
			 "ADDRESS/LENGTH", label, text);
		return -1;
	}
	p->family = ss.ss_family;
	max = p->family == AF_INET ? 32 : 128;
	if (p->family == AF_INET)
		memcpy(p->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(p->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	p->bits = slash != NULL ? (unsigned)(bits > max ? max + 1 : bits) : max;
	if (p->bits > max) {
		snprintf(msg, len, "%s: '%.64s': the prefix length must be "
			 "0..%u", label, text, max);
		return -1;
	}
	/* "10.1.2.3/8" is a typo more often than a wish for 10/8. */
	for (unsigned b = p->bits; b < max; b++)
		if (p->addr[b / 8] & (0x80u >> (b % 8))) {
			snprintf(msg, len, "%s: '%.64s' has bits set past the "
				 "prefix length", label, text);
			return -1;
		}
	snprintf(p->text, sizeof(p->text), "%s", text);
	return 0;
}

int config_check_value(const struct config_key *key, const char *text,
			      struct config_value *out, char *msg, size_t len)
{
	char label[64];
	socklen_t sslen;

	memset(out, 0, sizeof(*out));
	config_key_label(key, label, sizeof(label));
	switch (key->kind) {
	case CONFIG_KIND_STRING:
		return 0;
	case CONFIG_KIND_NAME:
		if (config_is_name(text, key->max))
			return 0;
		snprintf(msg, len, "%s: '%.64s' must be 1 to %llu characters "
			 "from A-Z a-z 0-9 _ . -", label, text,
			 (unsigned long long)key->max);
		return -1;
	case CONFIG_KIND_PATH:
		return config_check_path(key, label, text, msg, len);
	case CONFIG_KIND_LISTEN:
		if (config_parse_listen(text, &out->src.addr, &sslen) == 0)
			return 0;
		snprintf(msg, len, "%s: '%.64s' is not ADDRESS:PORT or "
			 "[IPV6-ADDRESS]:PORT", label, text);
		return -1;
	case CONFIG_KIND_BOOL:
		if (config_parse_bool(text, &out->flag) == 0)
			return 0;
		snprintf(msg, len, "%s: '%.64s' is not true or false", label,
			 text);
		return -1;
	case CONFIG_KIND_UINT:
	case CONFIG_KIND_PORT:
		return config_check_uint(key, label, text, out, msg, len);
	case CONFIG_KIND_RATE:
		return config_check_rate(key, label, text, out, msg, len);
	case CONFIG_KIND_DURATION:
	case CONFIG_KIND_SCHEDULE:
		return config_check_duration(key, label, text, out, msg, len);
	case CONFIG_KIND_SOURCES:
		return config_check_source(label, text, out, msg, len);
	case CONFIG_KIND_ALLOW:
		return config_check_prefix(label, text, out, msg, len);
	}
	snprintf(msg, len, "%s: internal error: unknown kind", label);
	return -1;
}

bool config_same_address(const struct sockaddr_storage *a,
				const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

int config_store(struct nv_config *cfg, const struct config_key *key,
			const char *text, const struct config_value *value)
{
	void *field = (char *)cfg + key->offset;

	switch (key->kind) {
	case CONFIG_KIND_STRING:
	case CONFIG_KIND_NAME:
	case CONFIG_KIND_PATH:
	case CONFIG_KIND_LISTEN: {
		char *copy = strdup(text);

		if (copy == NULL)
			return -1;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case CONFIG_KIND_BOOL:
		*(bool *)field = value->flag;
		return 0;
	case CONFIG_KIND_UINT:
		*(unsigned *)field = (unsigned)value->number;
		return 0;
	case CONFIG_KIND_PORT:
		*(uint16_t *)field = (uint16_t)value->number;
		return 0;
	case CONFIG_KIND_RATE:
		*(double *)field = value->rate;
		return 0;
	case CONFIG_KIND_DURATION:
		*(uint64_t *)field = value->number;
		return 0;
	case CONFIG_KIND_SOURCES:
		if (cfg->n_sources < CONFIG_MAX_SOURCES)
			cfg->sources[cfg->n_sources++] = value->src;
		return 0;
	case CONFIG_KIND_ALLOW:
		if (cfg->n_status_allow < CONFIG_MAX_ALLOW)
			cfg->status_allow[cfg->n_status_allow++] = value->prefix;
		return 0;
	case CONFIG_KIND_SCHEDULE:
		if (cfg->retry.n_schedule < CONFIG_MAX_SCHEDULE)
			cfg->retry.schedule_ms[cfg->retry.n_schedule++] =
				value->number;
		return 0;
	}
	return -1;
}

