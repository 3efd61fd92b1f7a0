/*
 * targets.c - the targets of `check`: the bounded reader of --targets,
 * and resolving a host. See targets.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli/targets.h"
#include "config/config.h"

/*
 * What can be a list: something that ends (a file) or blocks while empty
 * (a pipe, a socket, a terminal typed into), and /dev/null. Another
 * character device such as /dev/zero may neither end nor block; a
 * directory is no list.
 */
static const char *kind_refused(const struct stat *st, bool is_stdin)
{
	if (S_ISREG(st->st_mode) || S_ISFIFO(st->st_mode) ||
	    S_ISSOCK(st->st_mode))
		return NULL;
	if (S_ISCHR(st->st_mode) && is_stdin && isatty(STDIN_FILENO))
		return NULL;
	/* /dev/null ends at once: an empty list (cron, StandardInput=null). */
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3))
		return NULL;
	if (S_ISDIR(st->st_mode))
		return "is a directory, not a list of hosts";
	return "not a regular file or a pipe";
}

int targets_open(struct targets *t, const char *path, const char **why)
{
	bool is_stdin = strcmp(path, "-") == 0;
	struct stat st;

	memset(t, 0, sizeof(*t));
	t->name = path;
	/* Looked at before opening: opening a device can have effects. */
	if ((is_stdin ? fstat(STDIN_FILENO, &st) : stat(path, &st)) < 0) {
		*why = strerror(errno);
		return -1;
	}
	if ((*why = kind_refused(&st, is_stdin)) != NULL)
		return -1;
	if (is_stdin) {
		t->f = stdin;
		return 0;
	}
	/* A FIFO blocks here until a writer comes: that is fine. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	/* And again on what was opened, in case the path changed meanwhile. */
	if (fstat(fd, &st) < 0 || (*why = kind_refused(&st, false)) != NULL) {
		if (*why == NULL)
			*why = strerror(errno);
		close(fd);
		return -1;
	}
	t->f = fdopen(fd, "r");
	if (t->f == NULL) {
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	t->owned = true;
	return 0;
}

/*
 * Read one line into t->buf, at most TARGETS_LINE_MAX + 1 octets of it
 * kept, the rest read and dropped up to the newline. Returns the octets
 * kept (the line end excluded), or -1 at the end with nothing read;
 * *nul says a NUL octet was seen, *over that octets were dropped.
 */
static long read_line(struct targets *t, bool *nul, bool *over)
{
	size_t n = 0;
	bool any = false;
	int c;

	*nul = *over = false;
	while ((c = getc_unlocked(t->f)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (c == '\0')
			*nul = true;
		if (n < TARGETS_LINE_MAX + 1)
			t->buf[n++] = (char)c;
		else
			*over = true;
	}
	if (!any)
		return -1;
	if (c == '\n' && n > 0 && t->buf[n - 1] == '\r' && !*over)
		n--; /* CRLF */
	t->buf[n] = '\0';
	return (long)n;
}

enum targets_status targets_next(struct targets *t, char *host, size_t len,
				 const char **why)
{
	bool nul, over;
	long n;

	*why = NULL;
	while (t->f != NULL && (n = read_line(t, &nul, &over)) >= 0) {
		t->line++;
		if (over || n > TARGETS_LINE_MAX) {
			*why = "line longer than 1023 octets (skipped)";
			return TARGETS_BAD_LINE;
		}
		if (nul) {
			*why = "line contains a NUL octet (skipped)";
			return TARGETS_BAD_LINE;
		}
		char *p = t->buf + strspn(t->buf, " \t\r");
		size_t hl = strcspn(p, " \t\r#");
		if (hl == 0)
			continue; /* blank, or a comment */
		if (hl > TARGETS_HOST_MAX || hl >= len) {
			*why = "host longer than 255 octets (skipped)";
			return TARGETS_BAD_LINE;
		}
		memcpy(host, p, hl);
		host[hl] = '\0';
		return TARGETS_HOST;
	}
	if (t->f != NULL && ferror(t->f))
		*why = strerror(errno);
	return TARGETS_END;
}

void targets_close(struct targets *t)
{
	if (t->owned && t->f != NULL)
		fclose(t->f);
	t->f = NULL;
	t->owned = false;
}

/*
 * Literals take the fast path: a list of 100,000 addresses never touches
 * the resolver.
 */
int targets_resolve(const char *host, int family, uint16_t port,
		    struct sockaddr_storage *ss, socklen_t *len,
		    const char **err)
{
	if (config_parse_address(host, ss, len) < 0) {
		struct addrinfo hints = { .ai_family = family,
					  .ai_socktype = SOCK_DGRAM };
		struct addrinfo *res;
		int rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc != 0) {
			*err = gai_strerror(rc);
			return -1;
		}
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		freeaddrinfo(res);
	}
	if (family != AF_UNSPEC && ss->ss_family != family) {
		*err = "address family differs from --source";
		return -1;
	}
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return 0;
}
