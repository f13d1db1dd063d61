/* late_subscriber.c - a subscriber that joins late and still gets the
 * current value at once, from the forwarder's last value cache.
 * SPDX-License-Identifier: MIT
 *
 * The forwarder:
 *   zrelay forwarder @tcp://127.0.0.1:5559 @tcp://127.0.0.1:5560 \
 *       --last-value
 * Publish on a topic (a message's first frame, or its start), then start
 * this program with that topic: the last message of every matching topic
 * (the newest, with several) comes at once, to this subscriber alone,
 * before any live one. Plain libzmq: the cache is the forwarder's.
 */
#include "example.h"

#include <getopt.h>

#define S_USAGE                                                              \
    "[-t MS] [ENDPOINT] TOPIC  SUB to TOPIC at ENDPOINT (default "           \
    "tcp://127.0.0.1:5560); print the first message and how long it took; " \
    "fail after MS ms (default 1000) without one"

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long timeout = 1000;
    int opt;
    while ((opt = getopt_long(argc, argv, "t:h", options, NULL)) != -1) {
        switch (opt) {
        case 't': timeout = ex_number("--timeout", optarg, 1, INT_MAX); break;
        case 'h': ex_usage(stdout, S_USAGE); return EX_OK;
        default: ex_usage(stderr, S_USAGE); return EX_USAGE;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *endpoint = npos == 2 ? argv[optind] : "tcp://127.0.0.1:5560";
    const char *topic = argv[argc - 1];

    int status = EX_OK;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    ex_setint(sub, ZMQ_LINGER, 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (zmq_connect(sub, endpoint) != 0) {
        status = ex_error(EX_FAILURE, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
        goto done;
    }
    zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout) != 1) {
        status = ex_error(EX_FAILURE,
                          "nothing for '%s' within %ld ms (is the forwarder "
                          "running with --last-value, and was anything "
                          "published on that topic?)",
                          topic, timeout);
        goto done;
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
              (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("got:");
    zmq_msg_t part;
    zmq_msg_init(&part);
    bool more = true;
    while (more && zmq_msg_recv(&part, sub, 0) >= 0) {
        more = zmq_msg_more(&part);
        printf(" %.*s", (int) zmq_msg_size(&part),
               (const char *) zmq_msg_data(&part));
    }
    zmq_msg_close(&part);
    printf("\nafter %ld ms\n", ms);
done:
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return status;
}
