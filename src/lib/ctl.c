/*
 * ctl — control message codec.  The layout, the TLV ranges and the rules
 * per message type are in ctl.h; this file holds them as two tables (what
 * each TLV looks like, what each message carries) that the decoder and the
 * encoder both consult, so what one accepts the other can produce.
 */
#include "ctl.h"
#include "crypto.h"

#include <errno.h>
#include <string.h>

#define H(t) CTL_HAS(CTL_T_##t)

/* The TLVs that may appear more than once; they have counts, not bits. */
#define CTL_REPEATED (H(ENDPOINT) | H(RELAY) | H(TAG) | H(PEER) | H(STUN))

/* What a NOTIFY about a live peer carries besides kind, id and key. */
#define CTL_NOTIFY_PEER (H(IPV4) | H(IPV6) | H(NAME) | H(ENDPOINT) | H(RELAY))

static const struct ctl_tlv_desc {
	uint16_t min, max;	/* value length bounds */
	uint8_t repeat;		/* how many times it may appear */
} ctl_tlvs[CTL_T_MAX + 1] = {
	[CTL_T_JOIN_SECRET] = { 32, 32, 1 },
	[CTL_T_HOSTNAME]    = { 1, CTL_HOSTNAME_MAX, 1 },
	[CTL_T_NODE_ID]     = { 8, 8, 1 },
	[CTL_T_IPV4]        = { 5, 5, 1 },
	[CTL_T_IPV6]        = { 17, 17, 1 },
	[CTL_T_NAME]        = { 1, CTL_NAME_MAX, 1 },
	[CTL_T_PUBLIC_KEY]  = { 32, 32, 1 },
	[CTL_T_ENDPOINT]    = { CTL_ENDPOINT_LEN, CTL_ENDPOINT_LEN, CTL_MAX_ENDPOINTS },
	[CTL_T_RELAY]       = { CTL_ENDPOINT_LEN, CTL_ENDPOINT_LEN, CTL_MAX_RELAYS },
	[CTL_T_TARGET_IPV4] = { 4, 4, 1 },
	[CTL_T_TARGET_IPV6] = { 16, 16, 1 },
	[CTL_T_NOTIFY_KIND] = { 1, 1, 1 },
	[CTL_T_ERROR_CODE]  = { 2, 2, 1 },
	[CTL_T_ERROR_MSG]   = { 1, CTL_ERROR_MSG_MAX, 1 },
	[CTL_T_CURSOR]      = { 8, 8, 1 },
	[CTL_T_TAG]         = { 1, CTL_TAG_MAX, CTL_MAX_TAGS },
	[CTL_T_PEER]        = { CTL_PEER_FIXED_LEN + 1,
				CTL_PEER_FIXED_LEN + CTL_PEER_NAME_MAX, CTL_MAX_PEERS },
	[CTL_T_STUN]        = { CTL_ENDPOINT_LEN, CTL_ENDPOINT_LEN, CTL_MAX_RELAYS },
};

/* allowed: may appear; required: must; one_of: exactly one of these. */
static const struct ctl_rule {
	uint32_t allowed, required, one_of;
} ctl_rules[CTL_TYPE_MAX + 1] = {
	[CTL_REGISTER] = {
		H(JOIN_SECRET) | H(HOSTNAME) | H(ENDPOINT),
		H(JOIN_SECRET) | H(HOSTNAME), 0 },
	[CTL_REGISTER_OK] = {
		H(NODE_ID) | H(IPV4) | H(IPV6) | H(NAME) | H(TAG) | H(RELAY) | H(STUN),
		H(NODE_ID) | H(IPV4) | H(IPV6) | H(NAME), 0 },
	[CTL_LOOKUP] = {
		H(TARGET_IPV4) | H(TARGET_IPV6) | H(NAME) | H(PUBLIC_KEY), 0,
		H(TARGET_IPV4) | H(TARGET_IPV6) | H(NAME) | H(PUBLIC_KEY) },
	[CTL_LOOKUP_OK] = {
		H(NODE_ID) | H(PUBLIC_KEY) | H(IPV4) | H(IPV6) | H(NAME) |
		H(ENDPOINT) | H(RELAY) | H(TAG),
		H(NODE_ID) | H(PUBLIC_KEY) | H(IPV4) | H(IPV6) | H(NAME), 0 },
	[CTL_NOTIFY] = {
		H(NOTIFY_KIND) | H(NODE_ID) | H(PUBLIC_KEY) | CTL_NOTIFY_PEER,
		H(NOTIFY_KIND) | H(NODE_ID) | H(PUBLIC_KEY), 0 },
	[CTL_ENDPOINTS] = { H(ENDPOINT), H(ENDPOINT), 0 },
	[CTL_LIST]      = { H(CURSOR), H(CURSOR), 0 },
	[CTL_LIST_OK]   = { H(CURSOR) | H(PEER), H(CURSOR), 0 },
	[CTL_LOGOUT]    = { 0, 0, 0 },
	[CTL_OK]        = { 0, 0, 0 },
	[CTL_ERROR]     = { H(ERROR_CODE) | H(ERROR_MSG), H(ERROR_CODE), 0 },
};

/* ---- little-endian integers ----------------------------------------- */

static uint16_t ctl_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint64_t ctl_get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void ctl_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void ctl_put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- value rules, shared by both directions -------------------------- */

/* 1..max bytes, none of them a control character (NUL included). */
static bool ctl_string_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Family 4 or 6, an IPv4 address without stray bytes, a nonzero port. */
static bool ctl_endpoint_ok(const struct ctl_endpoint *e)
{
	static const uint8_t zero[12];

	if (e->port == 0)
		return false;
	if (e->family == CTL_FAMILY_IPV4)
		return memcmp(e->addr + 4, zero, sizeof(zero)) == 0;
	return e->family == CTL_FAMILY_IPV6;
}

static bool ctl_peer_ok(const struct ctl_peer *p)
{
	return p->node_id != 0 && !crypto_is_zero(p->public_key, 32) &&
	       ctl_string_ok(p->name, CTL_PEER_NAME_MAX);
}

/* Whether the value of TLV t (its i-th instance when repeated) is valid. */
static bool ctl_value_ok(const struct ctl_msg *m, unsigned t, size_t i)
{
	switch (t) {
	case CTL_T_HOSTNAME:	return ctl_string_ok(m->hostname, CTL_HOSTNAME_MAX);
	case CTL_T_NODE_ID:	return m->node_id != 0;
	case CTL_T_IPV4:	return m->ipv4.len <= 32;
	case CTL_T_IPV6:	return m->ipv6.len <= 128;
	case CTL_T_NAME:	return ctl_string_ok(m->name, CTL_NAME_MAX);
	case CTL_T_PUBLIC_KEY:	return !crypto_is_zero(m->public_key, 32);
	case CTL_T_ENDPOINT:	return ctl_endpoint_ok(&m->endpoints[i]);
	case CTL_T_RELAY:	return ctl_endpoint_ok(&m->relays[i]);
	case CTL_T_STUN:	return ctl_endpoint_ok(&m->stun[i]);
	case CTL_T_NOTIFY_KIND:	return m->notify_kind >= CTL_NOTIFY_PEER_WANTS_CONNECT &&
				       m->notify_kind <= CTL_NOTIFY_PEER_REMOVED;
	case CTL_T_ERROR_CODE:	return m->error_code != 0;
	case CTL_T_ERROR_MSG:	return ctl_string_ok(m->error_msg, CTL_ERROR_MSG_MAX);
	case CTL_T_TAG:		return ctl_string_ok(m->tags[i], CTL_TAG_MAX);
	case CTL_T_PEER:	return ctl_peer_ok(&m->peers[i]);
	default:		return true;	/* secret, targets, cursor: any */
	}
}

/* Every TLV m carries, as presence bits. */
static uint32_t ctl_mask(const struct ctl_msg *m)
{
	return m->present | (m->n_endpoints ? H(ENDPOINT) : 0) |
	       (m->n_relays ? H(RELAY) : 0) | (m->n_tags ? H(TAG) : 0) |
	       (m->n_peers ? H(PEER) : 0) | (m->n_stun ? H(STUN) : 0);
}

/* How many instances of TLV t m carries. */
static size_t ctl_count(const struct ctl_msg *m, unsigned t)
{
	switch (t) {
	case CTL_T_ENDPOINT:	return m->n_endpoints;
	case CTL_T_RELAY:	return m->n_relays;
	case CTL_T_TAG:		return m->n_tags;
	case CTL_T_PEER:	return m->n_peers;
	case CTL_T_STUN:	return m->n_stun;
	default:		return (m->present & CTL_HAS(t)) ? 1 : 0;
	}
}

/* The per-type rules of ctl.h against the TLVs present; -EPROTO if broken. */
static int ctl_check_rules(const struct ctl_msg *m)
{
	const struct ctl_rule *r = &ctl_rules[m->type];
	uint32_t mask = ctl_mask(m), one = mask & r->one_of;

	if ((mask & ~r->allowed) || (mask & r->required) != r->required)
		return -EPROTO;
	if (r->one_of && (one == 0 || (one & (one - 1))))
		return -EPROTO;
	if (m->type != CTL_NOTIFY || !(mask & H(NOTIFY_KIND)))
		return 0;
	if (m->notify_kind == CTL_NOTIFY_PEER_REMOVED)
		return (mask & CTL_NOTIFY_PEER) ? -EPROTO : 0;
	if ((mask & (H(IPV4) | H(IPV6) | H(NAME))) != (H(IPV4) | H(IPV6) | H(NAME)))
		return -EPROTO;
	return 0;
}

/* What the encoder demands of a struct: all of the above, and counts and
 * bits that a decoder could have produced. */
static bool ctl_msg_ok(const struct ctl_msg *m)
{
	unsigned t;
	size_t i, n;

	if (m->type == 0 || m->type > CTL_TYPE_MAX || m->flags != 0)
		return false;
	if (m->present & ~(((2u << CTL_T_MAX) - 2) & ~CTL_REPEATED))
		return false;
	if (ctl_check_rules(m) != 0)
		return false;
	for (t = 1; t <= CTL_T_MAX; t++) {
		n = ctl_count(m, t);
		if (n > ctl_tlvs[t].repeat)
			return false;
		for (i = 0; i < n; i++)
			if (!ctl_value_ok(m, t, i))
				return false;
	}
	return true;
}

/* ---- decoding -------------------------------------------------------- */

static void ctl_get_endpoint(struct ctl_endpoint *e, const uint8_t *v)
{
	e->family = v[0];
	memcpy(e->addr, v + 1, 16);
	e->port = ctl_get16(v + 17);
}

/* A string value into a zeroed field of at least vlen + 1 bytes. */
static int ctl_get_string(char *dst, const uint8_t *v, size_t vlen)
{
	if (memchr(v, 0, vlen))
		return -EBADMSG;
	memcpy(dst, v, vlen);
	return 0;
}

static int ctl_get_peer(struct ctl_peer *p, const uint8_t *v, size_t vlen)
{
	p->node_id = ctl_get64(v);
	memcpy(p->public_key, v + 8, 32);
	memcpy(p->ipv4, v + 40, 4);
	memcpy(p->ipv6, v + 44, 16);
	return ctl_get_string(p->name, v + CTL_PEER_FIXED_LEN,
			      vlen - CTL_PEER_FIXED_LEN);
}

/* Appends one instance of a repeated TLV; -EPROTO past its limit. */
static int ctl_get_repeated(struct ctl_msg *m, unsigned t, const uint8_t *v,
			    size_t vlen, size_t *index)
{
	uint8_t *n = t == CTL_T_ENDPOINT ? &m->n_endpoints :
		     t == CTL_T_RELAY ? &m->n_relays :
		     t == CTL_T_TAG ? &m->n_tags :
		     t == CTL_T_STUN ? &m->n_stun : &m->n_peers;

	if (*n >= ctl_tlvs[t].repeat)
		return -EPROTO;
	*index = (*n)++;
	switch (t) {
	case CTL_T_ENDPOINT:
		ctl_get_endpoint(&m->endpoints[*index], v);
		return 0;
	case CTL_T_RELAY:
		ctl_get_endpoint(&m->relays[*index], v);
		return 0;
	case CTL_T_STUN:
		ctl_get_endpoint(&m->stun[*index], v);
		return 0;
	case CTL_T_TAG:
		return ctl_get_string(m->tags[*index], v, vlen);
	default:
		return ctl_get_peer(&m->peers[*index], v, vlen);
	}
}

/* Stores one single-valued TLV whose length is already checked. */
static int ctl_get_single(struct ctl_msg *m, unsigned t, const uint8_t *v,
			  size_t vlen)
{
	switch (t) {
	case CTL_T_JOIN_SECRET:	memcpy(m->join_secret, v, 32); break;
	case CTL_T_HOSTNAME:	return ctl_get_string(m->hostname, v, vlen);
	case CTL_T_NODE_ID:	m->node_id = ctl_get64(v); break;
	case CTL_T_IPV4:	memcpy(m->ipv4.addr, v, 4); m->ipv4.len = v[4]; break;
	case CTL_T_IPV6:	memcpy(m->ipv6.addr, v, 16); m->ipv6.len = v[16]; break;
	case CTL_T_NAME:	return ctl_get_string(m->name, v, vlen);
	case CTL_T_PUBLIC_KEY:	memcpy(m->public_key, v, 32); break;
	case CTL_T_TARGET_IPV4:	memcpy(m->target_ipv4, v, 4); break;
	case CTL_T_TARGET_IPV6:	memcpy(m->target_ipv6, v, 16); break;
	case CTL_T_NOTIFY_KIND:	m->notify_kind = v[0]; break;
	case CTL_T_ERROR_CODE:	m->error_code = ctl_get16(v); break;
	case CTL_T_ERROR_MSG:	return ctl_get_string(m->error_msg, v, vlen);
	case CTL_T_CURSOR:	m->cursor = ctl_get64(v); break;
	}
	return 0;
}

/* Decodes the TLV at *off and advances past it. */
static int ctl_decode_tlv(const uint8_t *buf, size_t len, size_t *off,
			  struct ctl_msg *m)
{
	const uint8_t *v;
	unsigned t;
	size_t vlen, i = 0;
	int err;

	if (len - *off < CTL_TLV_HEADER_LEN)
		return -EBADMSG;
	t = ctl_get16(buf + *off);
	vlen = ctl_get16(buf + *off + 2);
	if (vlen > len - *off - CTL_TLV_HEADER_LEN)
		return -EBADMSG;
	v = buf + *off + CTL_TLV_HEADER_LEN;
	*off += CTL_TLV_HEADER_LEN + vlen;
	if (t == 0)
		return -EBADMSG;
	if (t > CTL_T_MAX)
		return t >= CTL_TLV_OPTIONAL ? 0 : -EPROTO;
	if (!(ctl_rules[m->type].allowed & CTL_HAS(t)) ||
	    (m->present & CTL_HAS(t)))
		return -EPROTO;
	if (vlen < ctl_tlvs[t].min || vlen > ctl_tlvs[t].max)
		return -EBADMSG;
	if (CTL_REPEATED & CTL_HAS(t)) {
		err = ctl_get_repeated(m, t, v, vlen, &i);
	} else {
		m->present |= CTL_HAS(t);
		err = ctl_get_single(m, t, v, vlen);
	}
	if (err == 0 && !ctl_value_ok(m, t, i))
		err = -EBADMSG;
	return err;
}

static int ctl_decode_header(const uint8_t *buf, size_t len, struct ctl_msg *m)
{
	if (ctl_peek(buf, len, &m->type, &m->request_id) != 0)
		return -EBADMSG;
	m->flags = buf[5];
	if (m->type == 0 || m->type > CTL_TYPE_MAX || m->flags != 0)
		return -EPROTO;
	return 0;
}

int ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *m)
{
	size_t off = CTL_HEADER_LEN;
	int err;

	memset(m, 0, sizeof(*m));
	if (len > CTL_MAX_MSG)
		return -EMSGSIZE;
	err = ctl_decode_header(buf, len, m);
	while (err == 0 && off < len)
		err = ctl_decode_tlv(buf, len, &off, m);
	if (err == 0)
		err = ctl_check_rules(m);
	if (err != 0)
		ctl_msg_wipe(m);
	return err;
}

int ctl_peek(const uint8_t *buf, size_t len, uint8_t *type,
	     uint64_t *request_id)
{
	if (len < CTL_HEADER_LEN || memcmp(buf, CTL_MAGIC, 4) != 0 ||
	    buf[6] != 0 || buf[7] != 0)
		return -EBADMSG;
	*type = buf[4];
	*request_id = ctl_get64(buf + 8);
	return 0;
}

/* ---- encoding -------------------------------------------------------- */

/* Counts every byte, writes only those that fit in cap. */
struct ctl_writer {
	uint8_t *buf;
	size_t cap, len;
};

/* Room for n more bytes, or NULL when they do not fit (still counted). */
static uint8_t *ctl_put(struct ctl_writer *w, size_t n)
{
	uint8_t *p = NULL;

	if (n <= w->cap && w->len <= w->cap - n)
		p = w->buf + w->len;
	w->len += n;
	return p;
}

static size_t ctl_value_len(const struct ctl_msg *m, unsigned t, size_t i)
{
	switch (t) {
	case CTL_T_HOSTNAME:	return strlen(m->hostname);
	case CTL_T_NAME:	return strlen(m->name);
	case CTL_T_ERROR_MSG:	return strlen(m->error_msg);
	case CTL_T_TAG:		return strlen(m->tags[i]);
	case CTL_T_PEER:	return CTL_PEER_FIXED_LEN + strlen(m->peers[i].name);
	default:		return ctl_tlvs[t].min;
	}
}

static void ctl_put_endpoint(uint8_t *v, const struct ctl_endpoint *e)
{
	v[0] = e->family;
	memcpy(v + 1, e->addr, 16);
	ctl_put16(v + 17, e->port);
}

static void ctl_put_peer(uint8_t *v, const struct ctl_peer *p, size_t vlen)
{
	ctl_put64(v, p->node_id);
	memcpy(v + 8, p->public_key, 32);
	memcpy(v + 40, p->ipv4, 4);
	memcpy(v + 44, p->ipv6, 16);
	memcpy(v + CTL_PEER_FIXED_LEN, p->name, vlen - CTL_PEER_FIXED_LEN);
}

/* Writes the value of TLV t (instance i) into v, which has vlen bytes. */
static void ctl_put_value(uint8_t *v, size_t vlen, const struct ctl_msg *m,
			  unsigned t, size_t i)
{
	switch (t) {
	case CTL_T_JOIN_SECRET:	memcpy(v, m->join_secret, 32); break;
	case CTL_T_HOSTNAME:	memcpy(v, m->hostname, vlen); break;
	case CTL_T_NODE_ID:	ctl_put64(v, m->node_id); break;
	case CTL_T_IPV4:	memcpy(v, m->ipv4.addr, 4); v[4] = m->ipv4.len; break;
	case CTL_T_IPV6:	memcpy(v, m->ipv6.addr, 16); v[16] = m->ipv6.len; break;
	case CTL_T_NAME:	memcpy(v, m->name, vlen); break;
	case CTL_T_PUBLIC_KEY:	memcpy(v, m->public_key, 32); break;
	case CTL_T_ENDPOINT:	ctl_put_endpoint(v, &m->endpoints[i]); break;
	case CTL_T_RELAY:	ctl_put_endpoint(v, &m->relays[i]); break;
	case CTL_T_STUN:	ctl_put_endpoint(v, &m->stun[i]); break;
	case CTL_T_TARGET_IPV4:	memcpy(v, m->target_ipv4, 4); break;
	case CTL_T_TARGET_IPV6:	memcpy(v, m->target_ipv6, 16); break;
	case CTL_T_NOTIFY_KIND:	v[0] = m->notify_kind; break;
	case CTL_T_ERROR_CODE:	ctl_put16(v, m->error_code); break;
	case CTL_T_ERROR_MSG:	memcpy(v, m->error_msg, vlen); break;
	case CTL_T_CURSOR:	ctl_put64(v, m->cursor); break;
	case CTL_T_TAG:		memcpy(v, m->tags[i], vlen); break;
	case CTL_T_PEER:	ctl_put_peer(v, &m->peers[i], vlen); break;
	}
}

static void ctl_put_tlv(struct ctl_writer *w, const struct ctl_msg *m,
			unsigned t, size_t i)
{
	size_t vlen = ctl_value_len(m, t, i);
	uint8_t *p = ctl_put(w, CTL_TLV_HEADER_LEN + vlen);

	if (p == NULL)
		return;
	ctl_put16(p, (uint16_t)t);
	ctl_put16(p + 2, (uint16_t)vlen);
	ctl_put_value(p + CTL_TLV_HEADER_LEN, vlen, m, t, i);
}

int ctl_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap)
{
	struct ctl_writer w = { buf, cap, 0 };
	uint8_t *p;
	unsigned t;
	size_t i, n;

	if (!ctl_msg_ok(m))
		return -EINVAL;
	p = ctl_put(&w, CTL_HEADER_LEN);
	if (p != NULL) {
		memcpy(p, CTL_MAGIC, 4);
		p[4] = m->type;
		p[5] = m->flags;
		p[6] = p[7] = 0;
		ctl_put64(p + 8, m->request_id);
	}
	for (t = 1; t <= CTL_T_MAX; t++)
		for (i = 0, n = ctl_count(m, t); i < n; i++)
			ctl_put_tlv(&w, m, t, i);
	if (w.len <= CTL_MAX_MSG && w.len <= cap)
		return (int)w.len;
	if (buf != NULL)
		crypto_wipe(buf, w.len < cap ? w.len : cap);
	return w.len > CTL_MAX_MSG ? -EMSGSIZE : -ENOBUFS;
}

/* ---- the rest -------------------------------------------------------- */

void ctl_msg_init(struct ctl_msg *m, enum ctl_type type, uint64_t request_id)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)type;
	m->request_id = request_id;
}

void ctl_msg_wipe(struct ctl_msg *m)
{
	crypto_wipe(m, sizeof(*m));
}

static const char *const ctl_type_names[CTL_TYPE_MAX + 1] = {
	[CTL_REGISTER] = "REGISTER", [CTL_REGISTER_OK] = "REGISTER_OK",
	[CTL_LOOKUP] = "LOOKUP", [CTL_LOOKUP_OK] = "LOOKUP_OK",
	[CTL_NOTIFY] = "NOTIFY", [CTL_ENDPOINTS] = "ENDPOINTS",
	[CTL_LIST] = "LIST", [CTL_LIST_OK] = "LIST_OK",
	[CTL_LOGOUT] = "LOGOUT", [CTL_OK] = "OK", [CTL_ERROR] = "ERROR",
};

static const char *const ctl_notify_names[] = {
	[CTL_NOTIFY_PEER_WANTS_CONNECT] = "peer_wants_connect",
	[CTL_NOTIFY_PEER_CHANGED] = "peer_changed",
	[CTL_NOTIFY_PEER_REMOVED] = "peer_removed",
};

static const char *const ctl_error_names[] = {
	[CTL_ERR_BAD_REQUEST] = "bad_request",
	[CTL_ERR_UNAUTHORIZED] = "unauthorized",
	[CTL_ERR_EXPIRED] = "expired",
	[CTL_ERR_NOT_REGISTERED] = "not_registered",
	[CTL_ERR_NOT_FOUND] = "not_found",
	[CTL_ERR_DENIED] = "denied",
	[CTL_ERR_EXHAUSTED] = "exhausted",
	[CTL_ERR_RATE_LIMITED] = "rate_limited",
	[CTL_ERR_INTERNAL] = "internal",
};

#define CTL_NAME_OF(table, v) \
	((v) < sizeof(table) / sizeof(table[0]) && table[v] ? table[v] : "unknown")

const char *ctl_type_name(unsigned type)
{
	return CTL_NAME_OF(ctl_type_names, type);
}

const char *ctl_notify_name(unsigned kind)
{
	return CTL_NAME_OF(ctl_notify_names, kind);
}

const char *ctl_error_name(unsigned code)
{
	return CTL_NAME_OF(ctl_error_names, code);
}
