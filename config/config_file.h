/*
 * config_file.h - config/'s private reader: the file's bytes, and the
 * comments blanked out before libconfuse sees them. Not for use outside
 * config/; nothing here includes confuse.h.
 */
#ifndef NTPVERIFY_CONFIG_FILE_H
#define NTPVERIFY_CONFIG_FILE_H

#include <stddef.h>

/* Config files are a page or two; refuse to slurp something unexpected. */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)

/*
 * The whole of `path` as a NUL-terminated string the caller frees. Only a
 * regular file is read: a FIFO, device or directory is refused at once
 * rather than waited on. NULL on failure with the reason, without the
 * file name, in msg ("not a regular file", "cannot open: ...").
 */
char *config_file_read(const char *path, char *msg, size_t len)
	__attribute__((warn_unused_result));

/*
 * Blank out comments in place with the lexer rules of libconfuse: '#' or
 * '//' to the end of the line, and C blocks, none of them inside quotes or
 * ${...}. Newlines stay, so libconfuse's line numbers are right. Returns
 * 0, or -1 with *line and msg naming an unclosed block comment or a '{'
 * left open at the end of the file (the text is blanked either way).
 */
int config_blank_comments(char *s, int *line, char *msg, size_t len);

/*
 * The fix for the commonest syntax error: on `line` of text, a value with
 * '=' in it written without quotes (database = host=/run/postgresql ...).
 * Into out[len] as " (quote the value: ...)"; empty when no hint fits.
 */
void config_quote_hint(const char *text, int line, char *out, size_t len);

/*
 * The first line of text that sets `key` ("key =" after blanks), or 0:
 * for a key whose empty list libconfuse gives no line of its own.
 */
int config_key_line(const char *text, const char *key);

#endif
