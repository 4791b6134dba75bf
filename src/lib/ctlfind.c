/*
 * ctlfind — ctl_find (see ctl.h): one TLV's value without decoding the
 * message, for the server's prefetch hints.  In a file of its own so that
 * only the programs that use it link it (weftd's code stays as it was).
 */
#include "ctl.h"

#include <errno.h>

static unsigned ctlfind_get16(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;	/* little-endian, as ctl.c */
}

int ctl_find(const uint8_t *buf, size_t len, unsigned t, const uint8_t **v,
	     size_t *vlen)
{
	size_t off = CTL_HEADER_LEN, n;

	if (len < CTL_HEADER_LEN || len > CTL_MAX_MSG)
		return -EBADMSG;
	while (off < len) {
		if (len - off < CTL_TLV_HEADER_LEN)
			return -EBADMSG;
		n = ctlfind_get16(buf + off + 2);
		if (n > len - off - CTL_TLV_HEADER_LEN)
			return -EBADMSG;
		if (ctlfind_get16(buf + off) == t) {
			*v = buf + off + CTL_TLV_HEADER_LEN;
			*vlen = n;
			return 0;
		}
		off += CTL_TLV_HEADER_LEN + n;
	}
	return -ENOENT;
}
