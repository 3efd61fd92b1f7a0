/*
 * notify_sink.c - a fake systemd notification socket for tests.
 *
 * usage: notify_sink SOCKETPATH OUTFILE
 *
 * Binds a unix datagram socket at SOCKETPATH and appends every message it
 * receives to OUTFILE as one line, its newlines replaced by spaces. Stops
 * on SIGTERM or after 10 minutes.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	FILE *out;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: notify_sink SOCKETPATH OUTFILE\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("notify_sink: bind");
		return 1;
	}
	out = fopen(argv[2], "a");
	if (out == NULL) {
		perror("notify_sink: output");
		return 1;
	}
	alarm(600);
	for (;;) {
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				buf[i] = ' ';
		buf[n] = '\0';
		fprintf(out, "%s\n", buf);
		fflush(out);
	}
}
