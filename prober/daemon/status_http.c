/*
 * status_http.c - connections of the status socket: accepting within the
 * cap and the allow-list, reading one request within the deadline,
 * writing one reply, closing. status_http.h says what is guaranteed and
 * why; status.c decides what to answer.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "daemon/status_http.h"

#define STATUS_LISTENERS 2  /* the unix socket and status_listen */
#define STATUS_ACCEPT_BATCH 32 /* accepts per wakeup: the loop has other work */

struct status_http;

struct status_listener {
	struct status_http *h;  /* the server it belongs to */
	int fd;                 /* listening socket; owned */
	struct event ev;        /* readable: connections waiting */
	bool tcp;               /* clients are checked against the allow-list */
	bool full;              /* not accepting: max_clients reached */
	unsigned n_clients;     /* its connections open now */
	char name[128];         /* for log lines */
};

struct status_client {
	TAILQ_ENTRY(status_client) link; /* in status_http.clients */
	struct status_listener *l;  /* accepted on it */
	struct bufferevent *bev;    /* owns the connection's fd */
	struct event ev_deadline;   /* STATUS_DEADLINE_MS after accept() */
	size_t searched;            /* input octets known to hold no end of
				       the headers */
	bool replied;               /* reply queued; now only draining input */
	bool eof;                   /* the client has shut down its side */
};

struct status_http {
	struct event_base *base;    /* not owned */
	status_route_fn route;      /* answers GET/HEAD */
	void *route_arg;            /* its argument; not owned */
	unsigned max_clients;       /* per listener */
	struct config_prefix *allow; /* TCP clients allowed; owned copy */
	size_t n_allow;             /* entries in allow */
	struct status_listener ls[STATUS_LISTENERS]; /* listeners in use */
	size_t n_ls;                /* entries used in ls */
	struct event ev_resume;     /* re-enable accepting after EMFILE */
	bool paused;                /* accepting paused by ev_resume */
	time_t last_pause_log;      /* monotonic s: one warning a minute */
	TAILQ_HEAD(, status_client) clients; /* every open connection */
	struct status_http_stats st; /* counters; clients counted here too */
};

/* --- replies ------------------------------------------------------------ */

/*
 * For refusals on a connection we will not read from: one non-blocking
 * send of a tiny reply, then close. Whatever does not fit is lost, which
 * is fine for a refusal.
 */
static void status_send_close(int fd, int code, const char *reason)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
			 "charset=utf-8\r\nContent-Length: 0\r\nConnection: "
			 "close\r\n\r\n",
			 code, reason);

	if (n > 0 && send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("status: %d reply not sent: %s", code, strerror(errno));
}

static void client_free(struct status_client *c)
{
	struct status_listener *l = c->l;
	struct status_http *h = l->h;

	event_del(&c->ev_deadline);
	bufferevent_free(c->bev); /* closes the fd */
	TAILQ_REMOVE(&h->clients, c, link);
	free(c);
	l->n_clients--;
	h->st.clients--;
	if (l->full && l->n_clients < h->max_clients) {
		l->full = false;
		if (!h->paused && event_add(&l->ev, NULL) < 0)
			log_err("status %s: cannot resume accepting", l->name);
	}
}

/* Queue the reply; the write callback ends the connection once it is out. */
static void client_reply(struct status_client *c, bool head,
			 const struct status_reply *r, const char *extra)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	bool ok;

	c->replied = true;
	ok = evbuffer_add_printf(out,
				 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
				 "Cache-Control: no-store\r\n%sContent-Length: "
				 "%zu\r\nConnection: close\r\n\r\n",
				 r->code, r->reason, r->ctype,
				 extra != NULL ? extra : "", r->len) >= 0 &&
	     (head || r->len == 0 || evbuffer_add(out, r->body, r->len) == 0);
	if (!ok) {
		log_warn("status: cannot queue a reply: out of memory");
		client_free(c);
		return;
	}
	/* Input from now on is drained, not parsed. */
	evbuffer_drain(bufferevent_get_input(c->bev),
		       evbuffer_get_length(bufferevent_get_input(c->bev)));
}

static void client_reply_text(struct status_client *c, int code,
			      const char *reason, const char *text,
			      const char *extra)
{
	struct status_reply r = { code, reason, "text/plain; charset=utf-8",
				  (char *)text, strlen(text) };

	client_reply(c, false, &r, extra);
}

/* --- one request ---------------------------------------------------------- */

/*
 * The path of a request target: origin form "/metrics?x" or absolute form
 * "http://host/metrics"; the query and fragment are dropped. NULL when it
 * is neither.
 */
static char *status_target_path(char *target)
{
	if (strncmp(target, "http://", 7) == 0) {
		target = strchr(target + 7, '/');
		if (target == NULL)
			return NULL;
	}
	if (target[0] != '/')
		return NULL;
	target[strcspn(target, "?#")] = '\0';
	return target;
}

/* line: the request line without its end of line. */
static void client_request(struct status_client *c, char *line)
{
	struct status_http *h = c->l->h;
	char *method = line, *target, *version, *path;
	struct status_reply r;
	bool head;

	target = strchr(method, ' ');
	version = target != NULL ? strchr(target + 1, ' ') : NULL;
	if (version == NULL) {
		h->st.rejected_bad_request++;
		client_reply_text(c, 400, "Bad Request", "bad request\n", NULL);
		return;
	}
	*target++ = '\0';
	*version++ = '\0';
	path = status_target_path(target);
	if (path == NULL || strncmp(version, "HTTP/1.", 7) != 0) {
		h->st.rejected_bad_request++;
		client_reply_text(c, 400, "Bad Request", "bad request\n", NULL);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		client_reply_text(c, 405, "Method Not Allowed",
				  "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
		return;
	}
	memset(&r, 0, sizeof(r));
	h->route(h->route_arg, path, &r);
	client_reply(c, head, &r, NULL);
	free(r.body);
}

/*
 * Search from where an earlier read stopped, less a terminator's length
 * (it may straddle the two reads): searching all the input again after
 * every read made a client that trickles its headers one octet at a time
 * cost quadratic loop time. Finds what a search of the whole input would.
 */
static struct evbuffer_ptr header_end(struct status_client *c,
				      struct evbuffer *in)
{
	struct evbuffer_ptr from, end;
	size_t have = evbuffer_get_length(in);

	end.pos = -1;
	if (evbuffer_ptr_set(in, &from, c->searched > 3 ? c->searched - 3 : 0,
			     EVBUFFER_PTR_SET) == 0)
		end = evbuffer_search(in, "\r\n\r\n", 4, &from);
	if (end.pos < 0 &&
	    evbuffer_ptr_set(in, &from, c->searched > 1 ? c->searched - 1 : 0,
			     EVBUFFER_PTR_SET) == 0)
		end = evbuffer_search(in, "\n\n", 2, &from);
	c->searched = have;
	return end;
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct status_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t have = evbuffer_get_length(in);
	struct evbuffer_ptr end;
	char line[STATUS_MAX_HEADERS + 1];
	ev_ssize_t n;

	if (c->replied) {
		evbuffer_drain(in, have);
		return;
	}
	/* The end of the headers; a bare LF is tolerated like evhttp did. */
	end = header_end(c, in);
	if (end.pos < 0 || (size_t)end.pos > STATUS_MAX_HEADERS) {
		if (have > STATUS_MAX_HEADERS || end.pos >= 0) {
			c->l->h->st.rejected_bad_request++;
			client_reply_text(c, 400, "Bad Request",
					  "request too large\n", NULL);
		}
		return;
	}
	n = evbuffer_copyout(in, line, (size_t)end.pos);
	if (n < 0) {
		client_free(c);
		return;
	}
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	client_request(c, line);
}

/* Every queued byte is out: say we are done, wait for the client's EOF. */
static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct status_client *c = arg;

	if (!c->replied)
		return;
	if (c->eof) {
		client_free(c);
		return;
	}
	/*
	 * A close with unread input would reset the connection and could
	 * destroy the reply on its way; half-close and drain instead.
	 */
	if (shutdown(bufferevent_getfd(bev), SHUT_WR) < 0)
		client_free(c);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct status_client *c = arg;

	if ((what & BEV_EVENT_EOF) && c->replied &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		c->eof = true; /* the reply still goes out; then close */
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(c);
}

static void client_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status_client *c = arg;

	(void)fd;
	(void)what;
	if (!c->replied) {
		c->l->h->st.rejected_deadline++;
		status_send_close(bufferevent_getfd(c->bev), 408,
				  "Request Timeout");
	}
	client_free(c);
}

/* --- accepting ------------------------------------------------------------ */

static bool status_prefix_match(const struct config_prefix *p,
				const struct sockaddr_storage *ss)
{
	const unsigned char *a;
	unsigned full, rest;

	if (ss->ss_family != p->family)
		return false;
	a = ss->ss_family == AF_INET
		    ? (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr
		    : (const unsigned char *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	full = p->bits / 8;
	rest = p->bits % 8;
	if (memcmp(a, p->addr, full) != 0)
		return false;
	return rest == 0 ||
	       ((a[full] ^ p->addr[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

static bool status_allowed(const struct status_http *h,
			   const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < h->n_allow; i++)
		if (status_prefix_match(&h->allow[i], ss))
			return true;
	return false;
}

static void client_new(struct status_listener *l, int fd)
{
	struct status_http *h = l->h;
	struct status_client *c = calloc(1, sizeof(*c));
	struct timeval tv = { STATUS_DEADLINE_MS / 1000,
			      (STATUS_DEADLINE_MS % 1000) * 1000 };

	if (c != NULL)
		c->bev = bufferevent_socket_new(h->base, fd,
						BEV_OPT_CLOSE_ON_FREE);
	if (c == NULL || c->bev == NULL) {
		log_warn("status %s: cannot serve a client: out of memory",
			 l->name);
		free(c);
		close(fd);
		return;
	}
	c->l = l;
	TAILQ_INSERT_TAIL(&h->clients, c, link);
	l->n_clients++;
	h->st.clients++;
	evtimer_assign(&c->ev_deadline, h->base, client_deadline_cb, c);
	/* A request can only be too long by one byte before we see it. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, STATUS_MAX_HEADERS + 1);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
			  client_event_cb, c);
	if (evtimer_add(&c->ev_deadline, &tv) < 0 ||
	    bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0) {
		log_warn("status %s: cannot serve a client", l->name);
		client_free(c);
	}
}

static void status_pause(struct status_http *h, int err)
{
	struct timeval tv = { 0, STATUS_ACCEPT_PAUSE_MS * 1000 };
	struct timespec now;

	h->st.paused_descriptors++;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (h->last_pause_log == 0 || now.tv_sec - h->last_pause_log >= 60) {
		h->last_pause_log = now.tv_sec;
		log_warn("status: accept: %s; pausing for %d ms (said once a "
			 "minute)",
			 strerror(err), STATUS_ACCEPT_PAUSE_MS);
	}
	h->paused = true;
	for (size_t i = 0; i < h->n_ls; i++)
		event_del(&h->ls[i].ev);
	if (evtimer_add(&h->ev_resume, &tv) < 0)
		log_err("status: cannot pause accepting");
}

static void status_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status_http *h = arg;

	(void)fd;
	(void)what;
	h->paused = false;
	for (size_t i = 0; i < h->n_ls; i++)
		if (!h->ls[i].full && event_add(&h->ls[i].ev, NULL) < 0)
			log_err("status %s: cannot resume accepting",
				h->ls[i].name);
}

/* Accept what waits, up to the cap; beyond it connections stay queued. */
static void status_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct status_listener *l = arg;
	struct status_http *h = l->h;

	(void)what;
	for (int i = 0; i < STATUS_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		if (l->n_clients >= h->max_clients) {
			l->full = true;
			h->st.paused_max_clients++;
			event_del(&l->ev);
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				status_pause(h, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
				 errno != EINTR && errno != ECONNABORTED)
				log_warn("status %s: accept: %s", l->name,
					 strerror(errno));
			if (errno != ECONNABORTED)
				return;
			continue;
		}
		if (l->tcp && !status_allowed(h, &ss)) {
			h->st.rejected_not_allowed++;
			status_send_close(fd, 403, "Forbidden");
			close(fd);
			continue;
		}
		client_new(l, fd);
	}
}

/* --- the server ----------------------------------------------------------- */

struct status_http *status_http_new(struct event_base *base,
				    unsigned max_clients,
				    const struct config_prefix *allow,
				    size_t n_allow, status_route_fn route,
				    void *arg)
{
	struct status_http *h = calloc(1, sizeof(*h));

	if (h != NULL && n_allow > 0) {
		h->allow = calloc(n_allow, sizeof(*h->allow));
		if (h->allow == NULL) {
			free(h);
			h = NULL;
		}
	}
	if (h == NULL) {
		log_err("status socket: %s", strerror(ENOMEM));
		return NULL;
	}
	if (n_allow > 0)
		memcpy(h->allow, allow, n_allow * sizeof(*allow));
	h->n_allow = n_allow;
	h->base = base;
	h->route = route;
	h->route_arg = arg;
	h->max_clients = max_clients > 0 ? max_clients : 1;
	TAILQ_INIT(&h->clients);
	evtimer_assign(&h->ev_resume, base, status_resume_cb, h);
	return h;
}

int status_http_listen(struct status_http *h, int fd, bool tcp,
		       const char *name)
{
	struct status_listener *l;

	if (h->n_ls == STATUS_LISTENERS) {
		log_err("status %s: too many listeners", name);
		close(fd);
		return -1;
	}
	l = &h->ls[h->n_ls];
	memset(l, 0, sizeof(*l));
	l->h = h;
	l->fd = fd;
	l->tcp = tcp;
	snprintf(l->name, sizeof(l->name), "%s", name);
	event_assign(&l->ev, h->base, fd, EV_READ | EV_PERSIST,
		     status_accept_cb, l);
	h->n_ls++;
	if (event_add(&l->ev, NULL) < 0) {
		log_err("status %s: cannot serve it", name);
		return -1;
	}
	return 0;
}

void status_http_stats(const struct status_http *h,
		       struct status_http_stats *out)
{
	*out = h->st;
}

void status_http_free(struct status_http *h)
{
	struct status_client *c;

	if (h == NULL)
		return;
	h->paused = true; /* client_free() must not re-arm a listener */
	while ((c = TAILQ_FIRST(&h->clients)) != NULL)
		client_free(c);
	evtimer_del(&h->ev_resume);
	for (size_t i = 0; i < h->n_ls; i++) {
		event_del(&h->ls[i].ev);
		close(h->ls[i].fd);
	}
	free(h->allow);
	free(h);
}
