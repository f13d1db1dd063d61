/* ir_probe.c - a fixed amount of work through one streamer, in one
 * process, for instruction counts: run it twice under callgrind with two
 * message counts, and the difference over the difference in messages is
 * what one message costs (the start and stop cancel out). Stable on a
 * loaded machine, unlike a throughput figure.
 *
 *   valgrind --tool=callgrind --callgrind-out-file=a.out \
 *       build/zrelay-bench-ir 100000
 *   valgrind --tool=callgrind --callgrind-out-file=b.out \
 *       build/zrelay-bench-ir 200000
 *   (Ir of b.out - Ir of a.out) / 100000  = instructions per message
 *
 * zrelay-bench-ir N [FRAMES]: N messages of FRAMES frames (default 1) of
 * 16 bytes each, PUSH -> streamer -> PULL over inproc.
 * SPDX-License-Identifier: MIT
 */
#include "zrelay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

static int s_n, s_frames;
static void *s_ctx;

static void *
s_producer(void *arg)
{
    (void) arg;
    void *push = zmq_socket(s_ctx, ZMQ_PUSH);
    zmq_connect(push, "inproc://ir-in");
    const char body[16] = "0123456789abcde";
    for (int i = 0; i < s_n; i++) {
        for (int f = 0; f < s_frames; f++) {
            zmq_send(push, body, sizeof body,
                     f + 1 < s_frames ? ZMQ_SNDMORE : 0);
        }
    }
    zmq_close(push);
    return NULL;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || (s_n = atoi(argv[1])) <= 0) {
        fprintf(stderr, "usage: zrelay-bench-ir N [FRAMES]\n");
        return 2;
    }
    s_frames = argc > 2 ? atoi(argv[2]) : 1;
    if (s_frames < 1) {
        s_frames = 1;
    }
    s_ctx = zmq_ctx_new();
    zr_device_t *dev = zr_device_new(s_ctx, ZR_STREAMER, "ir");
    if (!dev || zr_device_set_frontend(dev, "@inproc://ir-in") != 0 ||
        zr_device_set_backend(dev, "@inproc://ir-out") != 0 ||
        zr_device_start(dev) != 0) {
        fprintf(stderr, "zrelay-bench-ir: %s\n",
                dev ? zr_device_error(dev) : "no device");
        return 1;
    }
    void *pull = zmq_socket(s_ctx, ZMQ_PULL);
    zmq_connect(pull, "inproc://ir-out");
    pthread_t producer;
    pthread_create(&producer, NULL, s_producer, NULL);
    char buf[32];
    for (int i = 0; i < s_n * s_frames; i++) {
        zmq_recv(pull, buf, sizeof buf, 0);
    }
    pthread_join(producer, NULL);
    zr_device_destroy(&dev);
    zmq_close(pull);
    zmq_ctx_term(s_ctx);
    return 0;
}
