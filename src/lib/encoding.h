/*
 * encoding — hex and base64 (RFC 4648 §4 with padding, §5 base64url
 * without) for keys and secrets, with no branch or table lookup on the
 * bytes themselves, so that decoding a key leaks nothing through timing.
 * Decoders accept only the one canonical spelling (spare bits zero) and
 * write out only when the whole input is valid.
 */
#ifndef WEFT_ENCODING_H
#define WEFT_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum b64_alphabet { B64_STD, B64_URL };

/* Characters b64_encode writes for len bytes (without the NUL). */
size_t b64_encoded_len(size_t len, enum b64_alphabet a);
/* Writes b64_encoded_len(len) characters and a NUL to out. */
void b64_encode(char *out, const uint8_t *in, size_t len, enum b64_alphabet a);
/* Decodes exactly inlen characters into exactly outlen bytes. */
bool b64_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen,
		enum b64_alphabet a);

/* Lowercase hex: 2 * len characters and a NUL. */
void hex_encode(char *out, const uint8_t *in, size_t len);
/* Exactly 2 * outlen hex digits of either case. */
bool hex_decode(uint8_t *out, size_t outlen, const char *in, size_t inlen);

#endif
