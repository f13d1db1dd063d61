/* ctl.c - the control protocol a relay answers on its control socket:
 * libzmq's zmq_proxy_steerable commands, word for word, plus STATS (JSON).
 * SPDX-License-Identifier: MIT
 *
 * A request is one frame holding the command, optionally followed by one
 * frame naming the device it is meant for. Replies (docs/CONTROL.md):
 *   PAUSE, RESUME, TERMINATE  an empty frame, as libzmq >= 4.3.5 does on a
 *                             REP control socket;
 *   STATISTICS                8 frames of host-order uint64, as libzmq;
 *   STATS                     one frame, a JSON object;
 *   anything else             one frame "ERROR: <why>"; the relay goes on
 *                             (libzmq 4.3.4 aborts the process here).
 */
#include "zr_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zmq.h>

#define S_MAX_FRAMES 16

void
zr__ctl_statistics(const zr_stats_t *stats, uint64_t out[8])
{
    out[0] = stats->frontend.msgs_in;
    out[1] = stats->frontend.bytes_in;
    out[2] = stats->frontend.msgs_out;
    out[3] = stats->frontend.bytes_out;
    out[4] = stats->backend.msgs_in;
    out[5] = stats->backend.bytes_in;
    out[6] = stats->backend.msgs_out;
    out[7] = stats->backend.bytes_out;
}

/* Copy a frame into TEXT as printable characters, for matching and for
 * error messages that quote what was sent. */
static void
s_printable(zmq_msg_t *frame, char *text, size_t len)
{
    const unsigned char *data = zmq_msg_data(frame);
    size_t size = zmq_msg_size(frame);
    size_t j = 0;
    for (size_t i = 0; i < size && j + 1 < len; i++) {
        text[j++] = isprint(data[i]) ? (char) data[i] : '?';
    }
    text[j] = 0;
    if (size >= len && len > 4) {
        memcpy(text + len - 4, "...", 4);
    }
}

static void
s_send_text(void *control, const char *text, bool more)
{
    zmq_send(control, text, strlen(text), more ? ZMQ_SNDMORE : 0);
}

void
zr__ctl_serve(zr__engine_t *engine, void *control)
{
    zmq_msg_t frames[S_MAX_FRAMES];
    int nframes = 0, total = 0;
    int delim = -1; /* the first empty frame after the first */
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, control, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (delim < 0 && total > 0 && zmq_msg_size(&part) == 0) {
            delim = total;
        }
        total++;
        if (nframes < S_MAX_FRAMES) {
            frames[nframes++] = part; /* moves the message */
        }
        else {
            zmq_msg_close(&part);
        }
    }
    if (nframes == 0) {
        return;
    }
    int type = 0;
    size_t tlen = sizeof type;
    zmq_getsockopt(control, ZMQ_TYPE, &type, &tlen);

    /* A ROUTER control socket: echo the envelope, up to the empty
     * delimiter, in front of the reply. Without a delimiter the error
     * reply goes to the identity alone; an envelope longer than the
     * frames kept cannot be echoed: refused without a reply. */
    bool reply = type == ZMQ_REP || type == ZMQ_ROUTER || type == ZMQ_PAIR ||
                 type == ZMQ_DEALER;
    const char *malformed = NULL;
    int first = 0;
    if (type == ZMQ_ROUTER) {
        first = delim < 0 ? 1 : delim + 1;
        malformed = delim < 0 ? "no empty delimiter frame after the "
                                "identity (send an empty frame, then the "
                                "command, as REQ does)"
                    : delim >= S_MAX_FRAMES ? "an envelope of over 15 frames"
                                            : NULL;
        reply = delim < S_MAX_FRAMES;
    }
    char cmd[64] = "", arg[128] = "";
    if (!malformed && first < nframes) {
        s_printable(&frames[first], cmd, sizeof cmd);
    }
    if (first + 1 < nframes) {
        s_printable(&frames[first + 1], arg, sizeof arg);
    }
    if (reply && type == ZMQ_ROUTER) {
        for (int i = 0; i < first && i < nframes; i++) {
            zmq_msg_send(&frames[i], control, ZMQ_SNDMORE);
        }
    }

    char error[256] = "";
    const char *name = zr__engine_name(engine);
    bool ok = false;
    if (malformed) {
        snprintf(error, sizeof error, "ERROR: malformed request: %s",
                 malformed);
    }
    else if (*arg && strcmp(arg, name) != 0) {
        snprintf(error, sizeof error,
                 "ERROR: no device '%s' here (this is '%s')", arg, name);
    }
    else if (strcasecmp(cmd, "PAUSE") == 0 || strcasecmp(cmd, "RESUME") == 0 ||
             strcasecmp(cmd, "TERMINATE") == 0 ||
             strcasecmp(cmd, "STATISTICS") == 0 ||
             strcasecmp(cmd, "STATS") == 0) {
        ok = true;
    }
    else {
        snprintf(error, sizeof error,
                 "ERROR: unknown command '%s' (known: PAUSE, RESUME, "
                 "TERMINATE, STATISTICS, STATS)",
                 cmd);
    }
    /* Counted before the reply, so a STATS reply includes itself and a
     * client that got its answer sees the count. */
    zr__engine_count_control(engine, ok);
    if (!ok) {
        ZR_LOG_W("%s: control: %s", name, error + 7);
        if (reply) {
            s_send_text(control, error, false);
        }
    }
    else if (strcasecmp(cmd, "PAUSE") == 0) {
        zr__engine_pause(engine, true);
        ZR_LOG_N("%s: paused by control command", name);
        if (reply) {
            s_send_text(control, "", false);
        }
    }
    else if (strcasecmp(cmd, "RESUME") == 0) {
        zr__engine_pause(engine, false);
        ZR_LOG_N("%s: resumed by control command", name);
        if (reply) {
            s_send_text(control, "", false);
        }
    }
    else if (strcasecmp(cmd, "TERMINATE") == 0) {
        ZR_LOG_N("%s: terminated by control command", name);
        if (reply) {
            s_send_text(control, "", false);
        }
        zr__engine_stop(engine);
    }
    else if (strcasecmp(cmd, "STATISTICS") == 0) {
        zr_stats_t st;
        uint64_t values[8];
        zr__engine_stats(engine, &st);
        zr__ctl_statistics(&st, values);
        for (int i = 0; reply && i < 8; i++) {
            zmq_send(control, &values[i], sizeof values[i],
                     i < 7 ? ZMQ_SNDMORE : 0);
        }
    }
    else {
        char *json = zr__engine_stats_json(engine);
        if (reply) {
            s_send_text(control, json ? json : "{}", false);
        }
        free(json);
    }
    for (int i = 0; i < nframes; i++) {
        zmq_msg_close(&frames[i]);
    }
}
