#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static enum log_level max_level = LOG_LVL_INFO;
static bool journal;

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_set_journal(bool on)
{
	journal = on;
}

bool log_stderr_is_journal(const char *journal_stream)
{
	uintmax_t dev, ino;
	char end;
	struct stat st;

	/* "DEVICE:INODE" of the stream systemd connected to the journal. */
	if (journal_stream == NULL ||
	    sscanf(journal_stream, "%ju:%ju%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LVL_ERR:
		return "error";
	case LOG_LVL_WARNING:
		return "warning";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_DEBUG:
	default:
		return "debug";
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/*
	 * One line per event, whatever the text: libpq's messages carry
	 * newlines and tabs, and nothing raw may reach the journal.
	 */
	for (char *c = line; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (u == '\n' || u == '\r' || u == '\t')
			*c = ' ';
		else if (u < 0x20 || u == 0x7f)
			*c = '?';
	}
	if (journal)
		fprintf(stderr, "<%d>%s: %s\n", (int)level, level_name(level), line);
	else
		fprintf(stderr, "%s: %s\n", level_name(level), line);
}
