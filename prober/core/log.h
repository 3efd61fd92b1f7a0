/*
 * log.h - one line per event on stderr, level first.
 *
 * Under systemd stderr goes to the journal; the "<N>" prefix (sd-daemon(3)
 * style) lets journald keep the priority. Tokens and passwords are never
 * passed here.
 */
#ifndef NTPVERIFY_LOG_H
#define NTPVERIFY_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARNING = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Messages above this level are dropped; default info. */
void log_set_level(enum log_level level);
/* Prefix lines with "<N>" for journald (when stderr is the journal). */
void log_set_journal(bool journal);

/*
 * True when stderr is the stream systemd connected to the journal:
 * JOURNAL_STREAM ("DEVICE:INODE", from getenv) names stderr's device and
 * inode. A child whose stderr was redirected to a file inherits the
 * variable, so its presence alone proves nothing.
 */
bool log_stderr_is_journal(const char *journal_stream);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
