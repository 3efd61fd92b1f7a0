/*
 * fuzz_status_json.c - the reader of the daemon's /status document that
 * `ntpverify status` runs on what arrives over the status socket.
 *
 * Input: the document body, as is (libFuzzer's buffer is exactly `size`
 * octets, not NUL-terminated, so ASan sees any read past the end). Checks
 * what status_json.h promises: a failure leaves the document empty; a
 * success stays inside every limit, every path can be looked up, every
 * literal is true, false, null or a number; and a complete value stops
 * being one when a stray '}' follows it.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/status_json.h"
#include "fuzz.h"

/* A real /status is about 2 KiB; nesting and escapes need no more. */
#define FUZZ_STATUS_JSON_MAX_INPUT 16384

static void check_doc(const struct status_json_doc *doc, size_t size)
{
	FUZZ_CHECK(doc->n <= STATUS_JSON_MAX_VALUES);
	FUZZ_CHECK(doc->n <= size); /* every value takes an octet at least */
	FUZZ_CHECK(doc->n <= doc->cap);
	for (size_t i = 0; i < doc->n; i++) {
		const struct status_json_value *jv = &doc->v[i];

		FUZZ_CHECK(jv->path != NULL && jv->value != NULL);
		FUZZ_CHECK(strlen(jv->path) < STATUS_JSON_PATH_MAX);
		FUZZ_CHECK(strlen(jv->value) <= size);
		FUZZ_CHECK(status_json_get(doc, jv->path) != NULL);
		if (!jv->string)
			FUZZ_CHECK(strcmp(jv->value, "true") == 0 ||
				   strcmp(jv->value, "false") == 0 ||
				   strcmp(jv->value, "null") == 0 ||
				   jv->value[0] == '-' ||
				   (jv->value[0] >= '0' && jv->value[0] <= '9'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct status_json_doc doc;
	char *more;
	int rc;

	if (size > FUZZ_STATUS_JSON_MAX_INPUT)
		return 0;
	rc = status_json_parse((const char *)data, size, &doc);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		FUZZ_CHECK(doc.n == 0 && doc.v == NULL);
		return 0;
	}
	check_doc(&doc, size);
	status_json_free(&doc);
	FUZZ_CHECK(doc.n == 0 && doc.v == NULL);

	more = malloc(size + 1);
	if (more == NULL)
		return 0;
	memcpy(more, data, size);
	more[size] = '}';
	FUZZ_CHECK(status_json_parse(more, size + 1, &doc) == -1);
	FUZZ_CHECK(doc.n == 0);
	free(more);
	return 0;
}
