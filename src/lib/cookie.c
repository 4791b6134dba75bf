/*
 * cookie — see cookie.h.  All MAC comparisons are constant time.
 */
#include "cookie.h"

#include <string.h>

#include "crypto.h"

static void cookie_derive(uint8_t out[32], const char *label,
			  const uint8_t pub[32])
{
	crypto_hash(out, label, 8, pub, 32);
}

void cookie_checker_init(struct cookie_checker *c, const uint8_t our_public[32])
{
	crypto_wipe(c, sizeof(*c));
	cookie_derive(c->mac1_key, LABEL_MAC1, our_public);
	cookie_derive(c->cookie_key, LABEL_COOKIE, our_public);
}

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_public[32])
{
	crypto_wipe(m, sizeof(*m));
	cookie_derive(m->mac1_key, LABEL_MAC1, peer_public);
	cookie_derive(m->cookie_key, LABEL_COOKIE, peer_public);
}

/* tau = MAC(R_m, A_m), with R_m renewed once it is two minutes old. */
static void cookie_compute(struct cookie_checker *c, uint8_t out[16],
			   const uint8_t *src, size_t srclen, uint64_t now)
{
	if (!c->secret_birth || now - c->secret_birth >= COOKIE_SECRET_MAX_AGE) {
		crypto_random(c->secret, sizeof(c->secret));
		c->secret_birth = now ? now : 1;
	}
	crypto_mac(out, c->secret, 32, src, srclen);
}

enum cookie_result cookie_validate(struct cookie_checker *c, const void *msg,
				   size_t len, bool check_mac2,
				   const uint8_t *src, size_t srclen, uint64_t now)
{
	const struct msg_macs *macs =
		(const struct msg_macs *)((const uint8_t *)msg + len - sizeof(*macs));
	uint8_t mac[16], cookie[16] = { 0 };
	enum cookie_result r = COOKIE_MAC1_INVALID;

	crypto_mac(mac, c->mac1_key, 32, msg, len - sizeof(*macs));
	if (!crypto_equal(mac, macs->mac1, 16))
		goto out;
	r = COOKIE_MAC1_VALID;
	if (!check_mac2)
		goto out;
	cookie_compute(c, cookie, src, srclen, now);
	crypto_mac(mac, cookie, 16, msg, len - sizeof(macs->mac2));
	if (crypto_equal(mac, macs->mac2, 16))
		r = COOKIE_MAC2_VALID;
out:
	crypto_wipe(cookie, sizeof(cookie));
	return r;
}

bool cookie_reply_create(struct cookie_checker *c, struct msg_cookie_reply *out,
			 const void *msg, size_t len, uint32_t to,
			 const uint8_t *src, size_t srclen, uint64_t now)
{
	const struct msg_macs *macs =
		(const struct msg_macs *)((const uint8_t *)msg + len - sizeof(*macs));
	uint8_t cookie[16];
	bool ok;

	memset(out, 0, sizeof(*out));
	out->type = MSG_COOKIE_REPLY;
	out->receiver = to;
	cookie_compute(c, cookie, src, srclen, now);
	ok = crypto_random(out->nonce, sizeof(out->nonce)) &&
	     crypto_xaead_seal(out->cookie_enc, cookie, 16, macs->mac1, 16,
			       out->nonce, c->cookie_key);
	crypto_wipe(cookie, sizeof(cookie));
	return ok;
}

void cookie_add_macs(struct cookie_maker *m, void *msg, size_t len,
		     uint64_t now)
{
	struct msg_macs *macs =
		(struct msg_macs *)((uint8_t *)msg + len - sizeof(*macs));

	crypto_mac(macs->mac1, m->mac1_key, 32, msg, len - sizeof(*macs));
	memcpy(m->last_mac1, macs->mac1, 16);
	m->have_sent_mac1 = true;
	/* A cookie is only worth sending while the responder's secret that
	 * made it may still be current, less a margin for latency. */
	if (m->cookie_birth && now - m->cookie_birth < COOKIE_MAX_AGE)
		crypto_mac(macs->mac2, m->cookie, 16, msg,
			   len - sizeof(macs->mac2));
	else
		memset(macs->mac2, 0, 16);
}

bool cookie_reply_consume(struct cookie_maker *m,
			  const struct msg_cookie_reply *msg, uint64_t now)
{
	uint8_t cookie[16];
	bool ok = false;

	if (!m->have_sent_mac1)
		goto out;
	if (!crypto_xaead_open(cookie, msg->cookie_enc, sizeof(msg->cookie_enc),
			       m->last_mac1, 16, msg->nonce, m->cookie_key))
		goto out;
	memcpy(m->cookie, cookie, 16);
	m->cookie_birth = now ? now : 1;
	m->have_sent_mac1 = false;
	ok = true;
out:
	crypto_wipe(cookie, sizeof(cookie));
	return ok;
}
