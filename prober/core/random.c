#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "random.h"

#define RANDOM_POOL_SIZE 4096

static uint8_t pool[RANDOM_POOL_SIZE];
static size_t left; /* unused octets at the end of pool */

static int refill(void)
{
	size_t got = 0;

	while (got < sizeof(pool)) {
		ssize_t n = getrandom(pool + got, sizeof(pool) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	left = sizeof(pool);
	return 0;
}

int random_bytes(void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len > 0) {
		if (left == 0 && refill() < 0)
			return -1;
		size_t n = len < left ? len : left;
		uint8_t *src = pool + sizeof(pool) - left;
		memcpy(out, src, n);
		memset(src, 0, n);
		out += n;
		len -= n;
		left -= n;
	}
	return 0;
}
