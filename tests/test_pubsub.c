/* test_pubsub.c - the forwarder as a pub/sub hub: last values for late
 * joiners, the subscription table and its limit, slow subscribers,
 * bridges and chains (the seed's S3).
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"
#include "zrtest.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static cJSON *
s_stats(zr_device_t *dev)
{
    char *text = zr_device_stats_json(dev);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ZR_CHECK(root != NULL);
    return root;
}

static void *
s_sub(void *ctx, const char *endpoint, const char *topic)
{
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    if (topic) {
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
    }
    zrt_connect(sub, endpoint);
    return sub;
}

/* Publish [TAG, "warm"] on PUB until SUB gets one, then [TAG, "end"],
 * and read SUB up to that one: the path is up, and nothing of the warm-up
 * is left on the way (one publisher's messages arrive in order). */
static void
s_up(void *pub, void *sub, const char *tag)
{
    char buf[256];
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    do {
        ZR_SENDMORE(pub, tag);
        ZR_SEND(pub, "warm");
        ZR_CHECK(zrt_now_ms() < end);
    } while (!zrt_readable(sub, 5));
    ZR_SENDMORE(pub, tag);
    ZR_SEND(pub, "end");
    for (;;) {
        ZR_RECV(sub, tag);
        zrt_recv_str(sub, buf, sizeof buf);
        if (strcmp(buf, "end") == 0) {
            break;
        }
        ZR_STREQ(buf, "warm");
    }
}

/* ---------------------------------------------------------------------
 * Last values: a topic is a message's first frame, so these messages are
 * [topic, value].
 */

static void
s_put(void *pub, const char *topic, const char *value)
{
    ZR_SENDMORE(pub, topic);
    ZR_SEND(pub, value);
}

static void
s_get(void *sub, const char *topic, const char *value)
{
    ZR_RECV(sub, topic);
    ZR_RECV(sub, value);
}

static const char *const s_lv[] = {"last_value", "true", NULL};

/* A late subscriber to A gets the last A at once and nothing else; the
 * subscriber already there gets no duplicate. */
static void
test_late_joiner(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "lv", s_lv);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://lv-front");
    void *early = s_sub(ctx, "inproc://lv-back", "");
    s_up(pub, early, "warmup");
    s_put(pub, "A", "1");
    s_put(pub, "B", "1");
    s_put(pub, "A", "2");
    s_get(early, "A", "1");
    s_get(early, "B", "1");
    s_get(early, "A", "2");
    double sent = zrt_stat(dev, "last_value", "sent", NULL);
    /* "2" was published before it subscribed: only the cache has it. */
    void *late = s_sub(ctx, "inproc://lv-back", "A");
    s_get(late, "A", "2");
    /* Nothing else for it, no duplicate for the early one: the next live
     * message is the next thing both see. */
    s_put(pub, "A", "3");
    s_get(late, "A", "3");
    s_get(early, "A", "3");
    ZR_EQ(zrt_stat(dev, "last_value", "sent", NULL), sent + 1);
    ZR_EQ(zrt_stat(dev, "last_value", "topics", NULL), 3); /* warmup, A, B */
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(early);
    zmq_close(late);
    zmq_ctx_term(ctx);
}

/* A new subscriber to a topic with nothing cached must not take the next
 * live message away from the subscribers already there. */
static void
test_no_cached_value_robs_nobody(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "rob", s_lv);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://rob-front");
    void *early = s_sub(ctx, "inproc://rob-back", "");
    s_up(pub, early, "warmup");
    double sent = zrt_stat(dev, "last_value", "sent", NULL);
    void *late = s_sub(ctx, "inproc://rob-back", "C");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 2,
            ZRT_DEADLINE_MS);
    s_put(pub, "C", "first");
    s_get(early, "C", "first");
    s_get(late, "C", "first");
    ZR_EQ(zrt_stat(dev, "last_value", "sent", NULL), sent);
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(early);
    zmq_close(late);
    zmq_ctx_term(ctx);
}

/* A prefix over several cached topics: the newest alone, or with
 * last_value_prefix = all every one, to every subscriber of those
 * topics. */
static void
s_prefix(const char *mode, const char *tag)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"last_value", "true", "last_value_prefix", mode, NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, tag, kv);
    char front[64], back[64];
    snprintf(front, sizeof front, "inproc://%s-front", tag);
    snprintf(back, sizeof back, "inproc://%s-back", tag);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, front);
    void *a_sub = s_sub(ctx, back, "T.a");
    s_up(pub, a_sub, "T.a warm"); /* a topic of its own: T.a warm */
    s_put(pub, "T.a", "1");
    s_put(pub, "T.b", "1");
    s_get(a_sub, "T.a", "1");
    /* (The warm-up may have been cached in time for a_sub already.) */
    double sent = zrt_stat(dev, "last_value", "sent", NULL);
    void *late = s_sub(ctx, back, "T.");
    if (strcmp(mode, "newest") == 0) {
        s_get(late, "T.b", "1");
        s_put(pub, "T.c", "live");
        s_get(late, "T.c", "live");
        ZR_EQ(zrt_stat(dev, "last_value", "sent", NULL), sent + 1);
    }
    else {
        /* Oldest first, as they came; the T.a subscriber gets T.a again
         * (and "T.a warm", its warm-up topic). */
        s_get(late, "T.a warm", "end");
        s_get(late, "T.a", "1");
        s_get(late, "T.b", "1");
        s_get(a_sub, "T.a warm", "end");
        s_get(a_sub, "T.a", "1");
        /* The counter moves just after each send: the last may still be
         * on its way. */
        ZR_WAIT(zrt_stat(dev, "last_value", "sent", NULL) == sent + 3,
                ZRT_DEADLINE_MS);
    }
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(a_sub);
    zmq_close(late);
    zmq_ctx_term(ctx);
}

static void
test_prefix_newest(void)
{
    s_prefix("newest", "pn");
}

static void
test_prefix_all(void)
{
    s_prefix("all", "pa");
}

/* The cache is bounded: the least recently updated topic goes first. */
static void
test_eviction(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"last_value", "true", "last_value_max_topics", "2",
                        NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "ev", kv);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://ev-front");
    void *all = s_sub(ctx, "inproc://ev-back", "");
    s_up(pub, all, "w");
    s_put(pub, "A", "1");
    s_put(pub, "B", "1");
    s_put(pub, "C", "1");
    s_get(all, "A", "1");
    s_get(all, "B", "1");
    s_get(all, "C", "1");
    ZR_EQ(zrt_stat(dev, "last_value", "topics", NULL), 2);
    ZR_EQ(zrt_stat(dev, "last_value", "evictions", NULL), 2); /* "w", then A */
    /* A was evicted: a late subscriber to A gets the next live A first. */
    void *late = s_sub(ctx, "inproc://ev-back", "A");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 2,
            ZRT_DEADLINE_MS);
    s_put(pub, "A", "live");
    s_get(late, "A", "live");
    void *late_c = s_sub(ctx, "inproc://ev-back", "C");
    s_get(late_c, "C", "1");
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(all);
    zmq_close(late);
    zmq_close(late_c);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * The subscription table and its limit.
 */

/* The count of TOPIC in STATS, and the list's length and truncation. */
static double
s_listed(zr_device_t *dev, const char *topic, int *rows, bool *truncated)
{
    cJSON *root = s_stats(dev);
    cJSON *subs = cJSON_GetObjectItem(root, "subscriptions");
    cJSON *list = cJSON_GetObjectItem(subs, "list");
    *rows = cJSON_GetArraySize(list);
    *truncated = cJSON_IsTrue(cJSON_GetObjectItem(subs, "truncated"));
    double n = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(e, "topic"));
        if (t && strcmp(t, topic) == 0) {
            n = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "count"));
        }
    }
    cJSON_Delete(root);
    return n;
}

/* The count of TOPIC in STATS. */
static double
s_topic_count(zr_device_t *dev, const char *topic)
{
    int rows;
    bool truncated;
    return s_listed(dev, topic, &rows, &truncated);
}

static void
test_table(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "tab", NULL);
    void *s1 = s_sub(ctx, "inproc://tab-back", "A");
    void *s2 = s_sub(ctx, "inproc://tab-back", "A");
    zmq_setsockopt(s2, ZMQ_SUBSCRIBE, "B", 1);
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 3,
            ZRT_DEADLINE_MS);
    ZR_EQ(s_topic_count(dev, "A"), 2);
    ZR_EQ(s_topic_count(dev, "B"), 1);
    ZR_EQ(zrt_stat(dev, "subscriptions", "topics", NULL), 2);
    zmq_setsockopt(s2, ZMQ_UNSUBSCRIBE, "A", 1);
    ZR_WAIT(s_topic_count(dev, "A") == 1, ZRT_DEADLINE_MS);
    zmq_close(s2); /* leaving unsubscribes B */
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_EQ(s_topic_count(dev, "B"), 0);
    zr_device_destroy(&dev);
    zmq_close(s1);
    zmq_ctx_term(ctx);
}

/* Subscribe, refuse, leave: libzmq's unsubscribe for the refused one
 * must not unsubscribe upstream the topic another subscriber wants. */
static void
test_limit(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"max_subscriptions", "1", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "lim", kv);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://lim-front");
    void *keeper = s_sub(ctx, "inproc://lim-back", "A");
    s_up(pub, keeper, "A warm");
    void *refused = s_sub(ctx, "inproc://lim-back", "A");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "refused", NULL) == 1,
            ZRT_DEADLINE_MS);
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_in == 2, ZRT_DEADLINE_MS);
    uint64_t upstream = st.frontend.msgs_out;
    ZR_EQ(upstream, 1); /* the keeper's only: the refused one stayed here */
    ZR_CHECK(!zrt_readable(refused, 0));
    zmq_close(refused);
    /* Its farewell unsubscribe came through, and went no further. */
    ZR_WAIT_STATS(dev, st, st.backend.msgs_in == 3, ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_out, upstream);
    ZR_EQ(zrt_stat(dev, "subscriptions", "total", NULL), 1);
    ZR_SEND(pub, "A still");
    ZR_RECV(keeper, "A still");
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(keeper);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * Slow subscribers.
 */

/* block: a subscriber that never reads costs one block_timeout, then its
 * messages go the lossy way (counted) while the others get everything. */
static void
test_block(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"slow_subscriber",
                        "block",
                        "block_timeout",
                        "200",
                        "sndhwm",
                        "50",
                        NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "blk", kv);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_setint(pub, ZMQ_SNDHWM, 100000);
    zrt_connect(pub, "inproc://blk-front");
    void *fast = zrt_socket(ctx, ZMQ_SUB);
    zrt_setint(fast, ZMQ_RCVHWM, 100000);
    zmq_setsockopt(fast, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(fast, "inproc://blk-back");
    void *slow = zrt_socket(ctx, ZMQ_SUB);
    zrt_setint(slow, ZMQ_RCVHWM, 10);
    zmq_setsockopt(slow, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(slow, "inproc://blk-back");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 2,
            ZRT_DEADLINE_MS);
    s_up(pub, fast, "w");
    int64_t start = zrt_now_ms();
    const uint32_t n = 2000;
    for (uint32_t i = 0; i < n; i++) {
        ZR_PASS(zmq_send(pub, &i, sizeof i, 0));
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        ZR_CHECKF(zrt_readable(fast, ZRT_DEADLINE_MS), "fast got %u of %u", i,
                  n);
        ZR_EQ(zmq_recv(fast, &v, sizeof v, 0), 4);
        ZR_EQ(v, i);
    }
    int64_t took = zrt_now_ms() - start;
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_out >= n, ZRT_DEADLINE_MS);
    printf("fast subscriber got all %u in %lld ms; %llu sent lossy for the "
           "slow one\n",
           n, (long long) took, (unsigned long long) st.backend.drop_slow);
    ZR_CHECK(st.backend.drop_slow > 0);
    /* One timeout for the stall, not one per message. */
    ZR_CHECKF(took < 5000, "blocked %lld ms", (long long) took);
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(fast);
    zmq_close(slow);
    zmq_ctx_term(ctx);
}

/* Publish N numbered messages and read them all on FAST; wait until the
 * relay has sent them all. */
static void
s_flood(zr_device_t *dev, void *pub, void *fast, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        ZR_PASS(zmq_send(pub, &i, sizeof i, 0));
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        ZR_CHECKF(zrt_readable(fast, ZRT_DEADLINE_MS), "fast got %u of %u", i,
                  n);
        ZR_EQ(zmq_recv(fast, &v, sizeof v, 0), 4);
        ZR_EQ(v, i);
    }
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.frontend.msgs_in == st.backend.msgs_out,
                  ZRT_DEADLINE_MS);
}

/* The messages SUB has, read. */
static uint64_t
s_drain(void *sub)
{
    uint64_t got = 0;
    while (zrt_readable(sub, 0)) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        ZR_CHECK(zmq_msg_recv(&m, sub, 0) >= 0);
        got += !zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return got;
}

/* drop (the default): a subscriber that stops reading misses messages
 * and each time its queue overflows it is counted (before: libzmq dropped
 * them inside its XPUB, uncounted), while the others get everything. The
 * messages after the overflow libzmq skips it without a word until it
 * has read its queue down: one count per overflow, not per message. */
static void
test_drop_counted(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"sndhwm", "50", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "drp", kv);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_setint(pub, ZMQ_SNDHWM, 100000);
    zrt_connect(pub, "inproc://drp-front");
    void *fast = zrt_socket(ctx, ZMQ_SUB);
    zrt_setint(fast, ZMQ_RCVHWM, 100000);
    zmq_setsockopt(fast, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(fast, "inproc://drp-back");
    void *slow = zrt_socket(ctx, ZMQ_SUB);
    zrt_setint(slow, ZMQ_RCVHWM, 10);
    zmq_setsockopt(slow, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(slow, "inproc://drp-back");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 2,
            ZRT_DEADLINE_MS);
    s_up(pub, fast, "w");
    const uint32_t n = 2000;
    for (int round = 1; round <= 2; round++) {
        s_flood(dev, pub, fast, n);
        zr_stats_t st;
        zr_device_stats(dev, &st);
        uint64_t got = s_drain(slow);
        printf("round %d: the slow subscriber got %llu of %llu; %llu "
               "overflows counted\n",
               round, (unsigned long long) got,
               (unsigned long long) st.backend.msgs_out,
               (unsigned long long) st.backend.drop_slow);
        ZR_CHECK(got < n);
        ZR_EQ(st.backend.drop_slow, (uint64_t) round);
    }
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(fast);
    zmq_close(slow);
    zmq_ctx_term(ctx);
}

/* Issue 13 (ATTACK13): with last_value_prefix = all a new subscriber's
 * cached values go to every subscriber of their topic. With the backend
 * a NODROP XPUB, one such subscriber with a full queue made the send
 * fail for all, and the new subscriber missed its value (counted as
 * missed). Now it goes the lossy way: the full one misses it (an
 * overflow), the new one gets it. S1, queue full and a publication held
 * for it (block, 10 s), subscribes to "t"; N subscribes to "t" and must
 * get t2's cached value first (t1's is held: it comes live). */
static void
test_last_value_beside_full(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"last_value",      "true",  "last_value_prefix",
                        "all",             "slow_subscriber", "block",
                        "block_timeout",   "10s",   "sndhwm",
                        "1",               NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "lvf", kv);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://lvf-front");
    void *s1 = zrt_socket(ctx, ZMQ_SUB);
    zrt_setint(s1, ZMQ_RCVHWM, 1);
    zmq_setsockopt(s1, ZMQ_SUBSCRIBE, "t", 1);
    zrt_connect(s1, "inproc://lvf-back");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_SENDMORE(pub, "t2");
    ZR_SEND(pub, "v2");
    for (int i = 0; i < 20; i++) {
        ZR_SENDMORE(pub, "t1");
        ZR_SEND(pub, "v1");
    }
    /* The relay waits (in zmq_poll, counters published) with a t1 held
     * for S1, whose queue is full: it reads no more meanwhile. */
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.frontend.msgs_in > st.backend.msgs_out,
                  ZRT_DEADLINE_MS);
    void *n = s_sub(ctx, "inproc://lvf-back", "t");
    ZR_CHECK(zrt_readable(n, ZRT_DEADLINE_MS));
    ZR_RECV(n, "t2");
    ZR_RECV(n, "v2");
    ZR_EQ(zrt_stat(dev, "last_value", "missed", NULL), 0);
    /* S1 missed it: counted (published when the relay next waits). */
    ZR_WAIT_STATS(dev, st, st.backend.drop_slow >= 1, ZRT_DEADLINE_MS);
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(s1);
    zmq_close(n);
    zmq_ctx_term(ctx);
}

/* A subscriber that subscribes to one 200 kB topic, in a process of its
 * own (it is forked before this process makes a context): reads the
 * backend's endpoint from FD, subscribes, waits up to 5 s for its
 * connection to be closed, and leaves without closing anything (its own
 * SUB would walk that topic again). Exit 0: it was disconnected. */
static void
s_huge_subscriber(int fd)
{
    char endpoint[128] = "";
    ssize_t n = read(fd, endpoint, sizeof endpoint - 1);
    if (n <= 0) {
        _exit(3);
    }
    endpoint[n] = '\0';
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_socket_monitor(sub, "inproc://huge-mon", ZMQ_EVENT_DISCONNECTED);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    zmq_connect(mon, "inproc://huge-mon");
    static char topic[200000];
    memset(topic, 'A', sizeof topic);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, sizeof topic);
    zmq_connect(sub, endpoint);
    zmq_pollitem_t item = {.socket = mon, .events = ZMQ_POLLIN};
    _exit(zmq_poll(&item, 1, 5000) == 1 ? 0 : 1);
}

/* Issue 13 (ATTACK13): one subscriber's 200 kB subscription crashed the
 * relay: libzmq 4.3.4 walks a topic with a stack frame per byte when the
 * subscriber goes (SIGSEGV on the relay's thread). The relay's XPUBs take
 * no message over max_subscription_size (at least 1 KiB, for the
 * handshake) from subscribers: libzmq disconnects that one, and the relay
 * serves the others. */
static void
test_huge_subscription(void)
{
    int fds[2];
    ZR_PASS(pipe(fds));
    pid_t child = fork();
    ZR_CHECK(child >= 0);
    if (child == 0) {
        close(fds[1]);
        s_huge_subscriber(fds[0]);
    }
    close(fds[0]);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev =
        zrt_device(ctx, ZR_FORWARDER, "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*",
                   NULL);
    const char *back = zrt_device_endpoint(dev, 1);
    ZR_CHECK(write(fds[1], back, strlen(back)) == (ssize_t) strlen(back));
    close(fds[1]);
    int status = 0;
    int64_t deadline = zrt_now_ms() + ZRT_DEADLINE_MS;
    pid_t rc;
    while ((rc = waitpid(child, &status, WNOHANG)) == 0 &&
           zrt_now_ms() < deadline) {
        usleep(10000);
    }
    ZR_CHECKF(rc == child, "the subscriber did not leave");
    ZR_CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the 200 kB subscriber was not disconnected (status %d)",
              status);
    /* The relay is alive and serves a subscriber of a normal size. */
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, zrt_device_endpoint(dev, 0));
    void *sub = s_sub(ctx, back, "news");
    s_up(pub, sub, "news");
    ZR_EQ(zrt_stat(dev, "subscriptions", "total", NULL), 1);
    zmq_close(pub);
    zmq_close(sub);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* Issue 14: a topic longer than max_subscription_size (256 by default)
 * but under libzmq's cap (kept at 1 KiB and more for the handshake) is
 * refused by the table, counted, and never goes upstream; a short one
 * after it does. */
static void
test_long_subscription_refused(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "long", NULL);
    void *pub = zrt_socket(ctx, ZMQ_XPUB);
    zrt_connect(pub, "inproc://long-front");
    char topic[301];
    memset(topic, 'T', 300);
    topic[300] = 0;
    void *s1 = s_sub(ctx, "inproc://long-back", topic);
    ZR_WAIT(zrt_stat(dev, "subscriptions", "refused", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev, "subscriptions", "total", NULL), 0);
    void *s2 = s_sub(ctx, "inproc://long-back", "short");
    char got[64];
    int n = zmq_recv(pub, got, sizeof got, 0); /* the first to come up */
    ZR_CHECKF(n == 6 && memcmp(got, "\x01short", 6) == 0,
              "upstream got %d bytes, not the short subscription", n);
    zmq_close(s1);
    zmq_close(s2);
    zmq_close(pub);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * Bridges and chains.
 */

/* S3: the forwarder's frontend connects to a publisher that binds on ipc
 * (an inside network); subscribers on tcp (outside) get the same topics. */
static void
test_bridge_ipc_tcp(void)
{
    char dir[] = "/tmp/zrelay-bridge-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    char inside[128], front[140];
    snprintf(inside, sizeof inside, "ipc://%s/pub", dir);
    snprintf(front, sizeof front, ">%s", inside);
    void *ctx = zmq_ctx_new();
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    ZR_PASS(zmq_bind(pub, inside));
    zr_device_t *dev =
        zrt_device(ctx, ZR_FORWARDER, front, "@tcp://127.0.0.1:*", NULL);
    void *sub = s_sub(ctx, zrt_device_endpoint(dev, 1), "news");
    s_up(pub, sub, "news warm");
    ZR_SEND(pub, "sports: not for us");
    ZR_SEND(pub, "news: for us");
    ZR_RECV(sub, "news: for us");
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    char path[160];
    snprintf(path, sizeof path, "%s/pub", dir);
    unlink(path);
    rmdir(dir);
}

/* N forwarders in a chain: the far end's subscription reaches the first
 * forwarder's publisher (its frontend counters say so: a SUB filters
 * locally), and its unsubscription travels back when it leaves. */
static void
s_chain(int n)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *devs[3];
    char back_prev[64] = "";
    for (int i = 0; i < n; i++) {
        char front[80], back[64];
        if (i == 0) {
            snprintf(front, sizeof front, "@inproc://chain%d-in", n);
        }
        else {
            snprintf(front, sizeof front, ">%s", back_prev);
        }
        snprintf(back, sizeof back, "@inproc://chain%d-%d", n, i);
        devs[i] = zrt_device(ctx, ZR_FORWARDER, front, back, NULL);
        snprintf(back_prev, sizeof back_prev, "inproc://chain%d-%d", n, i);
    }
    char in[64];
    snprintf(in, sizeof in, "inproc://chain%d-in", n);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, in);
    void *sub = s_sub(ctx, back_prev, "A");
    s_up(pub, sub, "A warm");
    zr_stats_t st;
    ZR_WAIT_STATS(devs[0], st, st.frontend.msgs_out >= 1, ZRT_DEADLINE_MS);
    uint64_t in_before = st.frontend.msgs_in;
    ZR_SEND(pub, "B never asked for");
    ZR_SEND(pub, "A asked for");
    ZR_RECV(sub, "A asked for");
    ZR_WAIT_STATS(devs[0], st, st.frontend.msgs_in >= in_before + 1,
                  ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_in, in_before + 1); /* B stayed at the PUB */
    uint64_t subs_up = st.frontend.msgs_out;
    zmq_close(sub);
    /* The unsubscribe reaches the first forwarder's frontend... */
    ZR_WAIT_STATS(devs[0], st, st.frontend.msgs_out == subs_up + 1,
                  ZRT_DEADLINE_MS);
    /* ...and then the publisher: A stops coming to the first forwarder.
     * A fresh subscription to Z, behind it on the same path, proves the
     * publisher applied it once Z flows. */
    void *marker = s_sub(ctx, back_prev, "Z");
    s_up(pub, marker, "Z");
    ZR_WAIT_STATS(devs[0], st, true, ZRT_DEADLINE_MS);
    in_before = st.frontend.msgs_in;
    for (int i = 0; i < 10; i++) {
        ZR_SEND(pub, "A nobody wants");
    }
    ZR_SEND(pub, "Z end");
    ZR_RECV(marker, "Z end");
    ZR_WAIT_STATS(devs[0], st, st.frontend.msgs_in >= in_before + 1,
                  ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_in, in_before + 1);
    for (int i = n - 1; i >= 0; i--) {
        zr_device_destroy(&devs[i]);
    }
    zmq_close(pub);
    zmq_close(marker);
    zmq_ctx_term(ctx);
}

static void
test_chain_two(void)
{
    s_chain(2);
}

static void
test_chain_three(void)
{
    s_chain(3);
}

/* ---------------------------------------------------------------------
 * Bounds under churn: the cache fed directly (fast under ASan).
 */

/* A publisher of single-frame messages makes every message a topic: the
 * cache's table must stay as small as its bound, whatever went through
 * it. */
static void
test_lvc_bounded(void)
{
    const uint32_t n = (1u << 20) + 1000; /* over a million topics */
    zr__lvc_t *lvc = zr__lvc_new(100, 0);
    ZR_CHECK(lvc != NULL);
    zr__msg_t msg = {NULL, 0, 0};
    size_t most = 0;
    for (uint32_t i = 0; i < n; i++) {
        char topic[16];
        int len = snprintf(topic, sizeof topic, "w%u", i);
        zr__msg_clear(&msg);
        ZR_PASS(zr__msg_add(&msg, topic, (size_t) len));
        zr__lvc_store(lvc, &msg);
        size_t slots = zr__lvc_slots(lvc);
        most = slots > most ? slots : most;
    }
    uint64_t topics, bytes, evictions;
    zr__lvc_stats(lvc, &topics, &bytes, &evictions);
    printf("%u topics through a cache of 100: at most %zu slots\n", n, most);
    ZR_EQ(topics, 100);
    ZR_EQ(evictions, n - 100);
    /* 100 live topics at a load of at most 3/4: 256 slots. */
    ZR_CHECKF(most <= 256, "the table grew to %zu slots for 100 topics", most);
    /* Topics that come back are found (no entry lost by a deletion). */
    for (uint32_t i = n - 100; i < n; i++) {
        char topic[16];
        int len = snprintf(topic, sizeof topic, "w%u", i);
        const zr__msg_t *hit = NULL;
        ZR_EQ(zr__lvc_match(lvc, topic, (size_t) len, &hit, 1), 1);
    }
    zr__msg_destroy(&msg);
    zr__lvc_destroy(&lvc);
}

/* ---------------------------------------------------------------------
 * STATS readers and the engine.
 */

#define S_LONG_TOPIC 251 /* under max_subscription_size (256) */
static _Thread_local bool s_is_reader;
static atomic_bool s_reader_inside, s_reader_go;

/* cJSON's allocator while the test runs: the reader thread stops when it
 * copies the long topic's name into the STATS JSON, that is in the middle
 * of listing the subscriptions. */
static void *
s_hooked_malloc(size_t size)
{
    if (s_is_reader && size == S_LONG_TOPIC + 1) {
        atomic_store(&s_reader_inside, true);
        while (!atomic_load(&s_reader_go)) {
            zmq_poll(NULL, 0, 1);
        }
    }
    return malloc(size);
}

static void *
s_stats_reader(void *arg)
{
    s_is_reader = true;
    free(zr_device_stats_json(arg));
    return NULL;
}

/* A reader stopped in the middle of STATS must not stop the relay: the
 * next subscription is taken while it is still there. */
static void
test_stats_reader_blocks_nothing(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "rdr", NULL);
    char topic[S_LONG_TOPIC + 1];
    memset(topic, 'L', S_LONG_TOPIC);
    topic[S_LONG_TOPIC] = 0;
    void *s1 = s_sub(ctx, "inproc://rdr-back", topic);
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 1,
            ZRT_DEADLINE_MS);
    cJSON_Hooks hooks = {s_hooked_malloc, free};
    cJSON_InitHooks(&hooks);
    pthread_t reader;
    pthread_create(&reader, NULL, s_stats_reader, dev);
    ZR_WAIT(atomic_load(&s_reader_inside), ZRT_DEADLINE_MS);
    void *s2 = s_sub(ctx, "inproc://rdr-back", "B");
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_in == 2, ZRT_DEADLINE_MS);
    atomic_store(&s_reader_go, true);
    pthread_join(reader, NULL);
    cJSON_InitHooks(NULL);
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 2,
            ZRT_DEADLINE_MS);
    zr_device_destroy(&dev);
    zmq_close(s1);
    zmq_close(s2);
    zmq_ctx_term(ctx);
}

/* STATS lists the first 1000 topics in byte order, as they are now:
 * past the list a change shows in the totals only. */
static void
test_stats_list(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "list", NULL);
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zrt_setint(sub, ZMQ_SNDHWM, 0);
    zrt_connect(sub, "inproc://list-back");
    for (int i = 0; i < 1100; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "T%04d", i);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
    }
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 1100,
            ZRT_DEADLINE_MS);
    int rows;
    bool truncated;
    ZR_EQ(s_listed(dev, "T0999", &rows, &truncated), 1);
    ZR_EQ(s_listed(dev, "T1000", &rows, &truncated), 0);
    ZR_CHECK(rows == 1000 && truncated);
    zmq_setsockopt(sub, ZMQ_UNSUBSCRIBE, "T0000", 5);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "T0500", 5);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "T1050", 5);
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 1101,
            ZRT_DEADLINE_MS);
    ZR_EQ(s_listed(dev, "T0000", &rows, &truncated), 0);
    ZR_EQ(s_listed(dev, "T0500", &rows, &truncated), 2);
    ZR_EQ(s_listed(dev, "T1000", &rows, &truncated), 1);
    ZR_EQ(zrt_stat(dev, "subscriptions", "topics", NULL), 1099);
    ZR_CHECK(rows == 1000 && truncated);
    zr_device_destroy(&dev);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

static atomic_bool s_churn_done;

static void *
s_churn_reader(void *arg)
{
    while (!atomic_load(&s_churn_done)) {
        free(zr_device_stats_json(arg));
    }
    return NULL;
}

/* Readers all the time while the table changes all the time: under
 * ASan, a snapshot freed under a reader would show. */
static void
test_stats_readers_churn(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_FORWARDER, "churn", NULL);
    pthread_t readers[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&readers[i], NULL, s_churn_reader, dev);
    }
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zrt_setint(sub, ZMQ_SNDHWM, 0);
    zrt_connect(sub, "inproc://churn-back");
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 100; i++) {
            char topic[16];
            snprintf(topic, sizeof topic, "C%03d", i);
            zmq_setsockopt(sub, round % 2 ? ZMQ_UNSUBSCRIBE : ZMQ_SUBSCRIBE,
                           topic, strlen(topic));
        }
        ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) ==
                    (round % 2 ? 0 : 100),
                ZRT_DEADLINE_MS);
    }
    atomic_store(&s_churn_done, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(readers[i], NULL);
    }
    zr_device_destroy(&dev);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * The way up: subscriptions reach the publishers, all of them.
 */

/* A forwarder TAG (*DEV), an XPUB publisher on its frontend (*PUB), and
 * on its backend a socket of TYPE with no high-water mark on the way up,
 * returned. */
static void *
s_way_up(void *ctx, const char *tag, int type, zr_device_t **dev, void **pub)
{
    char ep[64];
    *dev = zrt_tag_device(ctx, ZR_FORWARDER, tag, NULL);
    *pub = zrt_socket(ctx, ZMQ_XPUB);
    snprintf(ep, sizeof ep, "inproc://%s-front", tag);
    zrt_connect(*pub, ep);
    void *down = zrt_socket(ctx, type);
    zrt_setint(down, ZMQ_SNDHWM, 0); /* the subscriber's side loses none */
    snprintf(ep, sizeof ep, "inproc://%s-back", tag);
    zrt_connect(down, ep);
    return down;
}

/* 5,000 subscriptions at once with the relay's default HWM: the
 * publisher (an XPUB, which reports each new topic) must see every one.
 * It reads nothing until the relay has passed them all on, so whatever
 * libzmq would drop on the way is dropped by then. */
static void
test_subscriptions_all_upstream(void)
{
    const int n = 5000;
    void *ctx = zmq_ctx_new();
    zr_device_t *dev;
    void *pub, *sub = s_way_up(ctx, "up", ZMQ_SUB, &dev, &pub);
    for (int i = 0; i < n; i++) {
        char topic[16];
        int len = snprintf(topic, sizeof topic, "T%05d", i);
        ZR_PASS(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, (size_t) len));
    }
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_in == (uint64_t) n, ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_out, n);
    int seen = 0;
    while (seen < n && zrt_readable(pub, 2000)) {
        char buf[32];
        int size = zmq_recv(pub, buf, sizeof buf, 0);
        ZR_CHECK(size == 7 && buf[0] == 1);
        seen++;
    }
    printf("the publisher saw %d of %d subscriptions\n", seen, n);
    ZR_EQ(seen, n);
    ZR_EQ(zrt_stat(dev, "subscriptions", "total", NULL), n);
    ZR_EQ(zrt_stat(dev, "subscriptions", "refused", NULL), 0);
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* With no high-water mark on the way up, what a subscriber sends that is
 * not a subscription goes no further: refused and counted. */
static void
test_garbage_stays_down(void)
{
    const int n = 10000;
    void *ctx = zmq_ctx_new();
    zr_device_t *dev;
    void *pub, *xsub = s_way_up(ctx, "junk", ZMQ_XSUB, &dev, &pub);
    for (int i = 0; i < n; i++) {
        ZR_SEND(xsub, "garbage");
    }
    /* A subscription hidden behind a frame of garbage is still one. */
    ZR_SENDMORE(xsub, "garbage");
    ZR_PASS(zmq_send(xsub, "\x01G", 2, 0));
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_in == (uint64_t) n + 1,
                  ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_out, 1);
    ZR_EQ(zrt_stat(dev, "subscriptions", "refused_messages", NULL), n + 1);
    ZR_EQ(zrt_stat(dev, "subscriptions", "total", NULL), 1);
    char buf[16];
    ZR_CHECK(zrt_readable(pub, ZRT_DEADLINE_MS));
    ZR_EQ(zmq_recv(pub, buf, sizeof buf, 0), 2);
    ZR_CHECK(memcmp(buf, "\x01G", 2) == 0);
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(xsub);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * Counting as libzmq does: one subscription per subscriber connection
 * and topic. Over ipc, where libzmq says which connection a subscription
 * came from (inproc peers carry no name).
 */

typedef struct {
    char dir[32];
    char front[64], back[96];
    void *ctx, *pub;
    zr_device_t *dev;
} s_ipc_t;

static void
s_ipc_up(s_ipc_t *t, const char *tag, const char *back_prefix,
         const char *const *kv)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/zrelay-%s-XXXXXX", tag);
    ZR_CHECK(mkdtemp(t->dir) != NULL);
    snprintf(t->front, sizeof t->front, "@inproc://%s-front", tag);
    snprintf(t->back, sizeof t->back, "ipc://%s/back", t->dir);
    t->ctx = zmq_ctx_new();
    t->dev = zr_device_new(t->ctx, ZR_FORWARDER, tag);
    char back[110];
    snprintf(back, sizeof back, "%s%s", back_prefix, t->back);
    ZR_PASS(zr_device_set_frontend(t->dev, t->front));
    ZR_PASS(zr_device_set_backend(t->dev, back));
    for (; kv && kv[0]; kv += 2) {
        ZR_PASS(zr_device_set(t->dev, kv[0], kv[1]));
    }
    if (zr_device_start(t->dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(t->dev));
    }
    t->pub = zrt_socket(t->ctx, ZMQ_PUB);
    zrt_connect(t->pub, t->front + 1);
}

static void
s_ipc_down(s_ipc_t *t)
{
    zr_device_destroy(&t->dev);
    zmq_close(t->pub);
    zmq_ctx_term(t->ctx);
    char path[64];
    snprintf(path, sizeof path, "%s/back", t->dir);
    unlink(path);
    rmdir(t->dir);
}

static double
s_total(zr_device_t *dev)
{
    return zrt_stat(dev, "subscriptions", "total", NULL);
}

/* "\x01dup" 11 times from one connection, with max_subscriptions 10:
 * one subscription, not ten, and none left once it goes; the same for a
 * SUB subscribed twice to a topic; and a new subscriber is served. */
static void
test_duplicates_ipc(void)
{
    const char *kv[] = {"max_subscriptions", "10", NULL};
    s_ipc_t t;
    s_ipc_up(&t, "dup", "@", kv);
    void *x = zrt_socket(t.ctx, ZMQ_XSUB);
    zrt_connect(x, t.back);
    for (int i = 0; i < 11; i++) {
        ZR_PASS(zmq_send(x,
                         "\x01"
                         "dup",
                         4, 0));
    }
    zr_stats_t st;
    ZR_WAIT_STATS(t.dev, st, st.backend.msgs_in == 11, ZRT_DEADLINE_MS);
    ZR_EQ(s_total(t.dev), 1);
    ZR_EQ(zrt_stat(t.dev, "subscriptions", "refused", NULL), 0);
    ZR_EQ(zrt_stat(t.dev, "subscriptions", "ignored_duplicates", NULL), 10);
    ZR_EQ(st.frontend.msgs_out, 1); /* one subscription went upstream */
    zmq_close(x);
    ZR_WAIT(s_total(t.dev) == 0, ZRT_DEADLINE_MS);
    void *twice = s_sub(t.ctx, t.back, "A");
    zmq_setsockopt(twice, ZMQ_SUBSCRIBE, "A", 1);
    ZR_WAIT_STATS(t.dev, st, st.backend.msgs_in == 14, ZRT_DEADLINE_MS);
    ZR_EQ(s_total(t.dev), 1);
    zmq_close(twice);
    ZR_WAIT(s_total(t.dev) == 0, ZRT_DEADLINE_MS);
    /* Nothing is used up: ten new subscribers are all served. */
    void *subs[10];
    for (int i = 0; i < 10; i++) {
        subs[i] = s_sub(t.ctx, t.back, "dup");
    }
    ZR_WAIT(s_total(t.dev) == 10, ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(t.dev, "subscriptions", "refused", NULL), 0);
    s_up(t.pub, subs[0], "dup");
    s_put(t.pub, "dup", "for all");
    for (int i = 0; i < 10; i++) {
        char buf[64];
        do { /* the warm-up first, if it came in time */
            ZR_RECV(subs[i], "dup");
            zrt_recv_str(subs[i], buf, sizeof buf);
        } while (strcmp(buf, "for all") != 0);
    }
    for (int i = 0; i < 10; i++) {
        zmq_close(subs[i]);
    }
    s_ipc_down(&t);
}

/* An unsubscribe for a topic its connection never subscribed to changes
 * nothing: not the count, not what goes upstream. */
static void
test_stray_unsubscribe_ipc(void)
{
    s_ipc_t t;
    s_ipc_up(&t, "stray", "@", NULL);
    void *keeper = s_sub(t.ctx, t.back, "A");
    s_up(t.pub, keeper, "A");
    /* libzmq's XSUB sends no unsubscribe for a topic it does not hold,
     * but one with ZMQ_ONLY_FIRST_SUBSCRIBE (108, a draft option there at
     * run time) passes later frames as they are, and the forwarder's XPUB
     * takes them for (un)subscriptions all the same. */
    void *x = zrt_socket(t.ctx, ZMQ_XSUB);
    zrt_setint(x, 108, 1);
    zrt_connect(x, t.back);
    ZR_SENDMORE(x, "junk");
    ZR_PASS(zmq_send(x,
                     "\x00"
                     "A",
                     2, 0));
    zr_stats_t st;
    ZR_WAIT_STATS(t.dev, st, st.backend.msgs_in == 2, ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_out, 1);
    ZR_EQ(s_total(t.dev), 1);
    ZR_EQ(zrt_stat(t.dev, "subscriptions", "ignored_unsubscribes", NULL), 1);
    zmq_close(x);
    zmq_close(keeper);
    s_ipc_down(&t);
}

/* Subscribers come and go, and their descriptors are used again: the
 * count follows them, round after round. */
static void
test_churn_ipc(void)
{
    s_ipc_t t;
    s_ipc_up(&t, "cgo", "@", NULL);
    for (int round = 0; round < 5; round++) {
        void *subs[20];
        for (int i = 0; i < 20; i++) {
            subs[i] = s_sub(t.ctx, t.back, "A");
            zmq_setsockopt(subs[i], ZMQ_SUBSCRIBE, "A", 1);
            zmq_setsockopt(subs[i], ZMQ_SUBSCRIBE, "B", 1);
        }
        ZR_WAIT(zrt_stat(t.dev, "subscriptions", "ignored_duplicates", NULL) ==
                    20 * (round + 1),
                ZRT_DEADLINE_MS);
        ZR_WAIT(s_total(t.dev) == 40, ZRT_DEADLINE_MS);
        for (int i = 0; i < 20; i++) {
            zmq_close(subs[i]);
        }
        ZR_WAIT(s_total(t.dev) == 0, ZRT_DEADLINE_MS);
    }
    ZR_EQ(zrt_stat(t.dev, "subscriptions", "ignored_unsubscribes", NULL), 0);
    s_ipc_down(&t);
}

/* A subscriber the forwarder connects to, gone and back: one connection
 * at a time holds its subscription, so it counts once. */
static void
test_reconnected_subscriber_ipc(void)
{
    s_ipc_t t;
    s_ipc_up(&t, "recon", ">", NULL);
    void *sub = zrt_socket(t.ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "A", 1);
    ZR_PASS(zmq_bind(sub, t.back));
    s_up(t.pub, sub, "A");
    ZR_EQ(s_total(t.dev), 1);
    zmq_close(sub);
    sub = zrt_socket(t.ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "A", 1);
    ZR_PASS(zmq_bind(sub, t.back));
    s_up(t.pub, sub, "A");
    zr_stats_t st;
    ZR_WAIT_STATS(t.dev, st, true, ZRT_DEADLINE_MS);
    ZR_EQ(s_total(t.dev), 1);
    zmq_close(sub);
    s_ipc_down(&t);
}

/* ---------------------------------------------------------------------
 * The table itself (subs.c), fed frames as the backend XPUB reports
 * them. These frames carry no connection, so each report counts as it
 * comes, as an inproc peer's does.
 */

static zr__subs_change_t
s_apply_only(zr__subs_t *subs, bool subscribe, const void *topic, size_t size)
{
    zmq_msg_t frame;
    ZR_PASS(zmq_msg_init_size(&frame, size + 1));
    unsigned char *data = zmq_msg_data(&frame);
    data[0] = subscribe ? 1 : 0;
    memcpy(data + 1, topic, size);
    zr__subs_change_t change = zr__subs_apply(subs, &frame);
    zmq_msg_close(&frame);
    return change;
}

/* One report, published. */
static zr__subs_change_t
s_apply(zr__subs_t *subs, bool subscribe, const void *topic, size_t size)
{
    zr__subs_change_t change = s_apply_only(subs, subscribe, topic, size);
    zr__subs_publish(subs);
    return change;
}

/* A topic of the model: up to 4 bytes of "ab\0". */
typedef struct {
    char topic[4];
    size_t size;
    uint64_t count;
} s_model_t;

static uint64_t
s_model_overlap(const s_model_t *m, size_t n, const char *p, size_t len)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = m[i].size < len ? m[i].size : len;
        bool nested = memcmp(m[i].topic, p, l) == 0;
        total += nested ? m[i].count : 0;
    }
    return total;
}

/* Every topic of up to 3 bytes over "ab\0": 1 + 3 + 9 + 27. */
static size_t
s_model_topics(s_model_t *m)
{
    size_t n = 0;
    for (size_t len = 0; len <= 3; len++) {
        size_t combos = 1;
        for (size_t k = 0; k < len; k++) {
            combos *= 3;
        }
        for (size_t c = 0; c < combos; c++) {
            size_t v = c;
            m[n].size = len;
            m[n].count = 0;
            for (size_t k = 0; k < len; k++, v /= 3) {
                m[n].topic[k] = "ab\0"[v % 3];
            }
            n++;
        }
    }
    return n;
}

/* Overlap counts (the sync service's and the gate's) against a model,
 * while random subscribes and unsubscribes reshape the tree: nested
 * prefixes, the empty topic and the empty prefix, topics with a 0 byte. */
static void
test_subs_overlap_model(void)
{
    s_model_t m[40];
    size_t n = s_model_topics(m);
    ZR_EQ(n, 40);
    zr__subs_t *subs = zr__subs_new(0);
    ZR_CHECK(subs != NULL);
    uint64_t total = 0;
    srand(13);
    for (int step = 0; step < 4000; step++) {
        s_model_t *t = &m[(size_t) rand() % n];
        bool subscribe = rand() % 3 != 0;
        zr__subs_change_t change = s_apply(subs, subscribe, t->topic, t->size);
        if (subscribe) {
            ZR_EQ(change, ZR__SUBS_ADDED);
            t->count++;
            total++;
        }
        else if (t->count) {
            ZR_EQ(change, ZR__SUBS_REMOVED);
            t->count--;
            total--;
        }
        else {
            ZR_EQ(change, ZR__SUBS_IGNORED);
        }
        ZR_EQ(zr__subs_total(subs), total);
        for (size_t k = 0; k < n; k++) {
            uint64_t want = s_model_overlap(m, n, m[k].topic, m[k].size);
            uint64_t got = zr__subs_overlap(subs, m[k].topic, m[k].size);
            ZR_CHECKF(got == want, "step %d, prefix %zu bytes: %llu, not %llu",
                      step, m[k].size, (unsigned long long) got,
                      (unsigned long long) want);
        }
        /* Longer than any topic: those it starts with count. */
        ZR_EQ(zr__subs_overlap(subs, "abab", 4),
              s_model_overlap(m, n, "abab", 4));
    }
    ZR_EQ(zr__subs_overlap(subs, "", 0), total);
    zr__subs_destroy(&subs);
    ZR_CHECK(subs == NULL);
}

static int
s_row_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The list in a view: the first 1000 topics with subscriptions in byte
 * order, whatever order they came in, as the table changes. */
static void
test_subs_list_order(void)
{
    enum { N = 3000 };
    static char topics[N][8];
    static int order[N];
    for (int i = 0; i < N; i++) {
        snprintf(topics[i], sizeof topics[i], "%c%05d", 'A' + i % 7,
                 (i * 7919) % N);
        order[i] = i;
    }
    srand(11);
    for (int i = N - 1; i > 0; i--) {
        int j = rand() % (i + 1), swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
    zr__subs_t *subs = zr__subs_new(0);
    ZR_CHECK(subs != NULL);
    for (int i = 0; i < N; i++) {
        const char *t = topics[order[i]];
        ZR_EQ(s_apply(subs, true, t, strlen(t)), ZR__SUBS_ADDED);
    }
    qsort(topics, N, sizeof topics[0], s_row_cmp);
    /* Twice the 10th, none of the 500th (from the middle of the list)
     * nor of the 2000th (past it). */
    ZR_EQ(s_apply(subs, true, topics[9], 6), ZR__SUBS_ADDED);
    ZR_EQ(s_apply(subs, false, topics[499], 6), ZR__SUBS_REMOVED);
    ZR_EQ(s_apply(subs, false, topics[1999], 6), ZR__SUBS_REMOVED);
    ZR_EQ(s_apply(subs, false, topics[499], 6), ZR__SUBS_IGNORED);
    const zr__subs_view_t *v = zr__subs_view(subs);
    ZR_EQ(v->total, N - 1);
    ZR_EQ(v->topics, N - 2);
    ZR_EQ(v->nrows, 1000);
    ZR_CHECK(v->truncated);
    for (size_t r = 0, i = 0; r < v->nrows; r++, i++) {
        i += i == 499; /* gone */
        const zr__subs_row_t *row = &v->rows[r];
        ZR_CHECKF(row->size == 6 && memcmp(row->topic, topics[i], 6) == 0,
                  "row %zu: %.*s, not %s", r, (int) row->size,
                  (const char *) row->topic, topics[i]);
        ZR_EQ(row->count, i == 9 ? 2 : 1);
    }
    zr__subs_release(subs, v);
    /* All of the list but its last gone: the rest moves up. */
    for (int i = 0; i < 1000; i++) {
        s_apply(subs, false, topics[i], 6);
    }
    s_apply(subs, false, topics[9], 6);
    v = zr__subs_view(subs);
    ZR_EQ(v->topics, N - 1001);
    ZR_EQ(v->nrows, 1000);
    ZR_CHECK(memcmp(v->rows[0].topic, topics[1000], 6) == 0);
    ZR_CHECK(memcmp(v->rows[999].topic, topics[2000], 6) == 0);
    zr__subs_release(subs, v);
    /* Changes that are published together: the first row, and one
     * topic back in before it. */
    ZR_EQ(s_apply_only(subs, false, topics[1000], 6), ZR__SUBS_REMOVED);
    ZR_EQ(s_apply_only(subs, true, topics[5], 6), ZR__SUBS_ADDED);
    ZR_CHECK(zr__subs_changed(subs));
    v = zr__subs_view(subs);
    ZR_CHECK(memcmp(v->rows[0].topic, topics[1000], 6) == 0);
    zr__subs_release(subs, v);
    zr__subs_publish(subs);
    v = zr__subs_view(subs);
    ZR_EQ(v->nrows, 1000);
    ZR_CHECK(memcmp(v->rows[0].topic, topics[5], 6) == 0);
    ZR_CHECK(memcmp(v->rows[1].topic, topics[1001], 6) == 0);
    ZR_CHECK(memcmp(v->rows[999].topic, topics[2000], 6) == 0);
    zr__subs_release(subs, v);
    zr__subs_destroy(&subs);
}

/* The list in every view against a model while random reports, some
 * refused (max_subscriptions), change topics in it, at its end and past
 * it: each change applied to a copy of the list must give what making
 * it anew would. */
static void
test_subs_list_model(void)
{
    enum { N = 4000, MAX = 1500 };
    static struct {
        uint64_t count, refused;
    } m[N];
    zr__subs_t *subs = zr__subs_new(MAX);
    ZR_CHECK(subs != NULL);
    uint64_t total = 0;
    size_t most = 0;
    srand(7);
    for (int step = 0; step < 6000; step++) {
        /* Subscribe more than unsubscribe until the limit is near. */
        size_t i = (size_t) rand() % N;
        bool subscribe = rand() % 100 < (step < 2000 ? 75 : 50);
        char topic[8];
        snprintf(topic, sizeof topic, "k%04zu", i);
        zr__subs_change_t change = s_apply(subs, subscribe, topic, 5);
        zr__subs_change_t want = ZR__SUBS_IGNORED;
        if (subscribe && total >= MAX) {
            m[i].refused++;
            want = ZR__SUBS_REFUSED;
        }
        else if (subscribe) {
            m[i].count++;
            total++;
            want = ZR__SUBS_ADDED;
        }
        else if (m[i].refused) {
            m[i].refused--;
        }
        else if (m[i].count) {
            m[i].count--;
            total--;
            want = ZR__SUBS_REMOVED;
        }
        ZR_EQ(change, want);
        const zr__subs_view_t *v = zr__subs_view(subs);
        size_t r = 0, live = 0;
        for (size_t k = 0; k < N; k++) {
            if (!m[k].count) {
                continue;
            }
            live++;
            if (r < v->nrows) {
                snprintf(topic, sizeof topic, "k%04zu", k);
                const zr__subs_row_t *row = &v->rows[r++];
                ZR_CHECKF(row->size == 5 && memcmp(row->topic, topic, 5) == 0 &&
                              row->count == m[k].count,
                          "step %d, row %zu: %.*s %llu, not %s %llu", step,
                          r - 1, (int) row->size, (const char *) row->topic,
                          (unsigned long long) row->count, topic,
                          (unsigned long long) m[k].count);
            }
        }
        ZR_EQ(v->nrows, live < 1000 ? live : 1000);
        ZR_EQ(v->truncated, live > 1000);
        ZR_EQ(v->total, total);
        ZR_EQ(v->topics, live);
        zr__subs_release(subs, v);
        most = live > most ? live : most;
    }
    ZR_CHECK(most > 1000); /* the list was full, a while at least */
    zr__subs_destroy(&subs);
}

/* max_subscriptions: a refused subscription is in no count and no row;
 * an unsubscribe that names no connection ends a refused one of its
 * topic first, then accepted ones; and an accepted one that ends makes
 * room. */
static void
test_subs_refused(void)
{
    zr__subs_t *subs = zr__subs_new(2);
    ZR_CHECK(subs != NULL);
    ZR_EQ(s_apply(subs, true, "m", 1), ZR__SUBS_ADDED);
    ZR_EQ(s_apply(subs, true, "n", 1), ZR__SUBS_ADDED);
    /* Refused, before the listed topics in byte order and among them. */
    ZR_EQ(s_apply(subs, true, "a", 1), ZR__SUBS_REFUSED);
    ZR_EQ(s_apply(subs, true, "b", 1), ZR__SUBS_REFUSED);
    ZR_EQ(s_apply(subs, true, "m", 1), ZR__SUBS_REFUSED);
    ZR_EQ(zr__subs_overlap(subs, "", 0), 2);
    ZR_EQ(zr__subs_overlap(subs, "a", 1), 0);
    ZR_EQ(zr__subs_overlap(subs, "m", 1), 1);
    const zr__subs_view_t *v = zr__subs_view(subs);
    ZR_EQ(v->total, 2);
    ZR_EQ(v->topics, 2);
    ZR_EQ(v->nrows, 2);
    ZR_CHECK(!v->truncated);
    ZR_CHECK(v->rows[0].size == 1 && v->rows[0].topic[0] == 'm');
    ZR_EQ(v->rows[0].count, 1);
    ZR_CHECK(v->rows[1].size == 1 && v->rows[1].topic[0] == 'n');
    zr__subs_release(subs, v);
    /* The refused "a" goes: nothing changes for anybody. */
    ZR_EQ(s_apply(subs, false, "a", 1), ZR__SUBS_IGNORED);
    ZR_EQ(s_apply(subs, false, "a", 1), ZR__SUBS_IGNORED);
    /* "m" has one of each: the refused one goes first. */
    ZR_EQ(s_apply(subs, false, "m", 1), ZR__SUBS_IGNORED);
    ZR_EQ(zr__subs_total(subs), 2);
    ZR_EQ(s_apply(subs, false, "m", 1), ZR__SUBS_REMOVED);
    ZR_EQ(zr__subs_total(subs), 1);
    /* Room again: "a" is accepted now and listed first. */
    ZR_EQ(s_apply(subs, true, "a", 1), ZR__SUBS_ADDED);
    ZR_EQ(s_apply(subs, true, "c", 1), ZR__SUBS_REFUSED);
    v = zr__subs_view(subs);
    ZR_EQ(v->nrows, 2);
    ZR_CHECK(v->rows[0].topic[0] == 'a' && v->rows[1].topic[0] == 'n');
    zr__subs_release(subs, v);
    /* "b" still has its refused one, unsubscribed last. */
    ZR_EQ(s_apply(subs, false, "b", 1), ZR__SUBS_IGNORED);
    ZR_EQ(s_apply(subs, false, "b", 1), ZR__SUBS_IGNORED);
    ZR_EQ(zr__subs_total(subs), 2);
    zr__subs_destroy(&subs);
}

ZR_TESTS = {
    {"inproc: a late subscriber gets the last value, alone", test_late_joiner},
    {"inproc: no cached value robs nobody", test_no_cached_value_robs_nobody},
    {"inproc: a prefix gets the newest value", test_prefix_newest},
    {"inproc: a prefix gets every value (all)", test_prefix_all},
    {"inproc: the cache evicts the least recently updated", test_eviction},
    {"inproc: the subscription table", test_table},
    {"inproc: a refused subscription's farewell unsubscribes nothing",
     test_limit},
    {"inproc: a stalled subscriber under block", test_block},
    {"inproc: a last value beside a full subscriber (13)",
     test_last_value_beside_full},
    {"tcp: a 200 kB subscription does not crash the relay (13)",
     test_huge_subscription},
    {"inproc: a subscription over max_subscription_size is refused (14)",
     test_long_subscription_refused},
    {"inproc: a stalled subscriber's overflows are counted (13)",
     test_drop_counted},
    {"inproc: two forwarders chained", test_chain_two},
    {"inproc: three forwarders chained", test_chain_three},
    {"inproc: the last value cache stays bounded under churn",
     test_lvc_bounded},
    {"inproc: a STATS reader blocks nothing", test_stats_reader_blocks_nothing},
    {"inproc: STATS lists the first 1000 topics", test_stats_list},
    {"inproc: the table's overlap counts match a model",
     test_subs_overlap_model},
    {"inproc: the table lists its first 1000 topics in order",
     test_subs_list_order},
    {"inproc: the table's list matches a model", test_subs_list_model},
    {"inproc: the table's refused subscriptions", test_subs_refused},
    {"inproc: STATS readers while the table churns", test_stats_readers_churn},
    {"inproc: 5,000 subscriptions at once all reach the publisher",
     test_subscriptions_all_upstream},
    {"inproc: what is not a subscription stays down", test_garbage_stays_down},
    {"ipc: a bridge from ipc inside to tcp outside", test_bridge_ipc_tcp},
    {"ipc: duplicate subscriptions count once", test_duplicates_ipc},
    {"ipc: an unsubscribe of nothing changes nothing",
     test_stray_unsubscribe_ipc},
    {"ipc: subscribers come and go, the count follows", test_churn_ipc},
    {"ipc: a reconnected subscriber counts once",
     test_reconnected_subscriber_ipc},
    {NULL, NULL},
};
ZR_MAIN
