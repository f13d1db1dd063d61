/* s4_client.c - S4: a REQ client of the shared queue.
 * SPDX-License-Identifier: MIT
 *
 * Clients talk only to the queue's frontend (ROUTER), servers only to its
 * backend (DEALER); neither knows how many of the other there are. Add a
 * server and the queue deals requests to it too. Plain libzmq:
 *   zrelay queue @tcp://127.0.0.1:5559 @tcp://127.0.0.1:5560
 *   s4_server (any number)    s4_client (any number)
 * Each reply must carry the request it answers: the client checks it.
 */
#include "example.h"

#include <getopt.h>
#include <unistd.h>

#define S_USAGE                                                                \
    "[-n COUNT] [-i ID] [-t SECONDS] [ENDPOINT]  REQ connects to "             \
    "ENDPOINT (default tcp://127.0.0.1:5559), sends COUNT requests "           \
    "(default 10) one at a time and checks each reply; fails after "           \
    "SECONDS without a reply (default 20)"

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"id", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long count = 10, timeout = 20;
    char id[64];
    snprintf(id, sizeof id, "client-%ld", (long) getpid());
    int opt;
    while ((opt = getopt_long(argc, argv, "n:i:t:h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': count = ex_number("--count", optarg, 0, LONG_MAX); break;
        case 'i': snprintf(id, sizeof id, "%s", optarg); break;
        case 't': timeout = ex_number("--timeout", optarg, 1, 86400); break;
        case 'h': ex_usage(stdout, S_USAGE); return EX_OK;
        default: ex_usage(stderr, S_USAGE); return EX_USAGE;
        }
    }
    if (argc - optind > 1) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *endpoint =
        optind < argc ? argv[optind] : "tcp://127.0.0.1:5559";

    int status = EX_OK;
    long sent = 0, replies = 0;
    void *ctx = zmq_ctx_new();
    void *req = zmq_socket(ctx, ZMQ_REQ);
    ex_setint(req, ZMQ_LINGER, 0);
    /* A REQ waits for its reply forever unless told otherwise. */
    ex_setint(req, ZMQ_RCVTIMEO, (int) timeout * 1000);
    if (zmq_connect(req, endpoint) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
        goto done;
    }
    for (long i = 1; i <= count; i++) {
        char request[128], reply[256];
        int len =
            snprintf(request, sizeof request, "request #%ld from %s", i, id);
        if (zmq_send(req, request, (size_t) len, 0) < 0) {
            status =
                ex_error(EX_FAILURE, "cannot send: %s", zmq_strerror(errno));
            break;
        }
        sent++;
        len = zmq_recv(req, reply, sizeof reply - 1, 0);
        if (len < 0) {
            status = ex_error(EX_FAILURE,
                              "no reply to '%s' within %ld s (%s; is the "
                              "queue at %s running, and a server behind "
                              "it?)",
                              request, timeout, zmq_strerror(errno), endpoint);
            break;
        }
        reply[len < (int) sizeof reply ? len : (int) sizeof reply - 1] = 0;
        printf("%s\n", reply);
        /* The server echoes the request: a reply for anyone else's
         * request would mean the queue routed it wrong. */
        size_t rlen = strlen(request);
        if (strncmp(reply, request, rlen) != 0 ||
            strncmp(reply + rlen, " -> ", 4) != 0) {
            status = ex_error(EX_FAILURE, "reply '%s' does not answer '%s'",
                              reply, request);
            break;
        }
        replies++;
    }
    printf("%s: %s sent %ld request%s, got %ld matching repl%s\n", ex_name, id,
           sent, sent == 1 ? "" : "s", replies, replies == 1 ? "y" : "ies");
done:
    zmq_close(req);
    zmq_ctx_term(ctx);
    return status;
}
