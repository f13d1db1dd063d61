/* s6_asyncsrv.c - S6: asynchronous client/server through a zrelay queue.
 * SPDX-License-Identifier: MIT
 *
 * The seed's asyncsrv in one process: 3 DEALER clients with fixed
 * identities send requests without waiting for replies; a queue device
 * (ROUTER frontend, DEALER backend) runs in a thread of its own; 5 DEALER
 * workers receive [identity, request] and send back 0 to 4 replies at
 * random intervals. The ROUTER prepends the client's identity on the way
 * in and routes by it on the way out, so every reply reaches the client
 * that asked, whichever worker sent it and however many it sent.
 *
 * Unlike the seed (whose backend is inproc://backend and whose loops never
 * end) the workers connect over tcp, each client sends COUNT requests, and
 * the run ends once every worker has answered and every reply has arrived.
 * It checks what the seed only prints: each reply carries its request, the
 * client verifies the request is one of its own, and each request got
 * exactly as many replies as its worker chose to send.
 */
#include "example.h"

#include <getopt.h>
#include <pthread.h>
#include <zrelay.h>

#define S_USAGE                                                                \
    "[-n COUNT] [-i MS] [-d MS] [-t SECONDS] [FRONTEND [BACKEND]]  3 "         \
    "DEALER clients send COUNT requests each (default 5), one every MS "       \
    "(-i, default 1000), through a queue device bound on FRONTEND "            \
    "(default tcp://127.0.0.1:5570) and BACKEND (default "                     \
    "tcp://127.0.0.1:5571) to 5 workers that answer 0-4 times after up "       \
    "to MS each (-d, default 1000); fails unless done within SECONDS "         \
    "(default 60)"

#define S_CLIENTS 3
#define S_WORKERS 5

/* What the threads share; the counters under `lock`. */
typedef struct {
    void *ctx;
    const char *frontend, *backend; /* where to connect: the real ports */
    long requests, interval, delay;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    long handled;      /* requests whose replies all went out */
    long replies_sent; /* by workers, for handled requests */
    long replies_got;  /* by clients */
    long errors;       /* misrouted replies, malformed messages */
    long per_worker[S_WORKERS];
    bool done;
    /* [client][request - 1]: replies the worker chose to send, and the
     * replies the client got. */
    int planned[S_CLIENTS][1000];
    int got[S_CLIENTS][1000];
} s_shared_t;

typedef struct {
    s_shared_t *shared;
    int id;
} s_task_t;

static bool
s_done(s_shared_t *sh)
{
    pthread_mutex_lock(&sh->lock);
    bool done = sh->done;
    pthread_mutex_unlock(&sh->lock);
    return done;
}

static void
s_count(s_shared_t *sh, long *counter, long n)
{
    pthread_mutex_lock(&sh->lock);
    *counter += n;
    pthread_cond_signal(&sh->changed);
    pthread_mutex_unlock(&sh->lock);
}

static void *
s_client(void *arg)
{
    s_task_t *task = arg;
    s_shared_t *sh = task->shared;
    char identity[16];
    snprintf(identity, sizeof identity, "----%d", task->id);
    void *dealer = zmq_socket(sh->ctx, ZMQ_DEALER);
    ex_setint(dealer, ZMQ_LINGER, 0);
    /* A fixed identity: the ROUTER routes replies by it. */
    zmq_setsockopt(dealer, ZMQ_ROUTING_ID, identity, strlen(identity));
    zmq_connect(dealer, sh->frontend);
    printf("Client %s started\n", identity);

    long reqs = 0;
    while (!s_done(sh)) {
        if (reqs < sh->requests) {
            char text[64];
            int len = snprintf(text, sizeof text, "%s request #%ld", identity,
                               ++reqs);
            printf("Client %s: req #%ld sent..\n", identity, reqs);
            /* Fire and forget: replies are read below, whenever. */
            if (zmq_send(dealer, text, (size_t) len, 0) < 0) {
                ex_error(0, "client %s cannot send: %s", identity,
                         zmq_strerror(errno));
                s_count(sh, &sh->errors, 1);
            }
        }
        /* The seed polls 5 times per request; once all are sent, poll in
         * short steps so the end is noticed soon. */
        long wait = reqs < sh->requests ? sh->interval : 100;
        for (int i = 0; i < 5; i++) {
            zmq_pollitem_t item = {.socket = dealer, .events = ZMQ_POLLIN};
            if (zmq_poll(&item, 1, wait) <= 0) {
                if (s_done(sh)) {
                    break;
                }
                continue;
            }
            char reply[64];
            int len = zmq_recv(dealer, reply, sizeof reply - 1, 0);
            if (len < 0) {
                continue;
            }
            reply[len < (int) sizeof reply ? len : (int) sizeof reply - 1] = 0;
            printf("Client %s received: %s\n", identity, reply);
            /* One of ours? "----<our id> request #<one we sent>". */
            char owner[16];
            long k = 0;
            if (sscanf(reply, "%15s request #%ld", owner, &k) == 2 &&
                strcmp(owner, identity) == 0 && k >= 1 && k <= reqs) {
                sh->got[task->id][k - 1]++;
            }
            else {
                ex_error(0, "client %s got a reply not meant for it: '%s'",
                         identity, reply);
                s_count(sh, &sh->errors, 1);
            }
            s_count(sh, &sh->replies_got, 1);
        }
    }
    zmq_close(dealer);
    return NULL;
}

/* [identity, request]: the ROUTER's envelope, then the body. Anything
 * else is read to its end and refused. */
static int
s_recv_request(void *dealer, zmq_msg_t *ident, zmq_msg_t *msg)
{
    if (zmq_msg_recv(ident, dealer, 0) < 0) {
        return -1;
    }
    bool more = zmq_msg_more(ident);
    int frames = 1;
    while (more && zmq_msg_recv(msg, dealer, 0) >= 0) {
        more = zmq_msg_more(msg);
        frames++;
    }
    return frames == 2 && !more ? 0 : -1;
}

static void *
s_worker(void *arg)
{
    s_task_t *task = arg;
    s_shared_t *sh = task->shared;
    unsigned seed = (unsigned) ex_now_ms() ^ (unsigned) task->id * 2654435761u;
    void *dealer = zmq_socket(sh->ctx, ZMQ_DEALER);
    ex_setint(dealer, ZMQ_LINGER, 0);
    zmq_connect(dealer, sh->backend); /* over tcp, like a remote worker */
    printf("Worker-%d started\n", task->id);

    while (!s_done(sh)) {
        zmq_pollitem_t item = {.socket = dealer, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 100) <= 0) {
            continue;
        }
        zmq_msg_t ident, msg;
        zmq_msg_init(&ident);
        zmq_msg_init(&msg);
        int c = -1;
        long k = 0;
        bool ok = s_recv_request(dealer, &ident, &msg) == 0;
        if (ok) {
            char text[64];
            snprintf(text, sizeof text, "%.*s", (int) zmq_msg_size(&msg),
                     (const char *) zmq_msg_data(&msg));
            printf("Worker-%d received %s from %.*s\n", task->id, text,
                   (int) zmq_msg_size(&ident),
                   (const char *) zmq_msg_data(&ident));
            ok = sscanf(text, "----%d request #%ld", &c, &k) == 2 && c >= 0 &&
                 c < S_CLIENTS && k >= 1 && k <= sh->requests;
        }
        if (!ok) {
            ex_error(0, "worker %d got a malformed request", task->id);
            s_count(sh, &sh->errors, 1);
            zmq_msg_close(&ident);
            zmq_msg_close(&msg);
            continue;
        }
        int replies = rand_r(&seed) % 5; /* the seed's randint(0, 4) */
        pthread_mutex_lock(&sh->lock);
        sh->planned[c][k - 1] = replies;
        pthread_mutex_unlock(&sh->lock);
        for (int i = 0; i < replies; i++) {
            /* The seed's time.sleep(1 / randint(1, 10)), scaled by -d. */
            ex_sleep_ms(sh->delay / (1 + rand_r(&seed) % 10));
            zmq_msg_t ic, mc;
            zmq_msg_init(&ic);
            zmq_msg_init(&mc);
            zmq_msg_copy(&ic, &ident);
            zmq_msg_copy(&mc, &msg);
            if (zmq_msg_send(&ic, dealer, ZMQ_SNDMORE) < 0 ||
                zmq_msg_send(&mc, dealer, 0) < 0) {
                ex_error(0, "worker %d cannot reply: %s", task->id,
                         zmq_strerror(errno));
                s_count(sh, &sh->errors, 1);
            }
            zmq_msg_close(&ic);
            zmq_msg_close(&mc);
        }
        zmq_msg_close(&ident);
        zmq_msg_close(&msg);
        pthread_mutex_lock(&sh->lock);
        sh->per_worker[task->id]++;
        sh->replies_sent += replies;
        sh->handled++;
        pthread_cond_signal(&sh->changed);
        pthread_mutex_unlock(&sh->lock);
    }
    zmq_close(dealer);
    return NULL;
}

/* The device's real address for ROLE (the port libzmq picked for '*'). */
static const char *
s_endpoint(zr_device_t *dev, const char *role)
{
    for (size_t i = 0; i < zr_device_endpoint_count(dev); i++) {
        const char *r, *address;
        bool bind;
        zr_device_endpoint(dev, i, &r, &bind, &address);
        if (strcmp(r, role) == 0) {
            return address;
        }
    }
    return NULL;
}

/* Wait until every request is handled and every reply has arrived, the
 * deadline passes or Ctrl-C. */
static bool
s_wait_all(s_shared_t *sh, long timeout)
{
    long long deadline = ex_now_ms() + timeout * 1000;
    long total = S_CLIENTS * sh->requests;
    pthread_mutex_lock(&sh->lock);
    while (!(sh->handled == total && sh->replies_got >= sh->replies_sent) &&
           !ex_interrupted && ex_now_ms() < deadline) {
        /* Short steps: a signal does not wake a condition wait. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sh->changed, &sh->lock, &ts);
    }
    bool all = sh->handled == total && sh->replies_got >= sh->replies_sent;
    sh->done = true;
    pthread_mutex_unlock(&sh->lock);
    return all;
}

int
main(int argc, char **argv)
{
    ex_init(argv[0]);
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'},
        {"delay", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static s_shared_t sh = {.requests = 5, .interval = 1000, .delay = 1000};
    long timeout = 60;
    int opt;
    while ((opt = getopt_long(argc, argv, "n:i:d:t:h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': sh.requests = ex_number("--count", optarg, 1, 1000); break;
        case 'i':
            sh.interval = ex_number("--interval", optarg, 0, 60000);
            break;
        case 'd': sh.delay = ex_number("--delay", optarg, 0, 60000); break;
        case 't': timeout = ex_number("--timeout", optarg, 1, 86400); break;
        case 'h': ex_usage(stdout, S_USAGE); return EX_OK;
        default: ex_usage(stderr, S_USAGE); return EX_USAGE;
        }
    }
    if (argc - optind > 2) {
        ex_usage(stderr, S_USAGE);
        return EX_USAGE;
    }
    const char *front_ep =
        optind < argc ? argv[optind] : "tcp://127.0.0.1:5570";
    const char *back_ep =
        optind + 1 < argc ? argv[optind + 1] : "tcp://127.0.0.1:5571";

    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.changed, NULL);
    for (int c = 0; c < S_CLIENTS; c++) {
        for (int k = 0; k < 1000; k++) {
            sh.planned[c][k] = -1;
        }
    }
    ex_catch_signals();
    sh.ctx = zmq_ctx_new();
    int status = EX_OK;
    /* The seed's ServerTask: ROUTER + DEALER + zmq_proxy, here one
     * device in a thread of its own, sharing our context. */
    zr_device_t *dev = zr_device_new(sh.ctx, ZR_QUEUE, "s6");
    if (!dev) {
        status = ex_error(EX_FAILURE, "cannot create the device: %s",
                          zr_strerror(errno));
        goto done;
    }
    if (zr_device_set_frontend(dev, front_ep) != 0 ||
        zr_device_set_backend(dev, back_ep) != 0 || zr_device_start(dev) != 0) {
        status = ex_error(EX_FAILURE, "%s", zr_device_error(dev));
        goto done;
    }
    sh.frontend = s_endpoint(dev, "frontend");
    sh.backend = s_endpoint(dev, "backend");
    printf("queue: frontend %s, backend %s\n", sh.frontend, sh.backend);

    pthread_t workers[S_WORKERS], clients[S_CLIENTS];
    s_task_t wtasks[S_WORKERS], ctasks[S_CLIENTS];
    for (int i = 0; i < S_WORKERS; i++) {
        wtasks[i] = (s_task_t){&sh, i};
        pthread_create(&workers[i], NULL, s_worker, &wtasks[i]);
    }
    for (int i = 0; i < S_CLIENTS; i++) {
        ctasks[i] = (s_task_t){&sh, i};
        pthread_create(&clients[i], NULL, s_client, &ctasks[i]);
    }
    bool all = s_wait_all(&sh, timeout);
    for (int i = 0; i < S_CLIENTS; i++) {
        pthread_join(clients[i], NULL);
    }
    for (int i = 0; i < S_WORKERS; i++) {
        pthread_join(workers[i], NULL);
    }

    /* Every request got exactly the replies its worker sent. */
    long lost = 0;
    for (int c = 0; c < S_CLIENTS; c++) {
        for (long k = 0; k < sh.requests; k++) {
            if (sh.planned[c][k] > sh.got[c][k]) {
                lost += sh.planned[c][k] - sh.got[c][k];
            }
        }
    }
    zr_stats_t st;
    zr_device_stats(dev, &st);
    printf("%s: %d clients sent %ld requests; workers handled %ld (", ex_name,
           S_CLIENTS, S_CLIENTS * sh.requests, sh.handled);
    for (int i = 0; i < S_WORKERS; i++) {
        printf("%s%ld", i ? " " : "", sh.per_worker[i]);
    }
    printf(") and sent %ld replies; clients got %ld, %ld lost, %ld errors; "
           "queue dropped %llu\n",
           sh.replies_sent, sh.replies_got, lost, sh.errors,
           (unsigned long long) (st.frontend.drop_no_route +
                                 st.frontend.drop_peer_full +
                                 st.frontend.drop_error));
    if (!all && ex_interrupted) {
        status = ex_error(EX_FAILURE, "interrupted before the end");
    }
    else if (!all) {
        status = ex_error(EX_FAILURE,
                          "not done within %ld s: %ld of %ld requests "
                          "handled, %ld of %ld replies arrived",
                          timeout, sh.handled, S_CLIENTS * sh.requests,
                          sh.replies_got, sh.replies_sent);
    }
    else if (lost || sh.errors || sh.replies_got != sh.replies_sent) {
        status = ex_error(EX_FAILURE, "%ld replies lost, %ld errors", lost,
                          sh.errors);
    }
    else {
        printf("%s: every reply reached the client that asked\n", ex_name);
    }
done:
    zr_device_destroy(&dev); /* stops its thread, closes its sockets */
    zmq_ctx_term(sh.ctx);
    pthread_cond_destroy(&sh.changed);
    pthread_mutex_destroy(&sh.lock);
    return status;
}
