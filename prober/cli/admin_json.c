/*
 * admin_json.c - the admin commands' --json objects (see admin_json.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/admin_json.h"
#include "cli/timefmt.h"
#include "core/textout.h"

/* ,"name": before a value (every object opens with its "id"). */
static void key(const char *name)
{
	printf(",\"%s\":", name);
}

/* A string, null for NULL or "-" (the views' "none"). */
static void str(const char *name, const char *s)
{
	key(name);
	json_put_cstr(stdout, s == NULL || strcmp(s, "-") == 0 ? NULL : s);
}

/* An RFC 3339 time, null for anything else ("-", "probing now"). */
static void when(const char *name, const char *t)
{
	key(name);
	json_put_cstr(stdout, timefmt_is_rfc3339(t) ? t : NULL);
}

/* A number the database printed (digits, a '.'), null otherwise. */
static void num(const char *name, const char *n)
{
	key(name);
	if (n != NULL && n[0] != '\0' && strspn(n, "0123456789.") == strlen(n))
		fputs(n, stdout);
	else
		fputs("null", stdout);
}

void admin_json_added(const struct admin_json_added *a)
{
	const char *p = a->instructions ? a->instructions : "";

	printf("{\"id\":%" PRId64, a->id);
	str("server", a->server);
	str("method", a->token != NULL ? "setvar"
		      : a->refid_code != NULL ? "refid" : "key");
	when("expires_at", a->expires_at);
	if (a->token != NULL) {
		str("variable", a->variable);
		str("token", a->token);
	} else if (a->refid_code != NULL) {
		str("refid_code", a->refid_code);
	} else {
		printf(",\"key_id\":%u", a->key_id);
		str("key_type", a->key_type);
	}
	key("instructions");
	putchar('[');
	for (int first = 1; *p != '\0'; first = 0) {
		size_t n = strcspn(p, "\n");

		if (!first)
			putchar(',');
		json_put_string(stdout, p, n);
		p += n + (p[n] == '\n');
	}
	printf("]}\n");
}

void admin_json_row(const struct admin_db_row *r)
{
	printf("{\"id\":%s", r->id); /* the database's bigint text */
	str("server", r->server);
	str("method", r->method_name);
	num("key_id", r->key_id);
	str("key_type", r->key_type);
	/* Only on refid rows: the other rows keep the fields they had. */
	if (strcmp(r->method_name, "refid") == 0)
		str("refid_code", r->refid_code);
	str("state", r->state);
	num("attempts", r->attempts);
	str("last_outcome", r->last_outcome);
	when("next_probe_at", r->next_probe_at);
	printf(",\"probing\":%s", strcmp(r->leased, "t") == 0 ? "true"
							     : "false");
	when("expires_at", r->expires);
	str("proof", r->proof);
	printf("}\n");
}

/* The "history" array of show: its attempts ("attempts" is the count). */
static void history(const struct admin_db_attempts *list)
{
	key("history");
	putchar('[');
	for (size_t i = 0; i < list->n; i++) {
		const struct admin_db_attempt *t = &list->a[i];

		printf("%s{\"at\":", i ? "," : "");
		json_put_cstr(stdout, timefmt_is_rfc3339(t->at) ? t->at : NULL);
		str("prober", t->prober);
		str("source", t->source);
		str("outcome", t->outcome);
		num("rtt_ms", t->rtt_ms);
		key("detail");
		json_put_cstr(stdout, t->detail[0] ? t->detail : NULL);
		putchar('}');
	}
	putchar(']');
}

/* The "exceptions" array of show: the audit trail, oldest first. */
static void exceptions(const struct admin_db_table *t)
{
	key("exceptions");
	putchar('[');
	for (size_t i = 0; i < t->n; i++) {
		char *const *c = &t->cell[i * t->cols];

		printf("%s{\"at\":", i ? "," : "");
		json_put_cstr(stdout, timefmt_is_rfc3339(c[0]) ? c[0] : NULL);
		str("action", c[1]);
		str("admin", c[2]);
		str("db_role", c[3]);
		str("reason", c[4]);
		str("state_before", c[5]);
		str("state_after", c[6]);
		num("evidence_id", c[7]);
		str("evidence_server", c[8]);
		str("evidence_method", c[9]);
		when("evidence_verified_at", c[10]);
		num("prefix_length", c[11]);
		putchar('}');
	}
	putchar(']');
}

void admin_json_show(const struct admin_db_verification *v,
		     const struct admin_db_attempts *list,
		     const struct admin_db_table *trail)
{
	int key_method = v->method != NULL && strcmp(v->method, "key") == 0;
	int refid_method = v->method != NULL && strcmp(v->method, "refid") == 0;

	printf("{\"id\":%s", v->id);
	str("server", v->server);
	str("state", v->state);
	str("method", v->method);
	num("key_id", key_method ? v->key_id : NULL);
	str("key_type", key_method ? v->key_type : NULL);
	str("refid_code", refid_method ? v->refid_code : NULL);
	num("token_length", key_method || refid_method ? NULL : v->token_len);
	when("created_at", v->created);
	when("expires_at", v->expires);
	when("next_probe_at", v->next_probe);
	num("attempts", v->attempts);
	when("last_probe_at", v->last_probe);
	str("last_outcome", v->last_outcome);
	str("last_detail", v->last_detail);
	str("lease_owner", v->lease_owner);
	when("lease_until", v->lease_owner ? v->lease_until : NULL);
	when("verified_at", v->verified_at);
	str("verified_by", v->verified_by);
	str("proof", v->proof);
	history(list);
	exceptions(trail);
	printf("}\n");
}
