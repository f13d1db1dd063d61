/* s7_producer.c - S7: a PUSH producer feeding a zrelay streamer.
 * SPDX-License-Identifier: MIT
 *
 * The streamer is zmq_proxy's third shape (PULL frontend, PUSH backend):
 * producers push to one stable address, consumers pull from another, and
 * neither side knows how many of the other there are. Plain libzmq:
 *   zrelay streamer @tcp://127.0.0.1:5563 @tcp://127.0.0.1:5564
 * Unlike PUB, PUSH never drops: with nobody to take a message it waits.
 */
#include "example.h"

#include <getopt.h>
#include <unistd.h>

#define S_USAGE                                                                \
    "[-n COUNT] [-i ID] [-t SECONDS] [ENDPOINT]  PUSH connects to "            \
    "ENDPOINT (default tcp://127.0.0.1:5563) and sends COUNT tasks "           \
    "(default 10) named ID; fails if they cannot leave within SECONDS "        \
    "(default 20)"

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
    char id[32];
    snprintf(id, sizeof id, "producer-%ld", (long) getpid());
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
    if (argc - optind > 1 || strchr(id, ' ')) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *endpoint =
        optind < argc ? argv[optind] : "tcp://127.0.0.1:5563";

    int status = EX_OK;
    long sent = 0;
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    /* A PUSH blocks while its queue is full and nobody takes from it, and
     * zmq_ctx_term waits for what is queued: bound both. */
    ex_setint(push, ZMQ_SNDTIMEO, (int) timeout * 1000);
    ex_setint(push, ZMQ_LINGER, (int) timeout * 1000);
    if (zmq_connect(push, endpoint) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
        goto done;
    }
    for (long k = 1; k <= count; k++) {
        char text[64];
        int len = snprintf(text, sizeof text, "%s task #%ld", id, k);
        if (zmq_send(push, text, (size_t) len, 0) < 0) {
            status = ex_error(EX_FAILURE,
                              "cannot send task #%ld within %ld s (%s; is the "
                              "streamer at %s running, and a consumer?)",
                              k, timeout, zmq_strerror(errno), endpoint);
            break;
        }
        sent++;
    }
    printf("%s: %s sent %ld task%s\n", ex_name, id, sent, sent == 1 ? "" : "s");
done:
    zmq_close(push);
    zmq_ctx_term(ctx);
    return status;
}
