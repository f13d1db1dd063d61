/* consumer.c - a program built against an installed libzrelay, as a user
 * would build one: prints the version and moves one message through a
 * streamer on inproc. Exit status 0 when all went well.
 * SPDX-License-Identifier: MIT
 */
#include <zmq.h>
#include <zrelay.h>

#include <stdio.h>
#include <string.h>

#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)
#define S_HEADER_VERSION                                                       \
    S_XSTR(ZR_VERSION_MAJOR)                                                   \
    "." S_XSTR(ZR_VERSION_MINOR) "." S_XSTR(ZR_VERSION_PATCH)

static int
s_fail(const char *what)
{
    fprintf(stderr, "consumer: %s: %s\n", what, zr_strerror(zmq_errno()));
    return 1;
}

int
main(void)
{
    printf("zrelay %s\n", zr_version());
    if (strcmp(zr_version(), S_HEADER_VERSION) != 0) {
        fprintf(stderr, "consumer: library %s, header %s\n", zr_version(),
                S_HEADER_VERSION);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, "consumer");
    if (dev == NULL) {
        return s_fail("zr_device_new");
    }
    if (zr_device_set_frontend(dev, "@inproc://consumer-in") != 0 ||
        zr_device_set_backend(dev, "@inproc://consumer-out") != 0 ||
        zr_device_start(dev) != 0) {
        fprintf(stderr, "consumer: device: %s\n", zr_device_error(dev));
        return 1;
    }
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int timeout = 10000;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_connect(push, "inproc://consumer-in") != 0 ||
        zmq_connect(pull, "inproc://consumer-out") != 0) {
        return s_fail("connect");
    }
    if (zmq_send(push, "hello", 5, 0) != 5) {
        return s_fail("send");
    }
    char buf[16];
    int n = zmq_recv(pull, buf, sizeof buf, 0);
    if (n < 0) {
        return s_fail("recv");
    }
    if (n != 5 || memcmp(buf, "hello", 5) != 0) {
        fprintf(stderr, "consumer: got %d bytes, not \"hello\"\n", n);
        return 1;
    }
    zr_device_stop(dev);
    if (zr_device_join(dev) != 0) {
        return s_fail("zr_device_join");
    }
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    printf("one message through a streamer\n");
    return dev == NULL ? 0 : 1;
}
