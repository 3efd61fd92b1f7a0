/*
 * pg_rows.h - query results copied into plain structs of strings, so that
 * the admin commands' callers never see a PGresult (private to
 * prober/store/).
 *
 * Ownership: every string is a heap copy; pg_cells_free() and
 * pg_rows_free() free what pg_cells() and pg_rows_copy() made.
 */
#ifndef NTPVERIFY_PG_ROWS_H
#define NTPVERIFY_PG_ROWS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Most columns one kind of row may have. */
#define PG_ROWS_MAX_FIELDS 16

/* How one kind of result row maps onto its struct of strings. */
struct pg_rows_kind {
	size_t size; /* sizeof the struct */
	/* Store the struct's field pointers, in column order, into dst;
	 * returns how many (at most PG_ROWS_MAX_FIELDS). */
	int (*fields)(void *elem, char **dst[]);
};

/*
 * A heap copy of one cell; a NULL cell becomes a copy of null_as, or NULL
 * when null_as is NULL. Out of memory: NULL and *ok set to false.
 */
char *pg_cell(const PGresult *r, int row, int c, const char *null_as,
	      bool *ok);

/*
 * Fill n string fields from row `row` of r; a NULL cell becomes null_as
 * (which may be NULL). False when out of memory (the fields copied so far
 * are set: free them with pg_cells_free()).
 */
bool pg_cells(const PGresult *r, int row, char **const *dst, int n,
	      const char *null_as) __attribute__((warn_unused_result));

/* Free n string fields and set them to NULL. */
void pg_cells_free(char **const *dst, int n);

/*
 * Copy every row of r into a new array of structs of kind k (NULL cells
 * read "-"). *n counts the elements whose fields must be freed, also on
 * failure; false when out of memory. Free with pg_rows_free() either way.
 */
bool pg_rows_copy(const PGresult *r, const struct pg_rows_kind *k,
		  void **arr, size_t *n) __attribute__((warn_unused_result));

/* Free an array made by pg_rows_copy(). */
void pg_rows_free(void *arr, size_t n, const struct pg_rows_kind *k);

#endif
