/* SPDX-License-Identifier: Apache-2.0 */
/* tlspush: a connection's GnuTLS push function, so a response's records leave in one send. */
#ifndef TG_TLSPUSH_H
#define TG_TLSPUSH_H
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * libmicrohttpd 0.9.75 hands a TLS response to gnutls_record_send twice, headers then body:
 * two records, two sendmsg(2). With tlspush_hold before the response is queued, the first
 * record is kept back and leaves with the second in one sendmsg. Only hold for a response
 * whose body libmicrohttpd will send (not for HEAD, not for an empty body): the held record
 * waits for the next one, and libmicrohttpd writes the body as soon as the headers are out.
 * When the socket takes only part, the rest stays here and the push reports EAGAIN, so
 * libmicrohttpd waits for the socket and retries: nothing is sent out of order or lost.
 */
struct tlspush {
	int    fd;
	bool   hold;      /* the next record waits for the one after it */
	char  *held;      /* the held bytes not yet sent: held[off..len) */
	size_t off, len, cap;
};

/* Nothing held, sending on fd. */
void tlspush_init(struct tlspush *t, int fd);

/*
 * Makes t the push function of the session on socket fd, keeping the session's receiving
 * transport pointer as it is (set that first). t must outlive the session.
 */
void tlspush_attach(struct tlspush *t, gnutls_session_t session, int fd);

/* Holds the next record back until the one after it. */
void tlspush_hold(struct tlspush *t);

/*
 * The push itself (GnuTLS's vec push calls it): the bytes of iov taken, or -1 with errno.
 * EAGAIN means try again later with the same records; held bytes always leave first.
 */
ssize_t tlspush_send(struct tlspush *t, const giovec_t *iov, int iovcnt);

/* Frees the held bytes (the connection is gone). */
void tlspush_clear(struct tlspush *t);

#endif
