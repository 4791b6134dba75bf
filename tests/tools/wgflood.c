/*
 * wgflood — a bounded handshake flood for tests: sends COUNT initiations
 * with a valid mac1 for the target's public key (so they pass the cheap
 * check and would cost the responder its Diffie-Hellman work) but garbage
 * inside, then counts what came back.  Loopback or test namespaces only.
 *
 *   wgflood HOST PORT PUBKEY_BASE64 COUNT
 * prints: sent=N cookie_replies=N responses=N other=N
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cookie.h"
#include "crypto.h"
#include "uapi.h"

#define FLOOD_MAX 1000000

int main(int argc, char **argv)
{
	union wg_sockaddr to = { 0 };
	struct cookie_maker maker;
	struct msg_initiation msg;
	uint8_t pub[32], reply[256];
	unsigned long count, sent = 0, cookies = 0, responses = 0, other = 0;
	socklen_t tolen;
	int fd;

	if (argc != 5 || !crypto_init()) {
		fprintf(stderr, "usage: wgflood HOST PORT PUBKEY_BASE64 COUNT\n");
		return 1;
	}
	count = strtoul(argv[4], NULL, 10);
	if (!key_from_base64(pub, argv[3], strlen(argv[3])) || !count ||
	    count > FLOOD_MAX) {
		fprintf(stderr, "wgflood: bad public key or count (1..%d)\n", FLOOD_MAX);
		return 1;
	}
	if (inet_pton(AF_INET, argv[1], &to.in4.sin_addr) == 1) {
		to.in4.sin_family = AF_INET;
		to.in4.sin_port = htons((uint16_t)atoi(argv[2]));
		tolen = sizeof(to.in4);
	} else if (inet_pton(AF_INET6, argv[1], &to.in6.sin6_addr) == 1) {
		to.in6.sin6_family = AF_INET6;
		to.in6.sin6_port = htons((uint16_t)atoi(argv[2]));
		tolen = sizeof(to.in6);
	} else {
		fprintf(stderr, "wgflood: %s is not a numeric address\n", argv[1]);
		return 1;
	}
	fd = socket(to.sa.sa_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("wgflood: socket");
		return 1;
	}
	cookie_maker_init(&maker, pub);
	for (unsigned long i = 0; i < count; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		memset(&msg, 0, sizeof(msg));
		msg.type = MSG_INITIATION;
		crypto_random(&msg.sender, sizeof(msg) - 4 - sizeof(msg.macs));
		cookie_add_macs(&maker, &msg, sizeof(msg), 0);
		if (sendto(fd, &msg, sizeof(msg), 0, &to.sa, tolen) == sizeof(msg))
			sent++;
		/* Drain replies as we go so our own buffer does not overflow. */
		while (poll(&p, 1, 0) > 0) {
			ssize_t n = recv(fd, reply, sizeof(reply), 0);
			if (n == 64 && reply[0] == MSG_COOKIE_REPLY)
				cookies++;
			else if (n == 92 && reply[0] == MSG_RESPONSE)
				responses++;
			else
				other++;
		}
	}
	for (;;) {	/* late replies, for one quiet second at most */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		if (poll(&p, 1, 1000) <= 0)
			break;
		n = recv(fd, reply, sizeof(reply), 0);
		if (n == 64 && reply[0] == MSG_COOKIE_REPLY)
			cookies++;
		else if (n == 92 && reply[0] == MSG_RESPONSE)
			responses++;
		else
			other++;
	}
	printf("sent=%lu cookie_replies=%lu responses=%lu other=%lu\n",
	       sent, cookies, responses, other);
	close(fd);
	return 0;
}
