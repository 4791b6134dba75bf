/*
 * probe — sealing and opening path probes (probe.h has the format).
 */
#include "probe.h"

#include <string.h>

#include "crypto.h"

#define HDR_LEN   60
#define BODY_LEN  32
static const char probe_label[] = "weft probe v1";

void probe_key(uint8_t key[32], const uint8_t ss[32])
{
	crypto_hash(key, probe_label, sizeof(probe_label) - 1, ss, 32);
}

const uint8_t *probe_sender(const uint8_t *buf, size_t len)
{
	if (len != PROBE_LEN || buf[1] || buf[2] || buf[3] ||
	    (buf[0] != PROBE_PING && buf[0] != PROBE_PONG))
		return NULL;
	return buf + 4;
}

static void put_addr(uint8_t *b, const union wg_sockaddr *a)
{
	memset(b, 0, 20);
	if (a->sa.sa_family == AF_INET) {
		b[0] = 4;
		memcpy(b + 2, &a->in4.sin_port, 2);
		memcpy(b + 4, &a->in4.sin_addr, 4);
	} else if (a->sa.sa_family == AF_INET6) {
		b[0] = 6;
		memcpy(b + 2, &a->in6.sin6_port, 2);
		memcpy(b + 4, &a->in6.sin6_addr, 16);
	}
}

static bool get_addr(union wg_sockaddr *a, const uint8_t *b)
{
	memset(a, 0, sizeof(*a));
	if (b[1])
		return false;
	switch (b[0]) {
	case 0:
		return crypto_is_zero(b + 2, 18);
	case 4:
		if (!crypto_is_zero(b + 8, 12))
			return false;
		a->in4.sin_family = AF_INET;
		memcpy(&a->in4.sin_port, b + 2, 2);
		memcpy(&a->in4.sin_addr, b + 4, 4);
		return true;
	case 6:
		a->in6.sin6_family = AF_INET6;
		memcpy(&a->in6.sin6_port, b + 2, 2);
		memcpy(&a->in6.sin6_addr, b + 4, 16);
		return true;
	}
	return false;
}

bool probe_seal(uint8_t out[PROBE_LEN], const struct probe *p,
		const uint8_t key[32])
{
	uint8_t body[BODY_LEN];
	bool ok;

	memset(out, 0, HDR_LEN);
	out[0] = p->type;
	memcpy(out + 4, p->sender, 32);
	if (!crypto_random(out + 36, 24))
		return false;
	memcpy(body, p->txid, PROBE_TXID_LEN);
	put_addr(body + PROBE_TXID_LEN, &p->addr);
	ok = crypto_xaead_seal(out + HDR_LEN, body, BODY_LEN, out, HDR_LEN,
			       out + 36, key);
	crypto_wipe(body, sizeof(body));
	return ok;
}

bool probe_open(struct probe *p, const uint8_t *buf, size_t len,
		const uint8_t key[32])
{
	uint8_t body[BODY_LEN];
	bool ok;

	if (!probe_sender(buf, len))
		return false;
	if (!crypto_xaead_open(body, buf + HDR_LEN, BODY_LEN + CRYPTO_TAG_LEN,
			       buf, HDR_LEN, buf + 36, key))
		return false;
	p->type = buf[0];
	memcpy(p->sender, buf + 4, 32);
	memcpy(p->txid, body, PROBE_TXID_LEN);
	ok = get_addr(&p->addr, body + PROBE_TXID_LEN);
	crypto_wipe(body, sizeof(body));
	return ok;
}
