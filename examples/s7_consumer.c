/* s7_consumer.c - S7: a PULL consumer behind a zrelay streamer.
 * SPDX-License-Identifier: MIT
 *
 * PULL connects to the streamer's backend (PUSH), which deals tasks
 * round-robin to every connected consumer. Plain libzmq. It checks that
 * each producer's tasks arrive in the order they were sent: the streamer
 * forwards in order and never drops (with several consumers, each sees a
 * share, still in order).
 */
#include "example.h"

#define S_USAGE                                                                \
    "[-n COUNT] [-t SECONDS] [ENDPOINT]  PULL connects to ENDPOINT "           \
    "(default tcp://127.0.0.1:5564) and receives COUNT tasks (default "        \
    "10; 0: until Ctrl-C); fails after SECONDS without one (default 20; "      \
    "0: never)"

#define S_MAX_PRODUCERS 64

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    long count = 10, timeout = 20;
    int arg = ex_count_options(argc, argv, S_USAGE, 1, &count, &timeout);
    const char *endpoint = arg < argc ? argv[arg] : "tcp://127.0.0.1:5564";

    /* The last task number seen from each producer. */
    struct {
        char id[32];
        long last;
    } producers[S_MAX_PRODUCERS];
    int nproducers = 0;

    int status = EX_OK;
    long received = 0;
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    ex_setint(pull, ZMQ_LINGER, 0);
    if (zmq_connect(pull, endpoint) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
        goto done;
    }
    ex_catch_signals();
    while (!ex_interrupted && (count == 0 || received < count)) {
        zmq_pollitem_t item = {.socket = pull, .events = ZMQ_POLLIN};
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
            status = ex_error(EX_FAILURE,
                              "no task for %ld s after %ld of %ld (is the "
                              "streamer at %s running, and a producer?)",
                              timeout, received, count, endpoint);
            break;
        }
        char text[80], id[32];
        int len = zmq_recv(pull, text, sizeof text - 1, 0);
        if (len < 0) {
            continue;
        }
        text[len < (int) sizeof text ? len : (int) sizeof text - 1] = 0;
        received++;
        printf("got: %s\n", text);
        long k;
        if (sscanf(text, "%31s task #%ld", id, &k) != 2) {
            status = ex_error(EX_FAILURE, "not a task: '%s'", text);
            break;
        }
        int p = 0;
        while (p < nproducers && strcmp(producers[p].id, id) != 0) {
            p++;
        }
        if (p == nproducers && nproducers < S_MAX_PRODUCERS) {
            snprintf(producers[p].id, sizeof producers[p].id, "%s", id);
            producers[p].last = 0;
            nproducers++;
        }
        if (p < nproducers) {
            if (k <= producers[p].last) {
                status = ex_error(EX_FAILURE,
                                  "%s task #%ld after #%ld: out of order", id,
                                  k, producers[p].last);
                break;
            }
            producers[p].last = k;
        }
    }
    printf("%s: received %ld task%s from %d producer%s%s\n", ex_name, received,
           received == 1 ? "" : "s", nproducers, nproducers == 1 ? "" : "s",
           status == EX_OK ? ", each in order" : "");
done:
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return status;
}
