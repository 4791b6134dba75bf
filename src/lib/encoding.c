/*
 * encoding — see encoding.h.  Character classes are computed with
 * arithmetic masks: every comparison on a secret byte is a subtraction
 * whose sign bit becomes an all-ones or all-zeros mask.
 */
#include "encoding.h"

#include <string.h>

#include "crypto.h"

/* All ones when lo <= c <= hi, else zero.  Values stay below 2^16, so a
 * difference has bit 31 set exactly when it went negative. */
static uint32_t enc_range(uint32_t c, uint32_t lo, uint32_t hi)
{
	uint32_t outside = ((c - lo) | (hi - c)) >> 31;

	return 0u - (outside ^ 1u);
}

static uint32_t enc_char62(enum b64_alphabet a) { return a == B64_URL ? '-' : '+'; }
static uint32_t enc_char63(enum b64_alphabet a) { return a == B64_URL ? '_' : '/'; }

/* Alphabet value of c; sets bits in *bad when c is not in it. */
static uint32_t enc_b64_value(uint32_t c, uint32_t *bad, enum b64_alphabet a)
{
	uint32_t up = enc_range(c, 'A', 'Z');
	uint32_t low = enc_range(c, 'a', 'z');
	uint32_t dig = enc_range(c, '0', '9');
	uint32_t c62 = enc_range(c, enc_char62(a), enc_char62(a));
	uint32_t c63 = enc_range(c, enc_char63(a), enc_char63(a));

	*bad |= ~(up | low | dig | c62 | c63);
	return (up & (c - 'A')) | (low & (c - 'a' + 26)) |
	       (dig & (c - '0' + 52)) | (c62 & 62u) | (c63 & 63u);
}

/* Character for v in 0..63: start from 'A' + v and, for each later run of
 * the alphabet v falls into, add the step from where the previous run would
 * have put it (unsigned wrap-around makes negative steps exact). */
static char enc_b64_char(uint32_t v, enum b64_alphabet a)
{
	uint32_t c = v + 'A';

	c += enc_range(v, 26, 63) & (uint32_t)(('a' - 26) - 'A');
	c += enc_range(v, 52, 63) & (uint32_t)(('0' - 52) - ('a' - 26));
	c += enc_range(v, 62, 63) & (enc_char62(a) - 62 - ('0' - 52));
	c += enc_range(v, 63, 63) & ((enc_char63(a) - 63) - (enc_char62(a) - 62));
	return (char)(c & 0xff);
}

size_t b64_encoded_len(size_t len, enum b64_alphabet a)
{
	size_t tail = len % 3;

	if (a == B64_STD || !tail)
		return (len + 2) / 3 * 4;
	return len / 3 * 4 + tail + 1;
}

void b64_encode(char *out, const uint8_t *in, size_t len, enum b64_alphabet a)
{
	size_t full = len / 3, tail = len % 3, o = 0;
	uint32_t acc;

	for (size_t i = 0; i < full; i++, in += 3) {
		acc = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
		for (int j = 0; j < 4; j++)
			out[o++] = enc_b64_char((acc >> (18 - 6 * j)) & 63, a);
	}
	if (tail) {
		/* 8 or 16 bits become 2 or 3 characters, low bits zero. */
		acc = (uint32_t)in[0] << 16 | (tail == 2 ? (uint32_t)in[1] << 8 : 0);
		for (size_t j = 0; j <= tail; j++)
			out[o++] = enc_b64_char((acc >> (18 - 6 * j)) & 63, a);
		if (a == B64_STD)
			for (size_t j = tail; j < 3; j++)
				out[o++] = '=';
	}
	out[o] = '\0';
}

bool b64_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen,
		enum b64_alphabet a)
{
	size_t full = outlen / 3, tail = outlen % 3;
	uint8_t tmp[256];
	uint32_t bad = 0, acc;

	if (outlen > sizeof(tmp) || inlen != b64_encoded_len(outlen, a))
		return false;
	for (size_t i = 0; i < full; i++) {
		acc = 0;
		for (size_t j = 0; j < 4; j++)
			acc = acc << 6 | enc_b64_value((unsigned char)in[4 * i + j], &bad, a);
		tmp[3 * i] = (uint8_t)(acc >> 16);
		tmp[3 * i + 1] = (uint8_t)(acc >> 8);
		tmp[3 * i + 2] = (uint8_t)acc;
	}
	if (tail) {
		const char *t = in + 4 * full;
		acc = 0;
		for (size_t j = 0; j <= tail; j++)
			acc = acc << 6 | enc_b64_value((unsigned char)t[j], &bad, a);
		acc <<= 6 * (3 - tail);
		tmp[3 * full] = (uint8_t)(acc >> 16);
		if (tail == 2)
			tmp[3 * full + 1] = (uint8_t)(acc >> 8);
		/* The spare bits must be zero: one spelling per value. */
		bad |= acc & (tail == 2 ? 0xffu : 0xffffu);
		if (a == B64_STD)
			for (size_t j = tail + 1; j < 4; j++)
				bad |= (uint32_t)(t[j] != '=');
	}
	if (!bad)
		memcpy(out, tmp, outlen);
	crypto_wipe(tmp, outlen);
	return !bad;
}

static uint32_t enc_hex_value(uint32_t c, uint32_t *bad)
{
	uint32_t dig = enc_range(c, '0', '9');
	uint32_t low = enc_range(c, 'a', 'f');
	uint32_t up = enc_range(c, 'A', 'F');

	*bad |= ~(dig | low | up);
	return (dig & (c - '0')) | (low & (c - 'a' + 10)) | (up & (c - 'A' + 10));
}

void hex_encode(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		for (int s = 4, j = 0; j < 2; j++, s -= 4) {
			uint32_t v = (in[i] >> s) & 15;
			out[2 * i + (size_t)j] =
				(char)(v + '0' + (enc_range(v, 10, 15) & ('a' - '0' - 10)));
		}
	out[2 * len] = '\0';
}

bool hex_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen)
{
	uint8_t tmp[256];
	uint32_t bad = 0;

	if (outlen > sizeof(tmp) || inlen != 2 * outlen)
		return false;
	for (size_t i = 0; i < outlen; i++)
		tmp[i] = (uint8_t)(enc_hex_value((unsigned char)in[2 * i], &bad) << 4 |
				   enc_hex_value((unsigned char)in[2 * i + 1], &bad));
	if (!bad)
		memcpy(out, tmp, outlen);
	crypto_wipe(tmp, outlen);
	return !bad;
}
