/* ctl.c - the control protocol (docs/CONTROL.md), one implementation for
 * every control endpoint: a device's own, zr_proxy's, the daemon's.
 * SPDX-License-Identifier: MIT
 *
 * A request is one frame holding the command, optionally followed by one
 * frame naming the device it is meant for (further frames are ignored);
 * on a ROUTER control socket the envelope and its empty delimiter come
 * first. What an endpoint can do is in its zr__ctl_ops_t: how many
 * devices it serves and what to do to one; a daemon's also lists and
 * reloads. The rules are the same everywhere:
 * - a name must be one of the endpoint's devices;
 * - a device command (PAUSE, RESUME, STATISTICS) acts on the named
 *   device, or on the only one; STATS without a name answers for the
 *   device, or for all of a daemon's;
 * - LIST, RELOAD and TERMINATE are for the endpoint's owner: a daemon
 *   refuses a name with them;
 * - STOP and START act on one device: a daemon's named one stops (it
 *   stays listed, "stopped") or starts again from its config section; a
 *   device's own endpoint takes STOP as TERMINATE. A daemon refuses STOP
 *   without a name (it once meant TERMINATE: a forgotten name must not
 *   stop everything);
 * - anything else is answered "ERROR: <why>", logged, counted, and
 *   changes nothing (libzmq 4.3.4's zmq_proxy_steerable aborts there).
 * Replies: PAUSE, RESUME, STOP, START, TERMINATE, RELOAD one empty frame (as
 * libzmq >= 4.3.5 on a REP socket); STATISTICS 8 frames of host-order uint64
 * (as libzmq); STATS and LIST one frame of JSON.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zmq.h>

/* Frames of one request kept, at most; the rest are read and dropped. */
#define S_MAX_FRAMES 16

typedef struct {
    void *socket;
    const zr__ctl_ops_t *ops;
    void *arg;
    bool reply;    /* the socket type can answer */
    bool unsent;   /* a frame of the reply was refused */
    int delimiter; /* index of the first empty frame after
                      the first, -1: none */
    zmq_msg_t frames[S_MAX_FRAMES];
    int nframes;
    int envelope;          /* frames before the command */
    char cmd[64];          /* printable */
    const zmq_msg_t *name; /* the name frame, or NULL */
    char name_text[128];   /* printable, for messages */
    char error[1024];
} s_req_t;

/* What a command acts on. */
typedef enum {
    S_OWNER,  /* the endpoint's owner: the device, or the whole daemon */
    S_DEVICE, /* one device: the named one, or the only one */
    S_STATS   /* one device, or all of a daemon's */
} s_target_t;

typedef struct {
    const char *name;
    const char *alias;
    bool daemon_only;
    s_target_t target;
    void (*run)(s_req_t *req, size_t dev);
} s_command_t;

/* ---------------------------------------------------------------------
 * Replies.
 */

/* Replies never block the relay: a peer that sends requests and does
 * not read the answers loses the answers (counted), the relay goes on.
 * Once a first frame went, libzmq takes the rest of the message. */
static void
s_send(s_req_t *req, const void *data, size_t size, bool more)
{
    if (req->unsent) {
        return;
    }
    if (zmq_send(req->socket, data, size,
                 (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
        req->unsent = true;
        if (req->ops->unsent) {
            zr__stat_add(req->ops->unsent, 1);
        }
        ZR_LOG_D("%s: control: a reply was not sent (%s)", req->ops->owner,
                 zmq_strerror(errno));
    }
}

/* The envelope back, in front of a reply. */
static void
s_envelope(s_req_t *req)
{
    for (int i = 0; i < req->envelope; i++) {
        s_send(req, zmq_msg_data(&req->frames[i]),
               zmq_msg_size(&req->frames[i]), true);
    }
}

static void
s_reply_text(s_req_t *req, const char *text)
{
    if (req->reply) {
        s_envelope(req);
        s_send(req, text, strlen(text), false);
    }
}

static void s_refuse(s_req_t *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Refuse the request: an error reply, a warning, nothing else. */
static void
s_refuse(s_req_t *req, const char *fmt, ...)
{
    int at = snprintf(req->error, sizeof req->error, "ERROR: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->error + at, sizeof req->error - (size_t) at, fmt, ap);
    va_end(ap);
    if (req->ops->refused) {
        zr__stat_add(req->ops->refused, 1);
    }
    ZR_LOG_W("%s: control: %s", req->ops->owner, req->error + at);
    s_reply_text(req, req->error);
}

static void
s_count_ok(s_req_t *req)
{
    /* Before the reply: a STATS reply includes itself, and a client that
     * got its answer sees the count. */
    if (req->ops->commands) {
        zr__stat_add(req->ops->commands, 1);
    }
}

/* ---------------------------------------------------------------------
 * The commands.
 */

static void
s_pause(s_req_t *req, size_t dev)
{
    req->ops->pause(req->arg, dev, true);
    ZR_LOG_N("%s: paused by control command", req->ops->name(req->arg, dev));
    s_reply_text(req, "");
}

static void
s_resume(s_req_t *req, size_t dev)
{
    req->ops->pause(req->arg, dev, false);
    ZR_LOG_N("%s: resumed by control command", req->ops->name(req->arg, dev));
    s_reply_text(req, "");
}

static void
s_statistics(s_req_t *req, size_t dev)
{
    uint64_t v[8];
    req->ops->statistics(req->arg, dev, v);
    if (req->reply) {
        s_envelope(req);
        for (int i = 0; i < 8; i++) {
            s_send(req, &v[i], sizeof v[i], i < 7);
        }
    }
}

static void
s_reply_json(s_req_t *req, char *json)
{
    s_reply_text(req, json ? json : "{}");
    free(json);
}

/* DEV: a device, or SIZE_MAX for all of a daemon's. */
static void
s_stats(s_req_t *req, size_t dev)
{
    if (dev != SIZE_MAX) {
        s_reply_json(req, req->ops->stats_json(req->arg, dev));
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "devices");
    for (size_t i = 0; i < req->ops->count(req->arg); i++) {
        char *one = req->ops->stats_json(req->arg, i);
        cJSON *o = one ? cJSON_Parse(one) : NULL;
        free(one);
        if (o) {
            cJSON_AddItemToArray(list, o);
        }
    }
    s_reply_json(req, cJSON_PrintUnformatted(root));
    cJSON_Delete(root);
}

static void
s_list(s_req_t *req, size_t dev)
{
    (void) dev;
    s_reply_json(req, req->ops->list_json(req->arg));
}

static void
s_reload(s_req_t *req, size_t dev)
{
    (void) dev;
    char why[900];
    if (req->ops->reload(req->arg, why, sizeof why) != 0) {
        /* Counted as answered: the command was understood and carried
         * out; the reply says why the new config was not (the reload
         * logged that already). */
        snprintf(req->error, sizeof req->error, "ERROR: %s", why);
        s_reply_text(req, req->error);
        return;
    }
    s_reply_text(req, "");
}

static void
s_terminate(s_req_t *req, size_t dev)
{
    (void) dev;
    ZR_LOG_N("%s: terminated by control command", req->ops->owner);
    s_reply_text(req, ""); /* before it stops */
    req->ops->terminate(req->arg);
}

/* One device of a daemon stops, or starts again: the reply comes once it
 * has (a stop waits for the device's linger), or says why not. */
static void
s_device_op(s_req_t *req, size_t dev,
            int (*op)(void *arg, size_t i, char *why, size_t len),
            const char *done)
{
    char why[900], name[256];
    /* Copied: a device started again is a new one, with a new name. */
    snprintf(name, sizeof name, "%s", req->ops->name(req->arg, dev));
    if (op(req->arg, dev, why, sizeof why) != 0) {
        /* Answered, as RELOAD's failures are: understood and tried. */
        snprintf(req->error, sizeof req->error, "ERROR: %s", why);
        ZR_LOG_W("%s: control: %s", name, why);
        s_reply_text(req, req->error);
        return;
    }
    ZR_LOG_N("%s: %s by control command", name, done);
    s_reply_text(req, "");
}

static void
s_stop(s_req_t *req, size_t dev)
{
    if (!req->ops->stop) {
        s_terminate(req, dev); /* a device's own endpoint: itself */
        return;
    }
    s_device_op(req, dev, req->ops->stop, "stopped");
}

static void
s_start(s_req_t *req, size_t dev)
{
    s_device_op(req, dev, req->ops->start, "started");
}

static const s_command_t s_commands[] = {
    {"LIST", NULL, true, S_OWNER, s_list},
    {"STATS", NULL, false, S_STATS, s_stats},
    {"STATISTICS", NULL, false, S_DEVICE, s_statistics},
    {"PAUSE", NULL, false, S_DEVICE, s_pause},
    {"RESUME", NULL, false, S_DEVICE, s_resume},
    {"STOP", NULL, false, S_DEVICE, s_stop},
    {"START", NULL, true, S_DEVICE, s_start},
    {"RELOAD", NULL, true, S_OWNER, s_reload},
    {"TERMINATE", NULL, false, S_OWNER, s_terminate},
};
#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

/* ---------------------------------------------------------------------
 * Reading and checking a request.
 */

/* Copy a frame into TEXT as printable characters, for matching and for
 * error messages that quote what was sent. */
static void
s_printable(const zmq_msg_t *frame, char *text, size_t len)
{
    const unsigned char *data = zmq_msg_data((zmq_msg_t *) frame);
    size_t size = zmq_msg_size((zmq_msg_t *) frame);
    size_t j = 0;
    for (size_t i = 0; i < size && j + 1 < len; i++) {
        text[j++] = isprint(data[i]) ? (char) data[i] : '?';
    }
    text[j] = 0;
    if (size >= len && len > 4) {
        memcpy(text + len - 4, "...", 4);
    }
}

/* Read one whole message, keeping its first S_MAX_FRAMES frames. */
static bool
s_read(s_req_t *req)
{
    bool more = true;
    int total = 0;
    req->delimiter = -1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, req->socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (req->delimiter < 0 && total > 0 && zmq_msg_size(&part) == 0) {
            req->delimiter = total;
        }
        total++;
        if (req->nframes < S_MAX_FRAMES) {
            req->frames[req->nframes++] = part; /* moves the message */
        }
        else {
            zmq_msg_close(&part);
        }
    }
    return req->nframes > 0;
}

/* The device the name frame names, SIZE_MAX when none does. */
static size_t
s_lookup(s_req_t *req)
{
    size_t size = zmq_msg_size((zmq_msg_t *) req->name);
    const void *data = zmq_msg_data((zmq_msg_t *) req->name);
    for (size_t i = 0; i < req->ops->count(req->arg); i++) {
        const char *name = req->ops->name(req->arg, i);
        if (strlen(name) == size && memcmp(name, data, size) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* The names of the endpoint's devices, for error messages. */
static void
s_names(s_req_t *req, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < req->ops->count(req->arg) && used + 1 < len; i++) {
        int w = snprintf(out + used, len - used, "%s%s", i ? ", " : "",
                         req->ops->name(req->arg, i));
        used += w > 0 ? (size_t) w : 0;
    }
    if (!out[0]) {
        snprintf(out, len, "none");
    }
}

static void
s_known(s_req_t *req, char *out, size_t len)
{
    size_t used = 0;
    for (size_t i = 0; i < S_NCOMMANDS; i++) {
        if (s_commands[i].daemon_only && !req->ops->daemon) {
            continue;
        }
        int w = snprintf(out + used, len - used, "%s%s", used ? ", " : "",
                         s_commands[i].name);
        used += w > 0 && (size_t) w < len - used ? (size_t) w : 0;
    }
}

static const s_command_t *
s_command(s_req_t *req)
{
    for (size_t i = 0; i < S_NCOMMANDS; i++) {
        const s_command_t *c = &s_commands[i];
        if (c->daemon_only && !req->ops->daemon) {
            continue;
        }
        if (strcasecmp(req->cmd, c->name) == 0 ||
            (c->alias && strcasecmp(req->cmd, c->alias) == 0)) {
            return c;
        }
    }
    return NULL;
}

/* The name of the daemon's command REQ asks for at an endpoint that is
 * not the daemon's, or NULL. */
static const char *
s_daemon_only(s_req_t *req)
{
    for (size_t i = 0; i < S_NCOMMANDS && !req->ops->daemon; i++) {
        const s_command_t *c = &s_commands[i];
        if (c->daemon_only &&
            (strcasecmp(req->cmd, c->name) == 0 ||
             (c->alias && strcasecmp(req->cmd, c->alias) == 0))) {
            return c->name;
        }
    }
    return NULL;
}

/* Split the frames into envelope, command and name. False (refused) for
 * a ROUTER request without its empty delimiter, or with an envelope
 * longer than the frames kept (it could not be echoed). */
static bool
s_parse(s_req_t *req, int type)
{
    int at = 0;
    if (type == ZMQ_ROUTER) {
        if (req->delimiter < 0) {
            /* Answer the sender (its identity comes first) as it wrote,
             * without a delimiter. */
            req->envelope = 1;
            s_refuse(req, "malformed request: no empty delimiter frame "
                          "after the identity (send an empty frame, then "
                          "the command, as REQ does)");
            return false;
        }
        if (req->delimiter >= S_MAX_FRAMES - 1) {
            req->reply = false;
            s_refuse(req, "malformed request: an envelope of over %d frames",
                     S_MAX_FRAMES - 2);
            return false;
        }
        at = req->delimiter + 1;
    }
    req->envelope = at;
    if (at < req->nframes) {
        s_printable(&req->frames[at], req->cmd, sizeof req->cmd);
    }
    if (at + 1 < req->nframes) {
        req->name = &req->frames[at + 1];
        s_printable(req->name, req->name_text, sizeof req->name_text);
    }
    return true;
}

/* Which device a command of TARGET acts on: an index, SIZE_MAX for all
 * (STATS) or the owner; false when refused. */
static bool
s_target(s_req_t *req, const s_command_t *c, size_t *dev)
{
    char names[512];
    size_t count = req->ops->count(req->arg);
    *dev = SIZE_MAX;
    if (req->name) {
        *dev = s_lookup(req);
        if (*dev == SIZE_MAX) {
            s_names(req, names, sizeof names);
            s_refuse(req, "no device '%s' (devices: %s)", req->name_text,
                     names);
            return false;
        }
    }
    if (c->target == S_OWNER && req->name && req->ops->daemon) {
        bool stop = c->run == s_terminate;
        s_refuse(req, "%s is for the whole daemon and takes no device name%s",
                 c->name, stop ? " (to stop one device: STOP NAME)" : "");
        return false;
    }
    if (c->target == S_DEVICE && *dev == SIZE_MAX) {
        if (count != 1 || req->ops->daemon) {
            s_names(req, names, sizeof names);
            s_refuse(
                req, "%s needs a device name (devices: %s)%s", c->name, names,
                c->run == s_stop ? "; TERMINATE stops the whole daemon" : "");
            return false;
        }
        *dev = 0;
    }
    if (c->target == S_STATS && *dev == SIZE_MAX && !req->ops->daemon) {
        *dev = 0;
    }
    return true;
}

void *
zr__ctl_socket(void *ctx)
{
    /* A ROUTER doing REP's work here (ctl.c reads the envelope): libzmq's
     * REP, given a request without a delimiter from a peer already gone,
     * leaves its ROUTER inside a dropped message and throws away the next
     * client's reply (router.cpp, rollback without a pipe). MANDATORY
     * makes a reply to a gone or full peer fail, so it is counted. */
    void *sock = zmq_socket(ctx, ZMQ_ROUTER);
    if (sock) {
        int on = 1, zero = 0;
        zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    }
    return sock;
}

void
zr__ctl_serve(void *socket, const zr__ctl_ops_t *ops, void *arg)
{
    s_req_t *req = calloc(1, sizeof *req);
    if (!req) {
        return;
    }
    req->socket = socket;
    req->ops = ops;
    req->arg = arg;
    int type = 0;
    size_t tlen = sizeof type;
    zmq_getsockopt(socket, ZMQ_TYPE, &type, &tlen);
    req->reply = type == ZMQ_REP || type == ZMQ_ROUTER || type == ZMQ_PAIR ||
                 type == ZMQ_DEALER;
    if (s_read(req) && s_parse(req, type)) {
        const s_command_t *c = s_command(req);
        size_t dev;
        const char *daemons = c ? NULL : s_daemon_only(req);
        if (daemons) {
            s_refuse(req,
                     "%s is answered by the daemon's control endpoint only "
                     "(this is %s'%s')",
                     daemons, req->ops->count(req->arg) == 1 ? "device " : "",
                     req->ops->owner);
        }
        else if (!c) {
            char known[256];
            s_known(req, known, sizeof known);
            s_refuse(req, "unknown command '%s' (known: %s)", req->cmd, known);
        }
        else if (s_target(req, c, &dev)) {
            s_count_ok(req);
            c->run(req, dev);
        }
    }
    for (int i = 0; i < req->nframes; i++) {
        zmq_msg_close(&req->frames[i]);
    }
    free(req);
}

/* ---------------------------------------------------------------------
 * Counters of an endpoint.
 */

static const zr__stat_t s_rows[] = {
    {.key = "commands",
     .metric = "control_commands_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Commands the control endpoint answered.",
     .offset = offsetof(zr__ctl_counts_t, commands)},
    {.key = "errors",
     .metric = "control_refused_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Commands the control endpoint refused.",
     .offset = offsetof(zr__ctl_counts_t, refused)},
    {.key = "unsent",
     .metric = "control_replies_unsent_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Replies a control peer did not take (it does not read them).",
     .offset = offsetof(zr__ctl_counts_t, unsent)},
};

zr__stat_section_t
zr__ctl_section(const zr__ctl_counts_t *counts)
{
    return (zr__stat_section_t){.path = "control",
                                .labels = "socket=\"control\"",
                                .rows = s_rows,
                                .nrows = sizeof s_rows / sizeof s_rows[0],
                                .base = counts};
}
