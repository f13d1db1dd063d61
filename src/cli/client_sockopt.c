/* client_sockopt.c - a client verb's --sockopt NAME=VALUE: libzmq's
 * socket options by name (the ZMQ_ prefix optional, any case), with
 * --reconnect-ivl and --tcp-keepalive as shorthands. Read when the
 * command line is, applied when the socket opens, after the verb's own
 * options, in the order given.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zmq.h>

typedef struct {
    const char *name; /* without ZMQ_, lower case */
    int option;
    client_sockopt_kind_t kind;
} s_sockopt_t;

/* The options libzmq 4.3 lets a socket set (no draft API), by the name
 * of zmq_setsockopt(3). */
static const s_sockopt_t s_table[] = {
    {"affinity", ZMQ_AFFINITY, CLIENT_SOCKOPT_INT64},
    {"backlog", ZMQ_BACKLOG, CLIENT_SOCKOPT_INT},
    {"bindtodevice", ZMQ_BINDTODEVICE, CLIENT_SOCKOPT_STRING},
    {"conflate", ZMQ_CONFLATE, CLIENT_SOCKOPT_INT},
    {"connect_routing_id", ZMQ_CONNECT_ROUTING_ID, CLIENT_SOCKOPT_BYTES},
    {"connect_timeout", ZMQ_CONNECT_TIMEOUT, CLIENT_SOCKOPT_INT},
    {"curve_publickey", ZMQ_CURVE_PUBLICKEY, CLIENT_SOCKOPT_STRING},
    {"curve_secretkey", ZMQ_CURVE_SECRETKEY, CLIENT_SOCKOPT_STRING},
    {"curve_server", ZMQ_CURVE_SERVER, CLIENT_SOCKOPT_INT},
    {"curve_serverkey", ZMQ_CURVE_SERVERKEY, CLIENT_SOCKOPT_STRING},
    {"handshake_ivl", ZMQ_HANDSHAKE_IVL, CLIENT_SOCKOPT_INT},
    {"heartbeat_ivl", ZMQ_HEARTBEAT_IVL, CLIENT_SOCKOPT_INT},
    {"heartbeat_timeout", ZMQ_HEARTBEAT_TIMEOUT, CLIENT_SOCKOPT_INT},
    {"heartbeat_ttl", ZMQ_HEARTBEAT_TTL, CLIENT_SOCKOPT_INT},
    {"immediate", ZMQ_IMMEDIATE, CLIENT_SOCKOPT_INT},
    {"invert_matching", ZMQ_INVERT_MATCHING, CLIENT_SOCKOPT_INT},
    {"ipv6", ZMQ_IPV6, CLIENT_SOCKOPT_INT},
    {"linger", ZMQ_LINGER, CLIENT_SOCKOPT_INT},
    {"maxmsgsize", ZMQ_MAXMSGSIZE, CLIENT_SOCKOPT_INT64},
    {"multicast_hops", ZMQ_MULTICAST_HOPS, CLIENT_SOCKOPT_INT},
    {"multicast_maxtpdu", ZMQ_MULTICAST_MAXTPDU, CLIENT_SOCKOPT_INT},
    {"plain_password", ZMQ_PLAIN_PASSWORD, CLIENT_SOCKOPT_STRING},
    {"plain_server", ZMQ_PLAIN_SERVER, CLIENT_SOCKOPT_INT},
    {"plain_username", ZMQ_PLAIN_USERNAME, CLIENT_SOCKOPT_STRING},
    {"probe_router", ZMQ_PROBE_ROUTER, CLIENT_SOCKOPT_INT},
    {"rate", ZMQ_RATE, CLIENT_SOCKOPT_INT},
    {"rcvbuf", ZMQ_RCVBUF, CLIENT_SOCKOPT_INT},
    {"rcvhwm", ZMQ_RCVHWM, CLIENT_SOCKOPT_INT},
    {"rcvtimeo", ZMQ_RCVTIMEO, CLIENT_SOCKOPT_INT},
    {"reconnect_ivl", ZMQ_RECONNECT_IVL, CLIENT_SOCKOPT_INT},
    {"reconnect_ivl_max", ZMQ_RECONNECT_IVL_MAX, CLIENT_SOCKOPT_INT},
    {"recovery_ivl", ZMQ_RECOVERY_IVL, CLIENT_SOCKOPT_INT},
    {"req_correlate", ZMQ_REQ_CORRELATE, CLIENT_SOCKOPT_INT},
    {"req_relaxed", ZMQ_REQ_RELAXED, CLIENT_SOCKOPT_INT},
    {"router_handover", ZMQ_ROUTER_HANDOVER, CLIENT_SOCKOPT_INT},
    {"router_mandatory", ZMQ_ROUTER_MANDATORY, CLIENT_SOCKOPT_INT},
    {"routing_id", ZMQ_ROUTING_ID, CLIENT_SOCKOPT_BYTES},
    {"sndbuf", ZMQ_SNDBUF, CLIENT_SOCKOPT_INT},
    {"sndhwm", ZMQ_SNDHWM, CLIENT_SOCKOPT_INT},
    {"sndtimeo", ZMQ_SNDTIMEO, CLIENT_SOCKOPT_INT},
    {"socks_proxy", ZMQ_SOCKS_PROXY, CLIENT_SOCKOPT_STRING},
    {"stream_notify", ZMQ_STREAM_NOTIFY, CLIENT_SOCKOPT_INT},
    {"subscribe", ZMQ_SUBSCRIBE, CLIENT_SOCKOPT_BYTES},
    {"tcp_keepalive", ZMQ_TCP_KEEPALIVE, CLIENT_SOCKOPT_INT},
    {"tcp_keepalive_cnt", ZMQ_TCP_KEEPALIVE_CNT, CLIENT_SOCKOPT_INT},
    {"tcp_keepalive_idle", ZMQ_TCP_KEEPALIVE_IDLE, CLIENT_SOCKOPT_INT},
    {"tcp_keepalive_intvl", ZMQ_TCP_KEEPALIVE_INTVL, CLIENT_SOCKOPT_INT},
    {"tcp_maxrt", ZMQ_TCP_MAXRT, CLIENT_SOCKOPT_INT},
    {"tos", ZMQ_TOS, CLIENT_SOCKOPT_INT},
    {"unsubscribe", ZMQ_UNSUBSCRIBE, CLIENT_SOCKOPT_BYTES},
    {"xpub_manual", ZMQ_XPUB_MANUAL, CLIENT_SOCKOPT_INT},
    {"xpub_nodrop", ZMQ_XPUB_NODROP, CLIENT_SOCKOPT_INT},
    {"xpub_verbose", ZMQ_XPUB_VERBOSE, CLIENT_SOCKOPT_INT},
    {"xpub_verboser", ZMQ_XPUB_VERBOSER, CLIENT_SOCKOPT_INT},
    {"xpub_welcome_msg", ZMQ_XPUB_WELCOME_MSG, CLIENT_SOCKOPT_BYTES},
    {"zap_domain", ZMQ_ZAP_DOMAIN, CLIENT_SOCKOPT_STRING},
};
#define S_NTABLE (sizeof s_table / sizeof s_table[0])

static const s_sockopt_t *
s_find(const char *name, size_t len)
{
    if (len > 4 && strncasecmp(name, "zmq_", 4) == 0) {
        name += 4;
        len -= 4;
    }
    for (size_t i = 0; i < S_NTABLE; i++) {
        if (strlen(s_table[i].name) == len &&
            strncasecmp(s_table[i].name, name, len) == 0) {
            return &s_table[i];
        }
    }
    return NULL;
}

/* A number, or a boolean word (on/off, true/false, yes/no) as 1/0. */
static int
s_number(const char *value, int64_t min, int64_t max, int64_t *out)
{
    static const char *words[][2] = {
        {"on", "off"}, {"true", "false"}, {"yes", "no"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        for (int k = 0; k < 2; k++) {
            if (strcasecmp(value, words[i][k]) == 0) {
                *out = k == 0;
                return 0;
            }
        }
    }
    return zr_parse_int(value, min, max, out);
}

int
client_sockopt_parse(const char *verb, const char *spec, client_sockopt_t *out)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec) {
        return cli_error(-1,
                         "%s: --sockopt '%s': not NAME=VALUE (for example "
                         "--sockopt reconnect_ivl_max=5000)",
                         verb, spec);
    }
    const s_sockopt_t *o = s_find(spec, (size_t) (eq - spec));
    if (!o) {
        char names[2048];
        size_t used = 0;
        for (size_t i = 0; i < S_NTABLE && used < sizeof names; i++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s",
                             i ? ", " : "", s_table[i].name);
            used += w > 0 ? (size_t) w : 0;
        }
        return cli_error(-1,
                         "%s: --sockopt '%.*s': no such socket option (known, "
                         "ZMQ_ prefix and case optional: %s)",
                         verb, (int) (eq - spec), spec, names);
    }
    *out = (client_sockopt_t){.flag = "--sockopt",
                              .spec = spec,
                              .option = o->option,
                              .kind = o->kind,
                              .value = eq + 1};
    if (o->kind == CLIENT_SOCKOPT_INT || o->kind == CLIENT_SOCKOPT_INT64) {
        int64_t min = o->kind == CLIENT_SOCKOPT_INT ? INT32_MIN : INT64_MIN;
        int64_t max = o->kind == CLIENT_SOCKOPT_INT ? INT32_MAX : INT64_MAX;
        if (s_number(eq + 1, min, max, &out->num) != 0) {
            return cli_error(-1,
                             "%s: --sockopt %s: '%s' is not a whole number "
                             "from %lld to %lld (or on/off)",
                             verb, o->name, eq + 1, (long long) min,
                             (long long) max);
        }
    }
    return 0;
}

void
client_sockopt_int(client_sockopt_t *out, const char *flag, const char *spec,
                   int option, int64_t value)
{
    *out = (client_sockopt_t){.flag = flag,
                              .spec = spec,
                              .option = option,
                              .kind = CLIENT_SOCKOPT_INT,
                              .num = value};
}

int
client_sockopt_apply(const client_sockopt_t *o, void *sock, const char *verb)
{
    int rc;
    int i = (int) o->num;
    unsigned char bytes[256];
    size_t len = strlen(o->value ? o->value : "");
    int n;
    switch (o->kind) {
    case CLIENT_SOCKOPT_INT:
        rc = zmq_setsockopt(sock, o->option, &i, sizeof i);
        break;
    case CLIENT_SOCKOPT_INT64:
        rc = zmq_setsockopt(sock, o->option, &o->num, sizeof o->num);
        break;
    case CLIENT_SOCKOPT_BYTES:
        /* 0x and hex is bytes, as --identity takes them. */
        n = len / 2 <= sizeof bytes ? cli_hex_decode(o->value, len, bytes) : -1;
        rc = n >= 0 ? zmq_setsockopt(sock, o->option, bytes, (size_t) n)
                    : zmq_setsockopt(sock, o->option, o->value, len);
        break;
    default: rc = zmq_setsockopt(sock, o->option, o->value, len); break;
    }
    if (rc != 0) {
        return cli_error(CLI_USAGE, "%s: %s %s: %s", verb, o->flag, o->spec,
                         zr_strerror(errno));
    }
    const char *name = "?";
    for (size_t k = 0; k < S_NTABLE; k++) {
        name = s_table[k].option == o->option ? s_table[k].name : name;
    }
    if (o->kind == CLIENT_SOCKOPT_INT || o->kind == CLIENT_SOCKOPT_INT64) {
        cli_log(ZR_LOG_DEBUG, "%s: socket option %s = %lld (%s %s)", verb, name,
                (long long) o->num, o->flag, o->spec);
    }
    else {
        cli_log(ZR_LOG_DEBUG, "%s: socket option %s set (%s)", verb, name,
                o->flag);
    }
    return CLI_OK;
}
