/* sync_publisher.c - S2 cured in the broker: a PUB publisher that waits,
 * through the forwarder's sync service, until N subscribers are really
 * there, then publishes a burst that every one of them gets whole.
 * SPDX-License-Identifier: MIT
 *
 * The forwarder:
 *   zrelay forwarder @tcp://127.0.0.1:5559 @tcp://127.0.0.1:5560 \
 *       --sync @tcp://127.0.0.1:5561
 * Subscribers need no code at all (s1_subscriber works as it is). After
 * zr_sync_wait says go, everything this PUB sends reaches each of those
 * subscribers: no handshake, no sleep, no lost first message
 * (docs/SYNC.md says how).
 */
#include "example.h"
#include "zrelay.h"

#include <getopt.h>

#define S_USAGE                                                              \
    "[-w SUBSCRIBERS] [-n COUNT] [-t TOPIC] [-T MS] [FRONTEND [SYNC]]  "     \
    "wait until SUBSCRIBERS subscriptions match TOPIC (default 1, \"\"), at " \
    "most MS ms (default 10000), then send COUNT messages (default 1000) "   \
    "at once; FRONTEND tcp://127.0.0.1:5559, SYNC tcp://127.0.0.1:5561"

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"wait", required_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'n'},
        {"topic", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long wait = 1, count = 1000, timeout = 10000;
    const char *topic = "";
    int opt;
    while ((opt = getopt_long(argc, argv, "w:n:t:T:h", options, NULL)) !=
           -1) {
        switch (opt) {
        case 'w': wait = ex_number("--wait", optarg, 0, 1000000); break;
        case 'n': count = ex_number("--count", optarg, 0, LONG_MAX); break;
        case 't': topic = optarg; break;
        case 'T': timeout = ex_number("--timeout", optarg, 0, INT_MAX); break;
        case 'h': ex_usage(stdout, S_USAGE); return EX_OK;
        default: ex_usage(stderr, S_USAGE); return EX_USAGE;
        }
    }
    if (argc - optind > 2) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *frontend =
        optind < argc ? argv[optind] : "tcp://127.0.0.1:5559";
    const char *sync =
        optind + 1 < argc ? argv[optind + 1] : "tcp://127.0.0.1:5561";

    int status = EX_OK;
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    /* A burst larger than the send HWM is dropped by any PUB; the probes
     * that got through count against it too (libzmq learns that the
     * forwarder read them only every HWM/2 messages): leave room. */
    long room = count + 1000;
    int hwm = room < INT_MAX ? (int) room : INT_MAX;
    ex_setint(pub, ZMQ_SNDHWM, hwm);
    ex_setint(pub, ZMQ_LINGER, 5000);
    if (zmq_connect(pub, frontend) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", frontend,
                          zmq_strerror(errno));
        goto done;
    }
    int got = zr_sync_wait(ctx, pub, sync, (unsigned) wait, topic,
                           (int) timeout);
    if (got < 0) {
        status = ex_error(EX_FAILURE, "no go from %s: %s", sync,
                          errno == ETIMEDOUT ? "timed out" : zmq_strerror(errno));
        goto done;
    }
    printf("go: %d subscription(s) match '%s'; sending %ld\n", got, topic,
           count);
    for (long i = 1; i <= count; i++) {
        char text[64];
        snprintf(text, sizeof text, "%sHello there #%ld", topic, i);
        if (zmq_send(pub, text, strlen(text), 0) < 0) {
            status = ex_error(EX_FAILURE, "send: %s", zmq_strerror(errno));
            break;
        }
    }
done:
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return status;
}
