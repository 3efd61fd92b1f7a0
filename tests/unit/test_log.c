/*
 * test_log.c - log lines: one line each, level first, and the journald
 * "<N>" prefix only when stderr really is the journal's stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* Point stderr at a fresh temporary file; returns its stream. */
static FILE *capture_stderr(void)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	fflush(stderr);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	return f;
}

static void read_back(FILE *f, char *buf, size_t len)
{
	size_t n;

	fflush(stderr);
	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
}

static void test_journal_stream_must_be_stderr(void **state)
{
	char v[64];
	struct stat st;
	FILE *f = capture_stderr();

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino);
	assert_true(log_stderr_is_journal(v));

	/* Inherited from a parent whose stderr was the journal: not ours. */
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino + 1);
	assert_false(log_stderr_is_journal(v));
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev + 1,
		 (uintmax_t)st.st_ino);
	assert_false(log_stderr_is_journal(v));
	assert_false(log_stderr_is_journal(NULL));
	assert_false(log_stderr_is_journal(""));
	assert_false(log_stderr_is_journal("12"));
	assert_false(log_stderr_is_journal("12:34x"));
	assert_false(log_stderr_is_journal("x:34"));
	fclose(f);
}

static void test_lines(void **state)
{
	char buf[512];
	FILE *f = capture_stderr();

	(void)state;
	log_set_journal(false);
	log_info("two\nlines\tand a bell \a here");
	log_set_journal(true);
	log_warn("to the journal");
	log_set_journal(false);
	read_back(f, buf, sizeof(buf));
	assert_string_equal(buf, "info: two lines and a bell ? here\n"
				 "<4>warning: to the journal\n");
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_stream_must_be_stderr),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
