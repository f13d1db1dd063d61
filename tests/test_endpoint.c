/* test_endpoint.c - endpoint lists: what parses, what does not and why,
 * and what attaching does.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

static zr_endpoints_t *
s_parse(const char *spec, bool bind)
{
    char err[256] = "";
    zr_endpoints_t *eps = zr_endpoints_parse(spec, bind, err, sizeof err);
    if (!eps) {
        ZR_FAILF("'%s' did not parse: %s", spec, err);
    }
    return eps;
}

/* SPEC must not parse, and the error must contain WANT. */
static void
s_bad(const char *spec, bool bind, const char *want)
{
    char err[256] = "";
    errno = 0;
    zr_endpoints_t *eps = zr_endpoints_parse(spec, bind, err, sizeof err);
    if (eps) {
        ZR_FAILF("'%s' parsed but should not", spec);
    }
    ZR_EQ(errno, EINVAL);
    ZR_CHECKF(strstr(err, want), "error for '%s' is '%s', want '%s'", spec,
              err, want);
}

static void
test_prefixes(void)
{
    zr_endpoints_t *eps =
        s_parse("@tcp://*:5559, >ipc:///run/a ,inproc://x", true);
    ZR_EQ(zr_endpoints_size(eps), 3);
    ZR_CHECK(zr_endpoints_is_bind(eps, 0));
    ZR_STREQ(zr_endpoints_address(eps, 0), "tcp://*:5559");
    ZR_CHECK(!zr_endpoints_is_bind(eps, 1));
    ZR_STREQ(zr_endpoints_address(eps, 1), "ipc:///run/a");
    ZR_CHECK(zr_endpoints_is_bind(eps, 2)); /* bare: the default */
    ZR_STREQ(zr_endpoints_address(eps, 2), "inproc://x");
    ZR_CHECK(zr_endpoints_address(eps, 3) == NULL);
    zr_endpoints_destroy(&eps);
    ZR_CHECK(eps == NULL);
    zr_endpoints_destroy(&eps); /* NULL is fine */

    eps = s_parse("tcp://localhost:5559", false);
    ZR_CHECK(!zr_endpoints_is_bind(eps, 0));
    zr_endpoints_destroy(&eps);
}

static void
test_good_forms(void)
{
    const char *good[] = {
        "@tcp://127.0.0.1:0",       "@tcp://*:*",
        "tcp://[::1]:5559",         "@tcp://[::]:*",
        ">tcp://eth0;10.0.0.1:5555", ">tcp://example.com:80",
        "@ipc://*",                 "ipc:///tmp/zrelay-test.sock",
        "inproc://a-b.c",           "@ws://127.0.0.1:8080/path",
        "pgm://eth0;239.192.1.1:5555",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        zr_endpoints_t *eps = s_parse(good[i], true);
        zr_endpoints_destroy(&eps);
    }
}

static void
test_bad_forms(void)
{
    s_bad("", true, "empty endpoint");
    s_bad("@tcp://*:1,,@tcp://*:2", true, "empty endpoint");
    s_bad("@", true, "empty endpoint");
    s_bad("5559", true, "did you mean 'tcp://*:5559'");
    s_bad("localhost:5559", true, "did you mean 'tcp://localhost:5559'");
    s_bad("frontend", true, "has no transport");
    s_bad("tpc://*:5559", true, "unknown transport 'tpc'");
    s_bad("tcp://", true, "has no address");
    s_bad("tcp://127.0.0.1", true, "has no port");
    s_bad("tcp://:5559", true, "has no host");
    s_bad("tcp://127.0.0.1:99999", true, "bad port");
    s_bad("tcp://127.0.0.1:http", true, "bad port");
    s_bad("tcp://[::1:5559", true, "lacks ']'");
    s_bad(">tcp://*:5559", true, "did you mean '@tcp://*:5559'");
    s_bad("tcp://*:5559", false, "did you mean 'tcp://127.0.0.1:5559'");
    s_bad("tcp://127.0.0.1:*", false, "only make sense for bind");
    s_bad(">ipc://*", true, "did you mean '@ipc://*'");
    ZR_FAILP(zr_endpoints_parse(NULL, true, NULL, 0), EINVAL);
}

static void
test_attach_resolves(void)
{
    void *ctx = zmq_ctx_new();
    void *s = zrt_socket(ctx, ZMQ_PULL);
    zr_endpoints_t *eps = s_parse("@tcp://127.0.0.1:*,@inproc://attach", true);
    char err[256];
    ZR_PASS(zr_endpoints_attach(eps, s, err, sizeof err));
    const char *r = zr_endpoints_resolved(eps, 0);
    ZR_CHECKF(strncmp(r, "tcp://127.0.0.1:", 16) == 0 && strcmp(r + 16, "*"),
              "resolved '%s'", r);
    ZR_STREQ(zr_endpoints_resolved(eps, 1), "inproc://attach");

    /* The same port again: the error names the endpoint and the cause. */
    char again[300];
    snprintf(again, sizeof again, "@%s", r);
    void *s2 = zrt_socket(ctx, ZMQ_PULL);
    zr_endpoints_t *eps2 = s_parse(again, true);
    ZR_FAIL(zr_endpoints_attach(eps2, s2, err, sizeof err), EADDRINUSE);
    ZR_CHECKF(strstr(err, "cannot bind tcp://127.0.0.1:") &&
                  strstr(err, "Address already in use"),
              "error '%s'", err);
    zr_endpoints_destroy(&eps);
    zr_endpoints_destroy(&eps2);
    zmq_close(s);
    zmq_close(s2);
    zmq_ctx_term(ctx);
}

static void
test_attach_ipv6(void)
{
    void *ctx = zmq_ctx_new();
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zr_endpoints_t *eps = s_parse("@tcp://[::1]:*", true);
    char err[256];
    if (zr_endpoints_attach(eps, pull, err, sizeof err) != 0) {
        ZR_SKIP("no IPv6 loopback here: %s", err);
    }
    const char *r = zr_endpoints_resolved(eps, 0);
    ZR_CHECKF(strncmp(r, "tcp://[::1]:", 12) == 0, "resolved '%s'", r);
    /* A connect to the IPv6 literal works too: ZMQ_IPV6 is set for it. */
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    char spec[300];
    snprintf(spec, sizeof spec, ">%s", r);
    zr_endpoints_t *out = s_parse(spec, true);
    ZR_PASS(zr_endpoints_attach(out, push, err, sizeof err));
    ZR_SEND(push, "over ::1");
    ZR_RECV(pull, "over ::1");
    zr_endpoints_destroy(&eps);
    zr_endpoints_destroy(&out);
    zmq_close(pull);
    zmq_close(push);
    zmq_ctx_term(ctx);
}

static void
test_attach_errors(void)
{
    void *ctx = zmq_ctx_new();
    void *s = zrt_socket(ctx, ZMQ_PULL);
    char err[256];
    zr_endpoints_t *eps = s_parse("@tcp://no-such-host.invalid:5559", true);
    ZR_CHECK(zr_endpoints_attach(eps, s, err, sizeof err) == -1);
    ZR_CHECKF(strstr(err, "cannot bind tcp://no-such-host.invalid:5559: "),
              "error '%s'", err);
    zr_endpoints_destroy(&eps);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"prefixes", test_prefixes},
    {"good forms", test_good_forms},
    {"bad forms", test_bad_forms},
    {"attach resolves the port", test_attach_resolves},
    {"attach IPv6", test_attach_ipv6},
    {"attach errors name the endpoint", test_attach_errors},
    {NULL, NULL},
};
ZR_MAIN
