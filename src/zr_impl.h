/* zr_impl.h - declarations shared by libzrelay's modules, never installed.
 * SPDX-License-Identifier: MIT
 */
#ifndef ZR_IMPL_H_INCLUDED
#define ZR_IMPL_H_INCLUDED

#include "zrelay.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <zmq.h>

/* ---------------------------------------------------------------------
 * log.c: the level test comes before any argument is evaluated, so a
 * debug line costs one relaxed load when debug is off.
 */
extern _Atomic int zr__log_threshold; /* -1 while no handler is set */
void zr__log(zr_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define zr__log_at(level, ...)                                                 \
    do {                                                                       \
        if ((int) (level) <=                                                   \
            atomic_load_explicit(&zr__log_threshold, memory_order_relaxed))    \
            zr__log((level), __VA_ARGS__);                                     \
    } while (0)
#define ZR_LOG_E(...) zr__log_at(ZR_LOG_ERROR, __VA_ARGS__)
#define ZR_LOG_W(...) zr__log_at(ZR_LOG_WARNING, __VA_ARGS__)
#define ZR_LOG_N(...) zr__log_at(ZR_LOG_NOTICE, __VA_ARGS__)
#define ZR_LOG_I(...) zr__log_at(ZR_LOG_INFO, __VA_ARGS__)
#define ZR_LOG_D(...) zr__log_at(ZR_LOG_DEBUG, __VA_ARGS__)
/* An event about DEVICE: in text "DEVICE: " and the formatted message; in
 * JSON, EVENT and FIELDS ("key", "value", ..., NULL; values NULL or ""
 * left out) as members of their own. Call through ZR_LOG_EVENT. */
void zr__log_event(zr_log_level_t level, const char *device, const char *event,
                   const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define ZR_LOG_EVENT(level, ...)                                               \
    do {                                                                       \
        if ((int) (level) <=                                                   \
            atomic_load_explicit(&zr__log_threshold, memory_order_relaxed))    \
            zr__log_event((level), __VA_ARGS__);                               \
    } while (0)
/* Device names a JSON line's "device" is taken from, when a line starts
 * with one and ": " (devices add theirs while open). */
void zr__log_device(const char *name, bool add);
/* One source's own limit (a socket, a device's refusals), beside the
 * log's per-level one: a flood from one peer cannot crowd out the other
 * sources' lines. True when one more line may go out this second (at
 * most PER_SEC); a new second first says how many the last one left out,
 * as WHAT: N more not logged. One thread per limit. */
typedef struct {
    int64_t second;
    int logged;
    uint64_t unlogged;
} zr__log_limit_t;
bool zr__log_limit(zr__log_limit_t *self, int per_sec, const char *what);

/* ---------------------------------------------------------------------
 * util.c
 */
/* Monotonic milliseconds. */
int64_t zr__now_ms(void);
/* The address and port of the peer of FD, a tcp connection: "1.2.3.4:5"
 * or "[::1]:5"; -1 if it has none (closed, ipc). */
int zr__peer_name(int fd, char *out, size_t len);
/* Shut down the connection on FD (libzmq then closes it and frees what
 * it held), unless FD is no connection (closed, or a listening socket
 * whose number a closed connection's went to): whether it did. */
bool zr__shutdown_connection(int fd);
/* snprintf into a fixed buffer; never overflows, always terminated. */
void zr__errf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Strict parsers: the whole string or -1. A duration is a number with an
 * optional unit (ms, s, m, h; bare: ms); a size an optional k/M/G (KiB,
 * MiB, GiB: powers of 1024). */
int zr__parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
int zr__parse_duration(const char *s, int64_t *ms);
/* The same in microseconds, where "us" is also a unit (bare: ms). */
int zr__parse_duration_us(const char *s, int64_t *us);
int zr__parse_size(const char *s, int64_t *bytes);
/* A list of CPU numbers ("1", "0,2", "2-3"): 0 when TEXT is one, not
 * empty, each number below 1024, each range rising; else -1. */
int zr__parse_cpus(const char *text);
/* Seed libc's rand() from getrandom(2), once per process. libzmq 4.3.4
 * numbers a ROUTER's anonymous peers from rand() and never seeds it, so
 * unseeded the ids are known in advance (zr_seed_random). */
void zr__seed_random(void);
/* A self-pipe to wake a loop from another thread or a signal handler:
 * both ends non-blocking and close-on-exec. zr__wake is
 * async-signal-safe. */
int zr__wake_pipe(int fds[2]);
void zr__wake(int fd);
void zr__wake_drain(int fd);
/* A 64-bit hash of DATA (FNV-1a with a final mix). */
uint64_t zr__hash(const void *data, size_t size);

/* ---------------------------------------------------------------------
 * poll.c
 */
/* zmq_poll's items and result, with one look at each socket before the
 * sleep and after it only at those whose ZMQ_FD signalled (poll.c says
 * why); at most ZR__POLL_MAX items. */
#define ZR__POLL_MAX 32
int zr__poll(zmq_pollitem_t *items, int n, long timeout);

/* Counters written by one thread and read by any: a relaxed load and
 * store, no locked read-modify-write. */
static inline uint64_t
zr__stat_get(const _Atomic uint64_t *v)
{
    return atomic_load_explicit((_Atomic uint64_t *) v, memory_order_relaxed);
}

static inline void
zr__stat_set(_Atomic uint64_t *v, uint64_t n)
{
    atomic_store_explicit(v, n, memory_order_relaxed);
}

static inline void
zr__stat_add(_Atomic uint64_t *v, uint64_t n)
{
    zr__stat_set(v, zr__stat_get(v) + n);
}

/* ---------------------------------------------------------------------
 * stats.c: one table of counters, many renderers. A row says what a
 * value is and where it lives; a section is rows over one struct.
 */
typedef struct cJSON cJSON;
typedef enum {
    ZR__STAT_COUNTER, /* only goes up */
    ZR__STAT_GAUGE,   /* a level now */
    ZR__STAT_FLAG,    /* 0 or 1; true/false in JSON */
    ZR__STAT_TEXT     /* a word (a setting); a string in JSON */
} zr__stat_kind_t;

typedef struct {
    const char *key;    /* in STATS JSON, under the section's path:
                           "drops.no_route" */
    const char *metric; /* the Prometheus family, after "zrelay_"; NULL: a
                           view in STATS only (a sum of other rows) */
    const char *labels; /* this row's labels: "reason=\"no_route\"", or NULL */
    zr__stat_kind_t kind;
    const char *help; /* one sentence */
    size_t offset;    /* of an _Atomic uint64_t in the section's struct */
    double (*get)(const void *base);       /* instead, when it is computed */
    const char *(*text)(const void *base); /* ZR__STAT_TEXT's value */
} zr__stat_t;

typedef struct {
    const char *path;   /* the JSON object its rows go in: "frontend" */
    const char *labels; /* labels of every row: "socket=\"frontend\"" */
    const zr__stat_t *rows;
    size_t nrows;
    const void *base; /* the struct; NULL reads as zeros */
} zr__stat_section_t;

#define ZR__STAT_SECTIONS_MAX 192 /* a majordomo: one per service, peer */
#define ZR__STAT_ROWS(rows) (rows), sizeof(rows) / sizeof((rows)[0])

double zr__stat_value(const zr__stat_t *row, const void *base);
uint64_t zr__stat_u64(const zr__stat_t *row, const void *base);
/* Add every row of SECTIONS to the JSON object ROOT. */
void zr__stats_add(cJSON *root, const zr__stat_section_t *sections, size_t n);
/* The row at PATH ("frontend.msgs_in"), its struct in *BASE; NULL. */
const zr__stat_t *zr__stats_find(const zr__stat_section_t *sections, size_t n,
                                 const char *path, const void **base);
/* libzmq's 8 STATISTICS values. */
void zr__stats_statistics(const zr__stat_section_t *sections, size_t n,
                          uint64_t out[8]);

/* SOCKET's ZeroMQ type (ZMQ_ROUTER), -1 when it has none. */
int zr__socket_type(void *socket);
/* The ZeroMQ socket type's name ("ROUTER"), "?" when unknown. */
const char *zr__socket_type_name(int type);

/* ---------------------------------------------------------------------
 * device.c
 */
void zr__device_errorf(zr_device_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void zr__device_heartbeat(const zr_device_t *self, int *ivl, int *timeout);
/* Which of the device's ROUTERs let a peer take over a connected peer's
 * identity (ZMQ_ROUTER_HANDOVER): ZR__HANDOVER_*. */
enum { ZR__HANDOVER_NONE, ZR__HANDOVER_WORKERS, ZR__HANDOVER_ALL };
int zr__device_router_handover(zr_device_t *self, int which);
/* [federation] A majordomo's `peers` (BIND false) or `peer_bind`. */
int zr__device_set_federation(zr_device_t *self, bool bind, const char *value);
void zr__device_hold(const zr_device_t *self, uint64_t *until,
                     uint64_t *max_msgs, uint64_t *max_bytes, int *timeout);
/* [limits] What a peer can cost a device (issue 14), for option.c to
 * set one by one; the defaults are device.c's S_DEFAULT_* (zrelay(1)). */
typedef struct {
    uint64_t max_msg_frames;         /* of a whole message; 0: no limit */
    uint64_t max_msg_bytes;          /* of a multipart message; 0: none */
    uint64_t max_connections;        /* per socket, open at once; 0: none */
    int handshake_ivl;               /* ms; 0: none (ZMQ_HANDSHAKE_IVL) */
    int64_t max_subscription_size;   /* bytes of one subscription's topic */
    uint64_t max_peer_subscriptions; /* held by one connection; 0: any */
    bool refuse_unversioned;         /* ZAP on NULL sockets that bind */
} zr__limits_t;
zr__limits_t *zr__device_limits(zr_device_t *self);
/* slow_subscriber (BLOCK 1 block, 0 drop, -1 unchanged) and block_timeout
 * (BLOCK_MS, -1 unchanged), set one at a time from option.c. */
void zr__device_slow_subscriber(zr_device_t *self, int block, int block_ms);

/* ---------------------------------------------------------------------
 * msg.c: a whole message as an array of frames. Frames are owned by the
 * array; moving a zr__msg_t moves them. {NULL, 0, 0} is an empty one.
 */
typedef struct {
    zmq_msg_t *frames;
    size_t size, cap;
} zr__msg_t;

/* Room for N frames. Inline: the message path calls it per frame, and
 * it nearly always has the room already. */
int zr__msg_grow(zr__msg_t *self, size_t n);
static inline int
zr__msg_reserve(zr__msg_t *self, size_t n)
{
    return n <= self->cap ? 0 : zr__msg_grow(self, n);
}
/* Append or prepend a frame with a copy of DATA. */
int zr__msg_add(zr__msg_t *self, const void *data, size_t size);
/* A copy of DATA as frame AT (at most the end). */
int zr__msg_insert(zr__msg_t *self, size_t at, const void *data, size_t size);
int zr__msg_addstr(zr__msg_t *self, const char *text);
int zr__msg_prepend(zr__msg_t *self, const void *data, size_t size);
void zr__msg_remove(zr__msg_t *self, size_t at);
/* Move frames FROM.. of SRC to the end of DST (SRC keeps empty ones);
 * -1 ENOMEM. */
int zr__msg_take(zr__msg_t *dst, zr__msg_t *src, size_t from);
/* For side sockets (state, replication, peers), not the message path
 * (the engine's, through outlets): read one whole message without
 * waiting into SELF (cleared first): 0, or -1 with errno (EAGAIN:
 * nothing; ENOMEM). Send SELF whole without waiting: -1 with errno when
 * its first frame cannot go (nothing sent then; libzmq takes the rest of
 * a message whose first frame went); the frames sent are left empty. */
int zr__msg_recv(zr__msg_t *self, void *socket);
int zr__msg_send(zr__msg_t *self, void *socket);
/* Frame I's size and data (I < size). */
static inline size_t
zr__msg_frame_size(const zr__msg_t *self, size_t i)
{
    return zmq_msg_size(&self->frames[i]);
}
static inline const void *
zr__msg_frame_data(const zr__msg_t *self, size_t i)
{
    return zmq_msg_data(&self->frames[i]);
}
/* DST (cleared first) shares SRC's frames (zmq_msg_copy). */
int zr__msg_copy(zr__msg_t *dst, const zr__msg_t *src);
/* DST (destroyed first) takes SRC's frames and array; SRC is empty. */
void zr__msg_move(zr__msg_t *dst, zr__msg_t *src);
size_t zr__msg_bytes(const zr__msg_t *self);
/* Close the frames, keep the array. */
void zr__msg_clear(zr__msg_t *self);
void zr__msg_destroy(zr__msg_t *self);

/* Per-socket counters: written by the engine's thread only, read by
 * anyone (relaxed atomics). */
typedef struct {
    _Atomic uint64_t msgs_in, frames_in, bytes_in;
    _Atomic uint64_t msgs_out, frames_out, bytes_out, msgs_resent;
    _Atomic uint64_t drop_no_route, drop_peer_full, drop_error;
    _Atomic uint64_t drop_shutdown, drop_slow, peer_stalls;
    _Atomic uint64_t drop_too_big; /* [limits] max_msg_frames/_bytes */
    _Atomic uint64_t held;         /* messages the relay holds for it now */
} zr__sockstats_t;

/* ---------------------------------------------------------------------
 * capture.c: a copy of every message sent, both ways, each whole, to the
 * capture socket (an XPUB with ZMQ_XPUB_NODROP); a listener that cannot
 * keep up misses whole messages, counted.
 */
typedef struct zr__capture_t zr__capture_t;
zr__capture_t *zr__capture_new(void *socket);
void zr__capture_destroy(zr__capture_t **self_p);
void *zr__capture_socket(const zr__capture_t *self);
/* Send COPY, a whole message sent on the socket WAY names ("frontend",
 * "backend"), after a frame holding WAY; its frames are consumed either
 * way. */
void zr__capture_send(zr__capture_t *self, const char *way, zr__msg_t *copy);
/* A message went out but no copy could be made. */
void zr__capture_missed(zr__capture_t *self);
/* Read the listeners' subscriptions so that they do not pile up. */
void zr__capture_drain(zr__capture_t *self);
/* SELF may be NULL (zeros). */
void zr__capture_stats(const zr__capture_t *self, uint64_t *msgs,
                       uint64_t *drops);
/* Its section of the stats table ("capture"); SELF may be NULL. */
zr__stat_section_t zr__capture_section(const zr__capture_t *self);

/* ---------------------------------------------------------------------
 * outlet.c: the one way out. Every message the relay emits on a socket
 * goes through its outlet: whole (a peer that vanishes mid-message gets
 * no fragment; PUSH/DEALER/PAIR send it again whole elsewhere), captured,
 * counted, and held or dropped by the socket's policy when refused.
 */
typedef struct zr__outlet_t zr__outlet_t;
typedef enum {
    ZR__OUT_SENT,    /* all of it went out */
    ZR__OUT_HELD,    /* the outlet holds it and waits (see below) */
    ZR__OUT_DROPPED, /* dropped and counted by reason */
    ZR__OUT_ENDED    /* the context was terminated */
} zr__out_t;
/* STATS: the socket's counters; CAPTURE may be NULL; NAME for logs. */
zr__outlet_t *zr__outlet_new(void *socket, zr__sockstats_t *stats,
                             zr__capture_t *capture, const char *name);
void zr__outlet_destroy(zr__outlet_t **self_p);
void *zr__outlet_socket(const zr__outlet_t *self);
void zr__outlet_set_capture(zr__outlet_t *self, zr__capture_t *capture);
/* Which socket it sends on, for the capture: "frontend" or "backend". */
void zr__outlet_set_way(zr__outlet_t *self, const char *way);
/* An XPUB with ZMQ_XPUB_NODROP: after MSECS blocked on a slow subscriber,
 * send the message the lossy way (counted drop_slow). */
void zr__outlet_set_block_timeout(zr__outlet_t *self, int msecs);
/* A message of one frame (moved: FRAME is empty afterwards). */
zr__out_t zr__outlet_send_frame(zr__outlet_t *self, zmq_msg_t *frame);
/* A whole message (moved: MSG is empty afterwards, whatever happened);
 * queued behind what the outlet holds, if anything. */
zr__out_t zr__outlet_send(zr__outlet_t *self, zr__msg_t *msg);
/* Queue MSG (moved: empty afterwards either way) behind what the outlet
 * holds. -1 ENOMEM (dropped, counted). */
int zr__outlet_queue(zr__outlet_t *self, zr__msg_t *msg);
/* Send what it holds, then its queue: SENT once nothing is left. */
zr__out_t zr__outlet_flush(zr__outlet_t *self);
/* At once, ahead of what it holds, never held: 0 (MSG emptied), or -1
 * with libzmq's errno (EAGAIN: full, EHOSTUNREACH: no such peer) and MSG
 * intact. */
int zr__outlet_send_now(zr__outlet_t *self, zr__msg_t *msg);
/* The same; a NODROP XPUB refused (a matching subscriber is full) sends
 * it the lossy way at once, to those with room, counted as an overflow. */
int zr__outlet_send_now_lossy(zr__outlet_t *self, zr__msg_t *msg);
/* Holds a message or has some queued. */
bool zr__outlet_holding(const zr__outlet_t *self);
/* Holds (not yet started) or has queued a message whose first frame is
 * TOPIC: it will still reach whoever subscribes to it now. */
bool zr__outlet_holds_topic(const zr__outlet_t *self, const void *topic,
                            size_t size);
/* Holds a message the socket refused: wait for ZMQ_POLLOUT on it when
 * zr__outlet_waits_pollout, else until zr__outlet_retry_at (ms) or until
 * zr__outlet_wake_fd is readable, then call zr__outlet_wake. */
bool zr__outlet_blocked(const zr__outlet_t *self);
bool zr__outlet_waits_pollout(const zr__outlet_t *self);
int64_t zr__outlet_retry_at(const zr__outlet_t *self);
int zr__outlet_backoff(const zr__outlet_t *self);
int zr__outlet_wake_fd(const zr__outlet_t *self);
void zr__outlet_wake(zr__outlet_t *self);
size_t zr__outlet_queued(const zr__outlet_t *self);
/* Let go of everything it holds, counted as drop_shutdown; how many. */
size_t zr__outlet_discard(zr__outlet_t *self);
/* Add the counts of the last burst to the socket's counters. */
void zr__outlet_publish(zr__outlet_t *self);

/* ---------------------------------------------------------------------
 * engine.c: the loop that moves messages.
 */
typedef struct zr__engine_t zr__engine_t;

/* Directions: frontend to backend, backend to frontend. */
#define ZR__DOWNSTREAM 0
#define ZR__UPSTREAM 1

/* What a handler decides for a whole message. */
typedef enum {
    ZR__SEND,  /* the engine sends it (as the handler left it) */
    ZR__TAKEN, /* the handler moved the frames out (zr__msg_move) */
    ZR__DROP   /* the engine closes it (the handler counted why) */
} zr__verdict_t;

/* A handler sees whole messages of the directions in DIRS (bit 1 << dir),
 * may keep a timer, and at stop may hand back what it holds
 * (zr__engine_inject), which the engine then delivers within linger. */
typedef struct {
    zr__verdict_t (*message)(void *arg, int dir, zr__msg_t *msg);
    /* Called at or after the deadline it last asked for; returns the
     * next one (-1: none). */
    int64_t (*timer)(void *arg, int64_t now);
    void (*flush)(void *arg);
    void *arg;
    unsigned dirs;
} zr__handler_t;

zr__engine_t *zr__engine_new(void);
void zr__engine_destroy(zr__engine_t **self_p);
/* Borrowed sockets: the engine never closes them. Directions follow from
 * the socket types (a PUSH backend only sends, so a PULL/PUSH pair has
 * one direction). FRONTEND == BACKEND (a majordomo's ROUTER): one
 * direction, ZR__DOWNSTREAM, reading the socket and sending on it,
 * counted as the frontend's. -1 EINVAL when no direction is possible. */
int zr__engine_set_sockets(zr__engine_t *self, void *frontend, void *backend);
void zr__engine_set_capture(zr__engine_t *self, void *capture);
/* What STATS reports as the device's name and type. Copied. */
void zr__engine_set_identity(zr__engine_t *self, const char *name,
                             const char *type);
/* [limits] The most frames and bytes a whole message may have (0: no
 * limit); one over them is read to its end and dropped, counted as
 * drops.too_big on the socket it came in on. */
void zr__engine_set_msg_limits(zr__engine_t *self, uint64_t max_frames,
                               uint64_t max_bytes);
/* How long zr__engine_run may spend at stop finishing messages it holds. */
void zr__engine_set_linger(zr__engine_t *self, int msecs);
/* At stop, call CLOSE_INTAKE(ARG) (NULL: none) first, then deliver what
 * the sources still hold too, not only what the engine holds; count what
 * is left. Devices do; zr_proxy, on the caller's sockets, does not. */
void zr__engine_set_drain(zr__engine_t *self, void (*close_intake)(void *),
                          void *arg);
/* zr_proxy: return -1/EINTR when a signal interrupts the wait, as
 * zmq_proxy does (devices go on and look at their stop flag). */
void zr__engine_set_eintr_returns(zr__engine_t *self, bool returns);
void zr__engine_set_busy_poll(zr__engine_t *self, int usecs);
int zr__engine_run(zr__engine_t *self);
/* Thread- and signal-safe requests; the loop acts on them at once. */
void zr__engine_stop(zr__engine_t *self);
void zr__engine_pause(zr__engine_t *self, bool pause);
void zr__engine_stats(const zr__engine_t *self, zr_stats_t *stats);
bool zr__engine_paused(const zr__engine_t *self);
const char *zr__engine_name(const zr__engine_t *self);
/* The engine's sections of the stats table (its sockets, the capture,
 * the loop), at most MAX into OUT; how many. */
size_t zr__engine_sections(const zr__engine_t *self, zr__stat_section_t *out,
                           size_t max);

void zr__engine_set_handler(zr__engine_t *self, const zr__handler_t *handler);
/* Queue MSG (moved: it is empty afterwards) to be sent on SOCKET, the
 * frontend or the backend, ahead of what the engine reads next for it.
 * -1 EINVAL when nothing is ever sent on SOCKET. */
int zr__engine_inject(zr__engine_t *self, void *socket, zr__msg_t *msg);
/* Ask for a handler timer call at WHEN (ms, zr__now_ms's clock). */
void zr__engine_set_deadline(zr__engine_t *self, int64_t when);
/* Send MSG on SOCKET at once, from a handler, outside the order of the
 * messages the engine moves (a last value for a new subscriber, a request
 * for a chosen worker), through the socket's outlet: whole, captured and
 * counted as sent. On success MSG is emptied; on failure (-1 with
 * libzmq's errno: EAGAIN full, EHOSTUNREACH no such peer) it is intact. */
int zr__engine_send_now(zr__engine_t *self, void *socket, zr__msg_t *msg);
/* The same, to every matching subscriber that has room
 * (zr__outlet_send_now_lossy). */
int zr__engine_send_now_lossy(zr__engine_t *self, void *socket, zr__msg_t *msg);
/* SOCKET is an XPUB with ZMQ_XPUB_NODROP: after MSECS blocked on a slow
 * subscriber, send the message the lossy way (counted drop_slow). */
void zr__engine_set_block_timeout(zr__engine_t *self, void *socket, int msecs);
/* The outlet of SOCKET holds a message of TOPIC not yet started (see
 * zr__outlet_holds_topic). */
bool zr__engine_holds_topic(const zr__engine_t *self, void *socket,
                            const void *topic, size_t size);
/* Messages injected for SOCKET and not yet sent. */
size_t zr__engine_queued(const zr__engine_t *self, void *socket);

/* Extra sockets the engine's loop serves (control, monitors, sync): FN(ARG)
 * is called when SOCKET has input, also while data keeps the loop from
 * polling. At most ZR__WATCH_MAX. */
#define ZR__WATCH_MAX 8
int zr__engine_watch(zr__engine_t *self, void *socket, void (*fn)(void *),
                     void *arg);
/* The same for a socket nothing waits on (a monitor's counters): not in
 * the poll set, FN(ARG) is called every ZR__LAZY_MS instead, whatever
 * SOCKET holds (FN reads with ZMQ_DONTWAIT). Keeps it off the path of
 * every message: zmq_poll checks each of its sockets on every wake-up. */
#define ZR__LAZY_MS 100
int zr__engine_watch_lazy(zr__engine_t *self, void *socket, void (*fn)(void *),
                          void *arg);
/* [ha] A timer beside the handler's: FN(ARG, now) is called when the
 * loop starts and then at or after the deadline it returns (ms,
 * zr__now_ms's clock). One per engine. */
void zr__engine_set_ticker(zr__engine_t *self, int64_t (*fn)(void *, int64_t),
                           void *arg);
/* [ha] Standby (FN not NULL): the frontend's requests are not moved;
 * FN(ARG) is called instead whenever the frontend has input, and reads
 * (and drops) them, or ends standby (FN NULL) to let the engine move
 * them. The other direction (replies, a broker's workers) goes on. From
 * the engine's thread, or before it runs. */
void zr__engine_standby(zr__engine_t *self, void (*fn)(void *), void *arg);
bool zr__engine_standing_by(const zr__engine_t *self);
/* [limits] SEEN(ARG, frame) on the last frame of every message read from
 * SOCKET, until called again with SEEN NULL (unended.c: costs a call per
 * message while set). */
void zr__engine_track(zr__engine_t *self, void *socket,
                      void (*seen)(void *, zmq_msg_t *), void *arg);
/* [limits] Whether SOCKET went unread for a while since the last call:
 * its direction held a message it could not send, or the engine was
 * paused (or nothing reads it). */
bool zr__engine_parked(zr__engine_t *self, void *socket);
/* How many times SOCKET was read until it had nothing (its direction ran
 * dry). A handler that hears of something from elsewhere (a monitor's
 * DISCONNECTED) and must first see every message that came before it
 * waits until this grows. */
uint64_t zr__engine_drained(zr__engine_t *self, void *socket);

/* ---------------------------------------------------------------------
 * monitor.c: connection counters from libzmq's socket monitor.
 */
typedef struct zr__monitor_t zr__monitor_t;
zr__monitor_t *zr__monitor_new(void *ctx, void *socket);
/* SOCKET: the monitored socket, still open, or NULL if closed already. */
void zr__monitor_destroy(zr__monitor_t **self_p, void *socket);
void *zr__monitor_socket(zr__monitor_t *self);
/* Read pending events (an engine watch callback; ARG is the monitor). */
void zr__monitor_drain(void *arg);
/* FN(ARG, fd) on each connection of the socket that closes (tcp, ipc:
 * inproc has no fd and no such event in libzmq 4.3.4), from
 * zr__monitor_drain. The fd is the one zmq_msg_get(ZMQ_SRCFD) gives for
 * the connection's messages; events come in order, so a fd reused by a
 * new connection has its DISCONNECTED drained before the new one's
 * first message can be read. */
void zr__monitor_on_disconnect(zr__monitor_t *self, void (*fn)(void *, int),
                               void *arg);
void zr__monitor_stats(const zr__monitor_t *self, zr_conn_stats_t *out);
/* Handshakes that failed before any ZAP decision (no detail, protocol
 * errors): auth.denied.protocol on a secured side. SELF may be NULL. */
uint64_t zr__monitor_failed_before_zap(const zr__monitor_t *self);
/* [limits] Close a connection accepted while MAX (0: no limit) are open
 * already, or on a descriptor at or above FD_LINE (0: none), counted.
 * AT_ZAP: the socket's ZAP handler asks zr__monitor_admit about each new
 * connection, so MAX is enforced there, before any message, and not here;
 * only for a monitor the engine watches lazily (its pair is then shared
 * with the handler's thread, under the monitor's lock). */
void zr__monitor_set_limits(zr__monitor_t *self, uint64_t max, int fd_line,
                            bool at_zap);
/* [limits] Whether a connection now in its handshake may stay: false,
 * counted, when more than max_connections would be open with it. Any
 * thread; drains the events first. */
bool zr__monitor_admit(zr__monitor_t *self);
/* [limits] The descriptors of the socket's open connections (tcp, ipc),
 * as of the events read now: how many there are; the first MAX of them
 * in OUT. */
size_t zr__monitor_fds(zr__monitor_t *self, int *out, size_t max);
/* Names for its log lines (connection events): DEVICE and SIDE
 * ("frontend", "backend"), kept, not copied. */
void zr__monitor_set_names(zr__monitor_t *self, const char *device,
                           const char *side);
/* Its section of the stats table, at PATH ("frontend.connections") with
 * LABELS; SELF may be NULL (zeros). */
zr__stat_section_t zr__monitor_section(const zr__monitor_t *self,
                                       const char *path, const char *labels);

/* ---------------------------------------------------------------------
 * unended.c: [limits] a connection stuck in a message that never ends
 * (libzmq hides a message until its last frame and its high-water mark
 * counts whole messages) is closed, counted. Looks only while memory
 * grows; tcp only.
 */
typedef struct zr__unended_t zr__unended_t;
/* For SOCKET of ENGINE, whose connections MONITOR lists; NAME and SIDE
 * for the log. A connection that receives more than MAX_BYTES and
 * MAX_FRAMES frame headers without a message is closed. */
zr__unended_t *zr__unended_new(zr__engine_t *engine, void *socket,
                               zr__monitor_t *monitor, const char *name,
                               const char *side, uint64_t max_bytes,
                               uint64_t max_frames);
void zr__unended_destroy(zr__unended_t **self_p);
/* The look, every ZR__LAZY_MS (an engine lazy watch; ARG is the guard). */
void zr__unended_tick(void *arg);
/* Its section of the stats table, at PATH ("frontend.connections") with
 * LABELS; SELF may be NULL (zeros). */
zr__stat_section_t zr__unended_section(const zr__unended_t *self,
                                       const char *path, const char *labels);

/* ---------------------------------------------------------------------
 * pubsub.c: the forwarder's handler, which ties together the subscription
 * table (subs.c), the sync service (sync_service.c), the gate (gate.c)
 * and last values (lastvalue.c over the cache in lvc.c).
 */
typedef struct zr__pubsub_t zr__pubsub_t;
typedef struct {
    bool last_value;            /* keep the last message of each topic */
    bool last_value_all;        /* a prefix gets every match, not the newest */
    uint64_t lv_max_topics;     /* 0: no bound */
    uint64_t lv_max_bytes;      /* 0: no bound */
    uint64_t max_subscriptions; /* 0: no limit */
    uint64_t max_subscription_size;  /* bytes of a topic; 0: any */
    uint64_t max_peer_subscriptions; /* of one connection; 0: any */
    uint64_t hold_until;             /* 0: no gate */
    uint64_t hold_max;               /* messages held at most (0: no bound) */
    uint64_t hold_max_bytes;         /* bytes held at most (0: no bound) */
    int64_t hold_timeout;            /* ms a message may wait (0: forever) */
} zr__pubsub_opts_t;
/* The device's forwarder options, for option.c to set one by one. */
zr__pubsub_opts_t *zr__device_pubsub_opts(zr_device_t *self);
/* Installs itself as ENGINE's handler; SYNC may be NULL. */
zr__pubsub_t *zr__pubsub_new(zr__engine_t *engine, const char *name,
                             void *frontend, void *backend, void *sync,
                             const zr__pubsub_opts_t *opts);
void zr__pubsub_destroy(zr__pubsub_t **self_p);
/* Adds the forwarder's objects to STATS (any thread). */
/* Its sections of the stats table (subscriptions, last_value, sync,
 * gate), at most MAX into OUT; how many. */
size_t zr__pubsub_sections(const zr__pubsub_t *self, zr__stat_section_t *out,
                           size_t max);
/* The one list in STATS that is no row: the subscribed topics (the first
 * 1000, from a snapshot; no lock). */
void zr__pubsub_lists(const zr__pubsub_t *self, cJSON *stats);

/* subs.c: the subscription table. Written by the device thread only. */
typedef struct zr__subs_t zr__subs_t;
typedef enum {
    ZR__SUBS_ADDED,   /* a new subscription, accepted: apply it, pass it on */
    ZR__SUBS_REFUSED, /* a new one over max_subscriptions: neither */
    ZR__SUBS_REMOVED, /* an accepted one ended: unapply it, pass it on */
    ZR__SUBS_IGNORED  /* it changes nothing for anybody */
} zr__subs_change_t;
zr__subs_t *zr__subs_new(uint64_t max_subscriptions);
/* Refuse, as over max_subscriptions, a topic longer than MAX_SIZE bytes
 * (0: any length). */
void zr__subs_set_max_size(zr__subs_t *self, size_t max_size);
/* [limits] Subscriptions one connection may hold (those libzmq names:
 * tcp, ipc); beyond, refused as beyond max_subscriptions. 0: any. */
void zr__subs_set_max_per_peer(zr__subs_t *self, uint64_t max);
void zr__subs_destroy(zr__subs_t **self_p);
/* FRAME, from the backend XPUB, is "\x01TOPIC" or "\x00TOPIC". */
zr__subs_change_t zr__subs_apply(zr__subs_t *self, zmq_msg_t *frame);
uint64_t zr__subs_total(const zr__subs_t *self);
/* [limits] Refused subscriptions that subscribers still hold: libzmq
 * keeps each (ZMQ_XPUB_MANUAL's own trie) until its subscriber goes. */
uint64_t zr__subs_refused_held(const zr__subs_t *self);
/* Subscriptions that overlap PREFIX: those it starts with (they receive
 * messages on PREFIX) and those that start with it. */
uint64_t zr__subs_overlap(const zr__subs_t *self, const void *prefix,
                          size_t len);
/* Device thread: make the changes since the last call visible to
 * readers (cheap when nothing changed). */
void zr__subs_publish(zr__subs_t *self);
bool zr__subs_changed(const zr__subs_t *self);
/* Any thread: the table as last published, the same until released.
 * Never waits for the device thread, nor makes it wait. */
typedef struct {
    const unsigned char *topic;
    size_t size;
    uint64_t count;
} zr__subs_row_t;
typedef struct {
    uint64_t total;  /* accepted subscriptions */
    uint64_t topics; /* distinct topics among them */
    size_t nrows;    /* the first topics in byte order, at most 1000 */
    bool truncated;  /* there are more topics than rows */
    const zr__subs_row_t *rows;
} zr__subs_view_t;
const zr__subs_view_t *zr__subs_view(zr__subs_t *self);
void zr__subs_release(zr__subs_t *self, const zr__subs_view_t *view);
/* Its section of the stats table ("subscriptions"), and the topic list
 * of STATS from a view (any thread). */
zr__stat_section_t zr__subs_section(const zr__subs_t *self);
void zr__subs_list(zr__subs_t *self, cJSON *stats);

/* holders.c: which subscriber connection holds which subscription (for
 * the connections libzmq names: tcp, ipc). */
typedef struct zr__holders_t zr__holders_t;
/* COUNTED_STATE: the state of the holds zr__holders_count counts. */
zr__holders_t *zr__holders_new(int counted_state);
void zr__holders_destroy(zr__holders_t **self_p);
/* The connection FRAME (a subscription from the XPUB) came from, >= 0,
 * or -1 when libzmq names none. Forgets what it knew of an earlier
 * connection on the same descriptor. */
int zr__holders_who(zr__holders_t *self, zmq_msg_t *frame);
/* The STATE (>= 0) WHO holds TOPIC with, or -1 when it does not. */
int zr__holders_get(const zr__holders_t *self, int who, const void *topic,
                    size_t size);
/* WHO holds TOPIC now (it did not): -1 ENOMEM. */
int zr__holders_put(zr__holders_t *self, int who, const void *topic,
                    size_t size, int state);
void zr__holders_drop(zr__holders_t *self, int who, const void *topic,
                      size_t size);
/* How many topics WHO holds in the counted state. */
uint64_t zr__holders_count(const zr__holders_t *self, int who);

/* sync_service.c: the sync endpoint (docs/SYNC.md). */
typedef struct zr__syncsvc_t zr__syncsvc_t;
/* Serves requests on SYNC (an engine watch); probes go upstream on
 * FRONTEND; counts come from SUBS. */
zr__syncsvc_t *zr__syncsvc_new(zr__engine_t *engine, const char *name,
                               void *sync, void *frontend,
                               const zr__subs_t *subs);
void zr__syncsvc_destroy(zr__syncsvc_t **self_p);
/* FIRST, a publication's first frame, is a probe: consumed, always. */
bool zr__syncsvc_is_probe(const zmq_msg_t *first);
/* A probe came through. */
void zr__syncsvc_probe(zr__syncsvc_t *self, const zmq_msg_t *first);
/* The subscriptions changed: waiters whose count is reached go on. */
void zr__syncsvc_check(zr__syncsvc_t *self);
/* Answers the waiters whose time is up; the next deadline or -1. */
int64_t zr__syncsvc_timer(zr__syncsvc_t *self, int64_t now);
zr__stat_section_t zr__syncsvc_section(const zr__syncsvc_t *self);

/* gate.c: hold_until. */
typedef struct zr__gate_t zr__gate_t;
zr__gate_t *zr__gate_new(zr__engine_t *engine, void *backend,
                         const zr__pubsub_opts_t *opts);
void zr__gate_destroy(zr__gate_t **self_p);
/* A publication while SUBSCRIPTIONS exist: true when the gate keeps it
 * (MSG emptied), false when it goes on now. */
bool zr__gate_take(zr__gate_t *self, zr__msg_t *msg, uint64_t subscriptions);
/* FN(ARG, MSG) for each held message as it goes on (last values are
 * stored then: a message still at the gate is no last value yet). */
void zr__gate_on_release(zr__gate_t *self,
                         void (*fn)(void *arg, const zr__msg_t *msg),
                         void *arg);
/* The subscriptions changed: when there are enough, all held go on. */
void zr__gate_update(zr__gate_t *self, uint64_t subscriptions);
int64_t zr__gate_timer(zr__gate_t *self, int64_t now);
/* At stop: what it holds goes on. */
void zr__gate_flush(zr__gate_t *self);
zr__stat_section_t zr__gate_section(const zr__gate_t *self);

/* lastvalue.c: last values for new subscribers. */
typedef struct zr__lastvalue_t zr__lastvalue_t;
zr__lastvalue_t *zr__lastvalue_new(zr__engine_t *engine, void *backend,
                                   const zr__pubsub_opts_t *opts);
void zr__lastvalue_destroy(zr__lastvalue_t **self_p);
void zr__lastvalue_store(zr__lastvalue_t *self, const zr__msg_t *msg);
/* A subscription to PREFIX was just applied: send it what it matches. */
void zr__lastvalue_subscribed(zr__lastvalue_t *self, const void *prefix,
                              size_t len);
zr__stat_section_t zr__lastvalue_section(const zr__lastvalue_t *self);

/* lvc.c: the last value cache. */
typedef struct zr__lvc_t zr__lvc_t;
zr__lvc_t *zr__lvc_new(size_t max_topics, size_t max_bytes);
void zr__lvc_destroy(zr__lvc_t **self_p);
/* Keep a copy (shared bodies) of MSG as its topic's last value. */
void zr__lvc_store(zr__lvc_t *self, const zr__msg_t *msg);
/* How many cached topics start with PREFIX; the newest MAX of them in
 * OUT, newest first. */
size_t zr__lvc_match(zr__lvc_t *self, const void *prefix, size_t len,
                     const zr__msg_t **out, size_t max);
void zr__lvc_stats(const zr__lvc_t *self, uint64_t *topics, uint64_t *bytes,
                   uint64_t *evictions);
/* The hash table's size in slots (for tests: memory follows the bounds). */
size_t zr__lvc_slots(const zr__lvc_t *self);

/* ---------------------------------------------------------------------
 * requests.c: requests waiting for a worker, in the order they came (the
 * queue of broker.c and of mdp.c). A broker's own request struct starts
 * with a zr__request_t, so a pointer to the one is a pointer to the
 * other. {NULL, NULL, 0} is an empty queue; the queue links requests, it
 * never frees one.
 */
typedef struct zr__request_t {
    struct zr__request_t *next;
    int retries;   /* times sent to another worker after one died */
    int64_t since; /* when it (last) began to wait */
} zr__request_t;
typedef struct {
    zr__request_t *head, *tail;
    size_t size;
} zr__requests_t;
/* R at the end of the line, or (push_front) first in line. */
void zr__requests_push(zr__requests_t *self, zr__request_t *r);
void zr__requests_push_front(zr__requests_t *self, zr__request_t *r);
/* The first in line, taken off; NULL when there is none. */
zr__request_t *zr__requests_pop(zr__requests_t *self);
/* All of SRC to the end of SELF, in order; SRC is empty afterwards. */
void zr__requests_append(zr__requests_t *self, zr__requests_t *src);
/* The requests that began to wait LIMIT ms or more before NOW go, in
 * order, to the end of EXPIRED (the caller answers them); the others stay
 * in order. LIMIT <= 0: none. Returns how many went. */
size_t zr__requests_expire(zr__requests_t *self, int64_t now, int64_t limit,
                           zr__requests_t *expired);
/* The timer's next deadline NEXT, made sooner so that requests with a
 * LIMIT ms request_timeout are looked at at least every LIMIT / 4 + 1 ms
 * (LIMIT <= 0: NEXT). */
int64_t zr__requests_next_check(int64_t now, int64_t limit, int64_t next);

/* ---------------------------------------------------------------------
 * ready.c: workers ready for a request, the least recently ready first
 * (broker.c's lru list, each service's in mdp.c). A broker's own worker
 * struct starts with a zr__ready_link_t, so a pointer to the one is a
 * pointer to the other. {NULL, NULL} is an empty list.
 */
typedef struct zr__ready_link_t {
    struct zr__ready_link_t *prev, *next;
} zr__ready_link_t;
typedef struct {
    zr__ready_link_t *head, *tail; /* head: the least recently ready */
} zr__ready_t;
/* W (on no list) at the tail: it is the most recently ready. */
void zr__ready_append(zr__ready_t *self, zr__ready_link_t *w);
/* W (on SELF) off the list. */
void zr__ready_unlink(zr__ready_t *self, zr__ready_link_t *w);

/* ---------------------------------------------------------------------
 * broker.c: the queue's handler for strategies lru and hash.
 */
typedef struct zr__broker_t zr__broker_t;
enum { ZR__STRATEGY_RR = 0, ZR__STRATEGY_LRU = 1, ZR__STRATEGY_HASH = 2 };
typedef struct {
    int strategy;
    int heartbeat;        /* ms between heartbeats to ppp workers */
    int liveness;         /* heartbeats an idle ppp worker may miss */
    int busy_timeout;     /* ms a worker may be busy (0: forever) */
    int retries;          /* re-dispatches of a request after a death */
    uint64_t max_waiting; /* requests waiting at most (0: no bound) */
    int request_timeout;  /* ms a request may wait (0: forever) */
    uint64_t hash_frame;  /* hash: which body frame is the key */
} zr__broker_opts_t;
/* Installs itself as ENGINE's handler; BACKEND is a ROUTER. */
zr__broker_t *zr__broker_new(zr__engine_t *engine, const char *name,
                             void *frontend, void *backend,
                             const zr__broker_opts_t *opts);
void zr__broker_destroy(zr__broker_t **self_p);
/* MONITOR (the backend's): a worker whose connection closes is gone at
 * once, not at its heartbeats or busy_timeout. */
void zr__broker_watch(zr__broker_t *self, zr__monitor_t *monitor);
/* Its section of the stats table ("broker"). */
zr__stat_section_t zr__broker_section(const zr__broker_t *self);
/* The device's queue (or majordomo) options, for option.c to set one by
 * one. */
zr__broker_opts_t *zr__device_broker_opts(zr_device_t *self);

/* ---------------------------------------------------------------------
 * mdp.c: the majordomo's handler: Majordomo MDP/0.1 and 0.2 with MMI
 * (docs/MAJORDOMO.md). OPTS: heartbeat, liveness, retries, max_waiting
 * and request_timeout (strategy, busy_timeout, hash_frame unused).
 */
typedef struct zr__mdp_t zr__mdp_t;
/* Installs itself as ENGINE's handler; SOCKET is the one ROUTER, the
 * engine's frontend and backend both (zr__engine_set_sockets). */
zr__mdp_t *zr__mdp_new(zr__engine_t *engine, const char *name, void *socket,
                       const zr__broker_opts_t *opts);
void zr__mdp_destroy(zr__mdp_t **self_p);
/* MONITOR (the socket's): a worker whose connection closes is gone at
 * once. */
void zr__mdp_watch(zr__mdp_t *self, zr__monitor_t *monitor);
/* [ha] HA (may be NULL) decides whether clients' requests are served:
 * those it refuses are dropped (issue 17). */
typedef struct zr__ha_t zr__ha_t;
void zr__mdp_set_ha(zr__mdp_t *self, zr__ha_t *ha);
/* Its sections of the stats table: "majordomo", then one per service
 * ("services.NAME", label service="NAME"), at most MAX into OUT. */
size_t zr__mdp_sections(const zr__mdp_t *self, zr__stat_section_t *out,
                        size_t max);

/* ---------------------------------------------------------------------
 * fed.c: federation of brokers, majordomos or lru queues
 * (docs/SCALING.md, Federation): state flow over PUB/SUB, requests to
 * peers with a hop frame in their envelope. The broker (the OWNER: mdp.c
 * or broker.c) calls zr__fed_*; fed.c calls it through its
 * zr__fed_owner_t.
 */
typedef struct zr__fed_t zr__fed_t;
typedef struct {
    const char *peers; /* the other brokers' state endpoints, comma list */
    const char *bind;  /* this broker's state endpoint (a PUB), or NULL */
    int heartbeat;     /* ms between state messages */
    int liveness;      /* a peer silent this many of its heartbeats: dead */
    bool queue;        /* an lru queue's: requests [hop, "", body...] */
    uint64_t max_msg_bytes; /* a frame from a peer at most; 0: any (the
                               device's max_msg_size, else its limit on a
                               whole message) */
} zr__fed_opts_t;
#define ZR__HOP_MAX 128       /* bytes of a hop frame, "zrelay-hop:NAME:SEQ" */
#define ZR__FED_QUEUE "queue" /* the one service a queue advertises */
/* What fed.c asks of the broker that federates; OWNER is its first
 * argument, REQ one of its requests. */
typedef struct {
    /* FN(ARG, service, len, ready) per service with local workers, with
     * how many of them are ready. */
    void (*ready)(void *owner, void (*fn)(void *, const char *, size_t, size_t),
                  void *arg);
    /* The reply frames from AT of MSG go to REQ's client (as service
     * SVC); REQ is freed. */
    void (*answer)(void *owner, void *req, const char *svc, size_t len,
                   zr__msg_t *msg, size_t at);
    /* REQ's peer died: back to the local queue, at its front, with the
     * time it arrived (request_timeout still counts from then); it may
     * go to another peer at once. */
    void (*giveback)(void *owner, void *req, const char *svc, size_t len);
    /* A peer has ready workers for SVC: requests waiting may go. */
    void (*offer)(void *owner, const char *svc, size_t len);
    void (*free)(void *req);
} zr__fed_owner_t;
extern const zr__fed_owner_t zr__mdp_fed;    /* mdp.c */
extern const zr__fed_owner_t zr__broker_fed; /* broker.c */
/* The state flow and request sockets of OWNER (the device's broker,
 * named NAME, reached through OPS), on ENGINE's loop; ADVERTISE is the
 * client endpoint peers send requests to. NULL with ERR set. */
zr__fed_t *zr__fed_new(void *ctx, zr__engine_t *engine,
                       const zr__fed_owner_t *ops, void *owner,
                       const char *name, const char *advertise,
                       const zr__fed_opts_t *opts, char *err, size_t errsize);
void zr__fed_destroy(zr__fed_t **self_p);
/* FRAME is a hop frame: the request came from a peer broker. */
bool zr__fed_is_hop(const zmq_msg_t *frame);
/* REQ (the owner's, for service SVC, with BODY) goes to the live peer
 * with the most ready workers for SVC: true, and it is fed.c's until it
 * goes back through the owner's answer or giveback; false: no peer can
 * take it now (the caller keeps it). */
bool zr__fed_forward(zr__fed_t *self, void *req, const char *svc, size_t len,
                     const zr__msg_t *body);
/* Every heartbeat: publish our state, declare silent peers dead. */
void zr__fed_tick(zr__fed_t *self, int64_t now);
/* At stop: every forwarded request back to the owner. */
void zr__fed_flush(zr__fed_t *self);
/* A request forwarded LIMIT ms (> 0) or more ago and not answered, taken
 * back from its peer (the owner's again: federation.requests.expired),
 * its service into SVC (256 bytes) and *LEN when not NULL; or NULL. */
void *zr__fed_expired(zr__fed_t *self, int64_t now, int64_t limit, char *svc,
                      size_t *len);
/* "federation", then "peers.NAME" per peer, at most MAX into OUT. */
size_t zr__fed_sections(const zr__fed_t *self, zr__stat_section_t *out,
                        size_t max);
/* The device's federation (device.c made it), for the broker to call. */
void zr__mdp_set_fed(zr__mdp_t *self, zr__fed_t *fed);
void zr__broker_set_fed(zr__broker_t *self, zr__fed_t *fed);

/* ---------------------------------------------------------------------
 * ha.c: a high-availability pair (Binary Star): the state machine, and
 * the node that runs it in a device's thread (docs/SCALING.md).
 */
/* Roles, states, and the events that are the peer's states, numbered
 * alike (a peer in state S is event S); ZR__HA_OFF: no pair. */
enum {
    ZR__HA_OFF = 0,
    ZR__HA_PRIMARY = 1,       /* started as the primary, waiting for the peer */
    ZR__HA_BACKUP = 2,        /* started as the backup, waiting for the peer */
    ZR__HA_ACTIVE = 3,        /* serving clients */
    ZR__HA_PASSIVE = 4,       /* not serving; takes over on failover */
    ZR__HA_CLIENT_REQUEST = 5 /* an event only */
};
/* The transitions, by kind (ha.transitions.KIND). */
enum {
    ZR__HA_READY,        /* primary -> active: the backup is there */
    ZR__HA_FOLLOW,       /* primary/backup -> passive: the peer is active */
    ZR__HA_ALONE,        /* primary -> active: a request, no peer heard */
    ZR__HA_FAILOVER,     /* passive -> active: a request, the peer silent */
    ZR__HA_PEER_RESTART, /* passive -> active: the peer restarted */
    ZR__HA_DUAL_ACTIVE,  /* active -> passive (backup): both were active */
    ZR__HA_DUAL_PASSIVE, /* passive -> active (primary): both passive */
    ZR__HA_KINDS
};
typedef struct {
    int state;    /* the state after the event */
    int kind;     /* the transition made (ZR__HA_READY ...), -1: none */
    int conflict; /* ZR__HA_DUAL_ACTIVE or _PASSIVE when seen, else -1 */
    bool serve;   /* CLIENT_REQUEST: the request may be served */
} zr__ha_step_t;
/* The Binary Star state machine: a node of ROLE in STATE after EVENT;
 * PEER_DEAD: the peer has been silent for two heartbeats (the only thing
 * a client request looks at). */
zr__ha_step_t zr__ha_next(int role, int state, int event, bool peer_dead);
const char *zr__ha_state_name(int state);
const char *zr__ha_kind_name(int kind);

typedef struct {
    int role;             /* ZR__HA_OFF, _PRIMARY, _BACKUP */
    int heartbeat;        /* ms */
    zr_endpoints_t *bind; /* ha_bind: its PUB (a bare endpoint binds) */
    zr_endpoints_t *peer; /* ha_peer: its SUB (a bare endpoint connects) */
    /* [ha_sync] titanic on a pair: -1 unset (yes), 0 no, 1 yes */
    int sync;
    zr_endpoints_t *sync_bind; /* ha_sync_bind: its ROUTER (binds) */
    zr_endpoints_t *sync_peer; /* ha_sync_peer: its DEALER (connects) */
} zr__ha_opts_t;
/* The device's ha options, for option.c to set one by one. */
zr__ha_opts_t *zr__device_ha_opts(zr_device_t *self);
/* The options make sense together: -1 EINVAL with why in ERR. */
int zr__ha_check(const zr__ha_opts_t *opts, char *err, size_t errlen);
/* The same, and with the device's other options (not with titanic). */
int zr__device_check_ha(zr_device_t *self, char *err, size_t errlen);
/* A node on ENGINE (its ticker, a watch, its standby) whose clients come
 * in on FRONTEND (the engine's standby while it does not serve), or
 * (FRONTEND NULL) whose handler asks zr__ha_client_request about each
 * request (a majordomo: its one socket carries its workers' traffic
 * too). Sockets on CTX. NULL with why in ERR. */
zr__ha_t *zr__ha_new(void *ctx, zr__engine_t *engine, const char *name,
                     const zr__ha_opts_t *opts, void *frontend, char *err,
                     size_t errlen);
void zr__ha_destroy(zr__ha_t **self_p);
/* A client request came (a handler that sees requests itself, when the
 * node is not active): whether to serve it; if not, it is counted as
 * refused and the caller drops it. Device thread. */
bool zr__ha_client_request(zr__ha_t *self);
/* Its state now (any thread). */
int zr__ha_state(const zr__ha_t *self);
/* [ha_sync] FN(ARG, state) after each change of state (device thread). */
void zr__ha_set_listener(zr__ha_t *self, void (*fn)(void *, int), void *arg);
/* [ha_sync] A passive node takes over only while SYNCED (its store has
 * all the active one acknowledged); a node starts synced. */
void zr__ha_set_synced(zr__ha_t *self, bool synced);
/* [ha_sync] Heard from the peer in the last two heartbeats (device
 * thread); the heartbeat (ms). */
bool zr__ha_peer_alive(const zr__ha_t *self);
int zr__ha_heartbeat(const zr__ha_t *self);
/* Its section of the stats table ("ha"). */
zr__stat_section_t zr__ha_section(const zr__ha_t *self);

/* ---------------------------------------------------------------------
 * titanic.c: durable requests for the majordomo (RFC 9 Titanic) in LMDB
 * (docs/MAJORDOMO.md, "Durability: Titanic").
 */
typedef struct zr__titanic_t zr__titanic_t;
typedef struct {
    const char *dir;    /* NULL: no Titanic */
    uint64_t max_bytes; /* the LMDB map's size */
    bool commit_each;   /* one commit per request (else: group commit) */
    bool ha;            /* [ha_sync] on a pair: dispatch only while active */
} zr__titanic_opts_t;
/* A stored request for service SVC (LEN bytes) goes to the broker: its
 * body is FRAMES from AT on (the handler takes them); UUID is its
 * "client". */
typedef void zr__titanic_dispatch_fn(void *arg, const char *uuid,
                                     const void *svc, size_t len,
                                     zr__msg_t *frames, size_t at);
/* Opens (and makes) OPTS->dir; answers go out on SOCKET through ENGINE.
 * NULL with errno and the reason (naming the directory) in ERR. */
zr__titanic_t *zr__titanic_new(zr__engine_t *engine, void *socket,
                               const char *name, const zr__titanic_opts_t *opts,
                               char *err, size_t errlen);
/* Stored requests go to DISPATCH(ARG, ...): those with no reply at once,
 * then each one once it is committed. */
int zr__titanic_start(zr__titanic_t *self, zr__titanic_dispatch_fn *dispatch,
                      void *arg);
void zr__titanic_destroy(zr__titanic_t **self_p);
/* A client's request for titanic.* service SVC (LEN bytes): HEADER (taken)
 * is the start of its answer ([identity, (""), MDPC0v, (FINAL), svc]);
 * the body is MSG's frames from AT (taken where stored). Answered at once
 * (titanic.reply, errors) or after the next commit. */
void zr__titanic_client(zr__titanic_t *self, zr__msg_t *header, const char *svc,
                        size_t len, zr__msg_t *msg, size_t at);
/* The final reply (REPLY's frames, taken) to the stored request UUID,
 * stored at the next commit. */
void zr__titanic_reply(zr__titanic_t *self, const char *uuid, zr__msg_t *reply);
/* Commit what is staged (the handler's timer; SELF may be NULL): then
 * answer the clients and dispatch the requests. */
void zr__titanic_commit(zr__titanic_t *self);
/* Its section of the stats table ("titanic"). */
zr__stat_section_t zr__titanic_section(const zr__titanic_t *self);
/* [ha_sync] Replicate to the other node of HA's pair over OPTS->sync_bind
 * (a ROUTER) and OPTS->sync_peer (a DEALER), sockets on CTX, and follow
 * HA's state (dispatch when active; catch up when passive). -1 with why
 * in ERR. */
int zr__titanic_sync(zr__titanic_t *self, void *ctx, zr__ha_t *ha,
                     const zr__ha_opts_t *opts, char *err, size_t errlen);
/* [ha_sync] Its section ("ha_sync") into OUT: false when not on a pair. */
bool zr__titanic_sync_section(const zr__titanic_t *self,
                              zr__stat_section_t *out);
/* The device's Titanic options, for option.c (NULL: not a majordomo). */
zr__titanic_opts_t *zr__device_titanic_opts(zr_device_t *self);
int zr__device_set_titanic_dir(zr_device_t *self, const char *dir);
/* mdp.c: SELF stores durable requests in TITANIC (taken: destroyed with
 * SELF); stored ones with no reply are dispatched now. */
int zr__mdp_set_titanic(zr__mdp_t *self, zr__titanic_t *titanic);
/* [ha_sync] Its store, or NULL. */
zr__titanic_t *zr__mdp_titanic(zr__mdp_t *self);

/* ---------------------------------------------------------------------
 * ctl.c: the control protocol (docs/CONTROL.md), one implementation for
 * a device's own endpoint, zr_proxy's and the daemon's. The endpoint's
 * owner says what it serves in a zr__ctl_ops_t.
 */
typedef struct {
    _Atomic uint64_t commands, refused, unsent;
} zr__ctl_counts_t;

typedef struct {
    const char *owner; /* for log lines: a device's name, "zrelay" */
    bool daemon;       /* several devices; LIST and RELOAD */
    size_t (*count)(void *arg);
    const char *(*name)(void *arg, size_t i);
    void (*pause)(void *arg, size_t i, bool pause);
    /* Device I's STATS object (caller frees); NULL on ENOMEM. */
    char *(*stats_json)(void *arg, size_t i);
    void (*statistics)(void *arg, size_t i, uint64_t out[8]);
    char *(*list_json)(void *arg);                   /* daemon only */
    int (*reload)(void *arg, char *why, size_t len); /* daemon only */
    /* Device I stops, or starts again; -1 with WHY. Daemon only: without
     * stop, STOP is TERMINATE. */
    int (*stop)(void *arg, size_t i, char *why, size_t len);
    int (*start)(void *arg, size_t i, char *why, size_t len);
    void (*terminate)(void *arg);
    /* Where to count answered and refused commands, and replies the peer
     * did not take; NULL: not counted. */
    _Atomic uint64_t *commands, *refused, *unsent;
} zr__ctl_ops_t;

/* A new control socket on CTX (a ROUTER, see ctl.c), or NULL. */
void *zr__ctl_socket(void *ctx);
/* Read one request from SOCKET (which has one waiting) and answer it. */
void zr__ctl_serve(void *socket, const zr__ctl_ops_t *ops, void *arg);
/* COUNTS' section of the stats table ("control"). */
zr__stat_section_t zr__ctl_section(const zr__ctl_counts_t *counts);

/* device.c: the device's sections of the stats table, in STATS order. */
size_t zr__device_sections(const zr_device_t *self, zr__stat_section_t *out,
                           size_t max);

/* ---------------------------------------------------------------------
 * auth.c: who may connect to a device (CURVE allow directory, PLAIN
 * password file, allow/deny address ranges), decided by one ZAP handler
 * per context; each device's policy is found by its sockets' ZAP domain.
 * Settings apply to the sides secure_side names.
 */
typedef struct zr__auth_t zr__auth_t;
enum { ZR__AUTH_ALL = 0, ZR__AUTH_FRONTEND = 1, ZR__AUTH_BACKEND = 2 };
typedef enum {
    ZR__AUTH_CURVE_SECRET, /* this device's certificate: CURVE server */
    ZR__AUTH_CURVE_ALLOW,  /* directory of client certificates let in */
    ZR__AUTH_PASSWORDS,    /* user=password file: PLAIN server */
    ZR__AUTH_SERVER_KEY,   /* connecting sides: the server's certificate */
    ZR__AUTH_CURVE_CERT    /* connecting sides: their own certificate */
} zr__auth_key_t;
zr__auth_t *zr__auth_new(const char *domain);
void zr__auth_destroy(zr__auth_t **self_p);
/* TEXT NULL or "": unset. */
int zr__auth_set(zr__auth_t *self, zr__auth_key_t key, const char *text);
void zr__auth_set_allow_any(zr__auth_t *self, bool on);
/* Sockets that bind go through the ZAP handler even with NULL and no
 * address list: libzmq then refuses unversioned (ZMTP/1.0) peers, whose
 * bytes it would otherwise deliver as messages. */
void zr__auth_set_guard(zr__auth_t *self, bool on);
void zr__auth_set_side(zr__auth_t *self, int side);
/* LIST: "10.0.0.0/8,::1"; -1 EINVAL with the reason in ERR. */
int zr__auth_set_addresses(zr__auth_t *self, bool deny, const char *list,
                           char *err, size_t errlen);
/* The settings make sense together, the certificate loads; SELF may be
 * NULL (nothing to check). */
int zr__auth_check(zr__auth_t *self, char *err, size_t errlen);
/* The same without reading any file: for zrelay check and reload. */
int zr__auth_check_settings(const zr__auth_t *self, char *err, size_t errlen);
/* Check, read the allow directory and password file, and register with
 * CTX's handler (started if it is the first); SELF may be NULL. */
int zr__auth_open(zr__auth_t *self, void *ctx, char *err, size_t errlen);
/* Leave the handler (stopped when it was the last); SELF may be NULL. */
void zr__auth_close(zr__auth_t *self);
/* Whether SELF has a server-side policy (ZAP domain on bound sockets). */
bool zr__auth_needs_zap(const zr__auth_t *self);
/* Whether SELF applies to SIDE (ZR__AUTH_FRONTEND, _BACKEND, or -1 for
 * the device's other sockets: only with ZR__AUTH_ALL). */
bool zr__auth_applies(const zr__auth_t *self, int side);
/* Before it binds: SOCKET, the device's SIDE (ZR__AUTH_FRONTEND, _BACKEND,
 * -1 for its other sockets), as the server SELF says: a ZAP domain of
 * SELF's and that side's, and CURVE or PLAIN server where the policy
 * applies; where it does not (secure_side), the domain only, and the
 * handler lets every NULL peer in. Before it connects: as CURVE client. */
int zr__auth_server_socket(zr__auth_t *self, int side, void *socket, char *err,
                           size_t errlen);
/* [limits] SIDE's connection counters: the handler refuses a connection
 * over max_connections at its handshake (zr__monitor_admit). NULL before
 * the monitor goes. */
void zr__auth_set_monitor(zr__auth_t *self, int side, zr__monitor_t *monitor);
int zr__auth_client_socket(zr__auth_t *self, void *socket, char *err,
                           size_t errlen);
/* Re-read every allow directory and password file of CTX's policies; how
 * many failed (those keep what they had). */
int zr__auth_reload(void *ctx);
/* FAILED(ARG): the handshakes failed on the secured sockets (monitors). */
void zr__auth_set_failures(zr__auth_t *self, uint64_t (*failed)(const void *),
                           const void *arg);
/* Its section of the stats table ("auth"); SELF may be NULL (zeros). */
zr__stat_section_t zr__auth_section(const zr__auth_t *self);
/* A certificate's keys (SECRET NULL: the public one only is needed). */
int zr__cert_load(const char *path, unsigned char public_key[32],
                  unsigned char secret_key[32], char *err, size_t errlen);
/* The device's policy, made on first use (NULL on ENOMEM). */
zr__auth_t *zr__device_auth(zr_device_t *self);

/* config.c: the daemon control endpoint's security ([zrelay]
 * control_curve_secret, control_curve_allow: NULL when not set). */
const char *zr__config_control_curve_secret(const zr_config_t *self);
const char *zr__config_control_curve_allow(const zr_config_t *self);
bool zr__config_control_insecure(const zr_config_t *self);

/* ---------------------------------------------------------------------
 * http.c: the HTTP endpoint (libmicrohttpd, a thread of its own):
 * /metrics, /stats, /healthz, /readyz, /. What a page says comes from a
 * renderer its owner gives (metrics.c); http.c only speaks HTTP.
 */
typedef enum {
    ZR__PAGE_INDEX,
    ZR__PAGE_METRICS,
    ZR__PAGE_STATS,
    ZR__PAGE_HEALTH,
    ZR__PAGE_READY,
    ZR__PAGE_COUNT
} zr__page_t;

/* A growing text; OOM latches and the text is then incomplete. */
typedef struct {
    char *data;
    size_t len, cap;
    bool oom;
} zr__buf_t;
void zr__buf_add(zr__buf_t *self, const char *text, size_t len);
void zr__buf_printf(zr__buf_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Render PAGE into OUT; the HTTP status (200, 503), the content type in
 * *TYPE (a static string). */
typedef int (*zr__render_t)(void *arg, zr__page_t page, zr__buf_t *out,
                            const char **type);

/* SPEC ("127.0.0.1:9558", "[::1]:9558", "*:9558", port 0: any free) as
 * a socket address; -1 EINVAL with the reason in ERR. */
struct sockaddr_storage;
int zr__http_parse(const char *spec, struct sockaddr_storage *sa,
                   unsigned *salen, char *err, size_t errlen);
/* Serve at SPEC. CTX NULL: RENDER runs on the HTTP thread (its data must
 * outlive the server and never change shape: one device). CTX given: the
 * owner's thread renders; it polls zr__http_socket and calls
 * zr__http_answer when it is readable. NULL, with "http: cannot bind
 * ADDRESS: reason" in ERR, when it cannot start. */
zr_http_t *zr__http_new(const char *spec, void *ctx, zr__render_t render,
                        void *arg, char *err, size_t errlen);
void *zr__http_socket(zr_http_t *self);
void zr__http_answer(zr_http_t *self);
/* Its section of the stats table ("http"): requests and connections. */
zr__stat_section_t zr__http_section(const zr_http_t *self);

/* ---------------------------------------------------------------------
 * metrics.c: the pages rendered from the stats table: Prometheus text,
 * the STATS JSON of every device, health and readiness.
 */
typedef struct {
    const char *name;
    zr_device_t *dev; /* NULL: configured, failed to start */
} zr__devview_t;
/* PAGE for the devices DEVS (N of them) and the HTTP server HTTP (may be
 * NULL); see zr__render_t. */
int zr__metrics_render(const zr__devview_t *devs, size_t n,
                       const zr_http_t *http, zr__page_t page, zr__buf_t *out,
                       const char **type);

/* config.c: [zrelay] http, NULL when off. */
const char *zr__config_http(const zr_config_t *self);

#endif
