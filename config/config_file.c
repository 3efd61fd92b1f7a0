/*
 * config_file.c - reading the configuration file, and blanking its
 * comments before libconfuse sees the text.
 */
#include "config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Open without blocking: open(2) on a FIFO with no writer would wait
 * forever (and `check-config` with it), as would reading a terminal. The
 * descriptor that was checked is the one that is read, so the file cannot
 * be swapped in between.
 */
static int config_file_open(const char *path, char *msg, size_t len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(msg, len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(msg, len, "cannot open: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, len, "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size > CONFIG_MAX_FILE_BYTES) {
		snprintf(msg, len, "larger than %d bytes; is this the "
			 "configuration file?", CONFIG_MAX_FILE_BYTES);
		close(fd);
		return -1;
	}
	return fd;
}

/* Read fd to the end, at most CONFIG_MAX_FILE_BYTES; NULL with msg on failure. */
static char *config_file_slurp(int fd, size_t *out_len, char *msg, size_t len)
{
	size_t used = 0, cap = 4096;
	char *buf = malloc(cap + 1), *grown;

	if (buf == NULL)
		goto oom;
	for (;;) {
		ssize_t got = read(fd, buf + used, cap - used);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(msg, len, "read error: %s", strerror(errno));
			free(buf);
			return NULL;
		}
		if (got == 0)
			break;
		used += (size_t)got;
		/* The file may have grown since fstat. */
		if (used > CONFIG_MAX_FILE_BYTES) {
			snprintf(msg, len, "larger than %d bytes; is this the "
				 "configuration file?", CONFIG_MAX_FILE_BYTES);
			free(buf);
			return NULL;
		}
		if (used == cap) {
			cap *= 2;
			grown = realloc(buf, cap + 1);
			if (grown == NULL)
				goto oom;
			buf = grown;
		}
	}
	buf[used] = '\0';
	*out_len = used;
	return buf;
oom:
	free(buf);
	snprintf(msg, len, "out of memory");
	return NULL;
}

char *config_file_read(const char *path, char *msg, size_t len)
{
	size_t n = 0;
	int fd = config_file_open(path, msg, len);

	if (fd < 0)
		return NULL;
	char *buf = config_file_slurp(fd, &n, msg, len);
	close(fd);
	/* libconfuse takes a C string: a NUL would silently end the file. */
	if (buf != NULL && memchr(buf, '\0', n) != NULL) {
		snprintf(msg, len, "contains a NUL byte; is this the "
			 "configuration file?");
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * Comments are blanked because libconfuse 3.3 counts an extra line for
 * every comment (config.c says more). Braces are counted on the way: libconfuse 3.3 takes a section that is
 * still open at the end of the file without a word, which would hide a
 * lost '}' and whatever the admin meant to write after it.
 */
int config_blank_comments(char *s, int *line_out, char *msg, size_t len)
{
	enum { CODE, DQUOTE, SQUOTE, ENV, LINE, BLOCK } state = CODE;
	int line = 1, block_line = 0, open_line = 0, depth = 0;

	for (char *p = s; *p != '\0'; p++) {
		if (*p == '\n')
			line++;
		switch (state) {
		case CODE:
			if (*p == '"') {
				state = DQUOTE;
			} else if (*p == '\'') {
				state = SQUOTE;
			} else if (p[0] == '$' && p[1] == '{') {
				state = ENV;
			} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
				state = LINE;
				*p = ' ';
			} else if (p[0] == '/' && p[1] == '*') {
				state = BLOCK;
				block_line = line;
				p[0] = ' ';
				p[1] = ' ';
				p++;
			} else if (*p == '{') {
				if (depth++ == 0)
					open_line = line;
			} else if (*p == '}' && depth > 0) {
				depth--; /* a stray '}' is libconfuse's to report */
			}
			break;
		case DQUOTE:
		case SQUOTE:
			if (p[0] == '\\' && p[1] != '\0') {
				p++; /* the escaped character, maybe a newline */
				if (*p == '\n')
					line++;
			} else if (*p == (state == DQUOTE ? '"' : '\'')) {
				state = CODE;
			}
			break;
		case ENV:
			if (*p == '}')
				state = CODE;
			break;
		case LINE:
			if (*p == '\n')
				state = CODE;
			else
				*p = ' ';
			break;
		case BLOCK:
			if (p[0] == '*' && p[1] == '/') {
				p[0] = ' ';
				p[1] = ' ';
				p++;
				state = CODE;
			} else if (*p != '\n') {
				*p = ' ';
			}
			break;
		}
	}
	if (state == BLOCK) {
		*line_out = block_line;
		snprintf(msg, len, "comment is not closed (no */)");
		return -1;
	}
	if (depth > 0) {
		*line_out = open_line;
		snprintf(msg, len, "'{' is not closed (no '}')");
		return -1;
	}
	return 0;
}

/*
 * The fix for the commonest syntax error: on `line`, a value with '=' in
 * it written without quotes (database = host=/run/postgresql ...). Into
 * out (empty: no hint).
 */
void config_quote_hint(const char *text, int line, char *out,
			      size_t len)
{
	const char *p = text, *key, *eq;
	size_t key_len, val_len;

	out[0] = '\0';
	for (int l = 1; p != NULL && l < line; l++) {
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	if (p == NULL || line <= 0)
		return;
	key = p + strspn(p, " \t");
	key_len = strspn(key, "abcdefghijklmnopqrstuvwxyz_");
	eq = key + key_len + strspn(key + key_len, " \t");
	if (key_len == 0 || *eq != '=')
		return;
	eq += 1 + strspn(eq + 1, " \t");
	if (*eq == '"' || *eq == '\'' || *eq == '{')
		return;
	val_len = strcspn(eq, "\r\n#");
	while (val_len > 0 && (eq[val_len - 1] == ' ' || eq[val_len - 1] == '\t'))
		val_len--;
	snprintf(out, len, " (quote the value: %.*s = \"%.*s\")",
		 (int)key_len, key, (int)val_len, eq);
}

int config_key_line(const char *text, const char *key)
{
	size_t n = strlen(key);
	int line = 1;

	for (const char *p = text; p != NULL; line++) {
		const char *k = p + strspn(p, " \t");

		if (strncmp(k, key, n) == 0 && k[n + strspn(k + n, " \t")] == '=')
			return line;
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	return 0;
}
