/*
 * timefmt.c - human time and duration text (see timefmt.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli/timefmt.h"

/* n decimal digits at s. */
static int digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int timefmt_is_rfc3339(const char *t)
{
	size_t n;

	/* "YYYY-MM-DDTHH:MM:SS" is 19 characters, then [.fff]Z. */
	if (t == NULL || strlen(t) < 20 || !digits(t, 4) || t[4] != '-' ||
	    !digits(t + 5, 2) || t[7] != '-' || !digits(t + 8, 2) ||
	    t[10] != 'T' || !digits(t + 11, 2) || t[13] != ':' ||
	    !digits(t + 14, 2) || t[16] != ':' || !digits(t + 17, 2))
		return 0;
	t += 19;
	if (*t == '.') {
		n = strspn(t + 1, "0123456789");
		if (n == 0)
			return 0;
		t += 1 + n;
	}
	return strcmp(t, "Z") == 0;
}

const char *timefmt_human(const char *t, char *out, size_t len)
{
	if (len == 0)
		return out;
	if (!timefmt_is_rfc3339(t)) {
		snprintf(out, len, "%s", t != NULL ? t : "-");
		return out;
	}
	/* Whole seconds: the fraction is for scripts, not for eyes. */
	snprintf(out, len, "%.10s %.8sZ", t, t + 11);
	return out;
}

const char *timefmt_duration(uint64_t s, char *out, size_t len)
{
	unsigned long long d = s / 86400, h = s % 86400 / 3600,
			   m = s % 3600 / 60, sec = s % 60;

	if (d > 0)
		snprintf(out, len, "%llud %lluh %llum %llus", d, h, m, sec);
	else if (h > 0)
		snprintf(out, len, "%lluh %llum %llus", h, m, sec);
	else if (m > 0)
		snprintf(out, len, "%llum %llus", m, sec);
	else
		snprintf(out, len, "%llus", sec);
	return out;
}
