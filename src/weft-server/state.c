/* state — see state.h. */
#include "state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "encoding.h"
#include "token.h"

#define STATE_KEY_B64 44	/* base64 of 32 bytes, with padding */

int state_paths(struct state_paths *p, const char *dir, char *err, size_t errlen)
{
	size_t n;

	if (!dir)
		dir = getenv(STATE_ENV_DIR);
	if (!dir || !*dir)
		dir = STATE_DEFAULT_DIR;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n + 1 + sizeof(STATE_SOCK_FILE) > STATE_PATH_SIZE) {
		snprintf(err, errlen, "state directory '%.64s...' is too long for a "
			 "Unix socket path (at most %d characters); choose a shorter "
			 "--state-dir", dir, (int)(STATE_PATH_SIZE - 1 - sizeof(STATE_SOCK_FILE)));
		return -ENAMETOOLONG;
	}
	snprintf(p->dir, sizeof(p->dir), "%.*s", (int)n, dir);
	snprintf(p->key, sizeof(p->key), "%s/%s", p->dir, STATE_KEY_FILE);
	snprintf(p->db, sizeof(p->db), "%s/%s", p->dir, STATE_DB_FILE);
	snprintf(p->sock, sizeof(p->sock), "%s/%s", p->dir, STATE_SOCK_FILE);
	return 0;
}

int state_listen_check(const char *listen, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(listen, ':');
	uint8_t addr[16];
	size_t hl;
	long port;
	char *end;
	bool ok;

	if (!colon || (hl = (size_t)(colon - listen)) == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535)
		goto bad;
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		ok = inet_pton(AF_INET6, host + 1, addr) == 1;
	} else {
		ok = inet_pton(AF_INET, host, addr) == 1;
	}
	if (ok)
		return 0;
bad:
	snprintf(err, errlen, "listen address '%.128s' is not ADDR:PORT or "
		 "[ADDR6]:PORT with a numeric address (e.g. 0.0.0.0:51820)", listen);
	return -EINVAL;
}

/* The default listen address: the wildcard of the first endpoint's
 * family, on its port. */
static int state_default_listen(const char *endpoint, char *out, size_t size,
				char *err, size_t errlen)
{
	struct token_endpoint eps[TOKEN_MAX_ENDPOINTS];
	char why[192];
	size_t n;

	if (token_parse_endpoints(endpoint, strlen(endpoint), eps, &n, why,
				  sizeof(why))) {
		snprintf(err, errlen, "endpoint '%.128s' is not usable: %s (want "
			 "HOST:PORT[,HOST:PORT...], e.g. vpn.example.com:51820)",
			 endpoint, why);
		return -EINVAL;
	}
	snprintf(out, size, "%s:%u", eps[0].kind == TOKEN_HOST_IPV6 ? "[::]" : "0.0.0.0",
		 eps[0].port);
	return 0;
}

static int state_mkdir(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create state directory %s: %s", dir,
			 strerror(errno));
		return -errno;
	}
	if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "state directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	/* The key and the socket rely on it: nobody else may look in. */
	if ((sb.st_mode & 077) && chmod(dir, 0700)) {
		snprintf(err, errlen, "cannot make state directory %s private "
			 "(chmod 700): %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static int state_refuse_existing(const struct state_paths *p, char *err,
				 size_t errlen)
{
	const char *what[] = { p->key, p->db };
	struct stat sb;

	for (size_t i = 0; i < 2; i++) {
		if (lstat(what[i], &sb) == 0) {
			snprintf(err, errlen, "%s already exists: %s is already "
				 "initialised; refusing to overwrite it (to start "
				 "over, move the directory away first)", what[i], p->dir);
			return -EEXIST;
		}
	}
	return 0;
}

/* Creates the key file with O_EXCL, so a racing init cannot be clobbered. */
static int state_key_write(const char *path, const uint8_t priv[32], char *err,
			   size_t errlen)
{
	char b64[STATE_KEY_B64 + 2];
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	b64_encode(b64, priv, 32, B64_STD);
	b64[STATE_KEY_B64] = '\n';
	if (write(fd, b64, STATE_KEY_B64 + 1) != STATE_KEY_B64 + 1 || fsync(fd)) {
		r = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
	}
	crypto_wipe(b64, sizeof(b64));
	close(fd);
	if (r)
		unlink(path);
	return r;
}

static void state_db_remove(const char *db)
{
	char p[STATE_PATH_SIZE + 8];

	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
}

static int state_db_create(const struct state_paths *p, const char *endpoint,
			   const char *listen, char *err, size_t errlen)
{
	struct store *st;
	int r = store_open_err(&st, p->db, err, errlen);

	if (r)
		return r;
	if ((r = store_meta_set(st, STORE_META_ENDPOINT, endpoint)) ||
	    (r = store_meta_set(st, STATE_META_LISTEN, listen)))
		snprintf(err, errlen, "cannot write %s: %s", p->db, store_errmsg(st));
	store_close(st);
	return r;
}

int state_init(const struct state_paths *p, const char *endpoint,
	       const char *listen, uint8_t pub[32], char *err, size_t errlen)
{
	char dflt[STORE_META_SIZE];
	uint8_t priv[32];
	int r;

	if ((r = state_default_listen(endpoint, dflt, sizeof(dflt), err, errlen)))
		return r;
	if (!listen)
		listen = dflt;
	if ((r = state_listen_check(listen, err, errlen)) ||
	    (r = state_mkdir(p->dir, err, errlen)) ||
	    (r = state_refuse_existing(p, err, errlen)))
		return r;
	if (!crypto_x25519_generate(priv) || !crypto_x25519_public(pub, priv)) {
		snprintf(err, errlen, "cannot generate the server key pair "
			 "(random number generator failed)");
		r = -EIO;
		goto out;
	}
	if ((r = state_key_write(p->key, priv, err, errlen)))
		goto out;
	if ((r = state_db_create(p, endpoint, listen, err, errlen))) {
		state_db_remove(p->db);
		unlink(p->key);
	}
out:
	crypto_wipe(priv, sizeof(priv));
	return r;
}

int state_key_read(const struct state_paths *p, uint8_t priv[32], char *err,
		   size_t errlen)
{
	char buf[STATE_KEY_B64 + 8];
	struct stat sb;
	ssize_t n;
	int fd, r = -EINVAL;

	fd = open(p->key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (errno == ENOENT)
			snprintf(err, errlen, "%s is missing: %s is not initialised; "
				 "run: weft-server init --endpoint HOST:PORT", p->key, p->dir);
		else
			snprintf(err, errlen, "cannot open %s: %s", p->key, strerror(errno));
		return r;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", p->key);
		goto out;
	}
	if (sb.st_mode & 077) {
		snprintf(err, errlen, "%s is accessible by group or others (mode %04o); "
			 "fix it with: chmod 600 %s", p->key, (unsigned)(sb.st_mode & 07777),
			 p->key);
		r = -EPERM;
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n != STATE_KEY_B64 || !b64_decode(priv, 32, buf, STATE_KEY_B64, B64_STD)) {
		snprintf(err, errlen, "%s does not hold a base64 private key "
			 "(44 characters)", p->key);
		goto out;
	}
	r = 0;
out:
	crypto_wipe(buf, sizeof(buf));
	if (r)
		crypto_wipe(priv, 32);
	close(fd);
	return r;
}

static int state_meta(struct store *st, const struct state_paths *p,
		      const char *key, char out[STORE_META_SIZE], char *err,
		      size_t errlen)
{
	int r = store_meta_get(st, key, out, STORE_META_SIZE);

	if (r == -ENOENT)
		snprintf(err, errlen, "%s has no %s setting; it was not made by "
			 "weft-server init (move it away and run init again)", p->db, key);
	else if (r)
		snprintf(err, errlen, "cannot read %s: %s", p->db, store_errmsg(st));
	return r;
}

int state_load(const struct state_paths *p, struct store **st, uint8_t priv[32],
	       char listen[STORE_META_SIZE], char *err, size_t errlen)
{
	char endpoint[STORE_META_SIZE], dflt[STORE_META_SIZE];
	struct stat sb;
	int r;

	*st = NULL;
	if (stat(p->dir, &sb) || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "state directory %s does not exist; create it "
			 "with: weft-server init --endpoint HOST:PORT", p->dir);
		return -ENOENT;
	}
	if ((r = state_key_read(p, priv, err, errlen)))
		return r;
	if (stat(p->db, &sb)) {	/* store_open would make an empty one */
		snprintf(err, errlen, "%s is missing: %s is not fully initialised; "
			 "move the directory away and run: weft-server init "
			 "--endpoint HOST:PORT", p->db, p->dir);
		r = -ENOENT;
		goto fail;
	}
	if ((r = store_open_err(st, p->db, err, errlen)) ||
	    (r = state_meta(*st, p, STORE_META_ENDPOINT, endpoint, err, errlen)) ||
	    (r = state_default_listen(endpoint, dflt, sizeof(dflt), err, errlen)) ||
	    (r = state_meta(*st, p, STATE_META_LISTEN, listen, err, errlen)) ||
	    (r = state_listen_check(listen, err, errlen)))
		goto fail;
	return 0;
fail:
	store_close(*st);
	*st = NULL;
	crypto_wipe(priv, 32);
	return r;
}
