/* fuzz_wire.c - raw bytes from the network at a running relay, in the
 * style of libzmq's tests/test_bind_*_fuzzer: a queue and a forwarder run
 * in this process (their own threads) on TCP ports of 127.0.0.1; each
 * input goes as raw bytes over a fresh connection to one of their bound
 * sockets (the queue's ROUTER frontend, the forwarder's XSUB frontend or
 * its XPUB backend), the write side is shut and the relay's answer read
 * until it closes. Then a legitimate client must still get through both
 * devices: a request and its reply through the queue, a publication
 * through the forwarder; a relay that stops serving is a finding.
 *
 * The mechanism the devices speak is ZR_FUZZ_MECHANISM: NULL
 * (fuzz_wire_null) or CURVE (fuzz_wire_curve), where s_secure() gives the
 * devices a server certificate with curve_allow_any and the legitimate
 * clients fresh key pairs (fuzz/CMakeLists.txt).
 *
 * Input: a byte (which socket: its value modulo 3), then the bytes sent.
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include "zr_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define S_NULL 0
#define S_CURVE 1
#ifndef ZR_FUZZ_MECHANISM
#define ZR_FUZZ_MECHANISM S_NULL
#endif

/* libzmq allocates what a peer announces (up to max_msg_size): a plain
 * malloc then returns NULL for what cannot be had, and libzmq drops the
 * connection; ASan would abort instead. Behave as the production build. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void *s_ctx;
static zr_device_t *s_queue, *s_forwarder;
static void *s_client, *s_worker, *s_pub, *s_sub;
static int s_ports[3]; /* queue frontend, forwarder frontend, backend */
static uint64_t s_seq;

/* The mechanism's settings for DEV, and for the legitimate CLIENT
 * sockets (NULL: the device only). */
static void
s_secure(zr_device_t *dev, void *client)
{
#if ZR_FUZZ_MECHANISM == S_NULL
    (void) dev;
    (void) client;
#elif ZR_FUZZ_MECHANISM == S_CURVE
    /* One server certificate for the run (zrelay keygen's format, in a
     * directory of its own); the legitimate clients with fresh key pairs,
     * which curve_allow_any lets in. */
    static char cert[64], secret[80];
    if (!cert[0]) {
        char dir[] = "/tmp/zr-fuzz-curve-XXXXXX";
        ZR_FUZZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(cert, sizeof cert, "%s/server", dir);
        snprintf(secret, sizeof secret, "%s_secret", cert);
        char err[256];
        if (zr_cert_generate(cert, false, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_wire: %s\n", err);
            abort();
        }
    }
    if (dev) {
        ZR_FUZZ_CHECK(zr_device_set(dev, "curve_secret", secret) == 0);
        ZR_FUZZ_CHECK(zr_device_set(dev, "curve_allow_any", "true") == 0);
    }
    if (client) {
        char err[256];
        if (zr_curve_client(client, cert, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_wire: %s\n", err);
            abort();
        }
    }
#endif
}

static int
s_port(zr_device_t *dev, const char *role)
{
    for (size_t i = 0; i < zr_device_endpoint_count(dev); i++) {
        const char *r, *address;
        bool bind;
        zr_device_endpoint(dev, i, &r, &bind, &address);
        if (strcmp(r, role) == 0) {
            const char *colon = strrchr(address, ':');
            ZR_FUZZ_CHECK(colon != NULL);
            return atoi(colon + 1);
        }
    }
    ZR_FUZZ_CHECK(!"no such endpoint");
    return -1;
}

static void *
s_socket(int type, const char *connect)
{
    void *s = zmq_socket(s_ctx, type);
    int zero = 0;
    ZR_FUZZ_CHECK(s != NULL);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (connect) {
        s_secure(NULL, s);
        ZR_FUZZ_CHECK(zmq_connect(s, connect) == 0);
    }
    return s;
}

static zr_device_t *
s_device(zr_device_type_t type, const char *name, const char *front,
         const char *back)
{
    zr_device_t *dev = zr_device_new(s_ctx, type, name);
    ZR_FUZZ_CHECK(dev != NULL);
    ZR_FUZZ_CHECK(zr_device_set_frontend(dev, front) == 0);
    ZR_FUZZ_CHECK(zr_device_set_backend(dev, back) == 0);
    ZR_FUZZ_CHECK(zr_device_set_linger(dev, 0) == 0);
    /* As libzmq's own fuzzers: a bound on what a peer can make the relay
     * allocate (ZR_FUZZ_MAX_MSG_SIZE="" keeps the device's default). */
    const char *max = getenv("ZR_FUZZ_MAX_MSG_SIZE");
    max = max ? max : "64M";
    if (*max) {
        ZR_FUZZ_CHECK(zr_device_set(dev, "max_msg_size", max) == 0);
    }
    s_secure(dev, NULL);
    if (zr_device_start(dev) != 0) {
        fprintf(stderr, "fuzz_wire: %s\n", zr_device_error(dev));
        abort();
    }
    return dev;
}

/* Whether S holds a message whose last frame is TEXT; everything else it
 * holds is read and dropped (what the fuzz inputs got through). */
static bool
s_got(void *s, const char *text, int timeout)
{
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&item, 1, timeout) == 1) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        bool more = true, match = false;
        while (more && zmq_msg_recv(&part, s, 0) >= 0) {
            more = zmq_msg_more(&part);
            match = !more && zmq_msg_size(&part) == strlen(text) &&
                    memcmp(zmq_msg_data(&part), text, strlen(text)) == 0;
        }
        zmq_msg_close(&part);
        if (match) {
            return true;
        }
    }
    return false;
}

/* The worker answers whatever it gets, as it came (a DEALER behind the
 * queue's DEALER backend: [client, "", body]). */
static void
s_work(void)
{
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        bool more = true;
        int n = 0;
        while (more && zmq_msg_recv(&part, s_worker, ZMQ_DONTWAIT) >= 0) {
            more = zmq_msg_more(&part);
            zmq_msg_send(&part, s_worker,
                         (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
            n++;
        }
        zmq_msg_close(&part);
        if (n == 0) {
            return;
        }
    }
}

/* The legitimate clients still get through, within a generous deadline
 * (a loaded machine is slow, a stopped relay never answers). */
static void
s_still_serving(void)
{
    char text[64];
    snprintf(text, sizeof text, "alive-%llu", (unsigned long long) ++s_seq);
    ZR_FUZZ_CHECK(zmq_send(s_client, "", 0, ZMQ_SNDMORE) == 0);
    ZR_FUZZ_CHECK(zmq_send(s_client, text, strlen(text), 0) >= 0);
    int64_t deadline = zr__now_ms() + 30000;
    bool answered = false;
    while (!answered && zr__now_ms() < deadline) {
        zmq_pollitem_t items[2] = {{s_worker, 0, ZMQ_POLLIN, 0},
                                   {s_client, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 100);
        s_work();
        answered = s_got(s_client, text, 0);
    }
    if (!answered) {
        ZR_FUZZ_CHECK(!"the queue stopped serving its clients");
    }
    /* A publication, sent again until the subscriber has it (the first
     * may go before a reconnected subscription is in). */
    bool delivered = false;
    while (!delivered && zr__now_ms() < deadline) {
        ZR_FUZZ_CHECK(zmq_send(s_pub, text, strlen(text), 0) >= 0);
        delivered = s_got(s_sub, text, 50);
    }
    if (!delivered) {
        ZR_FUZZ_CHECK(!"the forwarder stopped serving its subscribers");
    }
}

static void
s_at_exit(void)
{
    zr_device_stop(s_queue);
    zr_device_stop(s_forwarder);
    zr_device_join(s_queue);
    zr_device_join(s_forwarder);
    zr_device_destroy(&s_queue);
    zr_device_destroy(&s_forwarder);
    zmq_close(s_client);
    zmq_close(s_worker);
    zmq_close(s_pub);
    zmq_close(s_sub);
    zmq_ctx_term(s_ctx);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    signal(SIGPIPE, SIG_IGN);
    zr_fuzz_log_on();
    zr_log_set_level(ZR_LOG_INFO);
    s_ctx = zmq_ctx_new();
    ZR_FUZZ_CHECK(s_ctx != NULL);
    s_queue = s_device(ZR_QUEUE, "queue", "@tcp://127.0.0.1:*",
                       "@inproc://fuzz-wire-workers");
    s_forwarder = s_device(ZR_FORWARDER, "forwarder", "@tcp://127.0.0.1:*",
                           "@tcp://127.0.0.1:*");
    s_ports[0] = s_port(s_queue, "frontend");
    s_ports[1] = s_port(s_forwarder, "frontend");
    s_ports[2] = s_port(s_forwarder, "backend");
    char ep[64];
    s_worker = s_socket(ZMQ_DEALER, "inproc://fuzz-wire-workers");
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", s_ports[0]);
    s_client = s_socket(ZMQ_DEALER, ep);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", s_ports[1]);
    s_pub = s_socket(ZMQ_PUB, ep);
    s_sub = s_socket(ZMQ_SUB, NULL);
    ZR_FUZZ_CHECK(zmq_setsockopt(s_sub, ZMQ_SUBSCRIBE, "alive-", 6) == 0);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", s_ports[2]);
    s_secure(NULL, s_sub);
    ZR_FUZZ_CHECK(zmq_connect(s_sub, ep) == 0);
    s_still_serving();
    atexit(s_at_exit);
    return 0;
}

/* DATA sent to PORT on a fresh connection, the write side shut, and what
 * comes back read until the relay closes (it has read everything then),
 * or for 2 s at most. */
static void
s_send_raw(int port, const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ZR_FUZZ_CHECK(fd >= 0);
    /* Closed with a reset: no TIME_WAIT, however many inputs. */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    /* The relay closes first (it reads our end of input), so its side
     * of each connection waits in TIME_WAIT; at hundreds of inputs a
     * second one source address would run out of ports. Each input
     * comes from another address of 127.0.0.0/8 instead. */
    static uint32_t n;
    n = n % (254u << 16) + 1;
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr =
        htonl(0x7f000000u | (((n >> 16) + 1) << 16) | (n & 0xffff));
    if (bind(fd, (struct sockaddr *) &from, sizeof from) != 0) {
        fprintf(stderr, "fuzz_wire: bind: %s\n", strerror(errno));
        abort();
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* libFuzzer's timer signals interrupt calls: a connect then goes on
     * by itself, the others are made again. */
    int rc = connect(fd, (struct sockaddr *) &sa, sizeof sa);
    if (rc != 0 && errno == EINTR) {
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        while (poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err ? -1 : 0;
        errno = err;
    }
    if (rc != 0) {
        fprintf(stderr, "fuzz_wire: connect: %s\n", strerror(errno));
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = send(fd, data + done, size - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* the relay closed first */
        }
        done += (size_t) n;
    }
    shutdown(fd, SHUT_WR);
    int64_t deadline = zr__now_ms() + 2000;
    for (;;) {
        int64_t left = deadline - zr__now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        int ready = left > 0 ? poll(&p, 1, (int) left) : 0;
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            break;
        }
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
    }
    close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    int which = zr_fuzz_byte(&in) % 3;
    s_send_raw(s_ports[which], data + in.pos, size - in.pos);
    s_still_serving();
    return 0;
}
