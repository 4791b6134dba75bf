/* admin — see admin.h. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ADMIN_CLIENT_MAX_RESPONSE (256u << 20)

struct admin_conn {
	int fd;				/* -1: free slot */
	struct admin_peer peer;
	time_t born;			/* CLOCK_MONOTONIC seconds */
	char *in;			/* ADMIN_MAX_REQUEST + 1 */
	size_t in_len;
	char *out;			/* the response, once there is one */
	size_t out_len, out_off;
	bool draining;			/* answered; reading to the client's EOF */
};

struct admin {
	int fd, epfd;
	uint32_t tag;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	admin_handler handler;
	void *ctx;
	struct admin_conn conn[ADMIN_MAX_CONNS];
};

static time_t admin_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* --- responses --- */

struct json_object *admin_ok(struct json_object *result)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "result", result);
	return o;
}

struct json_object *admin_error(const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

/* --- server: the listening socket --- */

static int admin_sockaddr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int admin_epoll(struct admin *a, int op, int fd, uint32_t events)
{
	struct epoll_event ev = {
		.events = events,
		.data.u64 = (uint64_t)a->tag << 32 | (uint32_t)fd,
	};

	return epoll_ctl(a->epfd, op, fd, &ev) ? -errno : 0;
}

int admin_open(struct admin **out, const char *path, int epfd, uint32_t tag,
	       admin_handler handler, void *ctx, char *err, size_t errlen)
{
	struct admin *a = calloc(1, sizeof(*a));
	struct sockaddr_un sa;
	mode_t old;
	int r;

	*out = NULL;
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < ADMIN_MAX_CONNS; i++)
		a->conn[i].fd = -1;
	a->epfd = epfd;
	a->tag = tag;
	a->handler = handler;
	a->ctx = ctx;
	a->path[0] = '\0';
	if ((r = admin_sockaddr(&sa, path))) {
		snprintf(err, errlen, "admin socket path %s is too long", path);
		goto fail;
	}
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create the admin socket: %s", strerror(errno));
		goto fail;
	}
	unlink(path);
	old = umask(0177);	/* born 0600: no window where others may connect */
	r = bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (r || chmod(path, 0600) || listen(a->fd, 16)) {
		r = r ? r : -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-r));
		goto fail;
	}
	strcpy(a->path, path);
	if ((r = admin_epoll(a, EPOLL_CTL_ADD, a->fd, EPOLLIN))) {
		snprintf(err, errlen, "epoll: %s", strerror(-r));
		goto fail;
	}
	*out = a;
	return 0;
fail:
	admin_close(a);
	return r;
}

static void admin_conn_close(struct admin *a, struct admin_conn *c)
{
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	if (c->out)	/* a key.create answer holds a join token */
		explicit_bzero(c->out, c->out_len);
	free(c->out);
	*c = (struct admin_conn){ .fd = -1 };
}

void admin_close(struct admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < ADMIN_MAX_CONNS; i++)
		if (a->conn[i].fd >= 0)
			admin_conn_close(a, &a->conn[i]);
	if (a->fd >= 0) {
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->fd, NULL);
		close(a->fd);
	}
	if (a->path[0])
		unlink(a->path);
	free(a);
}

static void admin_accept(struct admin *a)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct admin_conn *c = NULL;
	int fd;

	while ((fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (size_t i = 0; i < ADMIN_MAX_CONNS && !c; i++)
			if (a->conn[i].fd < 0)
				c = &a->conn[i];
		if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
		    !(c->in = malloc(ADMIN_MAX_REQUEST + 1))) {
			log_warn("admin: connection refused (%s)",
				 c ? "cannot identify or serve the peer" :
				     "too many open admin connections");
			close(fd);
			return;
		}
		c->fd = fd;
		c->peer = (struct admin_peer){ .uid = cred.uid, .pid = cred.pid };
		c->born = admin_monotonic();
		if (admin_epoll(a, EPOLL_CTL_ADD, fd, EPOLLIN)) {
			admin_conn_close(a, c);
			return;
		}
		c = NULL;
		len = sizeof(cred);
	}
}

/* --- server: one request --- */

/* The envelope's checks; NULL when the request is well formed. */
static const char *admin_envelope(struct json_object *req, const char **command,
				  struct json_object **args)
{
	struct json_object_iterator it, end;

	if (!json_object_is_type(req, json_type_object))
		return "the request is not a JSON object";
	it = json_object_iter_begin(req);
	end = json_object_iter_end(req);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		if (!strcmp(k, "command")) {
			if (!json_object_is_type(v, json_type_string))
				return "\"command\" is not a string";
			*command = json_object_get_string(v);
		} else if (!strcmp(k, "args")) {
			if (!json_object_is_type(v, json_type_object))
				return "\"args\" is not a JSON object";
			*args = v;
		} else {
			return "the request has a member other than \"command\" and \"args\"";
		}
	}
	return *command ? NULL : "the request has no \"command\"";
}

/* Parses exactly len bytes as one JSON value (strict: nothing but
 * whitespace may follow it); NULL with the reason in why on failure. */
static struct json_object *admin_parse(const char *text, size_t len, char *why,
				       size_t whylen)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error e;
	struct json_object *o;

	if (!tok) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	if (e == json_tokener_continue)
		snprintf(why, whylen, "the request is incomplete JSON");
	else if (!o || e != json_tokener_success)
		snprintf(why, whylen, "the request is not valid JSON (%s at byte %zu)",
			 json_tokener_error_desc(e), json_tokener_get_parse_end(tok));
	else if (json_tokener_get_parse_end(tok) != len)
		snprintf(why, whylen, "there is data after the request's JSON object");
	if (e != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static struct json_object *admin_dispatch(struct admin *a, struct admin_conn *c,
					  size_t len, const char *too_long)
{
	struct json_object *req = NULL, *args = NULL, *resp, *empty = NULL;
	const char *command = NULL, *why = too_long;
	char parse_err[128];

	if (!why && memchr(c->in, '\0', len))
		why = "the request contains a NUL byte";
	if (!why && !len)
		why = "the request is empty";	/* a bare newline */
	if (!why && !(req = admin_parse(c->in, len, parse_err, sizeof(parse_err))))
		why = parse_err;
	if (!why)
		why = admin_envelope(req, &command, &args);
	if (!why && !args)
		args = empty = json_object_new_object();
	if (why) {
		resp = a->handler(a->ctx, &c->peer, command, NULL, why);
		if (!resp)
			resp = admin_error("malformed admin request: %s", why);
	} else {
		resp = a->handler(a->ctx, &c->peer, command, args, NULL);
	}
	json_object_put(empty);
	json_object_put(req);
	return resp;
}

static void admin_respond(struct admin *a, struct admin_conn *c, size_t len,
			  const char *too_long)
{
	struct json_object *resp = admin_dispatch(a, c, len, too_long);
	const char *text = json_object_to_json_string_ext(resp,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(text);

	explicit_bzero(c->in, c->in_len);
	free(c->in);
	c->in = NULL;
	if ((c->out = malloc(n + 1))) {
		memcpy(c->out, text, n);
		c->out[n] = '\n';
		c->out_len = n + 1;
	}
	explicit_bzero((char *)text, n);	/* the object's own print buffer */
	json_object_put(resp);
	if (!c->out || admin_epoll(a, EPOLL_CTL_MOD, c->fd, EPOLLOUT))
		admin_conn_close(a, c);
}

static void admin_read(struct admin *a, struct admin_conn *c)
{
	char *nl;
	ssize_t n;

	for (;;) {
		size_t room = ADMIN_MAX_REQUEST + 1 - c->in_len;
		if (!room) {
			admin_respond(a, c, 0, "the request is larger than "
				      "65536 bytes");
			return;
		}
		n = read(c->fd, c->in + c->in_len, room);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			admin_conn_close(a, c);
			return;
		}
		if (n == 0)
			break;	/* the client closed its side: that is the end */
		nl = memchr(c->in + c->in_len, '\n', (size_t)n);
		c->in_len += (size_t)n;
		if (nl) {
			size_t len = (size_t)(nl - c->in);
			admin_respond(a, c, len, c->in_len > len + 1 ?
				      "there is data after the request's newline" : NULL);
			return;
		}
	}
	if (c->in_len == 0)
		admin_conn_close(a, c);	/* no request at all: a liveness probe */
	else if (c->in_len > ADMIN_MAX_REQUEST)
		admin_respond(a, c, 0, "the request is larger than 65536 bytes");
	else
		admin_respond(a, c, c->in_len, NULL);
}

static void admin_drain(struct admin *a, struct admin_conn *c)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(c->fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		admin_conn_close(a, c);
}

static void admin_write(struct admin *a, struct admin_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	/* Closing with unread input would reset the connection and could
	 * destroy the answer (an oversized request): read to the end first. */
	if (c->out_off < c->out_len || shutdown(c->fd, SHUT_WR) ||
	    admin_epoll(a, EPOLL_CTL_MOD, c->fd, EPOLLIN)) {
		admin_conn_close(a, c);
		return;
	}
	c->draining = true;
	admin_drain(a, c);
}

void admin_event(struct admin *a, int fd, uint32_t events)
{
	if (fd == a->fd) {
		admin_accept(a);
		return;
	}
	for (size_t i = 0; i < ADMIN_MAX_CONNS; i++) {
		struct admin_conn *c = &a->conn[i];
		if (c->fd != fd)
			continue;
		if (c->draining)
			admin_drain(a, c);
		else if (c->out)
			admin_write(a, c);
		else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			admin_read(a, c);
		return;
	}
}

void admin_tick(struct admin *a)
{
	time_t now = admin_monotonic();

	for (size_t i = 0; i < ADMIN_MAX_CONNS; i++) {
		struct admin_conn *c = &a->conn[i];
		if (c->fd >= 0 && now - c->born > ADMIN_TIMEOUT_S) {
			log_warn("admin: closed a connection from uid %u that took "
				 "longer than %ds", (unsigned)c->peer.uid, ADMIN_TIMEOUT_S);
			admin_conn_close(a, c);
		}
	}
}

/* --- client --- */

/* Who the client talks to, for its messages (admin_client_names). */
static const char *admin_peer_name = "weft-server";
static const char *admin_peer_start = "weft-server serve";

void admin_client_names(const char *peer, const char *how_to_start)
{
	admin_peer_name = peer;
	admin_peer_start = how_to_start;
}

static int admin_connect(const char *path, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = ADMIN_CLIENT_TIMEOUT_S };
	struct sockaddr_un sa;
	int fd, r;

	if (admin_sockaddr(&sa, path)) {
		snprintf(err, errlen, "admin socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	r = -errno;
	close(fd);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		snprintf(err, errlen, "%s is not running (no answer on %s); "
			 "start it with: %s", admin_peer_name, path, admin_peer_start);
		return -ECONNREFUSED;
	}
	if (r == -EACCES || r == -EPERM)
		snprintf(err, errlen, "cannot connect to %s: permission denied; run "
			 "this as the user %s runs as (or root)", path, admin_peer_name);
	else
		snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(-r));
	return r;
}

static int admin_send(int fd, const char *command, struct json_object *args,
		      char *err, size_t errlen)
{
	struct json_object *req = json_object_new_object();
	const char *text;
	size_t len, off = 0;
	int r = 0;

	json_object_object_add(req, "command", json_object_new_string(command));
	json_object_object_add(req, "args", args ? json_object_get(args)
						 : json_object_new_object());
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	while (off < len && r == 0) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (r == 0 && write(fd, "\n", 1) != 1)
		r = -errno;
	if (r)
		snprintf(err, errlen, "cannot send the request to %s: %s", admin_peer_name,
			 strerror(-r));
	json_object_put(req);
	return r;
}

static int admin_receive(int fd, struct json_object **resp, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error e = json_tokener_continue;
	size_t total = 0;
	char buf[65536];
	ssize_t n = 0;

	*resp = NULL;
	while (tok && e == json_tokener_continue && total < ADMIN_CLIENT_MAX_RESPONSE) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		*resp = json_tokener_parse_ex(tok, buf, (int)n);
		e = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);
	if (*resp && e == json_tokener_success)
		return 0;
	json_object_put(*resp);
	*resp = NULL;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		snprintf(err, errlen, "%s did not answer within %ds; check "
			 "its log", admin_peer_name, ADMIN_CLIENT_TIMEOUT_S);
	else
		snprintf(err, errlen, "%s sent no usable answer; check its log",
			 admin_peer_name);
	return -EPROTO;
}

int admin_call(const char *path, const char *command, struct json_object *args,
	       struct json_object **result, char *err, size_t errlen)
{
	struct json_object *resp, *ok, *v;
	int fd, r;

	*result = NULL;
	if ((fd = admin_connect(path, err, errlen)) < 0)
		return fd;
	r = admin_send(fd, command, args, err, errlen);
	if (r == 0)
		shutdown(fd, SHUT_WR);
	if (r == 0 && (r = admin_receive(fd, &resp, err, errlen)) == 0) {
		if (!json_object_object_get_ex(resp, "ok", &ok) ||
		    !json_object_is_type(ok, json_type_boolean)) {
			snprintf(err, errlen, "%s sent an answer without \"ok\"",
				 admin_peer_name);
			r = -EPROTO;
		} else if (json_object_get_boolean(ok)) {
			if (json_object_object_get_ex(resp, "result", &v))
				*result = json_object_get(v);
		} else {
			json_object_object_get_ex(resp, "error", &v);
			snprintf(err, errlen, "%s", v && json_object_is_type(v, json_type_string)
				 ? json_object_get_string(v) : "the request was refused");
			r = -EPROTO;
		}
		json_object_put(resp);
	}
	close(fd);
	return r;
}
