/*
 * local — the Unix socket the `weft` CLI talks to (mode 0600: root, or
 * the daemon's user).  The framing is the admin protocol's (one JSON
 * request and a newline in, one JSON answer and a newline out, then the
 * connection closes; src/weft-server/admin.h), so `weft` reuses its
 * client.  Unlike the server's admin socket an answer may come later: a
 * join waits for the server, a ping for its echo.  Requests:
 *
 *   up      {token?, hostname?}  join, or reconnect with the identity kept
 *   status  {}                   node, server and peers
 *   ping    {peer}               one echo through the tunnel
 *   down    {}                   interface down, identity kept
 *   logout  {}                   leave the network, forget the identity
 *
 * A request unanswered after LOCAL_WAIT_S seconds is answered with an
 * error; a connection that sends nothing whole in LOCAL_READ_S is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "clock.h"
#include "encoding.h"
#include "weftd.h"

#define LOCAL_MAX_CONNS 32
#define LOCAL_MAX_REQUEST 16384
#define LOCAL_READ_S 10
#define LOCAL_WAIT_S 30

struct local_conn {
	int fd;
	bool waiting;			/* request taken, answer pending */
	uint64_t deadline;
	size_t len;
	char buf[LOCAL_MAX_REQUEST];
	struct local_conn *next;
};

int local_open(struct agent *a, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, probe;
	mode_t old;

	if (strlen(a->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", a->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, a->socket_path);
	/* A live daemon answers on it: refuse; a stale file is replaced. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		snprintf(err, errlen, "another weftd answers on %s", a->socket_path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	unlink(a->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(077);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		int e = errno;
		umask(old);
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot listen on %s: %s", a->socket_path,
			 strerror(e));
		return -e;
	}
	umask(old);
	a->local_fd = fd;
	dp_watch(&a->dp, fd, EV_LOCAL);
	return 0;
}

static void local_drop(struct agent *a, struct local_conn *c)
{
	struct local_conn **pp = &a->conns;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	agent_forget_waiter(a, c);
	dp_unwatch(&a->dp, c->fd);
	close(c->fd);
	explicit_bzero(c->buf, c->len);	/* may hold a token */
	free(c);
}

void local_close(struct agent *a)
{
	while (a->conns)
		local_drop(a, a->conns);
	if (a->local_fd >= 0) {
		close(a->local_fd);
		unlink(a->socket_path);
		a->local_fd = -1;
	}
}

/* Writes the answer (blocking briefly: it is small and the CLI reads). */
static void local_send(struct agent *a, struct local_conn *c,
		       struct json_object *resp)
{
	const char *text = json_object_to_json_string_ext(resp,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(text), off = 0;
	int tries = 0;

	while (off < len && tries < 1000) {
		ssize_t n = write(c->fd, text + off, len - off);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		else
			tries++;
	}
	if (off == len && write(c->fd, "\n", 1) < 0)
		dp_log(LOG_VERBOSE, "local: answer not delivered");
	json_object_put(resp);
	local_drop(a, c);
}

void local_reply_ok(struct agent *a, struct local_conn *c,
		    struct json_object *result)
{
	local_send(a, c, admin_ok(result));
}

void local_reply_error(struct agent *a, struct local_conn *c,
		       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	local_send(a, c, admin_error("%s", msg));
}

static void local_accept(struct agent *a)
{
	size_t n = 0;

	for (struct local_conn *c = a->conns; c; c = c->next)
		n++;
	for (;;) {
		int fd = accept4(a->local_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct local_conn *c;

		if (fd < 0)
			return;
		if (n >= LOCAL_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline = clock_mono_ns() + LOCAL_READ_S * NSEC_PER_SEC;
		agent_soon(a);
		c->next = a->conns;
		a->conns = c;
		n++;
		dp_watch(&a->dp, fd, EV_LOCAL_CONN | (uint32_t)fd);
	}
}

/* A whole request: {"command": STRING, "args": OBJECT?}. */
static void local_request(struct agent *a, struct local_conn *c)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req = NULL, *cmd, *args = NULL;
	size_t len = c->len;

	while (len && (c->buf[len - 1] == '\n' || c->buf[len - 1] == '\r'))
		len--;
	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				       JSON_TOKENER_VALIDATE_UTF8);
		req = json_tokener_parse_ex(tok, c->buf, (int)len);
		if (json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len) {
			json_object_put(req);
			req = NULL;
		}
		json_tokener_free(tok);
	}
	if (!req || !json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "command", &cmd) ||
	    !json_object_is_type(cmd, json_type_string) ||
	    (json_object_object_get_ex(req, "args", &args) &&
	     !json_object_is_type(args, json_type_object))) {
		json_object_put(req);
		local_reply_error(a, c, "malformed request: expected "
				  "{\"command\": NAME, \"args\": {...}}");
		return;
	}
	c->waiting = true;
	c->deadline = clock_mono_ns() + LOCAL_WAIT_S * NSEC_PER_SEC;
	dp_unwatch(&a->dp, c->fd);
	explicit_bzero(c->buf, c->len);
	local_handle(a, c, json_object_get_string(cmd), args);
	json_object_put(req);
}

void local_event(struct agent *a, uint64_t tag)
{
	int fd = (int)(uint32_t)tag;
	struct local_conn *c;

	if (tag == EV_LOCAL) {
		local_accept(a);
		return;
	}
	for (c = a->conns; c && c->fd != fd; c = c->next)
		;
	if (!c || c->waiting)
		return;
	for (;;) {
		ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || memchr(c->buf + c->len, '\n', (size_t)n)) {
			if (n > 0)
				c->len += (size_t)n;
			if (!c->len) {
				local_drop(a, c);
				return;
			}
			local_request(a, c);
			return;
		}
		c->len += (size_t)n;
		if (c->len == sizeof(c->buf)) {
			local_reply_error(a, c, "request too long (limit %d bytes)",
					  LOCAL_MAX_REQUEST);
			return;
		}
	}
}

void local_tick(struct agent *a, uint64_t now)
{
	struct local_conn *c = a->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (now < c->deadline)
			continue;
		if (c->waiting)
			local_reply_error(a, c, "no result within %d s: %s", LOCAL_WAIT_S,
					  a->last_error[0] ? a->last_error :
					  "the server does not answer");
		else
			local_drop(a, c);
	}
}
