/* s1_subscriber.c - S1: a subscriber that knows only the forwarder's
 * address.
 * SPDX-License-Identifier: MIT
 *
 * SUB subscribes to everything, connects to the forwarder's backend (its
 * XPUB) and prints what arrives. The subscription travels the other way:
 * SUB -> XPUB -> relay -> XSUB -> every publisher, which is why the
 * forwarder is XSUB/XPUB and not SUB/PUB. Plain libzmq.
 *
 * It stops after COUNT messages, or fails after SECONDS without one. With
 * the seed's publisher (3 messages) it typically gets #2 and #3 and then
 * times out: #1 left before the subscription reached the publisher.
 */
#include "example.h"

#define S_USAGE                                                                \
    "[-n COUNT] [-t SECONDS] [ENDPOINT]  SUB to everything, connects to "      \
    "ENDPOINT (default tcp://127.0.0.1:5560); exits after COUNT messages "     \
    "(default 3; 0: until Ctrl-C), fails after SECONDS without one "           \
    "(default 20; 0: never)"

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    long count = 3, timeout = 20;
    int arg = ex_count_options(argc, argv, S_USAGE, 1, &count, &timeout);
    const char *endpoint = arg < argc ? argv[arg] : "tcp://127.0.0.1:5560";

    int status = EX_OK;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    ex_setint(sub, ZMQ_LINGER, 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(sub, endpoint) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
        goto done;
    }
    ex_catch_signals();
    long received = 0, first = 0;
    zmq_msg_t part;
    zmq_msg_init(&part);
    while (!ex_interrupted && (count == 0 || received < count)) {
        zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, timeout ? timeout * 1000 : -1);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc < 0) {
            status =
                ex_error(EX_FAILURE, "cannot poll: %s", zmq_strerror(errno));
            break;
        }
        if (rc == 0) {
            status = ex_error(
                EX_FAILURE,
                "no message for %ld s after %ld of %ld (no publisher, no "
                "forwarder at %s, or the first ones went out before the "
                "subscription reached the publisher: the slow joiner)",
                timeout, received, count, endpoint);
            break;
        }
        /* The whole multipart message, as the seed's recv_multipart. */
        printf("got:");
        bool more = true;
        while (more && zmq_msg_recv(&part, sub, 0) >= 0) {
            more = zmq_msg_more(&part);
            printf(" %.*s", (int) zmq_msg_size(&part),
                   (const char *) zmq_msg_data(&part));
            if (!more && first == 0) {
                /* "#N" tells which of the publisher's messages came first
                 * (a frame is not a C string: copy it before parsing). */
                char text[64];
                snprintf(text, sizeof text, "%.*s", (int) zmq_msg_size(&part),
                         (const char *) zmq_msg_data(&part));
                const char *hash = strchr(text, '#');
                first = hash ? strtol(hash + 1, NULL, 10) : -1;
            }
        }
        printf("\n");
        fflush(stdout);
        received++;
    }
    zmq_msg_close(&part);
    printf("%s: received %ld message%s", ex_name, received,
           received == 1 ? "" : "s");
    if (first == 2) {
        printf("; the first was #2, #1 was lost (slow joiner)");
    }
    else if (first > 2) {
        printf("; the first was #%ld, #1-#%ld were lost (slow joiner)", first,
               first - 1);
    }
    printf("\n");
done:
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return status;
}
