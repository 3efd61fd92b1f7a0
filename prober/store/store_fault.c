/*
 * store_fault.c - SQLSTATE classes and the backoff of failing statements.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_fault.h"

static const char *const err_class_names[STORE_ERR_COUNT] = {
	[STORE_ERR_DATA] = "data",
	[STORE_ERR_PRIVILEGE] = "privilege",
	[STORE_ERR_SCHEMA] = "schema",
	[STORE_ERR_READ_ONLY] = "read_only",
	[STORE_ERR_RESOURCES] = "resources",
	[STORE_ERR_CONFLICT] = "conflict",
	[STORE_ERR_OPERATOR] = "operator",
	[STORE_ERR_CONNECTION] = "connection",
	[STORE_ERR_INTERNAL] = "internal",
	[STORE_ERR_OTHER] = "other",
};

const char *store_err_class_name(enum store_err_class c)
{
	if ((unsigned)c >= STORE_ERR_COUNT)
		c = STORE_ERR_OTHER;
	return err_class_names[c];
}

/* Two-character SQLSTATE classes and what they are about. */
static const struct {
	char cls[3];
	enum store_err_class what;
} err_classes[] = {
	{ "22", STORE_ERR_DATA },       { "23", STORE_ERR_DATA },
	{ "42", STORE_ERR_SCHEMA },     { "25", STORE_ERR_READ_ONLY },
	{ "53", STORE_ERR_RESOURCES },  { "54", STORE_ERR_RESOURCES },
	{ "40", STORE_ERR_CONFLICT },   { "55", STORE_ERR_CONFLICT },
	{ "57", STORE_ERR_OPERATOR },   { "08", STORE_ERR_CONNECTION },
	{ "58", STORE_ERR_INTERNAL },   { "XX", STORE_ERR_INTERNAL },
};

enum store_err_class store_fault_classify(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return STORE_ERR_OTHER;
	/*
	 * Exceptions to their class: a sequence that ran out is class 22 but
	 * says nothing about the row (every insert fails alike), and a missing
	 * right is not a schema mismatch.
	 */
	if (strcmp(sqlstate, "2200H") == 0)
		return STORE_ERR_RESOURCES;
	if (strcmp(sqlstate, "42501") == 0)
		return STORE_ERR_PRIVILEGE;
	for (size_t i = 0; i < sizeof(err_classes) / sizeof(err_classes[0]); i++)
		if (strncmp(sqlstate, err_classes[i].cls, 2) == 0)
			return err_classes[i].what;
	return STORE_ERR_OTHER;
}

const char *store_fault_hint(const char *sqlstate)
{
	switch (store_fault_classify(sqlstate)) {
	case STORE_ERR_PRIVILEGE:
		return "grant the prober's role the rights in docs/admins.md";
	case STORE_ERR_SCHEMA:
		return "is the schema current? run ntpverify migrate";
	case STORE_ERR_READ_ONLY:
		return "is this a standby, or default_transaction_read_only on?";
	case STORE_ERR_RESOURCES:
		return strcmp(sqlstate, "2200H") == 0
			       ? "a sequence ran out: see \"Database errors\" "
				 "in docs/admins.md"
			       : "the database server is short of disk, memory "
				 "or connections";
	default:
		return NULL;
	}
}

uint64_t store_fault_next_wait(uint64_t last_ms, uint64_t cap_ms)
{
	uint64_t next = last_ms == 0 ? STORE_FAULT_MIN_MS : last_ms * 2;

	return next > cap_ms ? cap_ms : next;
}

bool store_fault_fail(struct store_fault *f, const char *sqlstate,
		      uint64_t now_ms, uint64_t cap_ms)
{
	const char *state = sqlstate != NULL ? sqlstate : "";
	bool news = f->failures == 0 || strcmp(f->sqlstate, state) != 0;

	f->backoff_ms = store_fault_next_wait(f->failures == 0 ? 0 : f->backoff_ms,
					      cap_ms);
	f->failures++;
	f->retry_at_ms = now_ms + f->backoff_ms;
	snprintf(f->sqlstate, sizeof(f->sqlstate), "%s", state);
	return news;
}

unsigned store_fault_clear(struct store_fault *f)
{
	unsigned n = f->failures;

	f->failures = 0;
	f->sqlstate[0] = '\0';
	f->backoff_ms = 0;
	f->retry_at_ms = 0;
	return n;
}

bool store_fault_ready(const struct store_fault *f, uint64_t now_ms)
{
	return f->failures == 0 || now_ms >= f->retry_at_ms;
}
