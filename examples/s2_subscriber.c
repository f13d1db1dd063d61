/* s2_subscriber.c - S2: say "yes" when asked, then receive.
 * SPDX-License-Identifier: MIT
 *
 * SUB (everything) connects to the forwarder's backend first, so its
 * subscription is on its way before it answers; then REP connects to the
 * queue's backend, waits for the publisher's "Hello", answers "yes" and
 * receives COUNT publications. Plain libzmq; see s2_publisher.c for the
 * relays and for why this handshake is still racy.
 */
#include "example.h"

#define S_USAGE                                                                \
    "[-n COUNT] [-t SECONDS] [SUB_ENDPOINT [REP_ENDPOINT]]  answers "          \
    "\"Hello\" with \"yes\" over REP (default tcp://127.0.0.1:5562), "         \
    "then receives COUNT messages (default 3; 0: until Ctrl-C) over SUB "      \
    "(default tcp://127.0.0.1:5560); fails after SECONDS of silence "          \
    "(default 20; 0: never)"

/* Wait up to TIMEOUT s (0: forever) for SOCKET to be readable: 1 ready,
 * 0 timed out, -1 interrupted or failed. */
static int
s_wait(void *socket, long timeout)
{
    zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
    for (;;) {
        int rc = zmq_poll(&item, 1, timeout ? timeout * 1000 : -1);
        if (rc < 0 && errno == EINTR && !ex_interrupted) {
            continue;
        }
        return rc;
    }
}

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    long count = 3, timeout = 20;
    int arg = ex_count_options(argc, argv, S_USAGE, 2, &count, &timeout);
    const char *sub_ep = arg < argc ? argv[arg] : "tcp://127.0.0.1:5560";
    const char *rep_ep =
        arg + 1 < argc ? argv[arg + 1] : "tcp://127.0.0.1:5562";

    int status = EX_OK;
    long received = 0;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    void *rep = zmq_socket(ctx, ZMQ_REP);
    ex_setint(sub, ZMQ_LINGER, 0);
    ex_setint(rep, ZMQ_LINGER, 1000); /* let "yes" leave */
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(sub, sub_ep) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", sub_ep,
                          zmq_strerror(errno));
        goto done;
    }
    if (zmq_connect(rep, rep_ep) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", rep_ep,
                          zmq_strerror(errno));
        goto done;
    }
    ex_catch_signals();

    char req[64];
    int rc = s_wait(rep, timeout);
    int len = rc > 0 ? zmq_recv(rep, req, sizeof req - 1, 0) : -1;
    if (rc == 0) {
        status = ex_error(EX_FAILURE,
                          "no Hello within %ld s (is the queue at %s "
                          "running, and a publisher?)",
                          timeout, rep_ep);
        goto done;
    }
    if (len < 0) {
        status = ex_error(EX_FAILURE, "no Hello: %s",
                          ex_interrupted ? "interrupted" : zmq_strerror(errno));
        goto done;
    }
    req[len < (int) sizeof req ? len : (int) sizeof req - 1] = 0;
    printf("req = %s\n", req);
    if (strcmp(req, "Hello") != 0) {
        zmq_send(rep, "no", 2, 0);
        status = ex_error(EX_FAILURE, "expected 'Hello', got '%s'", req);
        goto done;
    }
    if (zmq_send(rep, "yes", 3, 0) < 0) {
        status = ex_error(EX_FAILURE, "cannot answer: %s", zmq_strerror(errno));
        goto done;
    }

    zmq_msg_t part;
    zmq_msg_init(&part);
    while (count == 0 || received < count) {
        rc = s_wait(sub, timeout);
        if (rc < 0) {
            if (!ex_interrupted) {
                status = ex_error(EX_FAILURE, "cannot poll: %s",
                                  zmq_strerror(errno));
            }
            break;
        }
        if (rc == 0) {
            status = ex_error(EX_FAILURE,
                              "no publication for %ld s after %ld of %ld "
                              "(lost before the subscription reached the "
                              "publisher? see s2_publisher.c)",
                              timeout, received, count);
            break;
        }
        printf("got:");
        bool more = true;
        while (more && zmq_msg_recv(&part, sub, 0) >= 0) {
            more = zmq_msg_more(&part);
            printf(" %.*s", (int) zmq_msg_size(&part),
                   (const char *) zmq_msg_data(&part));
        }
        printf("\n");
        fflush(stdout);
        received++;
    }
    zmq_msg_close(&part);
    printf("%s: answered Hello, received %ld message%s\n", ex_name, received,
           received == 1 ? "" : "s");
done:
    zmq_close(rep);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return status;
}
