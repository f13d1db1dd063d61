/* fuzz_endpoint.c - endpoint lists ("@tcp://HOST:PORT,>ipc://PATH",
 * endpoint.c) as the command line, the config file and the control
 * endpoint give them. Input: a byte (bit 0: a bare endpoint binds), then the
 * list. SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include "zrelay.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    zr_fuzz_log_on();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    bool default_bind = zr_fuzz_byte(&in) & 1;
    char *spec = zr_fuzz_rest(&in);
    if (!spec) {
        return 0;
    }
    char err[512];
    err[0] = 0;
    zr_endpoints_t *eps =
        zr_endpoints_parse(spec, default_bind, err, sizeof err);
    if (eps) {
        size_t n = zr_endpoints_size(eps);
        ZR_FUZZ_CHECK(n >= 1);
        for (size_t i = 0; i < n; i++) {
            const char *a = zr_endpoints_address(eps, i);
            ZR_FUZZ_CHECK(a && *a && strstr(a, "://"));
            ZR_FUZZ_CHECK(strcmp(a, zr_endpoints_resolved(eps, i)) == 0);
            /* Each item as it was parsed is a list of its own again. */
            char one[4096];
            snprintf(one, sizeof one, "%c%s",
                     zr_endpoints_is_bind(eps, i) ? '@' : '>', a);
            zr_endpoints_t *again =
                strlen(a) < sizeof one - 2 && !strchr(a, ',')
                    ? zr_endpoints_parse(one, default_bind, NULL, 0)
                    : NULL;
            zr_endpoints_destroy(&again);
        }
        ZR_FUZZ_CHECK(zr_endpoints_address(eps, n) == NULL);
        zr_endpoints_destroy(&eps);
        ZR_FUZZ_CHECK(eps == NULL);
    }
    else {
        /* A refusal always says why. */
        ZR_FUZZ_CHECK(err[0] != 0);
    }
    /* No buffer for the reason: it must not be written. */
    eps = zr_endpoints_parse(spec, !default_bind, NULL, 0);
    zr_endpoints_destroy(&eps);
    free(spec);
    return 0;
}
