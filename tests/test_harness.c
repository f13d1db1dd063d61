/* test_harness.c - cases that pass, fail, skip, crash, hang and leak, on
 * purpose: harness_check.cmake runs this program and checks that each is
 * reported as what it is and that none hides another.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"
#include "zrtest_proc.h"

#include <pthread.h>

static void
test_passes(void)
{
    ZR_EQ(1 + 1, 2);
}

static void
test_fails(void)
{
    ZR_EQ(1 + 1, 3);
}

static void
test_skips(void)
{
    ZR_SKIP("no %s here", "frobnicator");
}

/* What a case leaves behind when it skips is no leak. */
static void
test_skips_after_setup(void)
{
    void *ctx = zmq_ctx_new();
    void *s = zrt_socket(ctx, ZMQ_PAIR);
    (void) s;
    ZR_SKIP("set up, then found %s", "no peer");
}

static void
test_aborts(void)
{
    abort();
}

static void
test_crashes(void)
{
    raise(SIGSEGV);
}

static void
test_hangs(void)
{
    for (;;) {
        pause();
    }
}

static void *
s_failing_thread(void *arg)
{
    ZR_CHECK(arg == NULL);
    return NULL;
}

static void
test_fails_in_thread(void)
{
    pthread_t t;
    static int not_null;
    ZR_EQ(pthread_create(&t, NULL, s_failing_thread, &not_null), 0);
    pthread_join(t, NULL);
    ZR_FAILF("the thread's check did not end the case");
}

/* A failed check kills the case's child processes and shows what they
 * said. */
static void
test_fails_with_child(void)
{
    const char *argv[] = {"/bin/sh", "-c",
                          "echo child says hi >&2; "
                          "exec sleep 600",
                          NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    ZR_WAIT((zrt_proc_pump(p, 10), strstr(zrt_proc_stderr(p), "hi\n")),
            ZRT_DEADLINE_MS);
    ZR_FAILF("on purpose, with pid %d running", (int) p->pid);
}

/* A case that passes but leaks: LeakSanitizer, when built in, fails it. */
static void
test_leaks(void)
{
    char *volatile p = malloc(1000);
    ZR_CHECK(p != NULL);
    p = NULL;
}

static void
test_passes_last(void)
{
    ZR_CHECK(true);
}

ZR_TESTS = {
    {"fine: passes", test_passes},
    {"fails a check", test_fails},
    {"fine: skips with a reason", test_skips},
    {"fine: skips after setup", test_skips_after_setup},
    {"aborts", test_aborts},
    {"crashes", test_crashes},
    {"hangs", test_hangs},
    {"fails in another thread", test_fails_in_thread},
    {"fails with a child running", test_fails_with_child},
    {"leaks", test_leaks},
    {"fine: passes after all that", test_passes_last},
    {NULL, NULL},
};

ZR_MAIN
