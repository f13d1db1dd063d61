/* zmq_proxy_main.c - the baseline a user would write: libzmq's own
 * zmq_proxy() in a process of its own, driven by zrelay-bench exactly as
 * it drives the zrelay binary.
 * SPDX-License-Identifier: MIT
 *
 * Same command line as `zrelay forwarder|queue|streamer`: the same socket
 * types, the same --sndhwm/--rcvhwm/--io-threads, the same linger (1 s),
 * the same '@bind'/'>connect' endpoints, the same "ROLE bind ADDRESS"
 * lines and "ready" on stdout, and SIGTERM/SIGINT stop it with exit 0.
 * Nothing else: no control socket, no counters, no logging.
 *
 * Stopping: a signal handler cannot reach into zmq_proxy(), and a signal
 * that lands between two system calls would leave it polling forever. So
 * SIGTERM and SIGINT are blocked in every thread, one thread waits for
 * them with sigwait() and shuts the context down, and zmq_proxy() returns
 * with ETERM.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static sigset_t s_signals;

static void *
s_signal_thread(void *ctx)
{
    int sig;
    sigwait(&s_signals, &sig);
    zmq_ctx_shutdown(ctx);
    return NULL;
}

static int
s_usage(void)
{
    fprintf(stderr, "usage: zrelay-bench-zmq-proxy forwarder|queue|streamer "
                    "[--sndhwm N] [--rcvhwm N] [--io-threads N] [--linger MS] "
                    "FRONTEND BACKEND\n");
    return 2;
}

static int
s_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > 1000000000) {
        return -1;
    }
    *out = (int) v;
    return 0;
}

/* Bind or connect S to every endpoint of the comma-separated SPEC and
 * print "ROLE bind|connect ADDRESS" for each. */
static int
s_attach(void *s, const char *role, const char *spec)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *ep = strtok_r(buf, ",", &save); ep;
         ep = strtok_r(NULL, ",", &save)) {
        bool bind = *ep != '>';
        if (*ep == '@' || *ep == '>') {
            ep++;
        }
        int rc = bind ? zmq_bind(s, ep) : zmq_connect(s, ep);
        if (rc != 0) {
            fprintf(stderr, "zrelay-bench-zmq-proxy: cannot %s %s: %s\n",
                    bind ? "bind" : "connect", ep, zmq_strerror(errno));
            return -1;
        }
        char resolved[1024];
        size_t len = sizeof resolved;
        if (!bind || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, resolved, &len)) {
            snprintf(resolved, sizeof resolved, "%s", ep);
        }
        printf("%s %s %s\n", role, bind ? "bind" : "connect", resolved);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        return s_usage();
    }
    int ftype, btype;
    if (strcmp(argv[1], "forwarder") == 0) {
        ftype = ZMQ_XSUB;
        btype = ZMQ_XPUB;
    }
    else if (strcmp(argv[1], "queue") == 0) {
        ftype = ZMQ_ROUTER;
        btype = ZMQ_DEALER;
    }
    else if (strcmp(argv[1], "streamer") == 0) {
        ftype = ZMQ_PULL;
        btype = ZMQ_PUSH;
    }
    else {
        return s_usage();
    }
    int sndhwm = -1, rcvhwm = -1, io_threads = 1, linger = 1000;
    const char *eps[2];
    int neps = 0;
    for (int i = 2; i < argc; i++) {
        int *opt = strcmp(argv[i], "--sndhwm") == 0       ? &sndhwm
                   : strcmp(argv[i], "--rcvhwm") == 0     ? &rcvhwm
                   : strcmp(argv[i], "--io-threads") == 0 ? &io_threads
                   : strcmp(argv[i], "--linger") == 0     ? &linger
                                                          : NULL;
        if (opt) {
            if (i + 1 == argc || s_int(argv[++i], opt) != 0) {
                return s_usage();
            }
        }
        else if (argv[i][0] == '-' || neps == 2) {
            return s_usage();
        }
        else {
            eps[neps++] = argv[i];
        }
    }
    if (neps != 2 || io_threads < 1) {
        return s_usage();
    }

    /* Before any thread exists, so that every thread inherits the mask. */
    sigemptyset(&s_signals);
    sigaddset(&s_signals, SIGTERM);
    sigaddset(&s_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, io_threads);
    void *front = zmq_socket(ctx, ftype);
    void *back = zmq_socket(ctx, btype);
    void *socks[2] = {front, back};
    for (int i = 0; i < 2; i++) {
        zmq_setsockopt(socks[i], ZMQ_LINGER, &linger, sizeof linger);
        if (sndhwm >= 0) {
            zmq_setsockopt(socks[i], ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
        }
        if (rcvhwm >= 0) {
            zmq_setsockopt(socks[i], ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
        }
    }
    if (ftype == ZMQ_ROUTER) {
        /* As zrelay's queue does. */
        int on = 1;
        zmq_setsockopt(front, ZMQ_ROUTER_HANDOVER, &on, sizeof on);
    }
    int status = 0;
    if (s_attach(front, "frontend", eps[0]) != 0 ||
        s_attach(back, "backend", eps[1]) != 0) {
        status = 1;
        goto done;
    }

    pthread_t waiter;
    if (pthread_create(&waiter, NULL, s_signal_thread, ctx) != 0) {
        fprintf(stderr, "zrelay-bench-zmq-proxy: cannot start a thread\n");
        status = 1;
        goto done;
    }
    printf("ready\n");
    fflush(stdout);

    zmq_proxy(front, back, NULL);
    if (errno != ETERM) {
        fprintf(stderr, "zrelay-bench-zmq-proxy: zmq_proxy: %s\n",
                zmq_strerror(errno));
        status = 1;
        pthread_kill(waiter, SIGTERM);
    }
    pthread_join(waiter, NULL);
done:
    zmq_close(front);
    zmq_close(back);
    zmq_ctx_term(ctx);
    return status;
}
