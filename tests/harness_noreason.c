/* harness_noreason.c - must not compile: a skip says why (the
 * harness_skip_reason test builds it and expects the error).
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

static void
test_skips_silently(void)
{
    ZR_SKIP("");
}

ZR_TESTS = {{"skips silently", test_skips_silently}, {NULL, NULL}};

ZR_MAIN
