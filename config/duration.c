/*
 * duration.c - the value parsers that do not need libconfuse, and the
 * duration formatter that goes with them.
 *
 * Durations, address literals and "addr:port" strings are parsed here so
 * that the prober can use the same rules for its command line (--timeout,
 * --source) without pulling confuse.h in. Every parser is strict: no
 * leading or trailing blanks, no signs, no locale, no surprises such as
 * strtoul's octal "010" or its silent acceptance of " -1".
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Units a duration may carry, longest suffix first so "ms" wins over "m". */
static const struct {
	const char *suffix; /* as written after the number */
	uint64_t ms;        /* milliseconds per unit */
} config_units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
	{ "d", 24 * 60 * 60 * 1000 },
};

#define CONFIG_N_UNITS (sizeof(config_units) / sizeof(config_units[0]))

/*
 * Read the leading decimal digits of `text` into *value. Returns the number
 * of digits consumed (0 if none), or -1 on overflow.
 */
static int config_read_digits(const char *text, uint64_t *value)
{
	uint64_t v = 0;
	int n = 0;

	while (text[n] >= '0' && text[n] <= '9') {
		unsigned digit = (unsigned)(text[n] - '0');

		if (v > (UINT64_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
		n++;
	}
	*value = v;
	return n;
}

int config_parse_duration(const char *text, uint64_t *ms)
{
	uint64_t number;
	int digits;

	if (text == NULL)
		return -1;
	digits = config_read_digits(text, &number);
	if (digits <= 0)
		return -1;
	text += digits;

	/* A bare number is seconds: that is what admins mean by "timeout = 3". */
	if (*text == '\0') {
		if (number > UINT64_MAX / 1000)
			return -1;
		*ms = number * 1000;
		return 0;
	}
	for (size_t i = 0; i < CONFIG_N_UNITS; i++) {
		if (strcmp(text, config_units[i].suffix) != 0)
			continue;
		if (number > UINT64_MAX / config_units[i].ms)
			return -1;
		*ms = number * config_units[i].ms;
		return 0;
	}
	return -1;
}

void config_format_duration(uint64_t ms, char *buf, size_t len)
{
	/* Largest unit that divides exactly, so the text parses back to ms. */
	for (size_t i = CONFIG_N_UNITS; i-- > 1;) {
		if (ms != 0 && ms % config_units[i].ms == 0) {
			snprintf(buf, len, "%llu%s",
				 (unsigned long long)(ms / config_units[i].ms),
				 config_units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%llums", (unsigned long long)ms);
}

int config_parse_address(const char *text, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (text == NULL)
		return -1;
	/* inet_pton takes dotted quads only (no "10.1", no octal), which is
	 * exactly the literal syntax we want to accept. */
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &a4) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = a4;
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a6;
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

int config_parse_listen(const char *text, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_text;
	size_t host_len;
	uint64_t port;
	int digits;

	if (text == NULL)
		return -1;
	if (text[0] == '[') {
		/* "[v6]:port": the brackets keep the port's colon apart. */
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		host_len = (size_t)(close - text - 1);
		if (host_len == 0 || host_len >= sizeof(host))
			return -1;
		memcpy(host, text + 1, host_len);
		host[host_len] = '\0';
		port_text = close + 2;
		if (config_parse_address(host, ss, len) < 0 ||
		    ss->ss_family != AF_INET6)
			return -1;
	} else {
		/* "v4:port": an unbracketed v6 literal is ambiguous and is
		 * refused because inet_pton(AF_INET) will not take it. */
		const char *colon = strchr(text, ':');

		if (colon == NULL)
			return -1;
		host_len = (size_t)(colon - text);
		if (host_len == 0 || host_len >= sizeof(host))
			return -1;
		memcpy(host, text, host_len);
		host[host_len] = '\0';
		port_text = colon + 1;
		if (config_parse_address(host, ss, len) < 0 ||
		    ss->ss_family != AF_INET)
			return -1;
	}

	digits = config_read_digits(port_text, &port);
	if (digits <= 0 || port_text[digits] != '\0' || port < 1 ||
	    port > 65535)
		return -1;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return 0;
}
