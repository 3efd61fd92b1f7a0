/*
 * shm_feed.c - a pretend reference clock: samples of the current time in
 * the shared-memory segment of ntpd's SHM driver (type 28; NTPsec's
 * `refclock shm`, chrony's `refclock SHM`).
 *
 * usage: shm_feed UNIT [SECONDS]
 *
 * Attaches (creating it, mode 0600) the System V segment with key
 * 0x4e545030 + UNIT and, every 250 ms, writes one sample in the driver's
 * layout: mode 1 (the reader checks `count` before and after), the
 * system clock as both the reference clock's time and the receive time
 * (so the "clock" agrees with the machine, and a daemon that trusts it
 * never wants to move the clock), leap 0, precision 2^-20, valid. It
 * changes nothing else: the daemons under test must not touch the clock
 * either (tests/integration/refid_check.sh).
 *
 * Stops on SIGTERM/SIGINT, or after SECONDS (default 600). It detaches
 * but does not remove the segment: the test does (ipcrm), after the
 * daemons that attached it are gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#define SHM_KEY_BASE 0x4e545030

/* The driver's segment, field for field (ntpd refclock_shm.c, chrony
 * refclock_shm.c: the same layout). */
struct shm_time {
	int mode;                       /* 1: count bracketed writes */
	volatile int count;             /* bumped before and after a write */
	time_t clock_sec;               /* the reference clock's time */
	int clock_usec;
	time_t receive_sec;             /* the system clock at that moment */
	int receive_usec;
	int leap;                       /* 0: no warning */
	int precision;                  /* log2 seconds */
	int nsamples;                   /* median filter length (unused) */
	volatile int valid;             /* 1: a fresh sample */
	unsigned clock_nsec;            /* nanosecond parts */
	unsigned receive_nsec;
	int dummy[8];                   /* reserved */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void write_sample(struct shm_time *t)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	t->mode = 1;
	t->count++;
	__sync_synchronize();
	t->clock_sec = t->receive_sec = now.tv_sec;
	t->clock_usec = t->receive_usec = (int)(now.tv_nsec / 1000);
	t->clock_nsec = t->receive_nsec = (unsigned)now.tv_nsec;
	t->leap = 0;
	t->precision = -20;
	t->nsamples = 3;
	__sync_synchronize();
	t->count++;
	t->valid = 1;
}

int main(int argc, char **argv)
{
	const struct timespec tick = { 0, 250 * 1000 * 1000 };
	long unit, seconds = 600;
	struct shm_time *t;
	int id;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: shm_feed UNIT [SECONDS]\n");
		return 2;
	}
	unit = strtol(argv[1], NULL, 10);
	if (argc == 3)
		seconds = strtol(argv[2], NULL, 10);
	if (unit < 0 || unit > 255 || seconds < 1) {
		fprintf(stderr, "shm_feed: bad UNIT or SECONDS\n");
		return 2;
	}
	id = shmget((key_t)(SHM_KEY_BASE + unit), sizeof(*t), IPC_CREAT | 0600);
	if (id < 0) {
		fprintf(stderr, "shm_feed: shmget: %s\n", strerror(errno));
		return 1;
	}
	t = shmat(id, NULL, 0);
	if (t == (void *)-1) {
		fprintf(stderr, "shm_feed: shmat: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (long i = 0; !stop && i < seconds * 4; i++) {
		write_sample(t);
		nanosleep(&tick, NULL);
	}
	shmdt(t);
	return 0;
}
