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
 *     pgclient latency CONNINFO COUNT TOKEN GAP_MS [NET [POLL_US]]
 *         COUNT times, with the daemon idle: INSERT one row (address
 *         127.NET.x.y, NET 12 unless given, fresh each time), then poll
 *         that row every POLL_US microseconds (default 1000) until it is
 *         verified (at most 5 s), then sleep GAP_MS. Prints p50/p90/p99/max
 *         of the client-side latency (INSERT sent to verified row seen:
 *         includes the result write and up to one poll interval plus one
 *         round trip), of the database's verified_at - created_at (INSERT
 *         to the deciding probe finished) and, when the server has
 *         track_commit_timestamp on, of the deciding WRITE's commit time -
 *         created_at (INSERT to verified, in the database's clock, without
 *         the poll).
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

/* "on" if the server records commit times (track_commit_timestamp). */
static bool commit_times_on(PGconn *c)
{
	PGresult *r = must(c, PQexec(c, "SHOW track_commit_timestamp"),
			   "show track_commit_timestamp");
	bool on = strcmp(PQgetvalue(r, 0, 0), "on") == 0;

	PQclear(r);
	return on;
}

/* The percentiles of v[0..n) as KEY_p50_ms=... KEY_max_ms=...; sorts v. */
static void print_pcts(const char *key, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	printf(" %s_p50_ms=%.2f %s_p90_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f",
	       key, pct(v, n, 0.5), key, pct(v, n, 0.9), key, pct(v, n, 0.99),
	       key, v[n - 1]);
}

/*
 * One row: INSERT it, poll it every poll_us until it is verified. cl: the
 * client's latency, db: verified_at - created_at, cm: the commit time of
 * the statement that made it verified - created_at (when track_commit on).
 */
static int latency_one(PGconn *c, const char *addr, const char *token,
		       long poll_us, bool track_commit, double *cl, double *db,
		       double *cm)
{
	const char *ins[2] = { addr, token };
	char idbuf[32];
	const char *sel[1] = { idbuf };
	PGresult *r;
	double t0 = now_s(), deadline = t0 + 5.0;
	bool done = false;

	r = must(c, PQexecPrepared(c, "insert_one", 2, ins, NULL, NULL, 0),
		 "insert one");
	snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	while (now_s() < deadline) {
		r = must(c, PQexecPrepared(c, "poll_one", 1, sel, NULL, NULL, 0),
			 "poll one");
		if (strcmp(PQgetvalue(r, 0, 0), "verified") == 0) {
			*cl = (now_s() - t0) * 1e3;
			*db = atof(PQgetvalue(r, 0, 1));
			done = true;
		}
		PQclear(r);
		if (done)
			break;
		nap_us(poll_us);
	}
	if (!done)
		return 1;
	*cm = 0;
	if (track_commit) {
		/* After the poll, off its path: xmin is the deciding WRITE's. */
		r = must(c, PQexecParams(c,
					 "SELECT 1000 * extract(epoch FROM"
					 " pg_xact_commit_timestamp(xmin) - created_at)"
					 " FROM verification WHERE id = $1",
					 1, NULL, sel, NULL, NULL, 0),
			 "commit time");
		*cm = atof(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	return 0;
}

static int latency(PGconn *c, int count, const char *token, long gap_ms,
		   int net, long poll_us)
{
	double *cl = calloc((size_t)count, sizeof(double));
	double *db = calloc((size_t)count, sizeof(double));
	double *cm = calloc((size_t)count, sizeof(double));
	bool track_commit = commit_times_on(c);
	char addr[32];

	if (cl == NULL || db == NULL || cm == NULL)
		return 1;
	/*
	 * Prepared once: a poll is then one Bind/Execute, the cheapest query
	 * there is, so that polling every millisecond takes little of the
	 * two cores the daemons and PostgreSQL share with it.
	 */
	PQclear(must(c, PQprepare(c, "insert_one",
				  "INSERT INTO verification (server_ip, token)"
				  " VALUES ($1, $2) RETURNING id",
				  2, NULL),
		     "prepare insert"));
	PQclear(must(c, PQprepare(c, "poll_one",
				  "SELECT state, 1000 * extract(epoch FROM"
				  " verified_at - created_at)"
				  " FROM verification WHERE id = $1",
				  1, NULL),
		     "prepare poll"));
	for (int i = 0; i < count; i++) {
		snprintf(addr, sizeof(addr), "127.%d.%d.%d", net, i / 250,
			 i % 250 + 1);
		if (latency_one(c, addr, token, poll_us, track_commit, &cl[i],
				&db[i], &cm[i]) != 0) {
			printf("row %d (%s) not verified within 5 s\n", i, addr);
			return 1;
		}
		nap_us(gap_ms * 1000);
	}
	printf("count=%d poll_us=%ld", count, poll_us);
	print_pcts("client", cl, count);
	print_pcts("db", db, count);
	if (track_commit)
		print_pcts("commit", cm, count);
	printf("\n");
	free(cl);
	free(db);
	free(cm);
	return 0;
}

int main(int argc, char **argv)
{
	PGconn *c;
	int rc;

	if (argc < 6 || argc > 8 || (argc > 6 && strcmp(argv[1], "latency") != 0) ||
	    (strcmp(argv[1], "throughput") != 0 && strcmp(argv[1], "latency") != 0)) {
		fprintf(stderr,
			"usage: pgclient throughput CONNINFO N TOKEN TIMEOUT_S\n"
			"       pgclient latency CONNINFO COUNT TOKEN GAP_MS [NET [POLL_US]]\n");
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
		int net = argc >= 7 ? atoi(argv[6]) : 12;
		long poll_us = argc == 8 ? atol(argv[7]) : 1000;
		if (n < 1 || n > 10000 || gap < 0 || gap > 10000 || net < 12 ||
		    net > 254 || poll_us < 50 || poll_us > 100000)
			return 2;
		rc = latency(c, n, argv[4], gap, net, poll_us);
	}
	PQfinish(c);
	return rc;
}
