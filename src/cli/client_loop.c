/* client_loop.c - a client verb's run: send what there is to send, print
 * what comes, answer (rep), wait for replies (req), until the input is
 * sent or --count reached, --timeout runs out or a signal comes.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

typedef struct {
    client_t *c;
    client_role_t role;
    cli_msg_t out, in;
    cli_msg_t last;  /* req --retries: the request out, to send again */
    int64_t retried; /* req --retries: times the one out was sent again */
    bool pending;    /* OUT waits to be sent */
    bool awaiting;   /* req: a request is out */
    bool src_done;   /* the input has ended */
    bool need_input; /* the input waits for standard input */
    int64_t now, next_send;
    int64_t activity;      /* the last receive (or send, see s_deadline) */
    int64_t blocked_since; /* since when OUT could not go; -1 */
    int status;            /* -1 while it goes on */
    /* This round's poll: the signal pipe, the socket, standard input. */
    zmq_pollitem_t items[3];
    int nitems, sock_i, in_i;
    bool time_to_send;
} s_loop_t;

/* Whether it had an end of its own, which a signal cut short. */
static bool
s_bounded(const client_t *c)
{
    if (c->count >= 0) {
        return true;
    }
    client_role_t role = c->verb->role;
    bool for_ever = c->src.kind == CLI_INPUT_FIXED && c->src.limit < 0;
    return (role == CLIENT_SEND || role == CLIENT_REQ) && c->src.fd < 0 &&
           !for_ever;
}

static int
s_print(client_t *c, const cli_msg_t *msg)
{
    if (c->quiet) {
        return 0;
    }
    const char *sep = c->frames_sep ? c->frames_sep : "|";
    char time[40];
    if (c->timestamp) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(time + n, sizeof time - n, ".%06ldZ", ts.tv_nsec / 1000);
    }
    if (cli_format_write_at(stdout, c->format, msg, sep, client_routes(c->verb),
                            c->timestamp ? time : NULL) != 0) {
        return cli_error(CLI_FAILURE, "%s: cannot write standard output: %s",
                         c->verb->name, strerror(errno));
    }
    return 0;
}

/* The identity of MSG's first frame, for a warning. */
static void
s_identity_text(const cli_msg_t *msg, char *out, size_t len)
{
    const unsigned char *d = zmq_msg_data(&msg->frames[0]);
    size_t n = zmq_msg_size(&msg->frames[0]);
    bool printable = n > 0;
    for (size_t i = 0; i < n; i++) {
        printable = printable && d[i] > 0x20 && d[i] < 0x7f;
    }
    if (printable) {
        snprintf(out, len, "'%.*s'", (int) n, (const char *) d);
        return;
    }
    size_t o = (size_t) snprintf(out, len, "0x");
    for (size_t i = 0; i < n && o + 3 < len; i++) {
        o += (size_t) snprintf(out + o, len - o, "%02x", d[i]);
    }
}

/* The next message to send into OUT, when it is time for one. */
static void
s_next_input(s_loop_t *l)
{
    if (l->pending || l->src_done || l->need_input || l->role == CLIENT_REP ||
        (l->role == CLIENT_REQ && l->awaiting)) {
        return;
    }
    int rc = cli_input_next(&l->c->src, &l->out);
    if (rc == 1) {
        l->pending = true;
    }
    else if (rc == 0) {
        l->need_input = true;
    }
    else if (rc == -1) {
        l->src_done = true;
    }
    else {
        l->status =
            cli_error(CLI_FAILURE, "%s: %s", l->c->verb->name, l->c->src.err);
    }
}

/* CLI_OK when the verb has done its job, -1 otherwise. */
static int
s_finished(const s_loop_t *l)
{
    const client_t *c = l->c;
    bool idle = l->src_done && !l->pending;
    bool done = false;
    switch (l->role) {
    case CLIENT_SEND: done = idle; break;
    case CLIENT_REQ: done = idle && !l->awaiting; break;
    case CLIENT_RECV: done = c->count >= 0 && c->received >= c->count; break;
    case CLIENT_REP: done = c->count >= 0 && c->sent >= c->count; break;
    case CLIENT_DUPLEX:
        done = (c->count > 0 && c->received >= c->count) ||
               (c->count == 0 && idle);
        break;
    }
    return done ? CLI_OK : -1;
}

/* Whether what --timeout watches now is a send that cannot go. */
static bool
s_sending(const s_loop_t *l)
{
    return l->role == CLIENT_SEND || (l->role == CLIENT_REQ && !l->awaiting);
}

/* When --timeout runs out, by role: a send blocked that long, or that
 * long without a message (a reply, a request); -1: never. */
static int64_t
s_deadline(const s_loop_t *l)
{
    if (l->c->timeout < 0) {
        return -1;
    }
    if (s_sending(l)) {
        return l->time_to_send ? l->blocked_since + l->c->timeout : -1;
    }
    return l->activity + l->c->timeout;
}

static int
s_timed_out(const s_loop_t *l)
{
    const client_t *c = l->c;
    bool sending = s_sending(l);
    const char *what = sending                 ? "could not send for"
                       : l->role == CLIENT_REQ ? "no reply within"
                       : l->role == CLIENT_REP ? "no request within"
                                               : "no message within";
    char got[64] = "";
    if (l->role == CLIENT_RECV || l->role == CLIENT_DUPLEX) {
        if (c->count >= 0) {
            snprintf(got, sizeof got, "; got %lld of %lld",
                     (long long) c->received, (long long) c->count);
        }
        else {
            snprintf(got, sizeof got, "; got %lld", (long long) c->received);
        }
    }
    return cli_error(CLI_TIMEOUT, "%s: %s %s (--timeout)%s%s", c->verb->name,
                     what, c->timeout_text, got,
                     sending ? ": no peer, or no room" : "");
}

/* This round's poll items; how long it may wait (-1: for ever), before
 * --timeout. */
static int64_t
s_poll_setup(s_loop_t *l)
{
    client_t *c = l->c;
    l->now = cli_now_ms();
    l->items[0] = (zmq_pollitem_t){NULL, client_signal_fd(), ZMQ_POLLIN, 0};
    l->nitems = 1;
    l->sock_i = l->in_i = -1;
    l->time_to_send = l->pending && l->now >= l->next_send;
    short events = 0;
    if (l->role != CLIENT_SEND && (l->role != CLIENT_REQ || l->awaiting) &&
        (l->role != CLIENT_REP || !l->pending)) {
        events |= ZMQ_POLLIN;
    }
    if (l->time_to_send) {
        events |= ZMQ_POLLOUT;
        if (l->blocked_since < 0) {
            l->blocked_since = l->now;
        }
    }
    if (events) {
        l->items[l->nitems] = (zmq_pollitem_t){c->sock, 0, events, 0};
        l->sock_i = l->nitems++;
    }
    if (l->need_input && !l->pending) {
        l->items[l->nitems] = (zmq_pollitem_t){NULL, c->src.fd, ZMQ_POLLIN, 0};
        l->in_i = l->nitems++;
    }
    return l->pending && !l->time_to_send ? l->next_send - l->now : -1;
}

/* A broker's error reply, one frame "ZRELAY-ERROR CODE text"
 * (docs/BROKER.md): counted, the first kept for the exit message. */
static void
s_error_reply(client_t *c, const cli_msg_t *msg)
{
    static const char prefix[] = "ZRELAY-ERROR ";
    zmq_msg_t *f = (zmq_msg_t *) &msg->frames[0];
    size_t len = msg->size == 1 ? zmq_msg_size(f) : 0;
    if (len < sizeof prefix - 1 ||
        memcmp(zmq_msg_data(f), prefix, sizeof prefix - 1) != 0) {
        return;
    }
    if (c->error_replies++ == 0) {
        snprintf(c->first_error, sizeof c->first_error, "%.*s",
                 (int) (len < sizeof c->first_error
                            ? len
                            : sizeof c->first_error - 1),
                 (const char *) zmq_msg_data(f));
    }
}

/* What the socket has: sinks take a burst at a time; req takes its
 * reply, rep a request, which it then answers. */
static void
s_receive(s_loop_t *l)
{
    client_t *c = l->c;
    int burst = l->role == CLIENT_RECV || l->role == CLIENT_DUPLEX ? 1000 : 1;
    for (int i = 0; i < burst && l->status < 0; i++) {
        if (c->count > 0 && c->received >= c->count && l->role != CLIENT_REP) {
            break;
        }
        int got = cli_msg_recv(&l->in, c->sock);
        if (got < 0) {
            l->status = cli_error(CLI_FAILURE, "%s: receive: %s", c->verb->name,
                                  zr_strerror(errno));
        }
        if (got <= 0) {
            break;
        }
        c->received++;
        l->activity = l->now;
        if (s_print(c, &l->in) != 0) {
            l->status = CLI_FAILURE;
        }
        else if (l->role == CLIENT_REQ) {
            l->awaiting = false;
            l->retried = 0;
            s_error_reply(c, &l->in);
        }
        else if (l->role == CLIENT_REP) {
            if (c->echo) {
                cli_msg_move(&l->out, &l->in);
            }
            else if (cli_msg_copy(&l->out, &c->reply) != 0) {
                l->status = cli_error(CLI_FAILURE, "%s: %s", c->verb->name,
                                      zr_strerror(errno));
            }
            l->pending = true;
            l->next_send = l->now;
        }
    }
}

/* Send OUT, which is due. */
static void
s_send(s_loop_t *l)
{
    client_t *c = l->c;
    if (c->retries > 0 && l->role == CLIENT_REQ &&
        cli_msg_copy(&l->last, &l->out) != 0) {
        l->status =
            cli_error(CLI_FAILURE, "%s: %s", c->verb->name, zr_strerror(errno));
        return;
    }
    int sent = cli_msg_send(&l->out, c->sock);
    if (sent == 1) {
        l->pending = false;
        l->blocked_since = -1;
        c->sent++;
        l->next_send = l->now + c->interval;
        l->awaiting = l->role == CLIENT_REQ;
        if (l->role != CLIENT_SEND) {
            l->activity = l->now;
        }
    }
    else if (sent == 0) {
        l->next_send = l->now + 1; /* room elsewhere, not for this one */
    }
    else if (errno == EHOSTUNREACH && client_routes(c->verb)) {
        char id[128];
        s_identity_text(&l->out, id, sizeof id);
        cli_error(0, "%s: no peer with identity %s; message dropped",
                  c->verb->name, id);
        cli_msg_clear(&l->out);
        l->pending = false;
        l->blocked_since = -1;
        c->dropped++;
    }
    else {
        l->status = cli_error(CLI_FAILURE, "%s: send: %s", c->verb->name,
                              zr_strerror(errno));
    }
}

/* req --retries (the Guide's Lazy Pirate): the reply did not come within
 * --timeout; send the request again on a new socket to the next
 * endpoint. False when the retries are used up. */
static bool
s_retry(s_loop_t *l)
{
    client_t *c = l->c;
    if (l->role != CLIENT_REQ || !l->awaiting || l->retried >= c->retries) {
        return false;
    }
    const char *to = NULL;
    int status = client_failover(c, &to);
    if (status != CLI_OK) {
        l->status = status;
        return true;
    }
    l->retried++;
    cli_error(0,
              "%s: no reply within %s (--timeout); sending it again to %s "
              "(retry %lld of %lld)",
              c->verb->name, c->timeout_text, to, (long long) l->retried,
              (long long) c->retries);
    if (cli_msg_copy(&l->out, &l->last) != 0) {
        l->status =
            cli_error(CLI_FAILURE, "%s: %s", c->verb->name, zr_strerror(errno));
        return true;
    }
    l->awaiting = false;
    l->pending = true;
    l->next_send = l->now;
    l->blocked_since = -1;
    l->activity = l->now;
    return true;
}

int
client_loop(client_t *self)
{
    s_loop_t l = {.c = self,
                  .role = self->verb->role,
                  .src_done = self->src.kind == CLI_INPUT_NONE,
                  .blocked_since = -1,
                  .status = -1};
    l.now = cli_now_ms();
    l.next_send = l.now + self->delay;
    l.activity = l.now;
    while (l.status < 0) {
        int sig = client_signal();
        if (sig) {
            l.status = s_bounded(self) ? 128 + sig : CLI_OK;
            break;
        }
        s_next_input(&l);
        if (l.status < 0) {
            l.status = s_finished(&l);
        }
        if (l.status >= 0) {
            break;
        }
        int64_t wait = s_poll_setup(&l);
        int64_t deadline = s_deadline(&l);
        if (deadline >= 0 && l.now >= deadline) {
            if (s_retry(&l)) {
                continue;
            }
            l.status = s_timed_out(&l);
            break;
        }
        if (deadline >= 0 && (wait < 0 || deadline - l.now < wait)) {
            wait = deadline - l.now;
        }
        if (zmq_poll(l.items, l.nitems, (long) wait) < 0) {
            if (errno != EINTR) {
                l.status = cli_error(CLI_FAILURE, "%s: %s", self->verb->name,
                                     zr_strerror(errno));
            }
            continue;
        }
        l.now = cli_now_ms();
        short revents = l.sock_i >= 0 ? l.items[l.sock_i].revents : 0;
        if (revents & ZMQ_POLLIN) {
            s_receive(&l);
        }
        if (l.status < 0 && (revents & ZMQ_POLLOUT) && l.pending) {
            s_send(&l);
        }
        if (l.status < 0 && l.in_i >= 0 && l.items[l.in_i].revents) {
            if (cli_input_fill(&self->src) != 0) {
                l.status = cli_error(CLI_FAILURE, "%s: %s", self->verb->name,
                                     self->src.err);
            }
            l.need_input = false;
        }
    }
    cli_msg_destroy(&l.out);
    cli_msg_destroy(&l.in);
    cli_msg_destroy(&l.last);
    if (l.status == CLI_OK && self->dropped) {
        l.status = cli_error(CLI_FAILURE, "%s: %lld message(s) dropped",
                             self->verb->name, (long long) self->dropped);
    }
    if (l.status == CLI_OK && self->error_replies) {
        l.status = cli_error(
            CLI_ERROR_REPLY, "%s: %lld error repl%s (%s%s)", self->verb->name,
            (long long) self->error_replies,
            self->error_replies == 1 ? "y" : "ies",
            self->error_replies == 1 ? "" : "the first: ", self->first_error);
    }
    return l.status;
}
