/* SPDX-License-Identifier: Apache-2.0 */
/* test_tlspush: a held record leaves with the next one, in order, also when the socket is full. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testhelp.h"
#include "tlspush.h"

static ssize_t
push(struct tlspush *t, const char *s)
{
	giovec_t v = { (void *)s, strlen(s) };

	return tlspush_send(t, &v, 1);
}

/* What the peer can read now (non-blocking), NUL-terminated into buf. */
static size_t
peer_read(int fd, char *buf, size_t bufsz)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < bufsz && (r = recv(fd, buf + n, bufsz - 1 - n, MSG_DONTWAIT)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

int
main(void)
{
	int sv[2];
	struct tlspush t;
	char buf[1 << 16], *fill, *big;
	size_t filled = 0, got;
	int sndbuf = 4096;
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 1;
	tlspush_init(&t, sv[0]);

	test_cond("without a hold a record goes at once", push(&t, "abc") == 3 &&
	    peer_read(sv[1], buf, sizeof(buf)) == 3 && strcmp(buf, "abc") == 0);

	tlspush_hold(&t);
	test_cond("the held record counts as taken", push(&t, "HDR") == 3);
	test_cond("and is not on the wire yet", peer_read(sv[1], buf, sizeof(buf)) == 0);
	test_cond("the next record takes it along", push(&t, "BODY") == 4 &&
	    peer_read(sv[1], buf, sizeof(buf)) == 7 && strcmp(buf, "HDRBODY") == 0);
	test_cond("a hold is for one record only", push(&t, "x") == 1 &&
	    peer_read(sv[1], buf, sizeof(buf)) == 1);

	/* A full socket: the held bytes go first, the next record waits (EAGAIN) until they are out. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	fill = malloc(4096);
	memset(fill, 'f', 4096);
	for (;;) {
		giovec_t v = { fill, 4096 };

		if ((r = tlspush_send(&t, &v, 1)) <= 0)
			break;
		filled += (size_t)r;
	}
	test_cond("the socket fills up (EAGAIN)", r < 0 && errno == EAGAIN && filled > 0);
	tlspush_hold(&t);
	test_cond("a record is held while the socket is full", push(&t, "H1") == 2);
	r = push(&t, "B1");
	test_cond("the next record waits behind the held one", r < 0 && errno == EAGAIN);
	got = 0;
	for (int i = 0; i < 1000 && (r = push(&t, "B1")) < 0 && errno == EAGAIN; i++) {
		size_t n = peer_read(sv[1], buf, sizeof(buf));

		got += n;
		if (n > 0 && got > filled)
			break;   /* the held bytes were among them: checked below */
	}
	if (r < 0)
		r = push(&t, "B1");
	got += peer_read(sv[1], buf, sizeof(buf));
	/* The last bytes read end with "H1B1": the held record, then the one that waited. */
	test_cond("once drained, both leave in order", r == 2 && got == filled + 4 &&
	    strlen(buf) >= 4 && strcmp(buf + strlen(buf) - 4, "H1B1") == 0);

	big = malloc(70 * 1024);
	memset(big, 'b', 70 * 1024);
	tlspush_hold(&t);
	{
		giovec_t v = { big, 70 * 1024 };

		r = tlspush_send(&t, &v, 1);
	}
	test_cond("a record over 64 KiB is not held", r > 0 && t.len == 0);
	free(big);
	free(fill);
	tlspush_clear(&t);
	close(sv[0]);
	close(sv[1]);
	return test_report();
}
