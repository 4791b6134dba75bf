/*
 * token — the join token an admin hands to a node (docs/control-plane.md),
 * and the hashing of its secret.  Pure text and bytes; no I/O.
 *
 *   weft1:<key material>:<endpoints>
 *
 * key material: base64url without padding (RFC 4648 §5) of
 *   version (1) = 1 | server public key (32) | join secret (32)
 * = 65 bytes, always 87 characters; the two spare bits of the last
 * character must be zero, so each token has one spelling.
 * endpoints: host:port[,host:port...], 1..TOKEN_MAX_ENDPOINTS entries, where
 * host is a DNS name (letters, digits, hyphens; labels 1..63, no hyphen at
 * either end, at most 253 characters, last label not all digits, no
 * trailing dot), a dotted-quad IPv4 address, or an IPv6 address in
 * brackets (no zone); port is decimal 1..65535 without leading zeros.
 * Nothing else is accepted: callers trim whitespace and newlines first.
 *
 * The server stores only token_secret_hash(secret) = BLAKE2s-256(secret)
 * and names the key by token_key_id: the first 8 bytes of that hash in hex.
 * A REGISTER's secret is found by its key id and then checked with
 * token_secret_check, which compares in constant time.
 *
 * Errors: token_parse and token_format return 0 / a length, or a negative
 * errno (-EINVAL for bad input, -ENOBUFS when out is too small) and write
 * one line to err (may be NULL) saying what is wrong.  Error lines may
 * quote an endpoint; they never contain key material.
 *
 * Ownership: plain caller-allocated structs.  A struct token and a
 * formatted token string hold the secret: wipe them (token_wipe,
 * crypto_wipe) when done.
 */
#ifndef WEFT_TOKEN_H
#define WEFT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX         "weft1:"
#define TOKEN_PREFIX_LEN     6
#define TOKEN_VERSION        1
#define TOKEN_BLOB_LEN       65	/* version + public key + secret */
#define TOKEN_B64_LEN        87	/* ceil(65 * 4 / 3) */
#define TOKEN_SECRET_LEN     32
#define TOKEN_MAX_ENDPOINTS  8
#define TOKEN_HOST_MAX       253
#define TOKEN_ENDPOINTS_MAX  1024	/* length of the endpoint text */
#define TOKEN_MAX_LEN        (TOKEN_PREFIX_LEN + TOKEN_B64_LEN + 1 + TOKEN_ENDPOINTS_MAX)
#define TOKEN_KEY_ID_LEN     16	/* hex characters */

enum token_host { TOKEN_HOST_NAME, TOKEN_HOST_IPV4, TOKEN_HOST_IPV6 };

struct token_endpoint {
	enum token_host kind;
	char host[TOKEN_HOST_MAX + 1];	/* as written, without brackets */
	uint8_t addr[16];		/* IPV4: first 4 bytes; NAME: zero */
	uint16_t port;
};

struct token {
	uint8_t server_pub[32];
	uint8_t secret[TOKEN_SECRET_LEN];	/* secret: token_wipe */
	size_t n_endpoints;
	struct token_endpoint endpoints[TOKEN_MAX_ENDPOINTS];
};

/* Writes the NUL-terminated token into out and returns its length, or
 * -EINVAL when endpoints is not a valid list, -ENOBUFS when cap (at most
 * TOKEN_MAX_LEN + 1 is ever needed) is too small; out is then untouched.
 * The string holds the secret: the caller wipes it. */
int token_format(char *out, size_t cap, const uint8_t server_pub[32],
		 const uint8_t secret[TOKEN_SECRET_LEN], const char *endpoints,
		 char *err, size_t errlen);

/* Parses exactly len bytes of s.  On failure *t is wiped. */
int token_parse(const char *s, size_t len, struct token *t,
		char *err, size_t errlen);

/* Parses an endpoint list alone (the part after the second ':'), for
 * checking what an admin configures.  *n receives the entry count. */
int token_parse_endpoints(const char *s, size_t len,
			  struct token_endpoint eps[TOKEN_MAX_ENDPOINTS],
			  size_t *n, char *err, size_t errlen);

/* hash = BLAKE2s-256(secret): what the server stores. */
void token_secret_hash(uint8_t hash[32], const uint8_t secret[TOKEN_SECRET_LEN]);

/* True when secret hashes to hash; constant time in both. */
bool token_secret_check(const uint8_t hash[32],
			const uint8_t secret[TOKEN_SECRET_LEN]);

/* The key's id: the first 8 bytes of hash as 16 lowercase hex digits. */
void token_key_id(char out[TOKEN_KEY_ID_LEN + 1], const uint8_t hash[32]);

/* A fresh random secret; false when the CSPRNG fails (secret is wiped). */
bool token_generate_secret(uint8_t secret[TOKEN_SECRET_LEN]);

void token_wipe(struct token *t);

#endif
