/*
 * fuzz.h - what every libFuzzer target in tests/fuzz shares.
 *
 * A target checks the invariants its parser promises in its header and
 * stops with __builtin_trap() on the first broken one, after naming it:
 * libFuzzer then saves the input as a crash artifact and the sanitizers
 * print the stack.
 */
#ifndef NV_FUZZ_H
#define NV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* libFuzzer's entry point; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",    \
				__FILE__, __LINE__, #cond);                \
			__builtin_trap();                                  \
		}                                                          \
	} while (0)

/* True if [p, p + n) lies inside [base, base + len). */
static inline int fuzz_inside(const void *p, size_t n, const void *base,
			      size_t len)
{
	const uint8_t *q = p, *b = base;

	return q >= b && (size_t)(q - b) <= len && n <= len - (size_t)(q - b);
}

#endif
