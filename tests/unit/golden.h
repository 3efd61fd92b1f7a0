/*
 * golden.h - golden files for unit tests, in tests/data/.
 *
 * A test renders its output into memory and compares it with a file kept
 * in the repository; with NV_UPDATE_GOLDEN=1 in the environment it writes
 * its output over the file instead (for a deliberate change: review the
 * diff before committing it).
 */
#ifndef NV_TEST_GOLDEN_H
#define NV_TEST_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>

/* The whole file NV_TEST_DATA "/" name, NUL-terminated; the caller frees.
 * Fails the test if it cannot be read. */
char *golden_read(const char *name, size_t *len);

/* NV_UPDATE_GOLDEN is set: golden_write() should replace the file. */
bool golden_updating(void);

/* Write data[0..len) over NV_TEST_DATA "/" name; fails the test on error. */
void golden_write(const char *name, const char *data, size_t len);

#endif
