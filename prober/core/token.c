#include <string.h>

#include "core/token.h"

static bool all_of(const char *s, const char *extra)
{
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return false;
	}
	return true;
}

bool token_valid(const char *token)
{
	size_t n = strlen(token);

	return n >= TOKEN_MIN_LEN && n <= TOKEN_MAX_LEN && all_of(token, "_-");
}

bool variable_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 64 && all_of(name, "_.-");
}
