/* test_queue.c - ROUTER<->DEALER: every reply reaches the client that
 * asked, work spreads over the servers, and a stalled or vanished client
 * costs counted drops, never the other clients' replies.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <pthread.h>
#include <stdatomic.h>

#define S_CLIENTS 10
#define S_REQUESTS 100
#define S_SERVERS 3

typedef struct {
    void *ctx;
    const char *endpoint;
    int id;
    atomic_bool *stop;
    int served;
} s_server_t;

/* A REP server: answers "server N: REQUEST" until told to stop. */
static void *
s_serve(void *arg)
{
    s_server_t *s = arg;
    void *rep = zrt_socket(s->ctx, ZMQ_REP);
    zrt_connect(rep, s->endpoint);
    while (!atomic_load(s->stop)) {
        if (!zrt_readable(rep, 10)) {
            continue;
        }
        char req[128], reply[160];
        int n = zmq_recv(rep, req, sizeof req - 1, 0);
        ZR_CHECK(n >= 0);
        req[n] = 0;
        snprintf(reply, sizeof reply, "server %d: %s", s->id, req);
        ZR_SEND(rep, reply);
        s->served++;
    }
    zmq_close(rep);
    return NULL;
}

typedef struct {
    void *ctx;
    const char *endpoint;
    int id;
} s_client_t;

static void *
s_client(void *arg)
{
    s_client_t *c = arg;
    void *req = zrt_socket(c->ctx, ZMQ_REQ);
    zrt_connect(req, c->endpoint);
    for (int i = 0; i < S_REQUESTS; i++) {
        char text[64], reply[160];
        snprintf(text, sizeof text, "client %d request %d", c->id, i);
        ZR_SEND(req, text);
        zrt_recv_str(req, reply, sizeof reply);
        /* "server N: client C request I": the reply is to this request. */
        const char *colon = strstr(reply, ": ");
        ZR_CHECKF(colon && strcmp(colon + 2, text) == 0,
                  "client %d got '%s' for '%s'", c->id, reply, text);
    }
    zmq_close(req);
    return NULL;
}

static void
s_many_clients(const char *front_spec, const char *back_spec)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, front_spec, back_spec, NULL);
    const char *front = zrt_device_endpoint(dev, 0);
    const char *back = zrt_device_endpoint(dev, 1);
    atomic_bool stop = false;
    s_server_t servers[S_SERVERS];
    pthread_t st[S_SERVERS], ct[S_CLIENTS];
    for (int i = 0; i < S_SERVERS; i++) {
        servers[i] = (s_server_t){ctx, back, i, &stop, 0};
        pthread_create(&st[i], NULL, s_serve, &servers[i]);
    }
    s_client_t clients[S_CLIENTS];
    for (int i = 0; i < S_CLIENTS; i++) {
        clients[i] = (s_client_t){ctx, front, i};
        pthread_create(&ct[i], NULL, s_client, &clients[i]);
    }
    for (int i = 0; i < S_CLIENTS; i++) {
        pthread_join(ct[i], NULL);
    }
    atomic_store(&stop, true);
    int total = 0;
    for (int i = 0; i < S_SERVERS; i++) {
        pthread_join(st[i], NULL);
        printf("server %d served %d\n", i, servers[i].served);
        ZR_CHECKF(servers[i].served > 0, "server %d got no work", i);
        total += servers[i].served;
    }
    ZR_EQ(total, S_CLIENTS * S_REQUESTS);
    zr_stats_t stats;
    ZR_WAIT_STATS(dev, stats,
                  stats.frontend.msgs_out == S_CLIENTS * S_REQUESTS,
                  ZRT_DEADLINE_MS);
    ZR_EQ(stats.frontend.msgs_in, S_CLIENTS * S_REQUESTS);
    ZR_EQ(stats.frontend.msgs_out, S_CLIENTS * S_REQUESTS);
    ZR_EQ(stats.frontend.drop_no_route + stats.frontend.drop_peer_full, 0);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

static void
test_clients_inproc(void)
{
    s_many_clients("@inproc://queue-front", "@inproc://queue-back");
}

static void
test_clients_tcp(void)
{
    s_many_clients("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

/* A reply for a client that is not there is dropped and counted as "no
 * route" (ZMQ_ROUTER_MANDATORY), not lost silently. */
static void
test_no_route_counted(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, "@inproc://nr-front",
                                  "@inproc://nr-back", NULL);
    void *server = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(server, "inproc://nr-back");
    void *client = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(client, "inproc://nr-front");
    /* A reply addressed to an identity the queue never saw. */
    ZR_SENDMORE(server, "nobody");
    ZR_SENDMORE(server, "");
    ZR_SEND(server, "lost");
    /* And one a real client gets: its reply follows the lost one through
     * the same direction, so when it arrives the other was dealt with. */
    ZR_SEND(client, "ping");
    zmq_msg_t identity, part;
    zmq_msg_init(&identity);
    zmq_msg_init(&part);
    ZR_CHECK(zrt_readable(server, ZRT_DEADLINE_MS));
    ZR_CHECK(zmq_msg_recv(&identity, server, 0) > 0);
    ZR_CHECK(zmq_msg_more(&identity));
    ZR_EQ(zmq_msg_recv(&part, server, 0), 0); /* the REQ delimiter */
    ZR_RECV(server, "ping");
    ZR_PASS(zmq_msg_send(&identity, server, ZMQ_SNDMORE));
    zmq_msg_close(&identity);
    zmq_msg_close(&part);
    ZR_SENDMORE(server, "");
    ZR_SEND(server, "pong");
    ZR_RECV(client, "pong");
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.frontend.msgs_out == 1, ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.drop_no_route, 1);
    ZR_EQ(st.backend.msgs_in, 2);
    zr_device_destroy(&dev);
    zmq_close(server);
    zmq_close(client);
    zmq_ctx_term(ctx);
}

typedef struct {
    void *ctx;
    const char *endpoint;
    atomic_bool *stop;
} s_echo_t;

/* A DEALER server that echoes every message back, envelope and all. */
static void *
s_echo(void *arg)
{
    s_echo_t *e = arg;
    void *dealer = zrt_socket(e->ctx, ZMQ_DEALER);
    zrt_connect(dealer, e->endpoint);
    zmq_msg_t part;
    zmq_msg_init(&part);
    while (!atomic_load(e->stop)) {
        if (!zrt_readable(dealer, 10)) {
            continue;
        }
        int more;
        do {
            ZR_CHECK(zmq_msg_recv(&part, dealer, 0) >= 0);
            more = zmq_msg_more(&part);
            ZR_CHECK(zmq_msg_send(&part, dealer, more ? ZMQ_SNDMORE : 0) >=
                     0);
        } while (more);
    }
    zmq_msg_close(&part);
    zmq_close(dealer);
    return NULL;
}

/* A queue between @inproc://TAG-front and @inproc://TAG-back with an echo
 * worker in a thread; every socket's SNDHWM is SNDHWM. */
typedef struct {
    zr_device_t *dev;
    char back[64];
    atomic_bool stop;
    s_echo_t echo;
    pthread_t thread;
} s_rig_t;

static void
s_rig_start(s_rig_t *r, void *ctx, const char *tag, int sndhwm)
{
    char front[64];
    snprintf(front, sizeof front, "@inproc://%s-front", tag);
    snprintf(r->back, sizeof r->back, "inproc://%s-back", tag);
    r->dev = zr_device_new(ctx, ZR_QUEUE, NULL);
    ZR_PASS(zr_device_set_frontend(r->dev, front));
    char bind[70];
    snprintf(bind, sizeof bind, "@%s", r->back);
    ZR_PASS(zr_device_set_backend(r->dev, bind));
    ZR_PASS(zr_device_set_sndhwm(r->dev, sndhwm));
    ZR_PASS(zr_device_start(r->dev));
    atomic_init(&r->stop, false);
    r->echo = (s_echo_t){ctx, r->back, &r->stop};
    ZR_PASS(pthread_create(&r->thread, NULL, s_echo, &r->echo));
}

static void
s_rig_stop(s_rig_t *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    zr_device_destroy(&r->dev);
}

/* A client that sends and never reads stalls only itself: its replies
 * are dropped and counted once its queue is full, and another client's
 * round trips go on. */
static void
test_stalled_client(void)
{
    void *ctx = zmq_ctx_new();
    s_rig_t rig;
    s_rig_start(&rig, ctx, "stall", 10);
    zr_device_t *dev = rig.dev;

    void *stalled = zrt_socket(ctx, ZMQ_DEALER);
    zrt_setint(stalled, ZMQ_RCVHWM, 10);
    zrt_connect(stalled, "inproc://stall-front");
    const int flood = 2000;
    for (int i = 0; i < flood; i++) {
        ZR_SENDMORE(stalled, "");
        ZR_SEND(stalled, "flood");
    }
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://stall-front");
    for (int i = 0; i < 100; i++) {
        ZR_SEND(req, "round trip");
        ZR_RECV(req, "round trip");
    }
    /* Every reply was either delivered or counted as dropped. */
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_in == (uint64_t) flood + 100,
                  ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_out + st.frontend.drop_peer_full, flood + 100);
    ZR_CHECKF(st.frontend.drop_peer_full > 0, "no drop counted");
    int got = 0;
    while (zrt_readable(stalled, 0)) {
        char buf[16];
        ZR_CHECK(zmq_recv(stalled, buf, sizeof buf, 0) >= 0);
        got++;
    }
    /* Two frames (delimiter, body) per reply. */
    ZR_EQ(got / 2 + st.frontend.drop_peer_full, flood);
    printf("stalled client: %d replies delivered, %" PRIu64 " dropped\n",
           got / 2, st.frontend.drop_peer_full);
    s_rig_stop(&rig);
    zmq_close(stalled);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

/* A client that keeps sending and reads a little now and then stalls
 * once: the grace period that holds every other reply up is taken once,
 * not once per read (ATTACK12 F4: it was taken every cycle, so the other
 * clients' replies waited a grace period each time). */
static void
test_stalls_once(void)
{
    void *ctx = zmq_ctx_new();
    s_rig_t rig;
    s_rig_start(&rig, ctx, "stall1", 10);
    zr_device_t *dev = rig.dev;

    void *slow = zrt_socket(ctx, ZMQ_DEALER);
    zrt_setint(slow, ZMQ_RCVHWM, 10);
    zrt_connect(slow, "inproc://stall1-front");
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://stall1-front");
    const int cycles = 20, burst = 100;
    for (int c = 0; c < cycles; c++) {
        /* Read a few replies (room for a few more), send a burst. */
        for (int i = 0; i < 4 && zrt_readable(slow, 0); i++) {
            char buf[16];
            ZR_CHECK(zmq_recv(slow, buf, sizeof buf, 0) >= 0);
        }
        for (int i = 0; i < burst; i++) {
            ZR_SENDMORE(slow, "");
            ZR_SEND(slow, "flood");
        }
        ZR_SEND(req, "round trip");
        ZR_RECV(req, "round trip");
    }
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st,
                  st.backend.msgs_in == (uint64_t) (cycles * (burst + 1)),
                  ZRT_DEADLINE_MS);
    printf("slow reader: %d cycles, %" PRIu64 " stalls, %" PRIu64
           " replies dropped\n",
           cycles, st.frontend.peer_stalls, st.frontend.drop_peer_full);
    ZR_CHECKF(st.frontend.peer_stalls >= 1, "the slow client never stalled");
    ZR_CHECKF(st.frontend.peer_stalls == 1,
              "the slow client took the grace period %" PRIu64
              " times in %d cycles",
              st.frontend.peer_stalls, cycles);
    ZR_EQ(st.frontend.msgs_out + st.frontend.drop_peer_full,
          cycles * (burst + 1));
    s_rig_stop(&rig);
    zmq_close(slow);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

/* More frozen clients than the relay used to remember (64): each stalls
 * once. Before, the 65th stall made the relay forget the first frozen
 * client, which then took a new grace period (100 ms holding every other
 * reply) at its next reply, and so on round after round (ATTACK13). */
static void
test_many_frozen_clients(void)
{
    void *ctx = zmq_ctx_new();
    s_rig_t rig;
    s_rig_start(&rig, ctx, "frozen", 1);
    zr_device_t *dev = rig.dev;
    enum { N = 70, EACH = 6 };
    void *frozen[N];
    for (int i = 0; i < N; i++) {
        frozen[i] = zrt_socket(ctx, ZMQ_DEALER);
        zrt_setint(frozen[i], ZMQ_RCVHWM, 1);
        zrt_connect(frozen[i], "inproc://frozen-front");
    }
    zr_stats_t st;
    for (int round = 1; round <= 2; round++) {
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < EACH; k++) {
                ZR_SENDMORE(frozen[i], "");
                ZR_SEND(frozen[i], "f");
            }
        }
        uint64_t all = (uint64_t) round * N * EACH;
        ZR_WAIT_STATS(dev, st,
                      st.frontend.msgs_out + st.frontend.drop_peer_full == all,
                      3 * ZRT_DEADLINE_MS);
        printf("round %d: %" PRIu64 " stalls, %" PRIu64 " replies dropped\n",
               round, st.frontend.peer_stalls, st.frontend.drop_peer_full);
        ZR_EQ(st.frontend.peer_stalls, N);
    }
    s_rig_stop(&rig);
    for (int i = 0; i < N; i++) {
        zmq_close(frozen[i]);
    }
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"inproc: 10 clients x 100 requests, 3 servers", test_clients_inproc},
    {"tcp: 10 clients x 100 requests, 3 servers", test_clients_tcp},
    {"inproc: a reply without a client is counted", test_no_route_counted},
    {"inproc: a stalled client stalls only itself", test_stalled_client},
    {"inproc: 70 frozen clients stall once each (13)",
     test_many_frozen_clients},
    {"inproc: a client that reads now and then stalls once",
     test_stalls_once},
    {NULL, NULL},
};
ZR_MAIN
