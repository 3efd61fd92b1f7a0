/*
 * udp_sink.c - a UDP socket that reads and never answers.
 *
 * usage: udp_sink ADDR PORT COUNTFILE [LOGFILE]
 *
 * Counts the datagrams it receives and rewrites COUNTFILE with the total
 * after each one, so a test can assert how many packets the prober sent.
 * With LOGFILE, also appends one line per datagram: arrival time in
 * milliseconds (the kernel's receive timestamp, so a busy machine that
 * reads late cannot bunch arrivals together) and the destination address
 * it was sent to, so a test can check rates per second and per destination (bind ADDR
 * 0.0.0.0 to catch every 127.x.y.z of a namespace's loopback).
 * Stops on SIGTERM or after 10 minutes at most.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void write_count(const char *path, unsigned long n)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "%lu\n", n);
	fclose(f);
	rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;
	unsigned long n = 0;

	FILE *log = NULL;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: udp_sink ADDR PORT COUNTFILE [LOGFILE]\n");
		return 2;
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, argv[1],
		      &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(argv[2]));
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1],
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(argv[2]));
		len = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "udp_sink: bad address %s\n", argv[1]);
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("udp_sink: bind");
		return 1;
	}
	if (argc == 5) {
		int on = 1;
		log = fopen(argv[4], "a");
		if (log == NULL) {
			perror("udp_sink: log file");
			return 1;
		}
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	}
	write_count(argv[3], 0);
	alarm(600);
	for (;;) {
		char buf[2048], cbuf[256];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		if (recvmsg(fd, &msg, 0) < 0)
			continue;
		write_count(argv[3], ++n);
		if (log == NULL)
			continue;
		char dst[INET6_ADDRSTRLEN] = "?";
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
		     c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPNS)
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				inet_ntop(AF_INET, &pi.ipi_addr, dst, sizeof(dst));
			}
		}
		fprintf(log, "%lld %s\n",
			(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, dst);
		fflush(log);
	}
}
