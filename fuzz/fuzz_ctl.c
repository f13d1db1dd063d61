/* fuzz_ctl.c - the control protocol (ctl.c): requests of any frames, as a
 * peer sends them, answered by a real device's own control endpoint
 * (device.c's commands on an opened device of each type) and by the
 * daemon's side of ctl.c (LIST, RELOAD, STOP NAME, START NAME) over
 * stand-in devices; fuzz_daemon.c drives a whole daemon. Everything runs
 * in this thread: the request goes in over inproc, the endpoint's
 * callback (caught with ld's --wrap as the device registers it) serves it
 * at once, and the replies are read and checked.
 * Input: a byte (bits 0-1: which endpoint; bits 2-3: how many stand-in
 * devices the daemon has), then the request's frames (fuzz.h).
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include "zr_impl.h"

#include <zmq.h>

/* ---------------------------------------------------------------------
 * The callbacks devices register on their engines.
 */
typedef struct {
    void *socket;
    void (*fn)(void *);
    void *arg;
} s_watch_t;

static s_watch_t s_watches[32];
static size_t s_nwatches;

int __real_zr__engine_watch(zr__engine_t *self, void *socket,
                            void (*fn)(void *), void *arg);
int __wrap_zr__engine_watch(zr__engine_t *self, void *socket,
                            void (*fn)(void *), void *arg);

int
__wrap_zr__engine_watch(zr__engine_t *self, void *socket, void (*fn)(void *),
                        void *arg)
{
    if (s_nwatches < sizeof s_watches / sizeof s_watches[0]) {
        s_watches[s_nwatches++] = (s_watch_t){socket, fn, arg};
    }
    return __real_zr__engine_watch(self, socket, fn, arg);
}

/* ---------------------------------------------------------------------
 * The daemon's side, over stand-ins: what ctl.c asks of a daemon.
 */
static const char *const s_names[] = {"alpha", "beta", "gamma"};
static size_t s_ndevices;
static unsigned s_calls;

static size_t
s_count(void *arg)
{
    (void) arg;
    return s_ndevices;
}

static const char *
s_name(void *arg, size_t i)
{
    (void) arg;
    ZR_FUZZ_CHECK(i < s_ndevices);
    return s_names[i];
}

static void
s_pause(void *arg, size_t i, bool pause)
{
    (void) arg;
    (void) pause;
    ZR_FUZZ_CHECK(i < s_ndevices);
}

static char *
s_stats_json(void *arg, size_t i)
{
    (void) arg;
    ZR_FUZZ_CHECK(i < s_ndevices);
    char buf[64];
    snprintf(buf, sizeof buf, "{\"name\":\"%s\"}", s_names[i]);
    return strdup(buf);
}

static void
s_statistics(void *arg, size_t i, uint64_t out[8])
{
    (void) arg;
    ZR_FUZZ_CHECK(i < s_ndevices);
    for (int k = 0; k < 8; k++) {
        out[k] = (uint64_t) k;
    }
}

static char *
s_list_json(void *arg)
{
    (void) arg;
    return strdup("{\"devices\":[]}");
}

/* Every other call fails, with a reason as long as the room. */
static int
s_fails(char *why, size_t len)
{
    if (++s_calls % 2) {
        return 0;
    }
    memset(why, 'w', len - 1);
    why[len - 1] = 0;
    return -1;
}

static int
s_reload(void *arg, char *why, size_t len)
{
    (void) arg;
    return s_fails(why, len);
}

static int
s_stop_start(void *arg, size_t i, char *why, size_t len)
{
    (void) arg;
    ZR_FUZZ_CHECK(i < s_ndevices);
    return s_fails(why, len);
}

static void
s_terminate(void *arg)
{
    (void) arg;
}

static zr__ctl_counts_t s_counts;
static const zr__ctl_ops_t s_daemon_ops = {.owner = "daemon",
                                           .daemon = true,
                                           .count = s_count,
                                           .name = s_name,
                                           .pause = s_pause,
                                           .stats_json = s_stats_json,
                                           .statistics = s_statistics,
                                           .list_json = s_list_json,
                                           .reload = s_reload,
                                           .stop = s_stop_start,
                                           .start = s_stop_start,
                                           .terminate = s_terminate,
                                           .commands = &s_counts.commands,
                                           .refused = &s_counts.refused,
                                           .unsent = &s_counts.unsent};

/* ---------------------------------------------------------------------
 * The endpoints and their clients.
 */
typedef struct {
    void *server; /* the control socket */
    void *client; /* a DEALER connected to it */
    void (*serve)(void *);
    void *arg;
} s_endpoint_t;

static void *s_ctx;
static zr_device_t *s_devices[3];
static s_endpoint_t s_endpoints[4];
static void *s_daemon_socket;

static void
s_serve_daemon(void *arg)
{
    (void) arg;
    zr__ctl_serve(s_daemon_socket, &s_daemon_ops, NULL);
}

static void *
s_client(const char *address)
{
    void *c = zmq_socket(s_ctx, ZMQ_DEALER);
    int zero = 0;
    ZR_FUZZ_CHECK(c != NULL);
    zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero);
    ZR_FUZZ_CHECK(zmq_connect(c, address) == 0);
    return c;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_ctx = zmq_ctx_new();
    ZR_FUZZ_CHECK(s_ctx != NULL);
    zr_fuzz_log_on();
    static const zr_device_type_t types[] = {ZR_QUEUE, ZR_FORWARDER,
                                             ZR_STREAMER};
    for (int i = 0; i < 3; i++) {
        char name[32], ep[64];
        snprintf(name, sizeof name, "dev-%d", i);
        s_devices[i] = zr_device_new(s_ctx, types[i], name);
        ZR_FUZZ_CHECK(s_devices[i] != NULL);
        snprintf(ep, sizeof ep, "@inproc://fuzz-front-%d", i);
        ZR_FUZZ_CHECK(zr_device_set_frontend(s_devices[i], ep) == 0);
        snprintf(ep, sizeof ep, "@inproc://fuzz-back-%d", i);
        ZR_FUZZ_CHECK(zr_device_set_backend(s_devices[i], ep) == 0);
        snprintf(ep, sizeof ep, "@inproc://fuzz-ctl-%d", i);
        ZR_FUZZ_CHECK(zr_device_set_control(s_devices[i], ep) == 0);
        size_t before = s_nwatches;
        ZR_FUZZ_CHECK(zr_device_open(s_devices[i]) == 0);
        s_endpoint_t *e = &s_endpoints[i];
        for (size_t w = before; w < s_nwatches; w++) {
            if (s_watches[w].arg == s_devices[i]) {
                e->server = s_watches[w].socket;
                e->serve = s_watches[w].fn;
                e->arg = s_watches[w].arg;
            }
        }
        ZR_FUZZ_CHECK(e->serve != NULL);
        e->client = s_client(ep + 1);
    }
    s_daemon_socket = zr__ctl_socket(s_ctx);
    ZR_FUZZ_CHECK(s_daemon_socket != NULL);
    ZR_FUZZ_CHECK(zmq_bind(s_daemon_socket, "inproc://fuzz-daemon") == 0);
    s_endpoints[3] =
        (s_endpoint_t){s_daemon_socket, s_client("inproc://fuzz-daemon"),
                       s_serve_daemon, NULL};
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    uint8_t how = zr_fuzz_byte(&in);
    s_endpoint_t *e = &s_endpoints[how & 3];
    s_ndevices = (how >> 2) & 3;
    s_ndevices = s_ndevices > 3 ? 3 : s_ndevices;

    /* The request: at least one frame, at most 40 (ctl.c keeps 16). */
    int nframes = 0;
    do {
        size_t len;
        const uint8_t *at = zr_fuzz_frame(&in, &len);
        bool more = zr_fuzz_more(&in) && nframes < 39;
        ZR_FUZZ_CHECK(zmq_send(e->client, at, len, more ? ZMQ_SNDMORE : 0) ==
                      (int) len);
        nframes++;
    } while (zr_fuzz_more(&in) && nframes < 40);

    zmq_pollitem_t item = {e->server, 0, ZMQ_POLLIN, 0};
    ZR_FUZZ_CHECK(zmq_poll(&item, 1, 5000) == 1);
    e->serve(e->arg);

    /* One reply at most, each frame of it whole; none left queued. */
    int replies = 0;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, e->client, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            break;
        }
        if (!zmq_msg_more(&part)) {
            replies++;
        }
        zmq_msg_close(&part);
    }
    ZR_FUZZ_CHECK(replies <= 1);
    /* The request was read whole: nothing of it is left. (libzmq may
     * report POLLIN with nothing to read; only a message counts.) */
    zmq_msg_t left;
    zmq_msg_init(&left);
    if (zmq_msg_recv(&left, e->server, ZMQ_DONTWAIT) >= 0) {
        fprintf(stderr, "fuzz_ctl: left after the request: %zu bytes%s\n",
                zmq_msg_size(&left), zmq_msg_more(&left) ? ", more" : "");
        ZR_FUZZ_CHECK(!"a request was not read whole");
    }
    zmq_msg_close(&left);
    /* A TERMINATE or PAUSE leaves the device's engine flagged; nothing
     * runs it, and the flags do not change what the endpoint answers. */
    return 0;
}
