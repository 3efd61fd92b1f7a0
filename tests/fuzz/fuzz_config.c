/*
 * fuzz_config.c - the configuration file parser (libconfuse plus our
 * comment blanking, value checks and cross-checks), and the value parsers
 * the command line shares with it.
 *
 * Input: the text of a configuration file. config_load() reads a path, so
 * the input goes into a memfd made once per process and is read back
 * through /proc/self/fd/N. libconfuse's lexer keeps global state between
 * calls; with leak detection on (the libFuzzer default under ASan) any
 * memory a run leaves behind, there or in config.c, fails the run.
 *
 * The same text, NUL-terminated, is also given to config_parse_duration(),
 * config_parse_address() and config_parse_listen().
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz.h"

/* Real files are a few KiB; the 1 MiB limit of config.c is not the point. */
#define FUZZ_CONFIG_MAX_INPUT 8192

/*
 * config.h promises one "file:line: message" per problem, without a
 * trailing newline, and the house style one line per log event. Found by
 * this target: a quoted token, value or key holding a newline is copied
 * into the message as is, so one error spans several lines (reproducers:
 * tests/data/config/fuzz_newline_*.conf; docs/fuzzing.md), since fixed:
 * config_report() escapes control characters. -DFUZZ_CONFIG_ONE_LINE=0
 * turns the check off.
 */
#ifndef FUZZ_CONFIG_ONE_LINE
#define FUZZ_CONFIG_ONE_LINE 1
#endif

static char path[64];  /* /proc/self/fd/N of the memfd */
static int memfd = -1; /* kept for the life of the process */

/* Counts messages and checks their "file:line: message" shape. */
static void on_error(void *arg, const char *message)
{
	unsigned *n = arg;
	size_t plen = strlen(path), len;

	FUZZ_CHECK(message != NULL);
	len = strlen(message);
	FUZZ_CHECK(len > plen + 2);
	FUZZ_CHECK(strncmp(message, path, plen) == 0 && message[plen] == ':');
	if (FUZZ_CONFIG_ONE_LINE)
		FUZZ_CHECK(strpbrk(message, "\r\n") == NULL);
	(*n)++;
}

static bool write_input(const uint8_t *in, size_t size)
{
	if (memfd < 0) {
		memfd = memfd_create("nv-fuzz-config", MFD_CLOEXEC);
		FUZZ_CHECK(memfd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) != 0)
		return false;
	return size == 0 || pwrite(memfd, in, size, 0) == (ssize_t)size;
}

static void check_loaded(const struct nv_config *cfg)
{
	FUZZ_CHECK(cfg->variable != NULL && cfg->variable[0] != '\0');
	FUZZ_CHECK(cfg->n_sources <= CONFIG_MAX_SOURCES);
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct config_source *s = &cfg->sources[i];

		FUZZ_CHECK(memchr(s->text, '\0', sizeof(s->text)) != NULL);
		FUZZ_CHECK(s->family == AF_INET || s->family == AF_INET6);
		FUZZ_CHECK(s->addr.ss_family == s->family);
	}
	FUZZ_CHECK(cfg->retry.n_schedule >= 1 &&
		   cfg->retry.n_schedule <= CONFIG_MAX_SCHEDULE);
	/* The cross-checks config_load() promises to have made. */
	FUZZ_CHECK(cfg->probe.retransmit_ms <= cfg->probe.timeout_ms);
	FUZZ_CHECK(cfg->queue.lease_time_ms > cfg->probe.timeout_ms);
}

static void check_failed(const struct nv_config *cfg)
{
	/* Nothing on the heap, so a caller may simply exit. */
	FUZZ_CHECK(cfg->prober_name == NULL && cfg->database == NULL &&
		   cfg->variable == NULL && cfg->status_socket == NULL &&
		   cfg->status_listen == NULL);
}

static void fuzz_load(const uint8_t *in, size_t size)
{
	struct nv_config cfg;
	unsigned n_errors = 0;
	int rc;

	if (!write_input(in, size))
		return;
	rc = config_load(&cfg, path, on_error, &n_errors);
	FUZZ_CHECK(rc == 0 || rc == -1);
	/* Failure always says why; success says nothing. */
	FUZZ_CHECK((rc == 0) == (n_errors == 0));
	if (rc == 0)
		check_loaded(&cfg);
	else
		check_failed(&cfg);
	config_free(&cfg);
	config_free(&cfg); /* documented as harmless */
	check_failed(&cfg);
}

/* An address parser's result: one of the two families, with its length. */
static bool family_ok(const struct sockaddr_storage *ss, socklen_t len)
{
	return (ss->ss_family == AF_INET && len == sizeof(struct sockaddr_in)) ||
	       (ss->ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
}

static void fuzz_values(const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t ms, again;
	char buf[32];

	if (config_parse_duration(text, &ms) == 0) {
		/* The formatter writes what parses back to the same value. */
		config_format_duration(ms, buf, sizeof(buf));
		FUZZ_CHECK(config_parse_duration(buf, &again) == 0);
		FUZZ_CHECK(again == ms);
	}
	if (config_parse_address(text, &ss, &len) == 0)
		FUZZ_CHECK(family_ok(&ss, len));
	if (config_parse_listen(text, &ss, &len) == 0)
		FUZZ_CHECK(family_ok(&ss, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	char *text;

	if (size > FUZZ_CONFIG_MAX_INPUT)
		return 0;
	fuzz_load(in, size);

	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	if (size > 0)
		memcpy(text, in, size);
	text[size] = '\0';
	fuzz_values(text);
	free(text);
	return 0;
}
