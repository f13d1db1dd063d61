/* s4_server.c - S4: a REP server behind the shared queue.
 * SPDX-License-Identifier: MIT
 *
 * REP connects to the queue's backend (DEALER), which deals requests
 * round-robin to every connected server; the REP envelope carries each
 * reply back to the client that asked, through the queue's ROUTER. Plain
 * libzmq. Runs until Ctrl-C or SIGTERM, then prints how many it served.
 */
#include "example.h"

#include <getopt.h>
#include <unistd.h>

#define S_USAGE                                                                \
    "[-w MS] [-i ID] [ENDPOINT]  REP connects to ENDPOINT (default "           \
    "tcp://127.0.0.1:5560) and answers each request with the request "         \
    "and ID after MS ms of work (default 0) until Ctrl-C"

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"work", required_argument, NULL, 'w'},
        {"id", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long work = 0;
    char id[64];
    snprintf(id, sizeof id, "server-%ld", (long) getpid());
    int opt;
    while ((opt = getopt_long(argc, argv, "w:i:h", options, NULL)) != -1) {
        switch (opt) {
        case 'w': work = ex_number("--work", optarg, 0, 3600 * 1000); break;
        case 'i': snprintf(id, sizeof id, "%s", optarg); break;
        case 'h': ex_usage(stdout, S_USAGE); return EX_OK;
        default: ex_usage(stderr, S_USAGE); return EX_USAGE;
        }
    }
    if (argc - optind > 1) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *endpoint =
        optind < argc ? argv[optind] : "tcp://127.0.0.1:5560";

    int status = EX_OK;
    long served = 0;
    void *ctx = zmq_ctx_new();
    void *rep = zmq_socket(ctx, ZMQ_REP);
    ex_setint(rep, ZMQ_LINGER, 1000); /* let the last reply leave */
    if (zmq_connect(rep, endpoint) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
        goto done;
    }
    ex_catch_signals();
    /* Like zrelay's "ready": scripts wait for it before going on. */
    printf("%s: REP connected to %s, ready\n", id, endpoint);
    fflush(stdout);
    while (!ex_interrupted) {
        /* Poll with a timeout rather than block in zmq_recv: a signal that
         * lands just before the call would otherwise go unnoticed. */
        zmq_pollitem_t item = {.socket = rep, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, 500);
        if (rc < 0 && errno != EINTR) {
            status =
                ex_error(EX_FAILURE, "cannot poll: %s", zmq_strerror(errno));
            break;
        }
        if (rc <= 0) {
            continue;
        }
        char request[128], reply[256];
        int len = zmq_recv(rep, request, sizeof request - 1, 0);
        if (len < 0) {
            continue; /* EINTR: the loop looks at the flag */
        }
        request[len < (int) sizeof request ? len : (int) sizeof request - 1] =
            0;
        if (work) {
            ex_sleep_ms(work); /* the "work" */
        }
        len = snprintf(reply, sizeof reply, "%s -> served by %s", request, id);
        if (zmq_send(rep, reply, (size_t) len, 0) < 0) {
            status =
                ex_error(EX_FAILURE, "cannot reply: %s", zmq_strerror(errno));
            break;
        }
        served++;
    }
    printf("%s: %s served %ld request%s\n", ex_name, id, served,
           served == 1 ? "" : "s");
done:
    zmq_close(rep);
    zmq_ctx_term(ctx);
    return status;
}
