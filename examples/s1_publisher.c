/* s1_publisher.c - S1: a publisher that knows only the forwarder's address.
 * SPDX-License-Identifier: MIT
 *
 * PUB connects to the forwarder's frontend (its XSUB) and sends
 * "Hello there #N" every INTERVAL ms. Publishers and subscribers never
 * learn each other's addresses, only the forwarder's: that is how the
 * forwarder solves dynamic discovery. Plain libzmq; the forwarder is
 *   zrelay forwarder @tcp://127.0.0.1:5559 @tcp://127.0.0.1:5560
 *
 * A PUB drops what it sends while no subscription has reached it, so a
 * subscriber misses the first message(s): the slow joiner (see S2).
 */
#include "example.h"

#include <getopt.h>

#define S_USAGE                                                                \
    "[-n COUNT] [-i MS] [ENDPOINT]  PUB connects to ENDPOINT (default "        \
    "tcp://127.0.0.1:5559) and sends COUNT messages (default 3; 0: until "     \
    "Ctrl-C), one every MS ms (default 1000)"

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long count = 3, interval = 1000;
    int opt;
    while ((opt = getopt_long(argc, argv, "n:i:h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': count = ex_number("--count", optarg, 0, LONG_MAX); break;
        case 'i':
            interval = ex_number("--interval", optarg, 0, 3600 * 1000);
            break;
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
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    /* Give the last messages a second to leave at exit, not forever. */
    ex_setint(pub, ZMQ_LINGER, 1000);
    if (zmq_connect(pub, endpoint) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
        goto done;
    }
    ex_catch_signals();
    long sent = 0;
    while (!ex_interrupted && (count == 0 || sent < count)) {
        char text[64];
        int len = snprintf(text, sizeof text, "Hello there #%ld", sent + 1);
        /* A PUB never blocks: without subscribers the message is gone. */
        if (zmq_send(pub, text, (size_t) len, 0) < 0) {
            if (errno == EINTR) {
                continue;
            }
            status =
                ex_error(EX_FAILURE, "cannot send: %s", zmq_strerror(errno));
            break;
        }
        sent++;
        printf("sent: %s\n", text);
        fflush(stdout);
        if (count == 0 || sent < count) {
            ex_sleep_ms(interval);
        }
    }
    printf("%s: sent %ld message%s to %s\n", ex_name, sent,
           sent == 1 ? "" : "s", endpoint);
done:
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return status;
}
