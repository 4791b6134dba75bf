/*
 * fuzz_uapi — libFuzzer target for the userspace API codec.  The input is
 * framed as a request and, separately, parsed as a raw set body; whatever
 * parses is formatted and parsed again, and must come back unchanged.
 * Key encodings are round-tripped on the input's first bytes.
 */
#include "uapi.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Formats one peer back into set lines (at most 8 allowed IPs), parses
 * them again and traps unless the result matches. */
static void fuzz_round_trip_peer(const struct uapi_peer *p)
{
	char body[1024], item[80];
	size_t n = 0, i, naips = p->n_aips < 8 ? p->n_aips : 8;
	struct uapi_set again;
	const struct uapi_peer *q;

	if (uapi_format_key(item, sizeof(item), p->public_key) != 64)
		abort();
	n += (size_t)snprintf(body + n, sizeof(body) - n, "public_key=%s\n", item);
	if (p->has_endpoint) {
		if (uapi_format_endpoint(item, sizeof(item), &p->endpoint) < 0)
			abort();
		n += (size_t)snprintf(body + n, sizeof(body) - n, "endpoint=%s\n", item);
	}
	for (i = 0; i < naips; i++) {
		if (uapi_format_aip(item, sizeof(item), p->aips[i].family,
				    p->aips[i].addr, p->aips[i].cidr) < 0)
			abort();
		n += (size_t)snprintf(body + n, sizeof(body) - n, "allowed_ip=%s\n", item);
	}
	if (uapi_parse_set(body, n, &again, NULL, 0) != 0 || again.n_peers != 1)
		abort();
	q = &again.peers[0];
	if (memcmp(q->public_key, p->public_key, 32) != 0 || q->n_aips != naips ||
	    (p->has_endpoint && !wg_sockaddr_equal(&q->endpoint, &p->endpoint)))
		abort();
	for (i = 0; i < naips; i++)
		if (memcmp(&q->aips[i], &p->aips[i], sizeof(q->aips[i])) != 0)
			abort();
	uapi_set_free(&again);
}

static void fuzz_parse_body(const char *body, size_t len)
{
	struct uapi_set s;
	char err[96];
	size_t i;

	if (uapi_parse_set(body, len, &s, err, sizeof(err)) != 0) {
		if (s.n_peers || s.peers || s.has_private_key || !err[0] ||
		    strchr(err, '\n'))
			abort();
		return;
	}
	for (i = 0; i < s.n_peers && i < 4; i++)
		fuzz_round_trip_peer(&s.peers[i]);
	uapi_set_free(&s);
}

static void fuzz_keys(const uint8_t *data, size_t size)
{
	uint8_t key[32];
	char out[65];
	size_t i;

	if (size >= 44 && key_from_base64(key, (const char *)data, 44)) {
		key_to_base64(out, key);
		if (memcmp(out, data, 44) != 0)
			abort();
	}
	if (size >= 64 && uapi_parse_hex_key(key, (const char *)data, 64)) {
		uapi_format_key(out, sizeof(out), key);
		for (i = 0; i < 64; i++)
			if (out[i] != tolower(data[i]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	enum uapi_op op;
	size_t off;
	long total = uapi_frame(buf, size, &op, &off);

	if (total > 0) {
		if ((size_t)total > size || off >= (size_t)total ||
		    buf[total - 1] != '\n')
			abort();
		if (op == UAPI_OP_SET)
			fuzz_parse_body(buf + off, (size_t)total - off - 1);
	}
	fuzz_parse_body(buf, size);
	fuzz_keys(data, size);
	return 0;
}
