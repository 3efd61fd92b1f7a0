/*
 * pgclient.c - the web site's side of the end-to-end benchmark: INSERT
 * pending verifications and time how long until PostgreSQL says verified.
 *
 *     pgclient throughput CONNINFO N TOKEN TIMEOUT_S
 *         One INSERT of N rows, addresses from table bench_target (loaded
 *         by run.sh from the targets file), then poll every 10 ms until
 *         none of them is pending, and count the verified ones. Prints
 *         insert_ms, seconds (INSERT start to all verified), per_s, the
 *         database's own view (max(verified_at) - min(created_at)), and
 *         by_2, the rows whose verified_by names two or more perspectives'
 *         probers (with quorum 2 it must equal rows).
 *
 *     pgclient latency CONNINFO COUNT TOKEN GAP_MS [NET]
 *         COUNT times, with the daemon idle: INSERT one row (address
 *         127.NET.x.y, NET 12 unless given, fresh each time), then poll
 *         that row every 0.25 ms until it is verified (at most 5 s), then
 *         sleep GAP_MS. Prints p50/p90/p99/max of the client-side latency
 *         (INSERT sent to verified row seen: includes the result write)
 *         and of the database's verified_at - created_at (INSERT to the
 *         last probe finished).
 *
 * Bounded in count and time; exits 1 if a row does not get verified.
 */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static PGresult *must(PGconn *c, PGresult *r, const char *what)
{
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(stderr, "pgclient: %s: %s", what, PQerrorMessage(c));
		exit(1);
	}
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int throughput(PGconn *c, long n, const char *token, long timeout_s)
{
	char nbuf[32], sql[512];
	const char *params[2] = { nbuf, token };
	PGresult *r;
	double t0, t_ins, t1 = 0, deadline;
	long got = 0, last_print = -1;

	snprintf(nbuf, sizeof(nbuf), "%ld", n);
	r = must(c, PQexec(c, "SELECT coalesce(max(id), 0) FROM verification"),
		 "max id");
	long base_id = atol(PQgetvalue(r, 0, 0));
	PQclear(r);

	t0 = now_s();
	r = must(c, PQexecParams(c,
				 "INSERT INTO verification (server_ip, token)"
				 " SELECT ip, $2 FROM bench_target ORDER BY n"
				 " LIMIT $1",
				 2, NULL, params, NULL, NULL, 0),
		 "insert");
	t_ins = now_s();
	PQclear(r);
	/*
	 * Poll cheaply: "is any of our rows still pending?" is answered from
	 * the partial index on pending rows, so the poller does not compete
	 * with the daemon (a count(*) over the whole table every 10 ms took
	 * as much database time as the daemon itself at 100,000 rows).
	 * Counted once at the end.
	 */
	snprintf(sql, sizeof(sql),
		 "SELECT NOT EXISTS (SELECT 1 FROM verification"
		 " WHERE state = 'pending' AND id > %ld)",
		 base_id);
	deadline = t0 + (double)timeout_s;
	while (now_s() < deadline) {
		r = must(c, PQexec(c, sql), "poll");
		bool none_pending = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		if (none_pending) {
			t1 = now_s();
			break;
		}
		long sec = (long)(now_s() - t0);
		if (sec != last_print) {
			last_print = sec;
			fprintf(stderr, "pgclient: %lds: still pending\n", sec);
		}
		nap_us(10000);
	}
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM verification WHERE id > %ld"
		 " AND state = 'verified'",
		 base_id);
	r = must(c, PQexec(c, sql), "count");
	got = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (got < n) {
		printf("rows=%ld verified=%ld timeout_s=%ld\n", n, got,
		       timeout_s);
		return 1;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT extract(epoch FROM max(verified_at) - min(created_at)),"
		 " count(*) FILTER (WHERE verified_by LIKE '%%, %%')"
		 " FROM verification WHERE id > %ld",
		 base_id);
	r = must(c, PQexec(c, sql), "db span");
	double db_s = atof(PQgetvalue(r, 0, 0));
	long by_2 = atol(PQgetvalue(r, 0, 1));
	PQclear(r);
	printf("rows=%ld insert_ms=%.1f seconds=%.3f per_s=%.0f "
	       "db_span_s=%.3f db_per_s=%.0f by_2=%ld\n",
	       n, (t_ins - t0) * 1e3, t1 - t0, (double)n / (t1 - t0), db_s,
	       (double)n / db_s, by_2);
	return 0;
}

static int latency(PGconn *c, int count, const char *token, long gap_ms,
		   int net)
{
	double *cl = calloc((size_t)count, sizeof(double));
	double *db = calloc((size_t)count, sizeof(double));
	char addr[32], idbuf[32];

	if (cl == NULL || db == NULL)
		return 1;
	for (int i = 0; i < count; i++) {
		const char *ins[2] = { addr, token };
		const char *sel[1] = { idbuf };
		PGresult *r;
		double t0, deadline;
		int done = 0;

		snprintf(addr, sizeof(addr), "127.%d.%d.%d", net, i / 250,
			 i % 250 + 1);
		t0 = now_s();
		r = must(c, PQexecParams(c,
					 "INSERT INTO verification (server_ip, token)"
					 " VALUES ($1, $2) RETURNING id",
					 2, NULL, ins, NULL, NULL, 0),
			 "insert one");
		snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		deadline = t0 + 5.0;
		while (now_s() < deadline) {
			r = must(c, PQexecParams(c,
						 "SELECT state, 1000 * extract(epoch FROM"
						 " verified_at - created_at)"
						 " FROM verification WHERE id = $1",
						 1, NULL, sel, NULL, NULL, 0),
				 "poll one");
			if (strcmp(PQgetvalue(r, 0, 0), "verified") == 0) {
				cl[i] = (now_s() - t0) * 1e3;
				db[i] = atof(PQgetvalue(r, 0, 1));
				done = 1;
			}
			PQclear(r);
			if (done)
				break;
			nap_us(250);
		}
		if (!done) {
			printf("row %d (%s) not verified within 5 s\n", i, addr);
			return 1;
		}
		nap_us(gap_ms * 1000);
	}
	qsort(cl, (size_t)count, sizeof(double), cmp_double);
	qsort(db, (size_t)count, sizeof(double), cmp_double);
	printf("count=%d client_p50_ms=%.2f client_p90_ms=%.2f "
	       "client_p99_ms=%.2f client_max_ms=%.2f db_p50_ms=%.2f "
	       "db_p90_ms=%.2f db_p99_ms=%.2f db_max_ms=%.2f\n",
	       count, pct(cl, count, 0.5), pct(cl, count, 0.9),
	       pct(cl, count, 0.99), cl[count - 1], pct(db, count, 0.5),
	       pct(db, count, 0.9), pct(db, count, 0.99), db[count - 1]);
	free(cl);
	free(db);
	return 0;
}

int main(int argc, char **argv)
{
	PGconn *c;
	int rc;

	if (argc < 6 || argc > 7 || (argc == 7 && strcmp(argv[1], "latency") != 0) ||
	    (strcmp(argv[1], "throughput") != 0 && strcmp(argv[1], "latency") != 0)) {
		fprintf(stderr,
			"usage: pgclient throughput CONNINFO N TOKEN TIMEOUT_S\n"
			"       pgclient latency CONNINFO COUNT TOKEN GAP_MS [NET]\n");
		return 2;
	}
	c = PQconnectdb(argv[2]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgclient: %s", PQerrorMessage(c));
		return 1;
	}
	if (strcmp(argv[1], "throughput") == 0) {
		long n = atol(argv[3]), t = atol(argv[5]);
		if (n < 1 || n > 1000000 || t < 1 || t > 3600)
			return 2;
		rc = throughput(c, n, argv[4], t);
	} else {
		int n = atoi(argv[3]);
		long gap = atol(argv[5]);
		int net = argc == 7 ? atoi(argv[6]) : 12;
		if (n < 1 || n > 10000 || gap < 0 || gap > 10000 || net < 12 ||
		    net > 254)
			return 2;
		rc = latency(c, n, argv[4], gap, net);
	}
	PQfinish(c);
	return rc;
}
