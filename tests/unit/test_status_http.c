/*
 * test_status_http.c - the status socket's HTTP server against clients
 * that misbehave, on a real event loop over a unix socket: no network.
 */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/status_http.h"

static void route_ok(void *arg, const char *path, struct status_reply *out)
{
	(void)arg;
	(void)path;
	out->code = 200;
	out->reason = "OK";
	out->ctype = "text/plain; charset=utf-8";
}

/* A listening unix socket in the abstract namespace, and a client of it. */
static void socket_pair(int *lfd, int *cfd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;

	/* Abstract: nothing on disk, gone with the descriptors. */
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
		 "ntpverify-test-status-http-%ld", (long)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			  strlen(sun.sun_path + 1));
	*lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(*lfd >= 0);
	assert_int_equal(bind(*lfd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(listen(*lfd, 8), 0);
	*cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*cfd >= 0);
	assert_int_equal(connect(*cfd, (struct sockaddr *)&sun, len), 0);
}

/*
 * A request whose end of headers is split between two reads, at every
 * octet of it: answered, as when it comes in one piece. Both the CR LF
 * and the bare LF form.
 */
static void test_split_terminator(void **state)
{
	static const char *const reqs[] = {
		"GET /x HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x HTTP/1.0\n\n",
	};

	(void)state;
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		size_t len = strlen(reqs[r]);

		for (size_t cut = 1; cut < len; cut++) {
			struct event_base *base = event_base_new();
			struct status_http *h;
			char reply[256];
			ssize_t got;
			int lfd, cfd;

			assert_non_null(base);
			h = status_http_new(base, 4, NULL, 0, route_ok, NULL);
			assert_non_null(h);
			socket_pair(&lfd, &cfd);
			assert_int_equal(status_http_listen(h, lfd, false, "t"), 0);
			event_base_loop(base, EVLOOP_NONBLOCK);
			assert_int_equal(send(cfd, reqs[r], cut, 0), (ssize_t)cut);
			event_base_loop(base, EVLOOP_NONBLOCK);
			assert_int_equal(send(cfd, reqs[r] + cut, len - cut, 0),
					 (ssize_t)(len - cut));
			for (int i = 0; i < 4; i++)
				event_base_loop(base, EVLOOP_NONBLOCK);
			got = recv(cfd, reply, sizeof(reply) - 1, MSG_DONTWAIT);
			if (got < 15 || memcmp(reply, "HTTP/1.1 200 OK", 15) != 0)
				fail_msg("request %zu cut at %zu: no 200 (%zd)", r,
					 cut, got);
			close(cfd);
			status_http_free(h);
			event_base_free(base);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_terminator),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
