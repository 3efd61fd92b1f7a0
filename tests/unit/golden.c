/* golden.c - golden files for unit tests (golden.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"

static void golden_path(const char *name, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s", NV_TEST_DATA, name);

	assert_true(n > 0 && (size_t)n < len);
}

char *golden_read(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	golden_path(name, path, sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

bool golden_updating(void)
{
	const char *v = getenv("NV_UPDATE_GOLDEN");

	return v != NULL && strcmp(v, "1") == 0;
}

void golden_write(const char *name, const char *data, size_t len)
{
	char path[512];
	FILE *f;

	golden_path(name, path, sizeof(path));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}
