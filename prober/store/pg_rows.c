/*
 * pg_rows.c - query results copied into plain structs of strings, for
 * the admin commands' queries (admin_db.c).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_rows.h"

char *pg_cell(const PGresult *r, int row, int c,
		     const char *null_as, bool *ok)
{
	const char *v = PQgetisnull(r, row, c) ? null_as : PQgetvalue(r, row, c);
	char *s;

	if (v == NULL)
		return NULL;
	s = strdup(v);
	if (s == NULL)
		*ok = false;
	return s;
}

bool pg_cells(const PGresult *r, int row, char **const *dst, int n,
	      const char *null_as)
{
	bool ok = true;

	for (int c = 0; c < n; c++)
		*dst[c] = pg_cell(r, row, c, null_as, &ok);
	return ok;
}

void pg_cells_free(char **const *dst, int n)
{
	for (int c = 0; c < n; c++) {
		free(*dst[c]);
		*dst[c] = NULL;
	}
}

bool pg_rows_copy(const PGresult *r, const struct pg_rows_kind *k,
		  void **arr, size_t *n)
{
	int rows = PQntuples(r);
	char *a = calloc(rows > 0 ? (size_t)rows : 1, k->size);

	*arr = a;
	*n = 0;
	if (a == NULL)
		return false;
	for (int i = 0; i < rows; i++) {
		char **dst[PG_ROWS_MAX_FIELDS];

		int nf = k->fields(a + (size_t)i * k->size, dst);

		(*n)++;
		if (!pg_cells(r, i, dst, nf, "-"))
			return false;
	}
	return true;
}

void pg_rows_free(void *arr, size_t n, const struct pg_rows_kind *k)
{
	char *a = arr;

	for (size_t i = 0; i < n; i++) {
		char **dst[PG_ROWS_MAX_FIELDS];

		pg_cells_free(dst, k->fields(a + i * k->size, dst));
	}
	free(arr);
}

