/* test_forwarder.c - XSUB<->XPUB: subscriptions travel upstream, and
 * publications the subscribers do not want never reach the forwarder.
 * SPDX-License-Identifier: MIT
 *
 * A SUB socket filters locally, so what a subscriber receives proves
 * nothing about upstream filtering: these tests assert on the forwarder's
 * own frontend counters.
 */
#include "zrtest.h"

typedef struct {
    void *ctx;
    zr_device_t *dev;
    void *pub;
    void *marker;  /* a SUB to "Z": proves the publisher is up to date */
    uint64_t sent; /* probe and sync messages published */
} s_net_t;

static void
s_up(s_net_t *net, const char *front, const char *back)
{
    net->ctx = zmq_ctx_new();
    net->dev = zrt_device(net->ctx, ZR_FORWARDER, front, back, NULL);
    net->pub = zrt_socket(net->ctx, ZMQ_PUB);
    zrt_connect(net->pub, zrt_device_endpoint(net->dev, 0));
    net->marker = NULL;
    net->sent = 0;
}

static void
s_down(s_net_t *net)
{
    zr_device_destroy(&net->dev);
    zmq_close(net->pub);
    if (net->marker) {
        zmq_close(net->marker);
    }
    zmq_ctx_term(net->ctx);
}

static void *
s_sub(s_net_t *net, const char *topic)
{
    void *sub = zrt_socket(net->ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
    zrt_connect(sub, zrt_device_endpoint(net->dev, 1));
    return sub;
}

/* The counters once the forwarder has passed on all it took in and waits
 * for more: the engine publishes its counters after each burst, so a
 * message can reach a subscriber a moment before it is counted. */
static zr_stats_t
s_stats(s_net_t *net)
{
    zr_stats_t st;
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    for (;;) {
        zr_device_stats(net->dev, &st);
        if (st.waiting && st.frontend.msgs_in == st.backend.msgs_out &&
            st.backend.msgs_in == st.frontend.msgs_out) {
            return st;
        }
        ZR_CHECKF(zrt_now_ms() < end, "counters never settled");
        zmq_poll(NULL, 0, 1);
    }
}

/* Publish TOPIC-tagged probes until SUB receives one, then a final sync
 * message, and drain SUB up to it. Afterwards every subscription the
 * forwarder sent upstream before this call has reached the publisher (one
 * connection applies them in order), and every probe has passed the
 * forwarder. */
static void
s_sync(s_net_t *net, void *sub, const char *topic)
{
    char text[64];
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    for (;;) {
        snprintf(text, sizeof text, "%s probe", topic);
        ZR_SEND(net->pub, text);
        net->sent++;
        if (zrt_readable(sub, 5)) {
            break;
        }
        ZR_CHECKF(zrt_now_ms() < end, "no %s probe arrived", topic);
    }
    snprintf(text, sizeof text, "%s sync %" PRIu64, topic, net->sent);
    ZR_SEND(net->pub, text);
    net->sent++;
    char buf[64];
    do {
        zrt_recv_str(sub, buf, sizeof buf);
    } while (strcmp(buf, text) != 0);
}

/* After an unsubscribe or a subscriber leaving: wait until the forwarder
 * has sent WANT subscription messages upstream, then subscribe the marker
 * to a fresh topic behind them; once that topic's probes flow, the
 * publisher has applied everything the forwarder sent before it. */
static void
s_settle(s_net_t *net, uint64_t want)
{
    static int round;
    char topic[16];
    ZR_WAIT(s_stats(net).frontend.msgs_out >= want, ZRT_DEADLINE_MS);
    snprintf(topic, sizeof topic, "S%d:", ++round);
    zmq_setsockopt(net->marker, ZMQ_SUBSCRIBE, topic, strlen(topic));
    ZR_WAIT(s_stats(net).frontend.msgs_out >= want + 1, ZRT_DEADLINE_MS);
    s_sync(net, net->marker, topic);
}

/* Publish 100 A and 100 B messages, then sync through the marker: returns
 * how many of the A and B messages reached the forwarder's frontend. */
static uint64_t
s_publish_round(s_net_t *net, void *sub_a, int expect_a)
{
    uint64_t before = s_stats(net).frontend.msgs_in;
    uint64_t sent_before = net->sent;
    for (int i = 0; i < 100; i++) {
        ZR_SEND(net->pub, "A data");
        ZR_SEND(net->pub, "B data");
    }
    if (sub_a) {
        for (int i = 0; i < expect_a; i++) {
            ZR_RECV(sub_a, "A data");
        }
    }
    s_sync(net, net->marker, "Z");
    return s_stats(net).frontend.msgs_in - before - (net->sent - sent_before);
}

static void
s_only_wanted(const char *front, const char *back)
{
    s_net_t net;
    s_up(&net, front, back);
    void *sub = s_sub(&net, "A");
    /* The subscription is one message from backend to frontend. */
    ZR_WAIT(s_stats(&net).frontend.msgs_out == 1, ZRT_DEADLINE_MS);
    zr_stats_t st = s_stats(&net);
    ZR_EQ(st.backend.msgs_in, 1);
    ZR_EQ(st.backend.bytes_in, 2); /* "\x01A" */
    s_sync(&net, sub, "A");
    net.marker = s_sub(&net, "Z");
    ZR_WAIT(s_stats(&net).frontend.msgs_out == 2, ZRT_DEADLINE_MS);
    s_sync(&net, net.marker, "Z");

    /* 100 A + 100 B published: the forwarder saw the 100 A only. */
    ZR_EQ(s_publish_round(&net, sub, 100), 100);

    /* Unsubscribe: the forwarder passes it upstream and then receives
     * no A at all. */
    zmq_setsockopt(sub, ZMQ_UNSUBSCRIBE, "A", 1);
    s_settle(&net, 3);
    ZR_EQ(s_publish_round(&net, NULL, 0), 0);
    ZR_CHECK(!zrt_readable(sub, 0));
    zmq_close(sub);
    s_down(&net);
}

static void
test_only_wanted_inproc(void)
{
    s_only_wanted("@inproc://fwd-front", "@inproc://fwd-back");
}

static void
test_only_wanted_tcp(void)
{
    s_only_wanted("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

/* A subscriber that leaves without unsubscribing: XPUB reports the
 * unsubscribe for it, the forwarder passes it on, A stops flowing. */
static void
test_leaving_unsubscribes(void)
{
    s_net_t net;
    s_up(&net, "@inproc://leave-front", "@inproc://leave-back");
    void *sub = s_sub(&net, "A");
    ZR_WAIT(s_stats(&net).frontend.msgs_out == 1, ZRT_DEADLINE_MS);
    s_sync(&net, sub, "A");
    net.marker = s_sub(&net, "Z");
    ZR_WAIT(s_stats(&net).frontend.msgs_out == 2, ZRT_DEADLINE_MS);
    s_sync(&net, net.marker, "Z");
    ZR_EQ(s_publish_round(&net, sub, 100), 100);

    zmq_close(sub);
    s_settle(&net, 3);
    /* A, Z, the unsubscribe for A, and the settle marker's topic. */
    ZR_EQ(s_stats(&net).backend.msgs_in, 4);
    ZR_EQ(s_publish_round(&net, NULL, 0), 0);
    s_down(&net);
}

/* Two subscribers to the same topic: one leaving keeps the topic alive
 * upstream for the other. The forwarder's XPUB reports every subscribe
 * and unsubscribe (ZMQ_XPUB_VERBOSER, for its subscription table); the
 * XSUB counts references and passes an unsubscribe upstream only for
 * the last one. */
static void
test_shared_topic_survives(void)
{
    s_net_t net;
    s_up(&net, "@inproc://share-front", "@inproc://share-back");
    void *sub1 = s_sub(&net, "A");
    zmq_setsockopt(sub1, ZMQ_SUBSCRIBE, "X", 1);
    void *sub2 = s_sub(&net, "A");
    ZR_WAIT(s_stats(&net).frontend.msgs_out == 3, ZRT_DEADLINE_MS);
    s_sync(&net, sub1, "A");
    s_sync(&net, sub2, "A");
    net.marker = s_sub(&net, "Z");
    ZR_WAIT(s_stats(&net).frontend.msgs_out == 4, ZRT_DEADLINE_MS);
    s_sync(&net, net.marker, "Z");

    zmq_close(sub1);
    /* Its unsubscribes for A and X pass the forwarder; once the publisher
     * has caught up with them, A must still flow for sub2. */
    s_settle(&net, 6);
    ZR_EQ(s_publish_round(&net, sub2, 100), 100);
    zmq_close(sub2);
    s_down(&net);
}

ZR_TESTS = {
    {"inproc: only subscribed topics reach the forwarder",
     test_only_wanted_inproc},
    {"tcp: only subscribed topics reach the forwarder", test_only_wanted_tcp},
    {"inproc: a leaving subscriber unsubscribes upstream",
     test_leaving_unsubscribes},
    {"inproc: a topic stays while one subscriber wants it",
     test_shared_topic_survives},
    {NULL, NULL},
};
ZR_MAIN
