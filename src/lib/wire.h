/*
 * wire — WireGuard message formats and protocol constants, named as in the
 * whitepaper (§5.4, §6) and wireguard.com/protocol.  All messages start with
 * one type byte and three reserved zero bytes; indices are opaque 32-bit
 * values, the data counter is little-endian.  Receive buffers handed to the
 * engine are 8-byte aligned, so the structs are read in place.
 */
#ifndef WEFT_WIRE_H
#define WEFT_WIRE_H

#include <stdint.h>

#define NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define NOISE_IDENTIFIER   "WireGuard v1 zx2c4 Jason@zx2c4.com"
#define LABEL_MAC1         "mac1----"
#define LABEL_COOKIE       "cookie--"

#define NSEC_PER_SEC 1000000000ULL

/* §6.1 */
#define REKEY_AFTER_MESSAGES   (1ULL << 60)
#define REJECT_AFTER_MESSAGES  (UINT64_MAX - (1ULL << 13))
#define REKEY_AFTER_TIME       (120 * NSEC_PER_SEC)
#define REJECT_AFTER_TIME      (180 * NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME     (90 * NSEC_PER_SEC)
#define REKEY_TIMEOUT          (5 * NSEC_PER_SEC)
#define KEEPALIVE_TIMEOUT      (10 * NSEC_PER_SEC)
#define COOKIE_SECRET_MAX_AGE  (120 * NSEC_PER_SEC)
#define COOKIE_MAX_AGE         (COOKIE_SECRET_MAX_AGE - 5 * NSEC_PER_SEC)
#define REKEY_TIMEOUT_JITTER   (NSEC_PER_SEC / 3)
#define MAX_TIMER_HANDSHAKES   (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT)

#define MSG_INITIATION   1
#define MSG_RESPONSE     2
#define MSG_COOKIE_REPLY 3
#define MSG_DATA         4

#define TAI64N_LEN 12
#define MSG_PADDING 16

struct msg_macs {
	uint8_t mac1[16];
	uint8_t mac2[16];
};

struct msg_initiation {
	uint8_t type, reserved[3];
	uint32_t sender;
	uint8_t ephemeral[32];
	uint8_t static_enc[32 + 16];
	uint8_t timestamp_enc[TAI64N_LEN + 16];
	struct msg_macs macs;
};

struct msg_response {
	uint8_t type, reserved[3];
	uint32_t sender;
	uint32_t receiver;
	uint8_t ephemeral[32];
	uint8_t empty_enc[16];
	struct msg_macs macs;
};

struct msg_cookie_reply {
	uint8_t type, reserved[3];
	uint32_t receiver;
	uint8_t nonce[24];
	uint8_t cookie_enc[16 + 16];
};

struct msg_data {
	uint8_t type, reserved[3];
	uint32_t receiver;
	uint64_t counter;		/* little-endian on the wire */
	uint8_t payload[];
};

_Static_assert(sizeof(struct msg_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct msg_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct msg_cookie_reply) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct msg_data) == 16, "data header is 16 bytes");

#define MSG_DATA_MIN (sizeof(struct msg_data) + 16)	/* keepalive */

#endif
