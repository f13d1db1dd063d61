/* fuzz_daemon.c - the daemon's control endpoint (daemon.c's commands
 * through ctl.c) on a running daemon: two devices over inproc, its
 * config in a file so that RELOAD reads one. Each input is one request
 * of any frames from a DEALER; a request the daemon cannot take for a
 * command follows it (the sentinel), and its answer shows that the
 * daemon read the input and still serves. TERMINATE ends the daemon:
 * it is started again for the next input.
 * Input: the request's frames (fuzz.h).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* memmem */
#include "fuzz.h"

#include "zr_impl.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <zmq.h>

static const char s_config[] = "[zrelay]\n"
                               "control = @inproc://fuzz-daemon\n"
                               "linger = 0\n"
                               "[queue q]\n"
                               "frontend = @inproc://fuzz-q-front\n"
                               "backend = @inproc://fuzz-q-back\n"
                               "control = @inproc://fuzz-q-ctl\n"
                               "strategy = lru\n"
                               "[forwarder f]\n"
                               "frontend = @inproc://fuzz-f-front\n"
                               "backend = @inproc://fuzz-f-back\n";

static void *s_ctx;
static char s_path[64];
static zr_daemon_t *s_daemon;
static pthread_t s_thread;
static atomic_bool s_ended;
static void *s_client;
static uint64_t s_seq;

static void *
s_run(void *arg)
{
    (void) arg;
    zr_daemon_run(s_daemon);
    atomic_store(&s_ended, true);
    return NULL;
}

/* A daemon from the config file, running. The endpoints of one just
 * stopped are let go by libzmq's reaper a moment later: until then a bind
 * fails with EADDRINUSE, and the start is tried again. */
static void
s_start(void)
{
    int64_t deadline = zr__now_ms() + 30000;
    for (;;) {
        zr_config_t *cfg = zr_config_load(s_path);
        ZR_FUZZ_CHECK(cfg && zr_config_error_count(cfg) == 0);
        s_daemon = zr_daemon_new(s_ctx);
        ZR_FUZZ_CHECK(s_daemon != NULL);
        if (zr_daemon_start(s_daemon, cfg, s_path) == 0) {
            break; /* the daemon owns CFG, either way */
        }
        int e = errno;
        if (e != EADDRINUSE || zr__now_ms() >= deadline) {
            fprintf(stderr, "fuzz_daemon: %s\n", zr_daemon_error(s_daemon));
            ZR_FUZZ_CHECK(!"the daemon does not start again");
        }
        zr_daemon_destroy(&s_daemon);
        zmq_poll(NULL, 0, 10);
    }
    atomic_store(&s_ended, false);
    ZR_FUZZ_CHECK(pthread_create(&s_thread, NULL, s_run, NULL) == 0);
    s_client = zmq_socket(s_ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s_client, ZMQ_LINGER, &zero, sizeof zero);
    ZR_FUZZ_CHECK(zmq_connect(s_client, "inproc://fuzz-daemon") == 0);
}

static void
s_stop(void)
{
    zmq_close(s_client);
    zr_daemon_stop(s_daemon);
    pthread_join(s_thread, NULL);
    zr_daemon_destroy(&s_daemon);
}

static void
s_at_exit(void)
{
    s_stop();
    unlink(s_path);
    zmq_ctx_term(s_ctx);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    zr_fuzz_log_on();
    zr_log_set_level(ZR_LOG_INFO); /* not one line per message */
    snprintf(s_path, sizeof s_path, "/tmp/zrelay-fuzz-daemon-XXXXXX");
    int fd = mkstemp(s_path);
    ZR_FUZZ_CHECK(fd >= 0);
    ZR_FUZZ_CHECK(write(fd, s_config, sizeof s_config - 1) ==
                  (ssize_t) (sizeof s_config - 1));
    close(fd);
    s_ctx = zmq_ctx_new();
    ZR_FUZZ_CHECK(s_ctx != NULL);
    s_start();
    atexit(s_at_exit);
    return 0;
}

/* Wait for the sentinel's answer (the daemon answers in order): true, or
 * false when the daemon ended (TERMINATE) before it. */
static bool
s_wait_sentinel(const char *sentinel)
{
    int64_t deadline = zr__now_ms() + 30000;
    bool last_more = false, is_sentinel = false;
    while (zr__now_ms() < deadline) {
        zmq_pollitem_t item = {s_client, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 10) == 1) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            ZR_FUZZ_CHECK(zmq_msg_recv(&part, s_client, 0) >= 0);
            size_t n = zmq_msg_size(&part);
            const char *d = zmq_msg_data(&part);
            /* The sentinel's reply: [""], "ERROR: unknown command '...'" */
            if (n > strlen(sentinel) &&
                memmem(d, n, sentinel, strlen(sentinel))) {
                is_sentinel = true;
            }
            last_more = zmq_msg_more(&part);
            zmq_msg_close(&part);
            if (!last_more && is_sentinel) {
                return true;
            }
            if (!last_more) {
                is_sentinel = false;
            }
            continue;
        }
        if (atomic_load(&s_ended)) {
            return false;
        }
    }
    ZR_FUZZ_CHECK(!"the daemon's control endpoint stopped answering");
    return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    int nframes = 0;
    do {
        size_t len;
        const uint8_t *at = zr_fuzz_frame(&in, &len);
        bool more = zr_fuzz_more(&in) && nframes < 39;
        ZR_FUZZ_CHECK(zmq_send(s_client, at, len, more ? ZMQ_SNDMORE : 0) ==
                      (int) len);
        nframes++;
    } while (zr_fuzz_more(&in) && nframes < 40);
    char sentinel[64];
    snprintf(sentinel, sizeof sentinel, "FUZZ-SENTINEL-%llu",
             (unsigned long long) ++s_seq);
    ZR_FUZZ_CHECK(zmq_send(s_client, "", 0, ZMQ_SNDMORE) == 0);
    ZR_FUZZ_CHECK(zmq_send(s_client, sentinel, strlen(sentinel), 0) ==
                  (int) strlen(sentinel));
    if (!s_wait_sentinel(sentinel)) {
        s_stop(); /* TERMINATE: a new daemon for the next input */
        s_start();
    }
    return 0;
}
