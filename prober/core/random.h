/*
 * random.h - the program's one source of random octets.
 *
 * Sequence numbers, origin timestamps, hash seeds, tokens and keys all come
 * from here: the kernel's getrandom(2), read 4 KiB at a time into a pool
 * (one system call per probe was a tenth of a busy prober's calls). Each
 * octet is handed out once and wiped from the pool as it goes, so the pool
 * only ever holds octets nobody has seen yet. Single-threaded, like the rest
 * of the program.
 */
#ifndef NTPVERIFY_RANDOM_H
#define NTPVERIFY_RANDOM_H

#include <stddef.h>

/*
 * Fill buf with len random octets. Returns 0, or -1 with errno set when the
 * kernel refused (never a reason to fall back to anything weaker).
 */
int random_bytes(void *buf, size_t len) __attribute__((warn_unused_result));

#endif
