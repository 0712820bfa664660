/* SPDX-License-Identifier: Apache-2.0 */
/* tlspush: a connection's GnuTLS push function, so a response's records leave in one send. */
#include "tlspush.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* A held record larger than this is sent at once: past one packet, two sends cost nothing. */
#define TLSPUSH_HOLD_MAX (64 * 1024)
/* GnuTLS flushes at most 32 queued records in one push (MAX_QUEUE in its buffers.c). */
#define TLSPUSH_IOV_MAX  33

static ssize_t
send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)n;
	return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

/* Keeps the record back (a copy); false when it is too large or there is no memory. */
static bool
hold_copy(struct tlspush *t, const giovec_t *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total > TLSPUSH_HOLD_MAX)
		return false;
	if (total > t->cap) {
		char *p = realloc(t->held, total);

		if (p == NULL)
			return false;
		t->held = p;
		t->cap = total;
	}
	t->off = 0;
	t->len = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(t->held + t->len, iov[i].iov_base, iov[i].iov_len);
		t->len += iov[i].iov_len;
	}
	return true;
}

ssize_t
tlspush_send(struct tlspush *t, const giovec_t *iov, int iovcnt)
{
	struct iovec v[TLSPUSH_IOV_MAX];
	size_t pending = t->len - t->off, total = 0;
	ssize_t n;
	int k = 0;
	bool hold;

	if (iovcnt <= 0 || iovcnt >= TLSPUSH_IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	hold = t->hold;
	t->hold = false;   /* one record only, whatever happens to it */
	if (hold && pending == 0 && hold_copy(t, iov, iovcnt)) {
		for (int i = 0; i < iovcnt; i++)
			total += iov[i].iov_len;
		return (ssize_t)total;   /* taken: it leaves with the next record */
	}
	if (pending > 0)
		v[k++] = (struct iovec){ t->held + t->off, pending };
	for (int i = 0; i < iovcnt; i++)
		v[k++] = (struct iovec){ iov[i].iov_base, iov[i].iov_len };
	n = send_iov(t->fd, v, k);
	if (n < 0 || pending == 0)
		return n;
	if ((size_t)n < pending) {
		t->off += (size_t)n;
		errno = EAGAIN;   /* the held bytes go first; these records wait */
		return -1;
	}
	t->off = t->len = 0;
	if ((size_t)n == pending) {
		errno = EAGAIN;
		return -1;
	}
	return n - (ssize_t)pending;
}

/* GnuTLS's vec push, over the send pointer tlspush_attach gave it. */
static ssize_t
tlspush_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	return tlspush_send(ptr, iov, iovcnt);
}

void
tlspush_init(struct tlspush *t, int fd)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
}

void
tlspush_attach(struct tlspush *t, gnutls_session_t session, int fd)
{
	tlspush_init(t, fd);
	/* Only the sending side: whoever reads (connlimit) keeps its own pointer. */
	gnutls_transport_set_ptr2(session, gnutls_transport_get_ptr(session), t);
	gnutls_transport_set_vec_push_function(session, tlspush_vec);
}

void
tlspush_hold(struct tlspush *t)
{
	t->hold = true;
}

void
tlspush_clear(struct tlspush *t)
{
	free(t->held);
	tlspush_init(t, -1);
}
