/* test_poll.c - zr__poll (src/poll.c): zmq_poll's answers with fewer
 * looks at the sockets. Each case is one way the short cut could miss
 * an event: it would then sleep out its timeout and return 0.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"
#include "zr_impl.h"

#include <pthread.h>

#define S_LONG_MS 10000 /* a wait that only a missed event runs out */

typedef struct {
    void *ctx;
    void *a, *b; /* a connected pair, DEALER to DEALER */
} s_pair_t;

static void
s_pair_open(s_pair_t *p)
{
    p->ctx = zmq_ctx_new();
    p->a = zrt_socket(p->ctx, ZMQ_DEALER);
    p->b = zrt_socket(p->ctx, ZMQ_DEALER);
    ZR_PASS(zmq_bind(p->a, "inproc://poll"));
    ZR_PASS(zmq_connect(p->b, "inproc://poll"));
}

static void
s_pair_close(s_pair_t *p)
{
    zmq_close(p->a);
    zmq_close(p->b);
    zmq_ctx_term(p->ctx);
}

static void
test_ready_before(void)
{
    s_pair_t p;
    s_pair_open(&p);
    ZR_SEND(p.b, "x");
    zmq_pollitem_t it = {.socket = p.a, .events = ZMQ_POLLIN};
    ZR_EQ(zr__poll(&it, 1, S_LONG_MS), 1);
    ZR_EQ(it.revents, ZMQ_POLLIN);
    ZR_RECV(p.a, "x");
    s_pair_close(&p);
}

static void *
s_send_later(void *arg)
{
    void *socket = arg;
    zmq_poll(NULL, 0, 50);
    ZR_SEND(socket, "later");
    return NULL;
}

static void
test_wakes(void)
{
    s_pair_t p;
    s_pair_open(&p);
    zmq_pollitem_t it = {.socket = p.a, .events = ZMQ_POLLIN};
    ZR_EQ(zr__poll(&it, 1, 0), 0); /* nothing yet */
    pthread_t t;
    ZR_PASS(pthread_create(&t, NULL, s_send_later, p.b));
    int rc = zr__poll(&it, 1, S_LONG_MS);
    pthread_join(t, NULL);
    ZR_EQ(rc, 1);
    ZR_EQ(it.revents, ZMQ_POLLIN);
    ZR_RECV(p.a, "later");
    s_pair_close(&p);
}

/* A send on A takes A's commands, the one that made it readable among
 * them: A's descriptor will not signal it, the look before the sleep
 * must see it. */
static void
test_readiness_taken_by_a_send(void)
{
    s_pair_t p;
    s_pair_open(&p);
    ZR_SEND(p.a, "ping");
    ZR_RECV(p.b, "ping");
    ZR_SEND(p.b, "pong");
    zmq_pollitem_t probe = {.socket = p.a, .events = ZMQ_POLLIN};
    ZR_WAIT(zmq_poll(&probe, 1, 0) == 1, ZRT_DEADLINE_MS);
    ZR_SEND(p.a, "more"); /* after the activation was taken */
    zmq_pollitem_t it = {.socket = p.a, .events = ZMQ_POLLIN};
    ZR_EQ(zr__poll(&it, 1, S_LONG_MS), 1);
    ZR_RECV(p.a, "pong");
    s_pair_close(&p);
}

/* A ready socket does not hide a plain descriptor that is ready too. */
static void
test_plain_fd_beside_ready_socket(void)
{
    s_pair_t p;
    s_pair_open(&p);
    int fds[2];
    ZR_PASS(pipe(fds));
    ZR_EQ(write(fds[1], "w", 1), 1);
    ZR_SEND(p.b, "x");
    zmq_pollitem_t it[2] = {{.socket = p.a, .events = ZMQ_POLLIN},
                            {.fd = fds[0], .events = ZMQ_POLLIN}};
    ZR_EQ(zr__poll(it, 2, S_LONG_MS), 2);
    ZR_EQ(it[0].revents, ZMQ_POLLIN);
    ZR_EQ(it[1].revents, ZMQ_POLLIN);
    /* The descriptor alone, the socket drained. */
    ZR_RECV(p.a, "x");
    ZR_EQ(zr__poll(it, 2, S_LONG_MS), 1);
    ZR_EQ(it[0].revents, 0);
    ZR_EQ(it[1].revents, ZMQ_POLLIN);
    close(fds[0]);
    close(fds[1]);
    s_pair_close(&p);
}

/* POLLOUT: a DEALER with no peer cannot send; one that connects makes
 * it writable, by a command its descriptor signals. */
static void
test_pollout(void)
{
    void *ctx = zmq_ctx_new();
    void *a = zrt_socket(ctx, ZMQ_DEALER);
    ZR_PASS(zmq_bind(a, "inproc://out"));
    zmq_pollitem_t it = {.socket = a, .events = ZMQ_POLLOUT};
    ZR_EQ(zr__poll(&it, 1, 0), 0);
    void *b = zrt_socket(ctx, ZMQ_DEALER);
    ZR_PASS(zmq_connect(b, "inproc://out"));
    ZR_EQ(zr__poll(&it, 1, S_LONG_MS), 1);
    ZR_EQ(it.revents, ZMQ_POLLOUT);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static void
test_times_out(void)
{
    s_pair_t p;
    s_pair_open(&p);
    zmq_pollitem_t it = {.socket = p.a, .events = ZMQ_POLLIN};
    ZR_EQ(zr__poll(&it, 1, 20), 0);
    ZR_EQ(it.revents, 0);
    s_pair_close(&p);
}

static void *
s_shutdown_later(void *arg)
{
    zmq_poll(NULL, 0, 50);
    zmq_ctx_shutdown(arg);
    return NULL;
}

static void
test_eterm(void)
{
    s_pair_t p;
    s_pair_open(&p);
    zmq_pollitem_t it = {.socket = p.a, .events = ZMQ_POLLIN};
    pthread_t t;
    ZR_PASS(pthread_create(&t, NULL, s_shutdown_later, p.ctx));
    int rc = zr__poll(&it, 1, S_LONG_MS);
    int err = errno;
    pthread_join(t, NULL);
    ZR_EQ(rc, -1);
    ZR_EQ(err, ETERM);
    s_pair_close(&p);
}

static void
test_too_many(void)
{
    zmq_pollitem_t it[ZR__POLL_MAX + 1] = {{0}};
    ZR_EQ(zr__poll(it, ZR__POLL_MAX + 1, 0), -1);
    ZR_EQ(errno, EINVAL);
}

ZR_TESTS = {
    {"poll: a socket ready before the wait", test_ready_before},
    {"poll: a message during the wait wakes it", test_wakes},
    {"poll: readiness taken by a send on the socket is seen",
     test_readiness_taken_by_a_send},
    {"poll: a ready socket does not hide a ready descriptor",
     test_plain_fd_beside_ready_socket},
    {"poll: a peer that connects makes a DEALER writable", test_pollout},
    {"poll: nothing ready: 0 after the timeout", test_times_out},
    {"poll: the context shut down: -1, ETERM", test_eterm},
    {"poll: too many items: -1, EINVAL", test_too_many},
    {NULL, NULL},
};
ZR_MAIN
