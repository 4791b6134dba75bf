/*
 * fuzz_token — libFuzzer target for join tokens.  The input is parsed as a
 * whole token and as a bare endpoint list.  A token that parses must be
 * reproduced byte for byte by token_format from its parts; one that does
 * not leaves the struct wiped and one error line that quotes no key
 * material.
 */
#include "crypto.h"
#include "token.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_is_b64url(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/*
 * Traps unless err is one line that quotes no key material: no 16-character
 * base64url run of the field between "weft1:" and the next ':' may appear in
 * err, unless the same run is also in the (public, quotable) endpoint text.
 * No fixed wording of an error holds such a run, so this cannot misfire.
 */
static void fuzz_check_err(const char *s, size_t len, const char *err)
{
	const char *b64 = s + TOKEN_PREFIX_LEN, *end, *pub = s + len;
	char window[17];
	size_t i, n;

	if (err[0] == '\0' || strchr(err, '\n'))
		abort();
	if (len < TOKEN_PREFIX_LEN || memcmp(s, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
		return;
	end = memchr(b64, ':', len - TOKEN_PREFIX_LEN);
	n = end ? (size_t)(end - b64) : len - TOKEN_PREFIX_LEN;
	if (end)
		pub = end + 1;
	for (i = 0; i + 16 <= n && i < 256; i++) {
		if (!fuzz_is_b64url(b64 + i, 16))
			continue;
		memcpy(window, b64 + i, 16);
		window[16] = '\0';
		if (strstr(err, window) && !memmem(pub, (size_t)(s + len - pub), window, 16))
			abort();
	}
}

static void fuzz_token(const char *s, size_t len)
{
	static struct token t, again;
	char err[160] = "", out[TOKEN_MAX_LEN + 1], list[TOKEN_ENDPOINTS_MAX + 1];
	size_t keys = TOKEN_PREFIX_LEN + TOKEN_B64_LEN + 1;
	int n;

	if (token_parse(s, len, &t, err, sizeof(err)) != 0) {
		if (!crypto_is_zero(&t, sizeof(t)))
			abort();
		fuzz_check_err(s, len, err);
		return;
	}
	if (len <= keys || len - keys > TOKEN_ENDPOINTS_MAX || memchr(s, 0, len))
		abort();
	memcpy(list, s + keys, len - keys);
	list[len - keys] = '\0';
	n = token_format(out, sizeof(out), t.server_pub, t.secret, list, err, sizeof(err));
	if (n < 0 || (size_t)n != len || memcmp(out, s, len) != 0)
		abort();
	if (token_parse(out, (size_t)n, &again, err, sizeof(err)) != 0 ||
	    memcmp(&t, &again, sizeof(t)) != 0)
		abort();
	token_wipe(&t);
	token_wipe(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_endpoint eps[TOKEN_MAX_ENDPOINTS];
	char err[160] = "";
	size_t n;

	fuzz_token((const char *)data, size);
	if (token_parse_endpoints((const char *)data, size, eps, &n, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || strchr(err, '\n'))
			abort();
	} else if (n == 0 || n > TOKEN_MAX_ENDPOINTS) {
		abort();
	}
	return 0;
}
