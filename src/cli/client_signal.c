/* client_signal.c - SIGINT, SIGTERM and SIGHUP for the client verbs: the
 * first asks the verb to stop (the loop and pub's --sync wait end, the
 * socket delivers what it queued within --linger); a second, or one
 * while the exit waits for --linger, ends the process at once.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t s_signal;
static volatile sig_atomic_t s_hard;
/* Written by the handler, polled by the loop and the --sync watcher. */
static int s_wake[2] = {-1, -1};

static void
s_on_signal(int sig)
{
    if (s_signal || s_hard) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    s_signal = sig;
    if (s_wake[1] >= 0) {
        /* write(2) is async-signal-safe; a full pipe is woken already.
         * errno is kept for the code the signal interrupted. */
        int e = errno;
        ssize_t rc = write(s_wake[1], "w", 1);
        (void) rc;
        errno = e;
    }
}

int
client_signal_install(void)
{
    if (pipe(s_wake) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(s_wake[i], F_SETFL, O_NONBLOCK);
        fcntl(s_wake[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: zmq_poll and read return EINTR, the loop looks. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

int
client_signal(void)
{
    return s_signal;
}

const char *
client_signal_name(int sig)
{
    return sig == SIGINT    ? "SIGINT"
           : sig == SIGTERM ? "SIGTERM"
           : sig == SIGHUP  ? "SIGHUP"
                            : "a signal";
}

int
client_signal_fd(void)
{
    return s_wake[0];
}

void
client_signal_hard(void)
{
    s_hard = 1;
}

/* ---------------------------------------------------------------------
 * The --sync watcher: zr_sync_wait returns -1/EINTR when a signal
 * interrupts its zmq_poll, but one that comes just before that poll, or
 * between two of its polls, would leave it waiting.
 */

static void *
s_watch_main(void *arg)
{
    client_watch_t *w = arg;
    struct pollfd fds[2] = {{s_wake[0], POLLIN, 0}, {w->stop[0], POLLIN, 0}};
    while (poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    if (fds[0].revents & POLLIN) {
        zmq_ctx_shutdown(w->ctx); /* ends any wait on it, with ETERM */
    }
    return NULL;
}

int
client_watch_start(client_watch_t *self, void *ctx)
{
    self->ctx = ctx;
    if (pipe(self->stop) != 0) {
        return -1;
    }
    /* Signals stay with the main thread, whose zmq_poll they interrupt. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&self->thread, NULL, s_watch_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(self->stop[0]);
        close(self->stop[1]);
        errno = rc;
        return -1;
    }
    return 0;
}

void
client_watch_stop(client_watch_t *self)
{
    ssize_t rc = write(self->stop[1], "s", 1);
    (void) rc;
    pthread_join(self->thread, NULL);
    close(self->stop[0]);
    close(self->stop[1]);
}
