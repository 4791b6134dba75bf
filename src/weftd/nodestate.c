/*
 * nodestate — what a node keeps across restarts, in its state directory:
 *
 *   node.key   the private key, base64, mode 0600, made on first start
 *   node.conf  JSON written after a join: the server's key and endpoints,
 *              the node's id, name and addresses, and whether the user
 *              last said `weft down`.  Replaced atomically (write a
 *              temporary file, fsync, rename, fsync the directory), so a
 *              crash leaves the old or the new file, never half of one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "encoding.h"
#include "uapi.h"
#include "weftd.h"

int nodestate_key(const char *path, uint8_t priv[32], bool create,
		  char *err, size_t errlen)
{
	char b64[64] = { 0 };
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
			close(fd);
			snprintf(err, errlen, "%s is readable by others (mode %03o); "
				 "chmod 600 it", path, st.st_mode & 0777);
			return -EPERM;
		}
		n = read(fd, b64, sizeof(b64) - 1);
		close(fd);
		if (n < 44 || !key_from_base64(priv, b64, 44) ||
		    (n > 44 && b64[44] != '\n')) {
			crypto_wipe(b64, sizeof(b64));
			snprintf(err, errlen, "%s does not hold a base64 key", path);
			return -EINVAL;
		}
		crypto_wipe(b64, sizeof(b64));
		return 0;
	}
	if (errno != ENOENT || !create) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!crypto_x25519_generate(priv)) {
		snprintf(err, errlen, "cannot generate a key: no randomness");
		return -EIO;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	key_to_base64(b64, priv);
	b64[44] = '\n';
	n = fd >= 0 ? write(fd, b64, 45) : -1;
	crypto_wipe(b64, sizeof(b64));
	if (fd < 0 || n != 45 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		crypto_wipe(priv, 32);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

static const char *js(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* "a.b.c.d/len" or "x::y/len" into addr and len. */
static bool prefix_parse(const char *s, int family, uint8_t *addr, uint8_t *len)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long l;

	if (!s || strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	if (!(slash = strchr(buf, '/')))
		return false;
	*slash = 0;
	l = strtol(slash + 1, &end, 10);
	if (*end || l < 0 || l > (family == AF_INET ? 32 : 128))
		return false;
	*len = (uint8_t)l;
	return inet_pton(family, buf, addr) == 1;
}

int nodestate_load(const char *path, struct node_conf *c, char *err,
		   size_t errlen)
{
	struct json_object *o = json_object_from_file(path), *v;
	const char *key, *eps, *name, *a4, *a6, *id;
	char *end;

	memset(c, 0, sizeof(*c));
	if (!o) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return -ENOENT;
		snprintf(err, errlen, "%s is not valid JSON (%s); remove it and "
			 "join again", path, json_util_get_last_err());
		return -EINVAL;
	}
	key = js(o, "server_key");
	eps = js(o, "server_endpoints");
	name = js(o, "name");
	a4 = js(o, "ipv4");
	a6 = js(o, "ipv6");
	id = js(o, "node_id");
	if (!key || !eps || !name || !a4 || !a6 || !id ||
	    strlen(key) != 44 || !key_from_base64(c->server_pub, key, 44) ||
	    strlen(eps) >= sizeof(c->endpoints) || strlen(name) >= sizeof(c->name) ||
	    !prefix_parse(a4, AF_INET, c->ipv4.addr, &c->ipv4.len) ||
	    !prefix_parse(a6, AF_INET6, c->ipv6.addr, &c->ipv6.len) ||
	    !(c->node_id = strtoull(id, &end, 10)) || *end) {
		json_object_put(o);
		snprintf(err, errlen, "%s lacks a field or has a bad one; remove "
			 "it and join again", path);
		return -EINVAL;
	}
	strcpy(c->endpoints, eps);
	strcpy(c->name, name);
	c->down = json_object_object_get_ex(o, "down", &v) &&
		  json_object_get_boolean(v);
	json_object_put(o);
	return 0;
}

int nodestate_save(const char *path, const struct node_conf *c, char *err,
		   size_t errlen)
{
	struct json_object *o = json_object_new_object();
	char key[45], a4[INET6_ADDRSTRLEN + 8], a6[INET6_ADDRSTRLEN + 8];
	char ip[INET6_ADDRSTRLEN], tmp[4200], id[24], dir[4096];
	const char *text;
	size_t len;
	int fd, r = 0;

	key_to_base64(key, c->server_pub);
	inet_ntop(AF_INET, c->ipv4.addr, ip, sizeof(ip));
	snprintf(a4, sizeof(a4), "%s/%u", ip, c->ipv4.len);
	inet_ntop(AF_INET6, c->ipv6.addr, ip, sizeof(ip));
	snprintf(a6, sizeof(a6), "%s/%u", ip, c->ipv6.len);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)c->node_id);
	json_object_object_add(o, "server_key", json_object_new_string(key));
	json_object_object_add(o, "server_endpoints", json_object_new_string(c->endpoints));
	json_object_object_add(o, "node_id", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "ipv4", json_object_new_string(a4));
	json_object_object_add(o, "ipv6", json_object_new_string(a6));
	json_object_object_add(o, "down", json_object_new_boolean(c->down));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	json_object_put(o);
	if (r) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* `weft logout`: the identity goes; the next `weft up` makes a new one. */
int nodestate_forget(struct agent *a)
{
	int r = 0;

	if (unlink(a->conf_path) < 0 && errno != ENOENT)
		r = -errno;
	if (unlink(a->key_path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}
