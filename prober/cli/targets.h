/*
 * targets.h - the targets of `ntpverify check`: the list of --targets,
 * read one bounded line at a time, and resolving a host.
 *
 * One host per line; blank lines and text after '#' are ignored; a line
 * may end in CRLF. A line longer than TARGETS_LINE_MAX octets (its line
 * end not counted), a line with a NUL octet, or a host longer than
 * TARGETS_HOST_MAX is never split or probed: targets_next() reports it
 * as TARGETS_BAD_LINE, with the line number, after reading past it to
 * its newline. So memory stays at one line whatever the input, and a
 * comment can never turn into a target.
 *
 * Only a regular file, a pipe (FIFO) or socket, /dev/null, or a terminal
 * on standard input can be a list: another device such as /dev/zero
 * would be an endless line, and is refused when opening.
 */
#ifndef NTPVERIFY_TARGETS_H
#define NTPVERIFY_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define TARGETS_LINE_MAX 1023 /* longest line, in octets */
#define TARGETS_HOST_MAX 255  /* longest host (a DNS name is at most 253) */

struct targets {
	FILE *f;                      /* the stream; NULL when not open */
	bool owned;                   /* f is ours to fclose (not stdin) */
	const char *name;             /* as given ("-": stdin), for messages */
	unsigned long line;           /* number of the line last read */
	char buf[TARGETS_LINE_MAX + 2]; /* the line: one octet more detects
					 an overlong one, plus the NUL */
};

enum targets_status {
	TARGETS_HOST,     /* the next host is in the caller's buffer */
	TARGETS_BAD_LINE, /* line t->line is skipped; *why says why */
	TARGETS_END,      /* end of the list (or a read error: *why) */
};

/*
 * Open PATH ("-": standard input) as a list. Returns 0, or -1 with a
 * static or strerror() reason in *why (nothing to close then).
 */
int targets_open(struct targets *t, const char *path, const char **why)
	__attribute__((warn_unused_result));

/*
 * The next host, copied NUL-terminated into host[len] (len must exceed
 * TARGETS_HOST_MAX). On TARGETS_BAD_LINE *why names the fault; on
 * TARGETS_END it is NULL, or the read error. Reading a pipe blocks.
 */
enum targets_status targets_next(struct targets *t, char *host, size_t len,
				 const char **why);

/*
 * Resolve HOST (an address literal, or a name: the first address) in
 * FAMILY (AF_UNSPEC: any) and set PORT. Returns 0, or -1 with a static
 * reason in *err.
 */
int targets_resolve(const char *host, int family, uint16_t port,
		    struct sockaddr_storage *ss, socklen_t *len,
		    const char **err) __attribute__((warn_unused_result));

/* Close the list (not stdin). Safe on a list never opened. */
void targets_close(struct targets *t);

#endif
