/*
 * hostile_responder - an NTP responder that answers the prober's requests
 * in adversarial ways, one scenario per destination address. main.c: the
 * command line, set-up and the socket loop.
 *
 * usage: hostile_responder --token TOKEN [--map FILE] [--default SCENARIO]
 *            [--listen ADDR] [--port N] [--other-port N] [--other-addr ADDR]
 *            [--stats FILE] [--junk N] [--lifetime SECONDS]
 *            [--limited off|drop|kod] [--limited-min MS]
 *            [--limited-average MS] [--key ID:TYPE:HEX]...
 *        hostile_responder --list
 *
 * One IPv4 UDP socket bound to ADDR:PORT (default 0.0.0.0:123) with
 * IP_PKTINFO, so a single responder answers for every 127.x.y.z of a test
 * namespace's loopback and replies from the address each request was sent
 * to. The map file says which scenario each destination address gets, one
 * "ADDRESS SCENARIO [off|drop|kod]" per line ('#' comments; the third
 * word overrides --limited for that address); other addresses get
 * --default (silent unless given). TOKEN is what the "good"-like scenarios
 * echo as the variable's value; the hostile ones mangle it.
 *
 * Requests are parsed the way a server would: mode 6 (version, sequence,
 * opcode, the variable name asked for) and mode 3 (the transmit timestamp,
 * to echo as the origin). Replies are written byte by byte, not with
 * ntpwire: most scenarios need packets that ntpwire refuses to build.
 *
 * --limited imitates ntp.org ntpd's `restrict ... limited` (drop) or
 * `kod limited` (kod) for every address: per source address, a packet
 * sooner than --limited-min (default 2000 ms) after that source's
 * previous one, or a sustained rate above one per --limited-average
 * (default 8000 ms, with ntpd's burst allowance), is dropped or answered
 * with a RATE kiss (limited.c). --key gives the server's keys (at most
 * 8) for the "ntpd" scenario's keyed mode 3 and for signing kisses that
 * answer keyed requests (sc_key.c).
 *
 * Counters per address (requests seen, datagrams sent, when) are written to
 * the stats file at most every 100 ms while they change, and on SIGTERM,
 * so a test can assert what each destination received and sent:
 *
 *     ADDRESS SCENARIO m6=N m3=N other=N sent=N junk=N first_ms=T last_ms=T
 *         m6_last=PORT/SEQ/T m6_prev=PORT/SEQ/T keyed=N lim_kod=N
 *         lim_drop=N min_gap_ms=T probes=N max_per_probe=N per_probe=A,B,..
 *
 * first_ms/last_ms are CLOCK_REALTIME milliseconds of the first request
 * and of the last datagram sent or received for that address (0 = none),
 * comparable with timestamps PostgreSQL records; m6_last and m6_prev are
 * the source port, sequence number and time of the last two mode 6
 * requests (0/0/0 when there were fewer). keyed counts the mode 3
 * requests that carried a MAC; lim_kod and lim_drop the packets over
 * --limited's limits; min_gap_ms is the shortest time between two packets
 * from one source address (-1: never two). A probe is one source port:
 * probes counts them, per_probe lists the packets each of the first 64
 * sent, in order, and max_per_probe is the largest of those.
 *
 * Everything is bounded: at most MAX_FRAGS fragments per request, --junk
 * (at most JUNK_MAX) junk datagrams per request, JUNK_TOTAL_MAX in all,
 * and the process exits after --lifetime seconds (default 600).
 *
 * The pieces: packet.c writes packets; sc_m6.c, sc_frag.c, sc_m3.c and
 * junk.c are the scenario families; scenarios.c is the table naming them;
 * entries.c maps addresses to scenarios and keeps the counters;
 * requests.c reads and dispatches requests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"

struct hostile_run hr = { .junk = JUNK_DEFAULT, .fd_main = -1, .fd_other = -1,
			  .limited_min_ms = 2000, .limited_avg_ms = 8000 };
volatile sig_atomic_t hr_stop;

/* The command line, as parsed (what main.c alone needs). */
struct options {
	const char *map;            /* --map, or NULL */
	const char *stats;          /* --stats, or NULL */
	const char *def;            /* --default: a scenario name */
	struct in_addr listen_addr; /* --listen */
	long port;                  /* --port */
	long other_port;            /* --other-port */
	long lifetime;              /* --lifetime, seconds */
};

/* A number of milliseconds, 1..3600000; -1 when it is not one. */
static long long parse_ms(const char *arg)
{
	char *end;
	long long v = strtoll(arg, &end, 10);

	return *end == '\0' && v >= 1 && v <= 3600000 ? v : -1;
}

static const struct option longopts[] = {
	{ "token", required_argument, NULL, 't' },
	{ "map", required_argument, NULL, 'm' },
	{ "default", required_argument, NULL, 'd' },
	{ "listen", required_argument, NULL, 'l' },
	{ "port", required_argument, NULL, 'p' },
	{ "other-port", required_argument, NULL, 'P' },
	{ "other-addr", required_argument, NULL, 'A' },
	{ "stats", required_argument, NULL, 's' },
	{ "junk", required_argument, NULL, 'j' },
	{ "lifetime", required_argument, NULL, 'L' },
	{ "limited", required_argument, NULL, 'R' },
	{ "limited-min", required_argument, NULL, 'N' },
	{ "limited-average", required_argument, NULL, 'G' },
	{ "key", required_argument, NULL, 'k' },
	{ "list", no_argument, NULL, 'i' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int udp_socket(struct in_addr a, uint16_t port, bool pktinfo)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a,
				   .sin_port = htons(port) };
	int on = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* A flood needs room in both directions. */
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if ((pktinfo &&
	     setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void on_signal(int sig)
{
	(void)sig;
	hr_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hostile_responder --token TOKEN [--map FILE] "
		"[--default SCENARIO]\n"
		"           [--listen ADDR] [--port N] [--other-port N] "
		"[--other-addr ADDR]\n"
		"           [--stats FILE] [--junk N] [--lifetime SECONDS]\n"
		"           [--limited off|drop|kod] [--limited-min MS] "
		"[--limited-average MS]\n"
		"           [--key ID:TYPE:HEX]...\n"
		"       hostile_responder --list\n");
}


/* One option from getopt_long. Returns -1 to go on, else an exit status. */
static int apply_option(int c, struct options *o)
{
	switch (c) {
	case 't':
		hr.token = optarg;
		break;
	case 'm':
		o->map = optarg;
		break;
	case 'd':
		o->def = optarg;
		break;
	case 'l':
		if (inet_pton(AF_INET, optarg, &o->listen_addr) != 1) {
			fprintf(stderr, "--listen: not an IPv4 address\n");
			return 2;
		}
		break;
	case 'p':
		o->port = strtol(optarg, NULL, 10);
		break;
	case 'P':
		o->other_port = strtol(optarg, NULL, 10);
		break;
	case 'A':
		if (inet_pton(AF_INET, optarg, &hr.other_addr) != 1) {
			fprintf(stderr, "--other-addr: not an IPv4 address\n");
			return 2;
		}
		break;
	case 's':
		o->stats = optarg;
		break;
	case 'j':
		hr.junk = (unsigned)strtoul(optarg, NULL, 10);
		if (hr.junk > JUNK_MAX)
			hr.junk = JUNK_MAX;
		break;
	case 'L':
		o->lifetime = strtol(optarg, NULL, 10);
		break;
	case 'R':
		if (limited_parse(optarg, &hr.limited) < 0) {
			fprintf(stderr, "--limited: off, drop or kod\n");
			return 2;
		}
		break;
	case 'N':
	case 'G':
		if (parse_ms(optarg) < 0) {
			fprintf(stderr, "--limited-min, --limited-average: "
					"milliseconds, 1 to 3600000\n");
			return 2;
		}
		*(c == 'N' ? &hr.limited_min_ms : &hr.limited_avg_ms) =
			parse_ms(optarg);
		break;
	case 'k':
		if (add_key(optarg) < 0)
			return 2;
		break;
	case 'i':
		list_scenarios(stdout);
		return 0;
	case 'h':
		usage(stdout);
		return 0;
	default:
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The whole command line. Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	int c, rc;

	inet_pton(AF_INET, "127.0.0.99", &hr.other_addr);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if ((rc = apply_option(c, o)) >= 0)
			return rc;
	if (hr.token == NULL || optind != argc || o->port < 1 ||
	    o->port > 65535 || o->other_port < 1 || o->other_port > 65535 ||
	    o->other_port == o->port || o->lifetime < 1) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Scenarios, sockets, signals. Returns -1 to go on, else an exit status. */
static int set_up(const struct options *o)
{
	const struct scenario *def = find_scenario(o->def);

	if (def == NULL) {
		fprintf(stderr, "--default: no scenario %s (see --list)\n", o->def);
		return 2;
	}
	set_default_scenario(def);
	if (o->map != NULL && load_map(o->map) < 0)
		return 2;

	hr.fd_main = udp_socket(o->listen_addr, (uint16_t)o->port, true);
	hr.fd_other = udp_socket(o->listen_addr, (uint16_t)o->other_port, false);
	if (hr.fd_main < 0 || hr.fd_other < 0) {
		perror("hostile_responder: bind");
		return 1;
	}
	rnd_seed((uint64_t)now_ms(CLOCK_REALTIME) << 20 ^ (uint64_t)getpid());

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return -1;
}

/*
 * Read requests and run floods until a signal or the lifetime ends,
 * saving the stats file at most every 100 ms while it changes.
 */
static void serve(const struct options *o)
{
	long long end = now_ms(CLOCK_MONOTONIC) + o->lifetime * 1000LL;
	long long next_save = 0;
	bool flooding = false;

	save_stats(o->stats); /* the file's existence says "listening" */
	while (!hr_stop && now_ms(CLOCK_MONOTONIC) < end) {
		struct pollfd pfd = { .fd = hr.fd_main, .events = POLLIN };
		int n = poll(&pfd, 1, flooding ? 1 : 100);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pfd.revents & POLLIN))
			read_some();
		flooding = run_floods();
		long long t = now_ms(CLOCK_MONOTONIC);
		if (hr.stats_dirty && t >= next_save) {
			save_stats(o->stats);
			next_save = t + 100;
		}
	}
	save_stats(o->stats);
	write_stats(stderr);
}

int main(int argc, char **argv)
{
	struct options o = {
		.def = "silent",
		.listen_addr = { .s_addr = htonl(INADDR_ANY) },
		.port = 123,
		.other_port = 124,
		.lifetime = 600,
	};
	int rc;

	if ((rc = parse_options(argc, argv, &o)) >= 0)
		return rc;
	if ((rc = set_up(&o)) >= 0)
		return rc;
	serve(&o);
	return 0;
}
