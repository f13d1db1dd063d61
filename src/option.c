/* option.c - a device's options by name: one table for the command line
 * (--max-msg-size), the config file (max_msg_size) and the documentation.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define S_ALL ((1u << ZR_FORWARDER) | (1u << ZR_QUEUE) | (1u << ZR_STREAMER))
#define S_FWD (1u << ZR_FORWARDER)
#define S_QUEUE (1u << ZR_QUEUE)

typedef int (*s_setter_t)(zr_device_t *self, const zr_option_t *opt,
                          int64_t number, const char *text);

typedef struct {
    zr_option_t info;
    s_setter_t set;
} s_option_t;

static int
s_endpoints(zr_device_t *self, const zr_option_t *opt, int64_t n,
            const char *text)
{
    (void) n;
    if (strcmp(opt->name, "frontend") == 0) {
        return zr_device_set_frontend(self, text);
    }
    if (strcmp(opt->name, "backend") == 0) {
        return zr_device_set_backend(self, text);
    }
    if (strcmp(opt->name, "capture") == 0) {
        return zr_device_set_capture(self, text);
    }
    if (strcmp(opt->name, "sync") == 0) {
        return zr_device_set_sync(self, text);
    }
    return zr_device_set_control(self, text);
}

static int
s_number(zr_device_t *self, const zr_option_t *opt, int64_t n, const char *text)
{
    (void) text;
    if (strcmp(opt->name, "sndhwm") == 0) {
        return zr_device_set_sndhwm(self, (int) n);
    }
    if (strcmp(opt->name, "rcvhwm") == 0) {
        return zr_device_set_rcvhwm(self, (int) n);
    }
    if (strcmp(opt->name, "max_msg_size") == 0) {
        return zr_device_set_max_msg_size(self, n);
    }
    return zr_device_set_linger(self, (int) n);
}

static int
s_heartbeat(zr_device_t *self, const zr_option_t *opt, int64_t n,
            const char *text)
{
    (void) text;
    int ivl, timeout;
    zr__device_heartbeat(self, &ivl, &timeout);
    if (strcmp(opt->name, "heartbeat_ivl") == 0) {
        ivl = (int) n;
    }
    else {
        timeout = (int) n;
    }
    return zr_device_set_heartbeat(self, ivl, timeout);
}

static int
s_ingest(zr_device_t *self, const zr_option_t *opt, int64_t n, const char *text)
{
    (void) opt;
    (void) text;
    return zr_device_set_ingest_pull(self, n == 1);
}

static int
s_hold(zr_device_t *self, const zr_option_t *opt, int64_t n, const char *text)
{
    (void) text;
    uint64_t until, max_msgs, max_bytes;
    int timeout;
    zr__device_hold(self, &until, &max_msgs, &max_bytes, &timeout);
    if (strcmp(opt->name, "hold_until") == 0) {
        until = (uint64_t) n;
    }
    else if (strcmp(opt->name, "hold_max") == 0) {
        max_msgs = (uint64_t) n;
    }
    else if (strcmp(opt->name, "hold_max_bytes") == 0) {
        max_bytes = (uint64_t) n;
    }
    else {
        timeout = (int) n;
    }
    return zr_device_set_hold(self, until, max_msgs, max_bytes, timeout);
}

static int
s_tuning(zr_device_t *self, const zr_option_t *opt, int64_t n, const char *text)
{
    if (strcmp(opt->name, "busy_poll") == 0) {
        return zr_device_set_busy_poll(self, (int) n);
    }
    return zr_device_set_affinity(self, text);
}

static int
s_pubsub(zr_device_t *self, const zr_option_t *opt, int64_t n, const char *text)
{
    (void) text;
    if (zr_device_type(self) != ZR_FORWARDER) {
        return zr_device_set_max_subscriptions(self, 0); /* says why */
    }
    zr__pubsub_opts_t *o = zr__device_pubsub_opts(self);
    const char *name = opt->name;
    if (strcmp(name, "last_value") == 0) {
        o->last_value = n != 0;
    }
    else if (strcmp(name, "last_value_max_topics") == 0) {
        o->lv_max_topics = (uint64_t) n;
    }
    else if (strcmp(name, "last_value_max_bytes") == 0) {
        o->lv_max_bytes = (uint64_t) n;
    }
    else if (strcmp(name, "last_value_prefix") == 0) {
        o->last_value_all = n == 1;
    }
    else if (strcmp(name, "max_subscriptions") == 0) {
        o->max_subscriptions = (uint64_t) n;
    }
    else if (strcmp(name, "slow_subscriber") == 0) {
        zr__device_slow_subscriber(self, n == 1, -1);
    }
    else {
        zr__device_slow_subscriber(self, -1, (int) n);
    }
    return 0;
}

static int
s_broker(zr_device_t *self, const zr_option_t *opt, int64_t n, const char *text)
{
    const char *name = opt->name;
    if (strcmp(name, "strategy") == 0) {
        return zr_device_set_strategy(self, text);
    }
    zr__broker_opts_t *o = zr__device_broker_opts(self);
    if (!o) {
        return zr_device_set_strategy(self, "rr"); /* says why */
    }
    if (strcmp(name, "heartbeat") == 0) {
        o->heartbeat = (int) (n > 0 ? n : 1);
    }
    else if (strcmp(name, "liveness") == 0) {
        o->liveness = (int) (n > 0 ? n : 1);
    }
    else if (strcmp(name, "busy_timeout") == 0) {
        o->busy_timeout = (int) n;
    }
    else if (strcmp(name, "retries") == 0) {
        o->retries = (int) (n < INT32_MAX ? n : INT32_MAX);
    }
    else if (strcmp(name, "max_waiting") == 0) {
        o->max_waiting = (uint64_t) n;
    }
    else if (strcmp(name, "request_timeout") == 0) {
        o->request_timeout = (int) n;
    }
    else {
        o->hash_frame = (uint64_t) n;
    }
    return 0;
}

/* Every option of every device type. Later capabilities add rows. */
static const s_option_t s_options[] = {
    {{"frontend", ZR_OPT_ENDPOINTS, "EP", S_ALL, NULL, NULL,
      "where publishers, clients or producers meet the device"},
     s_endpoints},
    {{"backend", ZR_OPT_ENDPOINTS, "EP", S_ALL, NULL, NULL,
      "where subscribers, workers or consumers meet the device"},
     s_endpoints},
    {{"capture", ZR_OPT_ENDPOINTS, "EP", S_ALL, NULL, NULL,
      "copy every frame, with its more-flag, to an XPUB for SUB "
      "listeners; a slow listener loses whole copies (counted), never the "
      "relay's speed"},
     s_endpoints},
    {{"control", ZR_OPT_ENDPOINTS, "EP", S_ALL, NULL, NULL,
      "a REP socket answering zmq_proxy_steerable's PAUSE, RESUME, "
      "TERMINATE, STATISTICS, and STATS (JSON); see 'zrelay ctl'"},
     s_endpoints},
    {{"sndhwm", ZR_OPT_INT, "N", S_ALL, "1000", NULL,
      "send high-water mark of frontend and backend, in messages"},
     s_number},
    {{"rcvhwm", ZR_OPT_INT, "N", S_ALL, "1000", NULL,
      "receive high-water mark of frontend and backend, in messages"},
     s_number},
    {{"max_msg_size", ZR_OPT_SIZE, "BYTES", S_ALL, "none", NULL,
      "largest frame accepted (ZMQ_MAXMSGSIZE; k, M, G suffixes); libzmq "
      "disconnects a peer that sends more"},
     s_number},
    {{"linger", ZR_OPT_DURATION, "D", S_ALL, "1s", NULL,
      "at stop, how long to deliver what the relay holds"},
     s_number},
    {{"heartbeat_ivl", ZR_OPT_DURATION, "D", S_ALL, "off", NULL,
      "ZMTP heartbeat interval on frontend and backend, to reap "
      "half-open connections of vanished peers (a queue with lru or hash: "
      "its heartbeat unless set)"},
     s_heartbeat},
    {{"heartbeat_timeout", ZR_OPT_DURATION, "D", S_ALL, "3 intervals", NULL,
      "a peer silent this long after a heartbeat is disconnected"},
     s_heartbeat},
    {{"busy_poll", ZR_OPT_MICROS, "D", S_ALL, "0 (never)", NULL,
      "after a wake-up that brought little traffic, keep polling this long "
      "before sleeping again: lower latency for CPU (e.g. 200us)"},
     s_tuning},
    {{"affinity", ZR_OPT_CPUS, "CPUS", S_ALL, "none", NULL,
      "pin the relay's thread to these CPUs (1, 0,2 or 2-3)"},
     s_tuning},
    {{"strategy", ZR_OPT_CHOICE, "rr|lru|hash", S_QUEUE, "rr", "rr|lru|hash",
      "how requests are spread over workers: rr round robin to any REP or "
      "DEALER worker; lru the least recently ready worker (Paranoid Pirate "
      "or lbbroker REQ workers); hash the same key to the same live worker "
      "(docs/BROKER.md)"},
     s_broker},
    {{"heartbeat", ZR_OPT_DURATION, "D", S_QUEUE, "1s", NULL,
      "lru/hash: heartbeats to and from Paranoid Pirate workers this often"},
     s_broker},
    {{"liveness", ZR_OPT_INT, "N", S_QUEUE, "3", NULL,
      "lru/hash: an idle worker silent for N heartbeats is expired"},
     s_broker},
    {{"busy_timeout", ZR_OPT_DURATION, "D", S_QUEUE, "30s", NULL,
      "lru/hash: a worker busy this long with one request is given up and "
      "the request goes to another (0: never)"},
     s_broker},
    {{"retries", ZR_OPT_INT, "N", S_QUEUE, "3", NULL,
      "lru/hash: a request whose worker died goes to another worker up to N "
      "times, then its client gets an error reply"},
     s_broker},
    {{"max_waiting", ZR_OPT_INT, "N", S_QUEUE, "10000", NULL,
      "lru/hash: at most N requests wait for a worker; beyond, an error "
      "reply at once (0: no bound)"},
     s_broker},
    {{"request_timeout", ZR_OPT_DURATION, "D", S_QUEUE, "10s", NULL,
      "lru/hash: a request that waited this long for a worker gets an "
      "error reply (0: it waits forever)"},
     s_broker},
    {{"hash_frame", ZR_OPT_INT, "N", S_QUEUE, "0", NULL,
      "hash: the key is body frame N (0: the first after the envelope)"},
     s_broker},
    {{"sync", ZR_OPT_ENDPOINTS, "EP", S_FWD, NULL, NULL,
      "a sync service: a publisher asks it to wait until N subscriptions "
      "match a topic prefix, and gets go only once its PUB socket has "
      "them all (zr_sync_wait, docs/SYNC.md)"},
     s_endpoints},
    {{"ingest", ZR_OPT_CHOICE, "sub|pull", S_FWD, "sub", "sub|pull",
      "pull: the frontend is a PULL socket, publishers PUSH (queued until "
      "connected, never dropped for want of a subscription); nothing goes "
      "upstream"},
     s_ingest},
    {{"last_value", ZR_OPT_BOOL, "BOOL", S_FWD, "false", NULL,
      "keep the last message of each topic (its first frame) and send it at "
      "once to a new subscriber alone; the frontend then subscribes to "
      "everything upstream"},
     s_pubsub},
    {{"last_value_max_topics", ZR_OPT_INT, "N", S_FWD, "10000", NULL,
      "at most N topics cached (0: no bound); the least recently updated "
      "go first (counted)"},
     s_pubsub},
    {{"last_value_max_bytes", ZR_OPT_SIZE, "BYTES", S_FWD, "64M", NULL,
      "at most this many bytes cached (0: no bound)"},
     s_pubsub},
    {{"last_value_prefix", ZR_OPT_CHOICE, "newest|all", S_FWD, "newest",
      "newest|all",
      "a subscription matching several cached topics gets the newest of "
      "them, to itself alone, or all of them, sent to every subscriber of "
      "those topics (duplicates included, as the Guide's lvcache)"},
     s_pubsub},
    {{"max_subscriptions", ZR_OPT_INT, "N", S_FWD, "0 (no limit)", NULL,
      "refuse subscriptions beyond N (counted); a refused one never goes "
      "upstream"},
     s_pubsub},
    {{"slow_subscriber", ZR_OPT_CHOICE, "drop|block", S_FWD, "drop",
      "drop|block",
      "drop: a slow subscriber misses messages, silently inside libzmq; "
      "block: it holds the forwarder (ZMQ_XPUB_NODROP) up to block_timeout "
      "per message, then the message goes the lossy way (counted); the "
      "publishers' PUB sockets may then drop instead"},
     s_pubsub},
    {{"block_timeout", ZR_OPT_DURATION, "D", S_FWD, "1s", NULL,
      "with slow_subscriber = block, how long one message may wait for a "
      "slow subscriber"},
     s_pubsub},
    {{"hold_until", ZR_OPT_INT, "N", S_FWD, "0 (no gate)", NULL,
      "hold publications while fewer than N subscriptions exist, then "
      "release them in order"},
     s_hold},
    {{"hold_max", ZR_OPT_INT, "N", S_FWD, "10000", NULL,
      "at most N publications held; over it the oldest goes on (counted)"},
     s_hold},
    {{"hold_max_bytes", ZR_OPT_SIZE, "BYTES", S_FWD, "64M", NULL,
      "at most this many bytes held; over it the oldest goes on (counted)"},
     s_hold},
    {{"hold_timeout", ZR_OPT_DURATION, "D", S_FWD, "10s", NULL,
      "a publication held this long goes on (counted); 0: no limit"},
     s_hold},
};
#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])

const zr_option_t *
zr_option(size_t i)
{
    return i < S_NOPTIONS ? &s_options[i].info : NULL;
}

/* NAME with '-' for '_' and without a leading "--" matches. */
static const s_option_t *
s_find(const char *name)
{
    if (strncmp(name, "--", 2) == 0) {
        name += 2;
    }
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const char *a = s_options[i].info.name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (!*a && !*b) {
            return &s_options[i];
        }
    }
    return NULL;
}

const zr_option_t *
zr_option_find(const char *name)
{
    const s_option_t *o = s_find(name);
    return o ? &o->info : NULL;
}

bool
zr_option_applies(const zr_option_t *opt, zr_device_type_t type)
{
    return (opt->types & (1u << type)) != 0;
}

/* ---------------------------------------------------------------------
 * The grammar of values, public (zrelay.h) so that the command line and
 * the config file read them alike: util.c's strict parsers.
 */

int
zr_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (zr__parse_int(text, min, max, out) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_parse_duration(const char *text, int64_t *out)
{
    if (zr__parse_duration(text, out) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_parse_size(const char *text, int64_t *out)
{
    if (zr__parse_size(text, out) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_parse_bool(const char *text, bool *out)
{
    static const char *const words[][2] = {
        {"true", "false"}, {"yes", "no"}, {"on", "off"}, {"1", "0"}};
    for (size_t i = 0; text && i < sizeof words / sizeof words[0]; i++) {
        for (int no = 0; no < 2; no++) {
            if (strcmp(text, words[i][no]) == 0) {
                *out = !no;
                return 0;
            }
        }
    }
    errno = EINVAL;
    return -1;
}

/* Parse TEXT as OPT's kind into *N; an error message into ERR. */
static int
s_parse(const zr_option_t *opt, const char *text, int64_t *n, char *err,
        size_t errlen)
{
    switch (opt->kind) {
    case ZR_OPT_ENDPOINTS:
    case ZR_OPT_CPUS: return 0; /* checked by their setters */
    case ZR_OPT_INT:
        if (zr__parse_int(text, 0, INT32_MAX, n) != 0) {
            zr__errf(err, errlen, "'%s' is not a whole number from 0 to %d",
                     text, INT32_MAX);
            return -1;
        }
        return 0;
    case ZR_OPT_SIZE:
        if (zr__parse_size(text, n) != 0) {
            zr__errf(err, errlen, "'%s' is not a size (bytes, or with k, M, G)",
                     text);
            return -1;
        }
        return 0;
    case ZR_OPT_DURATION:
        if (zr__parse_duration(text, n) != 0) {
            zr__errf(err, errlen,
                     "'%s' is not a duration (500ms, 2s, 1m; a bare number "
                     "is milliseconds)",
                     text);
            return -1;
        }
        if (*n > INT32_MAX) {
            zr__errf(err, errlen, "'%s' is too long (at most %d ms)", text,
                     INT32_MAX);
            return -1;
        }
        return 0;
    case ZR_OPT_MICROS:
        if (zr__parse_duration_us(text, n) != 0 || *n > INT32_MAX) {
            zr__errf(err, errlen,
                     "'%s' is not a duration (200us, 1ms; a bare number is "
                     "milliseconds)",
                     text);
            return -1;
        }
        return 0;
    case ZR_OPT_BOOL: {
        bool on;
        if (zr_parse_bool(text, &on) != 0) {
            zr__errf(err, errlen, "'%s' is not true or false", text);
            return -1;
        }
        *n = on;
        return 0;
    }
    case ZR_OPT_CHOICE: {
        /* choices: "a|b|c"; *n is the index of the match. */
        size_t len = strlen(text);
        int64_t i = 0;
        for (const char *c = opt->choices; c && *c; i++) {
            size_t clen = strcspn(c, "|");
            if (clen == len && strncmp(c, text, len) == 0) {
                *n = i;
                return 0;
            }
            c += clen + (c[clen] == '|');
        }
        zr__errf(err, errlen, "'%s' is not one of %s", text, opt->choices);
        return -1;
    }
    }
    return -1;
}

int
zr_device_set(zr_device_t *self, const char *name, const char *value)
{
    char err[400];
    const s_option_t *o = s_find(name);
    if (!o) {
        zr__device_errorf(self, "unknown option '%s'", name);
        errno = EINVAL;
        return -1;
    }
    if (!zr_option_applies(&o->info, zr_device_type(self))) {
        zr__device_errorf(self, "'%s' does not apply to a %s", o->info.name,
                          zr_device_type_name(zr_device_type(self)));
        errno = EINVAL;
        return -1;
    }
    int64_t n = 0;
    if (!value || s_parse(&o->info, value, &n, err, sizeof err) != 0) {
        zr__device_errorf(self, "%s", value ? err : "no value given");
        errno = EINVAL;
        return -1;
    }
    return o->set(self, &o->info, n, value);
}
