/* s2_publisher.c - S2: publish only after the subscriber said it is there.
 * SPDX-License-Identifier: MIT
 *
 * The seed's fix for the slow joiner: before publishing, ask over a
 * REQ/REP side channel ("Hello" -> "yes") whether the subscriber is
 * listening. Two relays, both zrelay; this program is plain libzmq:
 *   zrelay forwarder @tcp://127.0.0.1:5559 @tcp://127.0.0.1:5560
 *   zrelay queue     @tcp://127.0.0.1:5561 @tcp://127.0.0.1:5562
 * PUB connects to the forwarder's frontend (5559), REQ to the queue's
 * frontend (5561); s2_subscriber's REP sits behind the queue (5562).
 *
 * Honest note: the handshake is itself racy. "yes" proves that the
 * subscriber's SUB has connected, not that its subscription has travelled
 * SUB -> forwarder -> this PUB: that goes over other connections, through
 * another relay, and a PUB only reads subscriptions when it next gets
 * round to it. The REQ round trip is usually long enough, nothing
 * guarantees it, and then the first publications are still lost. A later
 * zrelay feature, `--sync`, fixes this in the broker.
 *
 * -s N waits for N subscribers ("node coordination" in the seed). The
 * queue deals each "Hello" to the next connected REP, so all N must have
 * connected before the first "Hello" leaves, or one gets two and the
 * second is never answered: racy as well, bounded by the timeout.
 */
#include "example.h"

#include <getopt.h>

#define S_USAGE                                                                \
    "[-n COUNT] [-s SUBSCRIBERS] [-t SECONDS] [PUB_ENDPOINT "                  \
    "[REQ_ENDPOINT]]  asks SUBSCRIBERS (default 1) over REQ (default "         \
    "tcp://127.0.0.1:5561), then publishes COUNT (default 3) over PUB "        \
    "(default tcp://127.0.0.1:5559); fails after SECONDS without an "          \
    "answer (default 20)"

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"subscribers", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long count = 3, subscribers = 1, timeout = 20;
    int opt;
    while ((opt = getopt_long(argc, argv, "n:s:t:h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': count = ex_number("--count", optarg, 0, LONG_MAX); break;
        case 's':
            subscribers = ex_number("--subscribers", optarg, 1, 10000);
            break;
        case 't': timeout = ex_number("--timeout", optarg, 1, 86400); break;
        case 'h': ex_usage(stdout, S_USAGE); return EX_OK;
        default: ex_usage(stderr, S_USAGE); return EX_USAGE;
        }
    }
    if (argc - optind > 2) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *pub_ep = optind < argc ? argv[optind] : "tcp://127.0.0.1:5559";
    const char *req_ep =
        optind + 1 < argc ? argv[optind + 1] : "tcp://127.0.0.1:5561";

    int status = EX_OK;
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    void *req = zmq_socket(ctx, ZMQ_REQ);
    ex_setint(pub, ZMQ_LINGER, 1000); /* let the publications leave */
    ex_setint(req, ZMQ_LINGER, 0);
    /* A REQ without an answer would wait forever: bound it. */
    ex_setint(req, ZMQ_RCVTIMEO, (int) timeout * 1000);
    if (zmq_connect(pub, pub_ep) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", pub_ep,
                          zmq_strerror(errno));
        goto done;
    }
    if (zmq_connect(req, req_ep) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", req_ep,
                          zmq_strerror(errno));
        goto done;
    }
    for (long i = 0; i < subscribers; i++) {
        char rep[64];
        if (zmq_send(req, "Hello", 5, 0) < 0) {
            status = ex_error(EX_FAILURE, "cannot send Hello: %s",
                              zmq_strerror(errno));
            goto done;
        }
        int len = zmq_recv(req, rep, sizeof rep - 1, 0);
        if (len < 0) {
            status = ex_error(EX_FAILURE,
                              "no answer to Hello #%ld within %ld s (%s; is "
                              "the queue at %s running, and a subscriber "
                              "behind it?)",
                              i + 1, timeout, zmq_strerror(errno), req_ep);
            goto done;
        }
        rep[len < (int) sizeof rep ? len : (int) sizeof rep - 1] = 0;
        printf("rep = %s\n", rep);
        if (strcmp(rep, "yes") != 0) {
            status = ex_error(EX_FAILURE, "expected 'yes', got '%s'", rep);
            goto done;
        }
    }
    for (long i = 0; i < count; i++) {
        char text[64];
        int len = snprintf(text, sizeof text, "Blablabla #%ld", i + 1);
        if (zmq_send(pub, text, (size_t) len, 0) < 0) {
            status =
                ex_error(EX_FAILURE, "cannot publish: %s", zmq_strerror(errno));
            goto done;
        }
        printf("sent: %s\n", text);
    }
    printf("%s: %ld subscriber%s answered, published %ld message%s\n", ex_name,
           subscribers, subscribers == 1 ? "" : "s", count,
           count == 1 ? "" : "s");
done:
    zmq_close(req);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return status;
}
