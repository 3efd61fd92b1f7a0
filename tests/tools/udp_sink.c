/*
 * udp_sink.c - a UDP socket that reads and never answers.
 *
 * usage: udp_sink ADDR PORT COUNTFILE
 *
 * Counts the datagrams it receives and rewrites COUNTFILE with the total
 * after each one, so a test can assert how many packets the prober sent.
 * Stops on SIGTERM or after 10 minutes at most.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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

	if (argc != 4) {
		fprintf(stderr, "usage: udp_sink ADDR PORT COUNTFILE\n");
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
	write_count(argv[3], 0);
	alarm(600);
	for (;;) {
		char buf[2048];
		if (recv(fd, buf, sizeof(buf), 0) >= 0)
			write_count(argv[3], ++n);
	}
}
