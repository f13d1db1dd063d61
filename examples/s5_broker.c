/* s5_broker.c - S5: the seed's hand-written ROUTER/DEALER broker, with
 * the library in place of the poll loop.
 * SPDX-License-Identifier: MIT
 *
 * The seed binds a ROUTER (5559) and a DEALER (5560) and forwards whole
 * multipart messages between them in a zmq_poll loop. Here the program
 * still creates and binds its own sockets, then calls zr_proxy(): the loop
 * (non-blocking, whole messages, counted) is the library's. With
 * --device, zr_device_* creates, binds and runs the sockets instead.
 * Either way it is the same broker as `zrelay queue`; s4_client and
 * s4_server run through it unchanged.
 *
 * Like zrelay it prints "frontend bind ADDRESS", "backend bind ADDRESS"
 * and "ready" once bound (tcp://127.0.0.1:* binds a free port), and stops
 * cleanly on Ctrl-C or SIGTERM.
 */
#include "example.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <zrelay.h>

#define S_USAGE                                                                \
    "[--device] [FRONTEND [BACKEND]]  binds a ROUTER on FRONTEND "             \
    "(default tcp://127.0.0.1:5559) for clients, a DEALER on BACKEND "         \
    "(default tcp://127.0.0.1:5560) for servers, and relays between "          \
    "them with zr_proxy (--device: with zr_device_run) until Ctrl-C"

#define S_CONTROL "inproc://s5-control"

/* ---- zr_proxy: our sockets, the library's loop ----------------------- */

/* zr_proxy, like zmq_proxy_steerable, stops on TERMINATE from its control
 * socket. A signal handler may not call libzmq, so a thread waits for the
 * signal (blocked everywhere else) and sends TERMINATE. */
typedef struct {
    void *ctx;
    sigset_t signals;
    atomic_bool proxy_done; /* zr_proxy returned on its own */
} s_watch_t;

static void *
s_watch(void *arg)
{
    s_watch_t *w = arg;
    int sig;
    sigwait(&w->signals, &sig);
    if (atomic_load(&w->proxy_done)) {
        return NULL;
    }
    void *ctl = zmq_socket(w->ctx, ZMQ_PAIR);
    ex_setint(ctl, ZMQ_RCVTIMEO, 2000);
    zmq_connect(ctl, S_CONTROL);
    char reply[16];
    if (zmq_send(ctl, "TERMINATE", 9, 0) < 0 ||
        zmq_recv(ctl, reply, sizeof reply, 0) < 0) {
        ex_error(EX_FAILURE, "cannot send TERMINATE: %s", zmq_strerror(errno));
    }
    zmq_close(ctl);
    return NULL;
}

static int
s_bind(void *socket, const char *role, const char *endpoint)
{
    if (zmq_bind(socket, endpoint) != 0) {
        return ex_error(EX_FAILURE, "cannot bind %s %s: %s", role, endpoint,
                        zmq_strerror(errno));
    }
    char real[256];
    size_t len = sizeof real;
    zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, real, &len);
    printf("%s bind %s\n", role, real);
    return EX_OK;
}

static int
s_run_proxy(const char *front_ep, const char *back_ep)
{
    /* Block the signals before libzmq starts threads, so only s_watch
     * gets them. */
    s_watch_t watch = {.proxy_done = false};
    sigemptyset(&watch.signals);
    sigaddset(&watch.signals, SIGINT);
    sigaddset(&watch.signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &watch.signals, NULL);
    watch.ctx = zmq_ctx_new();

    void *frontend = zmq_socket(watch.ctx, ZMQ_ROUTER);
    void *backend = zmq_socket(watch.ctx, ZMQ_DEALER);
    void *control = zmq_socket(watch.ctx, ZMQ_PAIR);
    /* A client reconnecting with a fixed identity takes over its old
     * route instead of being refused (the device sets this too). */
    ex_setint(frontend, ZMQ_ROUTER_HANDOVER, 1);
    int status = s_bind(frontend, "frontend", front_ep);
    if (status == EX_OK) {
        status = s_bind(backend, "backend", back_ep);
    }
    if (status == EX_OK && zmq_bind(control, S_CONTROL) != 0) {
        status = ex_error(EX_FAILURE, "cannot bind %s: %s", S_CONTROL,
                          zmq_strerror(errno));
    }
    pthread_t watcher;
    if (status == EX_OK &&
        pthread_create(&watcher, NULL, s_watch, &watch) != 0) {
        status = ex_error(EX_FAILURE, "cannot start a thread");
    }
    if (status == EX_OK) {
        printf("ready\n");
        fflush(stdout);
        /* The seed's whole `while True: poll, recv_multipart,
         * send_multipart` loop: */
        if (zr_proxy(frontend, backend, NULL, control) != 0) {
            status = ex_error(EX_FAILURE, "zr_proxy: %s", zr_strerror(errno));
            atomic_store(&watch.proxy_done, true);
            pthread_kill(watcher, SIGTERM); /* end its sigwait */
        }
        pthread_join(watcher, NULL);
    }
    zmq_close(control);
    zmq_close(backend);
    zmq_close(frontend);
    zmq_ctx_term(watch.ctx);
    return status;
}

/* ---- zr_device: the library's sockets and loop ----------------------- */

static zr_device_t *volatile s_device;

static void
s_stop_device(int sig)
{
    (void) sig;
    if (s_device) {
        zr_device_stop(s_device); /* async-signal-safe */
    }
}

static int
s_run_device(const char *front_ep, const char *back_ep)
{
    zr_device_t *dev = zr_device_new(NULL, ZR_QUEUE, "s5");
    if (!dev) {
        return ex_error(EX_FAILURE, "cannot create a device: %s",
                        zr_strerror(errno));
    }
    int status = EX_OK;
    /* A bare endpoint binds; the device sets ROUTER_HANDOVER itself. */
    if (zr_device_set_frontend(dev, front_ep) != 0 ||
        zr_device_set_backend(dev, back_ep) != 0 || zr_device_open(dev) != 0) {
        status = ex_error(EX_FAILURE, "%s", zr_device_error(dev));
        goto done;
    }
    s_device = dev;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_stop_device;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (size_t i = 0; i < zr_device_endpoint_count(dev); i++) {
        const char *role, *address;
        bool bind;
        zr_device_endpoint(dev, i, &role, &bind, &address);
        printf("%s %s %s\n", role, bind ? "bind" : "connect", address);
    }
    printf("ready\n");
    fflush(stdout);
    if (zr_device_run(dev) != 0) {
        status = ex_error(EX_FAILURE, "%s", zr_device_error(dev));
    }
    s_device = NULL;
    zr_stats_t st;
    zr_device_stats(dev, &st);
    printf("%s: relayed %llu request%s and %llu repl%s\n", ex_name,
           (unsigned long long) st.backend.msgs_out,
           st.backend.msgs_out == 1 ? "" : "s",
           (unsigned long long) st.frontend.msgs_out,
           st.frontend.msgs_out == 1 ? "y" : "ies");
done:
    zr_device_destroy(&dev);
    return status;
}

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"device", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool device = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "dh", options, NULL)) != -1) {
        switch (opt) {
        case 'd': device = true; break;
        case 'h': ex_usage(stdout, S_USAGE); return EX_OK;
        default: ex_usage(stderr, S_USAGE); return EX_USAGE;
        }
    }
    if (argc - optind > 2) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *front_ep =
        optind < argc ? argv[optind] : "tcp://127.0.0.1:5559";
    const char *back_ep =
        optind + 1 < argc ? argv[optind + 1] : "tcp://127.0.0.1:5560";
    return device ? s_run_device(front_ep, back_ep)
                  : s_run_proxy(front_ep, back_ep);
}
