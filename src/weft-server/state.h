/*
 * state — weft-server's state directory: the server key pair (server.key,
 * the private key in base64, mode 0600), the database (weft.db) and the
 * admin socket (admin.sock), in a directory of mode 0700.
 *
 * Errors: 0 or a negative errno, with one user-facing line in err naming
 * the file and what to do.  The private key passes through caller memory
 * only; callers wipe it (crypto_wipe).
 */
#ifndef WEFT_SERVER_STATE_H
#define WEFT_SERVER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STATE_DEFAULT_DIR "/var/lib/weft-server"
#define STATE_ENV_DIR     "WEFT_STATE_DIR"
#define STATE_KEY_FILE    "server.key"
#define STATE_DB_FILE     "weft.db"
#define STATE_SOCK_FILE   "admin.sock"
#define STATE_META_LISTEN "listen"	/* ADDR:PORT the control plane binds */
#define STATE_PATH_SIZE   108		/* sun_path: the socket must fit */

struct state_paths {
	char dir[STATE_PATH_SIZE - sizeof(STATE_SOCK_FILE)];	/* room for "/admin.sock" */
	char key[STATE_PATH_SIZE];
	char db[STATE_PATH_SIZE];
	char sock[STATE_PATH_SIZE];
};

/* dir NULL = $WEFT_STATE_DIR, else STATE_DEFAULT_DIR.  -ENAMETOOLONG when
 * the socket path would not fit a Unix socket address. */
int state_paths(struct state_paths *p, const char *dir, char *err, size_t errlen);

/* Creates the directory (0700), the key pair and the database holding
 * endpoint and listen (NULL = 0.0.0.0:PORT of the first endpoint).
 * Refuses (-EEXIST) when a key or database is already there; on failure
 * removes what it created.  Writes the public key to pub. */
int state_init(const struct state_paths *p, const char *endpoint,
	       const char *listen, uint8_t pub[32], char *err, size_t errlen);

/* Reads the private key; refuses a key file readable by others or not a
 * regular file.  priv is wiped on failure. */
int state_key_read(const struct state_paths *p, uint8_t priv[32], char *err,
		   size_t errlen);

/* "ADDR:PORT" or "[ADDR6]:PORT" with a numeric address.  0 or -EINVAL. */
int state_listen_check(const char *listen, char *err, size_t errlen);

/* Everything serve needs, checked: key, database, endpoint and listen in
 * meta.  On success *st is open (caller closes), priv holds the private
 * key (caller wipes) and listen the listen address. */
int state_load(const struct state_paths *p, struct store **st, uint8_t priv[32],
	       char listen[STORE_META_SIZE], char *err, size_t errlen);

#endif
