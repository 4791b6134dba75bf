/*
 * admin — the admin protocol between the weft-server CLI and the running
 * server, over the Unix socket admin.sock in the state directory (mode
 * 0600, so only the server's user and root may connect).
 *
 * One request per connection: the client writes one JSON object and a
 * newline (or closes its writing side), the server answers with one JSON
 * object and a newline and closes.  Strict both ways:
 *
 *   request   {"command": "network.create", "args": {"name": "lab"}}
 *             exactly these members; "args" may be left out ({}).
 *   response  {"ok": true, "result": ...}
 *             {"ok": false, "error": "one line: what failed, what to do"}
 *
 * Requests are at most ADMIN_MAX_REQUEST bytes of UTF-8 JSON with nothing
 * after the object; anything else is answered with an error naming the
 * problem and is handed to the handler as malformed (so it is audited),
 * never executed.  A connection that has not sent a whole request within
 * ADMIN_TIMEOUT_S seconds is closed.  The server side runs inside the
 * serve loop's epoll set and never blocks.
 *
 * Errors: 0 or a negative errno with one line in err.
 */
#ifndef WEFT_SERVER_ADMIN_H
#define WEFT_SERVER_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

#define ADMIN_MAX_REQUEST 65536
#define ADMIN_MAX_CONNS   32
#define ADMIN_TIMEOUT_S   10
#define ADMIN_CLIENT_TIMEOUT_S 60	/* the CLI's wait for an answer */

struct admin_peer {
	uid_t uid;		/* SO_PEERCRED */
	pid_t pid;
};

/* Answers one request.  command and args are borrowed; when malformed is
 * not NULL the request was refused for that reason (command may be NULL)
 * and the handler only records it.  Returns the response object
 * (admin_ok / admin_error), which admin takes over. */
typedef struct json_object *(*admin_handler)(void *ctx, const struct admin_peer *peer,
					      const char *command,
					      struct json_object *args,
					      const char *malformed);

/* --- server side --- */

struct admin;

/* Listens on path (an old socket file there is replaced: the caller makes
 * sure no server answers on it) and adds its descriptors to epfd with
 * epoll data.u64 = tag << 32 | fd. */
int admin_open(struct admin **out, const char *path, int epfd, uint32_t tag,
	       admin_handler handler, void *ctx, char *err, size_t errlen);
/* Closes every connection and removes the socket file.  NULL ok. */
void admin_close(struct admin *a);
/* fd is one of admin's (the tag said so); events as epoll reported them. */
void admin_event(struct admin *a, int fd, uint32_t events);
/* Closes connections older than ADMIN_TIMEOUT_S; call about once a second. */
void admin_tick(struct admin *a);

/* Response objects (caller owns them; the handler returns them).  result
 * is taken over (NULL = null). */
struct json_object *admin_ok(struct json_object *result);
struct json_object *admin_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* --- client side --- */

/* Sends {command, args} (args borrowed, NULL = {}) to the server at path
 * and waits for the answer.  0 with *result (caller puts it; may be NULL
 * for null), or: -ECONNREFUSED when no server answers (err says how to
 * start one), -EPROTO when the server refused (err is its message), other
 * negative errnos for local failures. */
int admin_call(const char *path, const char *command, struct json_object *args,
	       struct json_object **result, char *err, size_t errlen);
/* The name the client's messages give the other side and the command
 * that starts it (default "weft-server", "weft-server serve"); the node
 * CLI sets "weftd". */
void admin_client_names(const char *peer, const char *how_to_start);

#endif
