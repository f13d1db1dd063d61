/* zrelay.h - the public API of libzrelay: ZeroMQ proxies, queues,
 * forwarders and streamers as a library.
 * SPDX-License-Identifier: MIT
 *
 * Conventions:
 * - Functions return 0 or a pointer on success, -1 or NULL on failure with
 *   errno set; libzmq's error codes pass through untouched.
 * - zr_<class>_destroy(&p) accepts NULL and sets the caller's pointer to NULL.
 * - Objects are not thread-safe unless a function says so.
 */
#ifndef ZRELAY_H_INCLUDED
#define ZRELAY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ZR_BUILDING_LIBRARY)
#define ZR_EXPORT __attribute__((visibility("default")))
#else
#define ZR_EXPORT
#endif

#define ZR_VERSION_MAJOR 0
#define ZR_VERSION_MINOR 1
#define ZR_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH". */
ZR_EXPORT const char *zr_version(void);

/* A message for errno value ERRNUM: libzmq's for its own codes, the C
 * library's otherwise. Never NULL. */
ZR_EXPORT const char *zr_strerror(int errnum);

/* ---------------------------------------------------------------------
 * Logging. The library is silent until a handler is installed.
 */
typedef enum {
    ZR_LOG_ERROR = 0,
    ZR_LOG_WARNING = 1,
    ZR_LOG_NOTICE = 2,
    ZR_LOG_INFO = 3,
    ZR_LOG_DEBUG = 4
} zr_log_level_t;

/* Called with one formatted line (no trailing newline). May be called from
 * any thread that runs a device; the handler must be thread-safe. Control
 * characters in the line (a device name or command sent over the
 * network, say) come escaped as \xNN, so one call is one line. */
typedef void(zr_log_fn)(zr_log_level_t level, const char *line, void *arg);

/* Install FN (NULL: silence) with ARG for every later log line. */
ZR_EXPORT void zr_log_set_handler(zr_log_fn *fn, void *arg);
/* Lines above LEVEL are not formatted at all. Default ZR_LOG_NOTICE. */
ZR_EXPORT void zr_log_set_level(zr_log_level_t level);
ZR_EXPORT zr_log_level_t zr_log_level(void);
/* "error", "warning", "notice", "info", "debug"; -1 for an unknown name. */
ZR_EXPORT int zr_log_level_from_name(const char *name);
/* What a line is: text (the default), or one JSON object for log
 * shippers, {"time": RFC 3339 UTC, "level", "device" (when the line is
 * about one), "event" ("log", or a connection event: "accepted",
 * "connected", "disconnected", "handshake_failed", ...), "msg", and the
 * event's fields ("socket", "peer", "endpoint", "reason", ...)}. */
typedef enum { ZR_LOG_TEXT = 0, ZR_LOG_JSON = 1 } zr_log_format_t;
ZR_EXPORT void zr_log_set_format(zr_log_format_t format);
/* TEXT to the handler as one of the library's own lines: escaped or put
 * in JSON, rate-limited (an application's lines beside the library's). */
ZR_EXPORT void zr_log_text(zr_log_level_t level, const char *text);

/* Seed libc's rand() from getrandom(2), once per process; the library
 * does it itself when it is loaded, and a program may call it first thing
 * to say so. libzmq 4.3.4 numbers a ROUTER's anonymous peers from rand()
 * without seeding it: unseeded, the numbers are known in advance and a
 * peer that claims them crashes the process (docs/SECURITY.md). A
 * program that calls srand() with a fixed seed makes them known again. */
ZR_EXPORT void zr_seed_random(void);

/* ---------------------------------------------------------------------
 * Endpoints: "@tcp://127.0.0.1:5559" binds, ">tcp://host:5559" connects, a bare
 * endpoint takes the caller's default; comma-separated lists mix both.
 */
typedef struct zr_endpoints_t zr_endpoints_t;

/* Parse SPEC. DEFAULT_BIND says what a bare endpoint does. On failure
 * returns NULL with errno EINVAL and, when ERR is not NULL, a message
 * naming the bad endpoint in ERR (ERRLEN bytes, always terminated). */
ZR_EXPORT zr_endpoints_t *zr_endpoints_parse(const char *spec,
                                             bool default_bind, char *err,
                                             size_t errlen);
ZR_EXPORT void zr_endpoints_destroy(zr_endpoints_t **self_p);
ZR_EXPORT size_t zr_endpoints_size(const zr_endpoints_t *self);
/* The address of endpoint I without its '@'/'>' prefix. */
ZR_EXPORT const char *zr_endpoints_address(const zr_endpoints_t *self,
                                           size_t i);
ZR_EXPORT bool zr_endpoints_is_bind(const zr_endpoints_t *self, size_t i);
/* Whether ADDRESS (an endpoint's address, without '@'/'>') can be reached
 * from this host only: ipc://, inproc://, or tcp:// or ws:// on a
 * loopback address (127.x, [::1], localhost, the lo interface). What
 * lets strangers in is any other. */
ZR_EXPORT bool zr_address_is_local(const char *address);
/* After zr_endpoints_attach: the address as libzmq resolved it (the real
 * port where the address said '*'); before, the address as written. */
ZR_EXPORT const char *zr_endpoints_resolved(const zr_endpoints_t *self,
                                            size_t i);
/* Bind or connect SOCKET to every endpoint, in order. Sets ZMQ_IPV6 on the
 * socket when an endpoint is an IPv6 literal. On failure returns -1 with
 * errno from libzmq and "cannot bind EP: reason" in ERR; the endpoints
 * already attached stay attached (close the socket to undo them). */
ZR_EXPORT int zr_endpoints_attach(zr_endpoints_t *self, void *socket, char *err,
                                  size_t errlen);

/* ---------------------------------------------------------------------
 * Counters. Messages count a multipart message once; frames and bytes
 * count every frame. "in" is what was received on a socket, "out" what
 * was sent on it.
 */
/* Connections of one socket, from libzmq's socket monitor. */
typedef struct {
    uint64_t connected;        /* open now (accepted + made - closed) */
    uint64_t accepted;         /* incoming connections accepted */
    uint64_t connected_out;    /* outgoing connections made */
    uint64_t disconnected;     /* connections closed or lost */
    uint64_t handshakes;       /* ZMTP handshakes completed */
    uint64_t handshake_failed; /* peers that failed the ZMTP handshake */
} zr_conn_stats_t;

typedef struct {
    uint64_t msgs_in, frames_in, bytes_in;
    uint64_t msgs_out, frames_out, bytes_out;
    /* Messages that could not be sent on this socket, by reason. */
    uint64_t drop_no_route;  /* ROUTER: the peer is gone (EHOSTUNREACH) */
    uint64_t drop_peer_full; /* ROUTER: the peer's queue is full */
    uint64_t drop_error;     /* any other send failure */
    uint64_t drop_shutdown;  /* held when the relay stopped, not sent */
    uint64_t drop_slow;      /* XPUB: sent lossy after block_timeout, so
                                a slow subscriber missed it */
    uint64_t msgs_resent;    /* PUSH, DEALER, PAIR: sent again, whole, after
                                the peer it went to vanished mid-message
                                (not lost; counted once in msgs_out) */
    uint64_t peer_stalls;    /* ROUTER: times a full peer held the socket
                                for the grace period, then was dropped
                                from (drop_peer_full) */
    zr_conn_stats_t conns;   /* zeros where the socket is not monitored */
} zr_socket_stats_t;

typedef struct {
    zr_socket_stats_t frontend;
    zr_socket_stats_t backend;
    uint64_t capture_msgs;   /* messages copied to the capture socket */
    uint64_t capture_drops;  /* messages the capture listener missed */
    uint64_t control_cmds;   /* control commands answered */
    uint64_t control_errors; /* control commands refused */
    uint64_t polls;          /* times the relay waited in zmq_poll */
    bool waiting;            /* waiting in zmq_poll now: every message it
                                moved before is in these counters */
    bool paused;
    bool running;
    uint64_t cpu_ns; /* CPU time of the relay's thread so far */
} zr_stats_t;

/* ---------------------------------------------------------------------
 * zr_proxy: a drop-in for zmq_proxy_steerable() on sockets the caller
 * owns, driven by zrelay's engine (non-blocking, burst-draining, counted).
 * CAPTURE and CONTROL may be NULL. CONTROL answers PAUSE, RESUME,
 * TERMINATE and STATISTICS as libzmq does, STATS (JSON) too, and an error
 * reply for anything else. Sets ZMQ_ROUTER_MANDATORY on a ROUTER that it
 * sends to (and leaves it set), so a message for a gone or full peer is
 * counted, not lost silently. Returns 0 after TERMINATE, -1 with errno
 * ETERM when the context is terminated, or EINTR when a signal
 * interrupted it (as zmq_proxy does).
 */
ZR_EXPORT int zr_proxy(void *frontend, void *backend, void *capture,
                       void *control);

/* ---------------------------------------------------------------------
 * Devices: two sockets and the engine between them.
 */
typedef enum {
    ZR_FORWARDER = 1, /* XSUB frontend, XPUB backend */
    ZR_QUEUE = 2,     /* ROUTER frontend, DEALER backend */
    ZR_STREAMER = 3,  /* PULL frontend, PUSH backend */
    ZR_MAJORDOMO = 4  /* one ROUTER (its frontend) for clients and workers:
                         Majordomo MDP/0.1 and 0.2 (docs/MAJORDOMO.md) */
} zr_device_type_t;

typedef struct zr_device_t zr_device_t;

/* "forwarder", "queue", "streamer", "majordomo". */
ZR_EXPORT const char *zr_device_type_name(zr_device_type_t type);
/* The type for NAME, or -1 with errno EINVAL. */
ZR_EXPORT int zr_device_type_from_name(const char *name);

/* A device of TYPE named NAME (copied; NULL: the type's name). Uses the
 * ZeroMQ context CTX, which it does not own and which must outlive it;
 * NULL: a context of its own, made when it opens. NULL with errno on
 * failure. */
ZR_EXPORT zr_device_t *zr_device_new(void *ctx, zr_device_type_t type,
                                     const char *name);
/* Stops the device if it runs in a thread of its own, closes its sockets. */
ZR_EXPORT void zr_device_destroy(zr_device_t **self_p);

ZR_EXPORT const char *zr_device_name(const zr_device_t *self);
ZR_EXPORT zr_device_type_t zr_device_type(const zr_device_t *self);

/* Endpoint lists (see zr_endpoints_parse; a bare endpoint binds). Checked
 * here, attached by zr_device_open. -1 with EINVAL on a bad list; the
 * reason is in zr_device_error(). Capture and control are optional. */
ZR_EXPORT int zr_device_set_frontend(zr_device_t *self, const char *eps);
ZR_EXPORT int zr_device_set_backend(zr_device_t *self, const char *eps);
ZR_EXPORT int zr_device_set_capture(zr_device_t *self, const char *eps);
ZR_EXPORT int zr_device_set_control(zr_device_t *self, const char *eps);
/* Socket options for frontend and backend; libzmq's defaults otherwise
 * (HWM 1000, no message size limit). Linger applies at close; default
 * 1000 ms. */
ZR_EXPORT int zr_device_set_sndhwm(zr_device_t *self, int hwm);
ZR_EXPORT int zr_device_set_rcvhwm(zr_device_t *self, int hwm);
ZR_EXPORT int zr_device_set_max_msg_size(zr_device_t *self, int64_t bytes);
ZR_EXPORT int zr_device_set_linger(zr_device_t *self, int msecs);
/* After a wait that woke it for little traffic, the relay keeps polling
 * its sockets for up to USECS before it sleeps in zmq_poll again: lower
 * round-trip latency (no thread wake-up) for CPU spent spinning. 0 (the
 * default): never spin. */
ZR_EXPORT int zr_device_set_busy_poll(zr_device_t *self, int usecs);
/* Pin the relay's thread to the CPUs in CPUS ("1", "0,2", "2-3"); NULL
 * or "": no pinning (the default). -1 EINVAL on a bad list. */
ZR_EXPORT int zr_device_set_affinity(zr_device_t *self, const char *cpus);
/* ZMTP heartbeats on frontend and backend every IVL_MSECS (0: off, the
 * default); a peer silent for TIMEOUT_MSECS (0: 3 intervals) is
 * disconnected, so half-open connections of vanished peers are reaped. */
ZR_EXPORT int zr_device_set_heartbeat(zr_device_t *self, int ivl_msecs,
                                      int timeout_msecs);

/* Forwarder only. SYNC: the endpoints of the sync service (a ROUTER; see
 * zr_sync_wait and docs/SYNC.md). INGEST_PULL: the frontend is a PULL, so
 * publishers PUSH (which queues until connected instead of dropping);
 * nothing then goes upstream. HOLD: publications wait while fewer than
 * UNTIL subscriptions exist (0: no gate), at most MAX_MSGS messages and
 * MAX_BYTES bytes (0: no bound; over it the oldest goes on) and
 * TIMEOUT_MSECS each (0: no limit). */
ZR_EXPORT int zr_device_set_sync(zr_device_t *self, const char *eps);
ZR_EXPORT int zr_device_set_ingest_pull(zr_device_t *self, bool pull);
ZR_EXPORT int zr_device_set_hold(zr_device_t *self, uint64_t until,
                                 uint64_t max_msgs, uint64_t max_bytes,
                                 int timeout_msecs);
/* Forwarder only. The last value cache: keep the last message of each
 * topic (its first frame), at most MAX_TOPICS topics and MAX_BYTES bytes
 * (0: no bound; the least recently updated go first, counted), and send
 * a new subscriber the cached value of its subscription at once, to it
 * alone. A prefix matching several topics gets the newest of them, or
 * with ALL_MATCHES every one, sent to every subscriber of those topics
 * (duplicates included, as the Guide's lvcache). The frontend then
 * subscribes to everything upstream. */
ZR_EXPORT int zr_device_set_last_value(zr_device_t *self, bool on,
                                       uint64_t max_topics, uint64_t max_bytes,
                                       bool all_matches);
/* Forwarder only. Refuse (and count) subscriptions beyond MAX (0: none). */
ZR_EXPORT int zr_device_set_max_subscriptions(zr_device_t *self, uint64_t max);
/* Forwarder only. TIMEOUT_MSECS >= 0: a slow subscriber blocks the
 * forwarder (ZMQ_XPUB_NODROP) up to that long per message, which is then
 * sent the lossy way and counted (drop_slow); -1 (the default): libzmq
 * drops for slow subscribers, silently. */
ZR_EXPORT int zr_device_set_slow_subscriber_block(zr_device_t *self,
                                                  int timeout_msecs);

/* The publisher's side of a forwarder's sync service (docs/SYNC.md): wait
 * until at least N subscriptions overlap PREFIX ("" or NULL: any), and
 * until the publisher's PUB socket PUB (connected to that forwarder's
 * frontend) has them all, so that everything it sends next reaches those
 * subscribers. SYNC_ENDPOINT is the forwarder's sync endpoint (a bare one
 * connects); CTX is PUB's context. PUB may be NULL for a forwarder with a
 * PULL frontend (ingest pull). A subscription message counts once: a SUB
 * subscribed to "" and to "A" counts twice for prefix "". Returns the
 * count on go; -1 with ETIMEDOUT after TIMEOUT_MSECS, EPROTO on an answer
 * it does not understand, EINTR when a signal interrupted the wait, or
 * libzmq's errno. The probes it sends on PUB
 * take slots of PUB's send HWM for a while: leave room above a burst. */
ZR_EXPORT int zr_sync_wait(void *ctx, void *pub, const char *sync_endpoint,
                           unsigned n, const char *prefix, int timeout_msecs);

/* Queue only. How requests are spread over workers (docs/BROKER.md): "rr"
 * (the default: ROUTER to DEALER round robin, for any REP or DEALER
 * worker), "lru" (the least recently ready worker; Paranoid Pirate and
 * lbbroker REQ workers) or "hash" (the same key to the same live worker).
 * The other broker settings are options by name: heartbeat, liveness,
 * busy_timeout, retries, max_waiting, request_timeout, hash_frame. */
ZR_EXPORT int zr_device_set_strategy(zr_device_t *self, const char *strategy);

/* ---------------------------------------------------------------------
 * Values as the config file and the command line write them: one grammar
 * for both (zrelay(1), DURATIONS, SIZES AND NUMBERS). Each takes the
 * whole of TEXT and returns 0 with the value in *OUT, or -1 with errno
 * EINVAL when TEXT is not one (or is out of range), leaving *OUT alone.
 */
/* A decimal whole number from MIN to MAX: "1000", "-1". */
ZR_EXPORT int zr_parse_int(const char *text, int64_t min, int64_t max,
                           int64_t *out);
/* A whole number and a unit, with no blank between them: us, ms, s, m or
 * min, h; a bare number is milliseconds ("500ms", "2s", "1m"). Into
 * milliseconds: it must come to whole ones ("2000us", not "1500us"). */
ZR_EXPORT int zr_parse_duration(const char *text, int64_t *out);
/* Bytes, optionally followed by B, k/K/KiB, M/MiB or G/GiB (powers of
 * 1024): "65536", "64k", "1M". */
ZR_EXPORT int zr_parse_size(const char *text, int64_t *out);
/* true/false, yes/no, on/off, 1/0. */
ZR_EXPORT int zr_parse_bool(const char *text, bool *out);

/* ---------------------------------------------------------------------
 * Options by name: the config file's keys (max_msg_size) and the command
 * line's options (--max-msg-size) are the same table.
 */
typedef enum {
    ZR_OPT_ENDPOINTS, /* an endpoint list */
    ZR_OPT_INT,       /* a whole number >= 0 */
    ZR_OPT_SIZE,      /* bytes, with an optional k/M/G suffix */
    ZR_OPT_DURATION,  /* 500ms, 2s, 1m, 1h; a bare number is ms */
    ZR_OPT_MICROS,    /* a duration that may also be in us: 200us */
    ZR_OPT_CPUS,      /* a list of CPU numbers: 1, 0,2, 2-3 */
    ZR_OPT_BOOL,      /* true/false, yes/no, on/off, 1/0 */
    ZR_OPT_CHOICE,    /* one of `choices` */
    ZR_OPT_TEXT       /* a path or a list, checked by its setter */
} zr_option_kind_t;

typedef struct {
    const char *name; /* the config key; '-' for '_' on the command line */
    zr_option_kind_t kind;
    const char *arg;      /* what the value is called in help: N, EP, D */
    unsigned types;       /* device types it applies to: 1u << ZR_QUEUE ... */
    const char *fallback; /* the default, as text; NULL: none */
    const char *choices;  /* ZR_OPT_CHOICE: "rr|lru|hash" */
    const char *help;     /* one sentence */
    /* Numbers, sizes, durations: the values allowed, MIN to MAX, in the
     * unit the value is read into (ms; us for ZR_OPT_MICROS; bytes). */
    int64_t min, max;
} zr_option_t;

/* OPT's range as text in its own units ("10ms to 20m", "0 to 1024G") into
 * BUF; "" for an option that is no number. Returns BUF. */
ZR_EXPORT const char *zr_option_range(const zr_option_t *opt, char *buf,
                                      size_t len);

/* Option number I, or NULL past the last one. */
ZR_EXPORT const zr_option_t *zr_option(size_t i);
/* The option called NAME ("max_msg_size", "max-msg-size" or
 * "--max-msg-size"), or NULL. */
ZR_EXPORT const zr_option_t *zr_option_find(const char *name);
ZR_EXPORT bool zr_option_applies(const zr_option_t *opt, zr_device_type_t type);
/* Set option NAME from its text VALUE. -1 with EINVAL on an unknown
 * option, one that does not apply to this type, or a bad value; then
 * zr_device_error() says why (without naming the option: the caller knows
 * whether it was --sndhwm or sndhwm at line 12). */
ZR_EXPORT int zr_device_set(zr_device_t *self, const char *name,
                            const char *value);

/* Create the sockets and bind/connect them. -1 with errno (from libzmq) on
 * failure, the reason in zr_device_error(), and no socket left open. */
ZR_EXPORT int zr_device_open(zr_device_t *self);
/* The last error as one line naming its cause; "" when there was none. */
ZR_EXPORT const char *zr_device_error(const zr_device_t *self);

/* After zr_device_open: how many endpoints, and endpoint I with its role
 * ("frontend", "backend", "capture", "control", "sync"), bind or connect,
 * and the resolved address; zr_device_endpoint returns -1 when I is out
 * of range. Pointers stay valid until the device is destroyed. */
ZR_EXPORT size_t zr_device_endpoint_count(const zr_device_t *self);
/* After zr_device_open: the ZeroMQ type (ZMQ_XSUB, ...) of the socket at
 * ROLE, or -1 with EINVAL when the device has none there. */
ZR_EXPORT int zr_device_socket_type(const zr_device_t *self, const char *role);
ZR_EXPORT int zr_device_endpoint(const zr_device_t *self, size_t i,
                                 const char **role, bool *bind,
                                 const char **address);

/* Serve in the calling thread until zr_device_stop() or a TERMINATE
 * command. Opens the device first if needed. 0 on a clean stop, -1 with
 * errno otherwise (ETERM: the context was terminated). */
ZR_EXPORT int zr_device_run(zr_device_t *self);
/* Serve in a thread of its own; zr_device_join waits for it to end and
 * returns what zr_device_run returned. */
ZR_EXPORT int zr_device_start(zr_device_t *self);
ZR_EXPORT int zr_device_join(zr_device_t *self);

/* Ask the device to stop, pause or resume. Safe from any thread and, for
 * zr_device_stop, from a signal handler. Return at once. */
ZR_EXPORT void zr_device_stop(zr_device_t *self);
ZR_EXPORT void zr_device_pause(zr_device_t *self);
ZR_EXPORT void zr_device_resume(zr_device_t *self);

/* A snapshot of the counters. Safe from any thread while the device
 * runs. */
ZR_EXPORT void zr_device_stats(const zr_device_t *self, zr_stats_t *stats);
/* The counters as a JSON object (see docs/CONTROL.md); the caller frees
 * the string with free(). Safe from any thread. NULL on ENOMEM. */
ZR_EXPORT char *zr_device_stats_json(const zr_device_t *self);

/* ---------------------------------------------------------------------
 * Config files (zrelay.conf(5)): INI, a [zrelay] section for the daemon
 * and one [TYPE NAME] section per device whose keys are the device's
 * options (see zr_option).
 */
typedef struct zr_config_t zr_config_t;

/* Parse the file at PATH, or TEXT (NAME is what errors call it). NULL
 * only on ENOMEM: a config that cannot be read or has errors comes back
 * with zr_config_error_count() > 0, each error "file:line: what". */
/* zr_config_load: PATH "-" reads standard input (called <stdin> in
 * errors), with the same rules as a file. */
ZR_EXPORT zr_config_t *zr_config_load(const char *path);
ZR_EXPORT zr_config_t *zr_config_parse(const char *text, const char *name);
ZR_EXPORT void zr_config_destroy(zr_config_t **self_p);
ZR_EXPORT size_t zr_config_error_count(const zr_config_t *self);
ZR_EXPORT const char *zr_config_error(const zr_config_t *self, size_t i);
/* The embedded default: the seed's topology on loopback. */
ZR_EXPORT const char *zr_config_default_text(void);

ZR_EXPORT const char *zr_config_path(const zr_config_t *self);
/* [zrelay] control (default tcp://127.0.0.1:5558), io_threads (default
 * 1), log_level (-1 when not set). */
ZR_EXPORT const char *zr_config_control(const zr_config_t *self);
ZR_EXPORT int zr_config_io_threads(const zr_config_t *self);
ZR_EXPORT int zr_config_log_level(const zr_config_t *self);

ZR_EXPORT size_t zr_config_device_count(const zr_config_t *self);
ZR_EXPORT const char *zr_config_device_name(const zr_config_t *self, size_t i);
ZR_EXPORT zr_device_type_t zr_config_device_type(const zr_config_t *self,
                                                 size_t i);
ZR_EXPORT int zr_config_device_line(const zr_config_t *self, size_t i);
/* The device I has (index), or -1. */
ZR_EXPORT int zr_config_device_find(const zr_config_t *self, const char *name);
/* A new device built from section I, on context CTX; not yet open. */
ZR_EXPORT zr_device_t *zr_config_device_new(const zr_config_t *self, size_t i,
                                            void *ctx);
/* Whether device I of A and device J of B are configured alike. */
ZR_EXPORT bool zr_config_device_same(const zr_config_t *a, size_t i,
                                     const zr_config_t *b, size_t j);

/* ---------------------------------------------------------------------
 * The daemon: every device of a config on a thread of its own, one
 * shared context (so inproc:// joins devices), one control endpoint
 * (docs/CONTROL.md), reload without touching unchanged devices.
 */
typedef struct zr_daemon_t zr_daemon_t;

/* CTX: the context all devices share (NULL: one of its own, with the
 * config's io_threads). */
ZR_EXPORT zr_daemon_t *zr_daemon_new(void *ctx);
/* Stops every device (each delivers what it holds within its linger). */
ZR_EXPORT void zr_daemon_destroy(zr_daemon_t **self_p);
/* Called with "READY=1", "RELOADING=1", "STOPPING=1" (sd_notify's words). */
ZR_EXPORT void zr_daemon_set_notify(zr_daemon_t *self,
                                    void (*fn)(const char *state, void *arg),
                                    void *arg);
/* Start the devices that can start even when others cannot. */
ZR_EXPORT void zr_daemon_set_keep_going(zr_daemon_t *self, bool keep_going);
/* Whether a reload applies the config's log_level (default true; the CLI
 * says false when -v chose the level). */
ZR_EXPORT void zr_daemon_set_config_log_level(zr_daemon_t *self, bool apply);
/* Open the control endpoint and every device of CONFIG, which the daemon
 * owns from now on; PATH is re-read on reload (NULL: the embedded
 * default). -1 when the config has errors or a device (or the control
 * endpoint) cannot start, without --keep-going; zr_daemon_error() says
 * which and why, and every failure was logged. */
ZR_EXPORT int zr_daemon_start(zr_daemon_t *self, zr_config_t *config,
                              const char *path);
ZR_EXPORT const char *zr_daemon_error(const zr_daemon_t *self);
/* Serve the control endpoint until zr_daemon_stop or TERMINATE, then stop
 * every device. */
ZR_EXPORT int zr_daemon_run(zr_daemon_t *self);
/* Async-signal-safe requests: stop (SIGTERM), reload (SIGHUP). */
ZR_EXPORT void zr_daemon_stop(zr_daemon_t *self);
ZR_EXPORT void zr_daemon_reload(zr_daemon_t *self);
ZR_EXPORT void *zr_daemon_context(const zr_daemon_t *self);
/* The control endpoint as bound (the real port where the config said *). */
ZR_EXPORT const char *zr_daemon_control(const zr_daemon_t *self);
/* The HTTP endpoint's URL ("http://127.0.0.1:9558/", the real port where
 * the config said 0), NULL when [zrelay] http is not set. */
ZR_EXPORT const char *zr_daemon_http(const zr_daemon_t *self);
ZR_EXPORT size_t zr_daemon_device_count(const zr_daemon_t *self);
ZR_EXPORT zr_device_t *zr_daemon_device(const zr_daemon_t *self, size_t i);

/* ---------------------------------------------------------------------
 * The HTTP endpoint (docs/METRICS.md): GET /metrics (Prometheus text),
 * /stats (STATS JSON), /healthz, /readyz, served by libmicrohttpd on a
 * thread of its own. zrelay run has its own from [zrelay] http.
 */
typedef struct zr_http_t zr_http_t;
/* Serve DEVICE's pages at ADDRESS ("127.0.0.1:9558", "[::1]:9558",
 * "*:9558"; port 0: any free one). DEVICE is read without a lock and must
 * outlive the server. NULL with errno and "http: cannot bind ...: why"
 * in ERR when it cannot start. */
ZR_EXPORT zr_http_t *zr_http_new(zr_device_t *device, const char *address,
                                 char *err, size_t errlen);
/* Stops serving (waits for the HTTP thread); accepts NULL. */
ZR_EXPORT void zr_http_destroy(zr_http_t **self_p);
/* "http://127.0.0.1:9558/" with the real port. */
ZR_EXPORT const char *zr_http_url(const zr_http_t *self);

/* ---------------------------------------------------------------------
 * Certificates and client-side security (docs/SECURITY.md). Certificates
 * are CZMQ's ZPL files, as zcert and pyzmq's zmq.auth write them.
 */
/* Write a new key pair: NAME (the public certificate) and NAME_secret
 * (both keys, mode 0600). Without FORCE, -1 EEXIST when either exists.
 * -1 with errno and the reason in ERR on failure. */
ZR_EXPORT int zr_cert_generate(const char *name, bool force, char *err,
                               size_t errlen);
/* The Z85 text (40 characters) of the public key in certificate PATH. */
ZR_EXPORT int zr_cert_public_text(const char *path, char out[41], char *err,
                                  size_t errlen);
/* Before SOCKET connects: a CURVE client of the server whose public
 * certificate is SERVER_KEY, with the keys of CERT (NULL: a fresh key
 * pair, which only a server that allows any key lets in). */
ZR_EXPORT int zr_curve_client(void *socket, const char *server_key,
                              const char *cert, char *err, size_t errlen);
/* Before SOCKET connects: a PLAIN client (cleartext on the wire). */
ZR_EXPORT int zr_plain_client(void *socket, const char *user,
                              const char *password, char *err, size_t errlen);

/* ---------------------------------------------------------------------
 * Majordomo clients and workers (docs/MAJORDOMO.md, "Clients and workers
 * in C and from the shell"): MDP/0.1 (RFC 7) and 0.2 (RFC 18) with the
 * Guide's reliability built in. The client resends a request that got no
 * reply within its timeout on a new socket, to the next broker of its
 * list (Lazy Pirate); the worker heartbeats, takes the broker for dead
 * after `liveness` silent heartbeats and connects again (new socket,
 * READY). Each object is used by one thread at a time, as its socket is.
 */

/* A request or reply body: frames of bytes. Frames added are copied in;
 * data read from one stays the message's until it is cleared, changed
 * or destroyed. */
typedef struct zr_mdp_msg_t zr_mdp_msg_t;
/* An empty message; NULL with ENOMEM. */
ZR_EXPORT zr_mdp_msg_t *zr_mdp_msg_new(void);
/* Frees the frames and the message; accepts NULL, sets *SELF_P NULL. */
ZR_EXPORT void zr_mdp_msg_destroy(zr_mdp_msg_t **self_p);
/* Append a frame holding a copy of DATA (SIZE bytes; NULL when 0), or of
 * TEXT without its terminating NUL. -1 with ENOMEM. */
ZR_EXPORT int zr_mdp_msg_add(zr_mdp_msg_t *self, const void *data, size_t size);
ZR_EXPORT int zr_mdp_msg_addstr(zr_mdp_msg_t *self, const char *text);
/* How many frames; frame I's bytes and length (NULL and 0 past the end).
 * The bytes are not NUL-terminated. */
ZR_EXPORT size_t zr_mdp_msg_frames(const zr_mdp_msg_t *self);
ZR_EXPORT const void *zr_mdp_msg_data(const zr_mdp_msg_t *self, size_t i);
ZR_EXPORT size_t zr_mdp_msg_size(const zr_mdp_msg_t *self, size_t i);
/* Drop every frame; the message stays usable. */
ZR_EXPORT void zr_mdp_msg_clear(zr_mdp_msg_t *self);

typedef struct zr_mdp_client_t zr_mdp_client_t;
/* A client of the brokers at ENDPOINTS[0..N-1] ("tcp://host:5555"; a
 * leading '>' is allowed; each is checked here, none is bound), using
 * CTX (NULL: a context of its own, for inproc brokers pass theirs). It
 * connects to ENDPOINTS[0] at its first request. NULL with EINVAL when
 * N is 0 or an endpoint is not one ZeroMQ can connect to. */
ZR_EXPORT zr_mdp_client_t *
zr_mdp_client_new(void *ctx, const char *const *endpoints, size_t n);
/* Closes the socket at once (a request still queued is dropped); accepts
 * NULL, sets *SELF_P NULL. */
ZR_EXPORT void zr_mdp_client_destroy(zr_mdp_client_t **self_p);
/* How long one attempt waits for the reply, in ms (>= 1; default 2500);
 * with MDP/0.2 each PARTIAL starts the wait again. */
ZR_EXPORT int zr_mdp_client_set_timeout(zr_mdp_client_t *self, int msecs);
/* How many times a request that got no reply is sent again, each time on
 * a new socket to the next endpoint (>= 0; default 3: 4 attempts). */
ZR_EXPORT int zr_mdp_client_set_retries(zr_mdp_client_t *self, int retries);
/* MDP/0.1 (MDPC01, the default) or 0.2 (MDPC02: PARTIAL and FINAL
 * replies); -1 EINVAL otherwise. Takes effect at the next socket. */
ZR_EXPORT int zr_mdp_client_set_version(zr_mdp_client_t *self, int version);
/* CURVE to brokers that require it: SERVER_KEY is the broker's public
 * certificate, CERT this client's (NAME_secret; NULL: a fresh key pair);
 * see zr_curve_client. The files are read at each new socket. */
ZR_EXPORT int zr_mdp_client_set_curve(zr_mdp_client_t *self,
                                      const char *server_key, const char *cert);
/* MDP/0.2: called with each PARTIAL reply's body as it comes (borrowed
 * for the call); returning -1 abandons the request (-1 ECANCELED from
 * zr_mdp_client_request). Without one, PARTIAL bodies are gathered into
 * the reply before the FINAL's frames, as the broker does for a 0.1
 * client. */
typedef int(zr_mdp_partial_fn)(const zr_mdp_msg_t *body, void *arg);
ZR_EXPORT void zr_mdp_client_set_partial_fn(zr_mdp_client_t *self,
                                            zr_mdp_partial_fn *fn, void *arg);
/* Send REQUEST (borrowed; at least one frame) to SERVICE and wait for the
 * reply, whose body frames go to REPLY (cleared first). 0 on a reply.
 * -1 with errno:
 *   ETIMEDOUT  no reply after retries + 1 attempts of timeout ms each (or
 *              a MDP/0.2 reply stopped coming after a PARTIAL: it is not
 *              sent again, its PARTIALs were seen);
 *   ETIME      the broker's error reply "ZRELAY-ERROR timeout ...": no
 *              worker of SERVICE took it within its request_timeout;
 *   EBUSY      "ZRELAY-ERROR busy ...": the service's queue is full;
 *   EIO        "ZRELAY-ERROR failed ...": the workers it went to died
 *              (zrelay mdp-worker: the command failed);
 *   ESHUTDOWN  "ZRELAY-ERROR stopping ...": the broker stopped;
 *   EPROTO     another "ZRELAY-ERROR CODE ..." reply;
 *   ECANCELED  the partial callback returned -1;
 *   EINTR      a signal interrupted the wait (not sent again);
 *   EINVAL     no SERVICE or an empty REQUEST; ETERM, ENOMEM.
 * On an error reply REPLY holds its one frame and zr_mdp_client_error
 * its text. A request sent again may run twice on workers (at least
 * once): the broker may have handed the first copy to a worker already.
 * Replies to an earlier attempt never come back (its socket is gone). */
ZR_EXPORT int zr_mdp_client_request(zr_mdp_client_t *self, const char *service,
                                    const zr_mdp_msg_t *request,
                                    zr_mdp_msg_t *reply);
/* A descriptor (a signal handler's self-pipe) that makes a waiting
 * zr_mdp_client_request return -1 EINTR when it becomes readable; the
 * caller drains it. -1: none. */
ZR_EXPORT void zr_mdp_client_set_wake_fd(zr_mdp_client_t *self, int fd);
/* The last request's failure as text ("ZRELAY-ERROR busy ...", "no reply
 * from tcp://... within 2500 ms, 4 attempts"); "" after a reply. */
ZR_EXPORT const char *zr_mdp_client_error(const zr_mdp_client_t *self);
/* The endpoint the next request goes to first (the one that answered
 * last). */
ZR_EXPORT const char *zr_mdp_client_endpoint(const zr_mdp_client_t *self);

typedef struct zr_mdp_worker_t zr_mdp_worker_t;
/* A worker of SERVICE (not "mmi.*") for the brokers at ENDPOINTS[0..N-1]
 * (as for zr_mdp_client_new), using CTX (NULL: its own). It connects at
 * zr_mdp_worker_connect or its first zr_mdp_worker_recv. NULL with
 * EINVAL on a bad argument. */
ZR_EXPORT zr_mdp_worker_t *zr_mdp_worker_new(void *ctx,
                                             const char *const *endpoints,
                                             size_t n, const char *service);
/* Tells the broker DISCONNECT (given up to 1 s to go), closes; accepts
 * NULL, sets *SELF_P NULL. */
ZR_EXPORT void zr_mdp_worker_destroy(zr_mdp_worker_t **self_p);
/* HEARTBEAT to the broker every MSECS while waiting for a request (>= 1;
 * default 2500, the broker's default); the broker is dead when silent
 * for LIVENESS heartbeats (>= 1; default 3); then, after RECONNECT ms
 * (>= 0; default 2500; also between failed connects), a new socket to
 * the next endpoint and READY again. Set the broker's to the same. */
ZR_EXPORT int zr_mdp_worker_set_heartbeat(zr_mdp_worker_t *self, int msecs);
ZR_EXPORT int zr_mdp_worker_set_liveness(zr_mdp_worker_t *self, int liveness);
ZR_EXPORT int zr_mdp_worker_set_reconnect(zr_mdp_worker_t *self, int msecs);
/* MDP/0.1 (MDPW01, the default) or 0.2 (MDPW02); before connecting. */
ZR_EXPORT int zr_mdp_worker_set_version(zr_mdp_worker_t *self, int version);
/* CURVE, as zr_mdp_client_set_curve. */
ZR_EXPORT int zr_mdp_worker_set_curve(zr_mdp_worker_t *self,
                                      const char *server_key, const char *cert);
/* A descriptor (a signal handler's self-pipe) that makes a waiting
 * zr_mdp_worker_recv return -1 EINTR when it becomes readable; the
 * caller drains it. -1: none. */
ZR_EXPORT void zr_mdp_worker_set_wake_fd(zr_mdp_worker_t *self, int fd);
/* Connect now and send READY (zr_mdp_worker_recv does it when needed).
 * -1 with errno (a bad endpoint, the CURVE files: zr_mdp_worker_error). */
ZR_EXPORT int zr_mdp_worker_connect(zr_mdp_worker_t *self);
/* Wait up to TIMEOUT ms (-1: for ever) for a request, heartbeating and
 * reconnecting meanwhile: 0 and its body in REQUEST (cleared first); -1
 * EAGAIN when the time ran out, EINTR on a signal or the wake fd, ETERM;
 * EFSM while a request is open: answer it first (zr_mdp_worker_reply),
 * as the broker gives this worker nothing more until then. */
ZR_EXPORT int zr_mdp_worker_recv(zr_mdp_worker_t *self, zr_mdp_msg_t *request,
                                 int timeout);
/* MDP/0.2: a PARTIAL reply to the request received (BODY borrowed);
 * -1 ENOTSUP with MDP/0.1, EFSM when no request is open. */
ZR_EXPORT int zr_mdp_worker_partial(zr_mdp_worker_t *self,
                                    const zr_mdp_msg_t *body);
/* The reply (0.2: FINAL) to the request received (BODY borrowed, at least
 * one frame); the worker is ready again. -1 EFSM when no request is
 * open. */
ZR_EXPORT int zr_mdp_worker_reply(zr_mdp_worker_t *self,
                                  const zr_mdp_msg_t *body);
/* Times READY was sent (1 after the first connect; each reconnect adds
 * one). */
ZR_EXPORT uint64_t zr_mdp_worker_connects(const zr_mdp_worker_t *self);
/* Why the last call failed, or the last reconnect happened, as text. */
ZR_EXPORT const char *zr_mdp_worker_error(const zr_mdp_worker_t *self);

#ifdef __cplusplus
}
#endif
#endif
