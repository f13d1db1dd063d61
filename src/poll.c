/* poll.c - zmq_poll with fewer looks at the sockets.
 * SPDX-License-Identifier: MIT
 *
 * libzmq 4.3.4's zmq_poll, to wait: poll(2) with timeout 0, ZMQ_EVENTS
 * on every socket, poll(2) again with the timeout, then ZMQ_EVENTS on
 * every socket once more. Each ZMQ_EVENTS on an idle socket is itself a
 * getpid(2) and a poll(2) (libzmq's mailbox check), so a relay that
 * sleeps once per request pays for three looks at each socket per sleep.
 *
 * zr__poll looks once at each socket (ZMQ_EVENTS takes its commands, so
 * afterwards its ZMQ_FD is readable only when a new command comes), then
 * sleeps in poll(2) on the sockets' descriptors and the plain ones, and
 * after the sleep asks ZMQ_EVENTS only of the sockets whose descriptor
 * signalled: a socket whose descriptor stayed quiet took no command, so
 * its state is the one just read. Nothing may touch the sockets between
 * the look and the sleep; nothing does, it all happens here.
 *
 * The items and the result are zmq_poll's: revents set, the number of
 * items with any, -1 with errno (ETERM, EINTR).
 */
#include "zr_impl.h"

#include <errno.h>
#include <poll.h>
#include <zmq.h>

static int
s_events(void *socket, short want, short *revents)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(socket, ZMQ_EVENTS, &events, &len) != 0) {
        return -1;
    }
    *revents = (short) (events & want);
    return 0;
}

static short
s_fd_revents(short want, short got)
{
    short r = 0;
    if ((want & ZMQ_POLLIN) && (got & POLLIN)) {
        r |= ZMQ_POLLIN;
    }
    if ((want & ZMQ_POLLOUT) && (got & POLLOUT)) {
        r |= ZMQ_POLLOUT;
    }
    if ((want & ZMQ_POLLPRI) && (got & POLLPRI)) {
        r |= ZMQ_POLLPRI;
    }
    if (got & ~(POLLIN | POLLOUT | POLLPRI)) {
        r |= ZMQ_POLLERR;
    }
    return r;
}

static short
s_fd_events(short want)
{
    return (short) (((want & ZMQ_POLLIN) ? POLLIN : 0) |
                    ((want & ZMQ_POLLOUT) ? POLLOUT : 0) |
                    ((want & ZMQ_POLLPRI) ? POLLPRI : 0));
}

int
zr__poll(zmq_pollitem_t *items, int n, long timeout)
{
    struct pollfd pfd[ZR__POLL_MAX];
    if (n < 0 || n > ZR__POLL_MAX) {
        errno = EINVAL;
        return -1;
    }
    int ready = 0;
    int plain = 0;
    for (int i = 0; i < n; i++) {
        zmq_pollitem_t *it = &items[i];
        it->revents = 0;
        if (it->socket) {
            size_t len = sizeof pfd[i].fd;
            if (zmq_getsockopt(it->socket, ZMQ_FD, &pfd[i].fd, &len) != 0 ||
                s_events(it->socket, it->events, &it->revents) != 0) {
                return -1;
            }
            pfd[i].events = POLLIN; /* ZMQ_FD: a command came */
            ready += it->revents != 0;
        }
        else {
            pfd[i].fd = it->fd;
            pfd[i].events = s_fd_events(it->events);
            plain++;
        }
        pfd[i].revents = 0;
    }
    if (ready && !plain) {
        return ready;
    }
    int64_t deadline = timeout > 0 ? zr__now_ms() + timeout : 0;
    for (;;) {
        /* Sockets ready already: only a look at the plain descriptors. */
        int rc = poll(pfd, (nfds_t) n, ready ? 0 : (int) timeout);
        if (rc < 0) {
            return -1; /* EINTR, as zmq_poll */
        }
        for (int i = 0; rc > 0 && i < n; i++) {
            zmq_pollitem_t *it = &items[i];
            if (pfd[i].revents == 0) {
                continue;
            }
            if (!it->socket) {
                it->revents = s_fd_revents(it->events, pfd[i].revents);
                ready += it->revents != 0;
            }
            else if (it->revents == 0) {
                if (s_events(it->socket, it->events, &it->revents) != 0) {
                    return -1;
                }
                ready += it->revents != 0;
            }
            pfd[i].revents = 0;
        }
        if (ready || timeout == 0) {
            return ready;
        }
        if (timeout > 0) {
            int64_t left = deadline - zr__now_ms();
            if (left <= 0) {
                return 0;
            }
            timeout = (long) left;
        }
    }
}
