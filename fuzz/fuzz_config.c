/* fuzz_config.c - the config file (config.c over libinih, and through
 * it every option's value parser and the endpoint lists): parsed from
 * text as zr_config_parse takes it, and loaded as a file (zr_config_load
 * reads bytes: NUL bytes, long lines, the size limit). Input: the file.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz.h"

#include "zrelay.h"

#include <sys/mman.h>
#include <unistd.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    zr_fuzz_log_on();
    return 0;
}

/* What a parsed config must be, whatever the input. */
static void
s_check(const zr_config_t *cfg)
{
    size_t nerr = zr_config_error_count(cfg);
    for (size_t i = 0; i < nerr; i++) {
        const char *e = zr_config_error(cfg, i);
        ZR_FUZZ_CHECK(e && *e);
    }
    ZR_FUZZ_CHECK(zr_config_error(cfg, nerr) == NULL);
    ZR_FUZZ_CHECK(zr_config_control(cfg) != NULL);
    int io = zr_config_io_threads(cfg);
    ZR_FUZZ_CHECK(io >= 1 && io <= 64);
    size_t n = zr_config_device_count(cfg);
    for (size_t i = 0; i < n; i++) {
        const char *name = zr_config_device_name(cfg, i);
        ZR_FUZZ_CHECK(name && *name);
        ZR_FUZZ_CHECK(zr_config_device_find(cfg, name) == (int) i);
        ZR_FUZZ_CHECK(zr_config_device_same(cfg, i, cfg, i));
        if (nerr == 0) {
            /* A config without errors makes every device (unopened). */
            zr_device_t *dev = zr_config_device_new(cfg, i, NULL);
            ZR_FUZZ_CHECK(dev != NULL);
            zr_device_destroy(&dev);
        }
    }
}

static void
s_load(const uint8_t *data, size_t size)
{
    int fd = memfd_create("zrelay-fuzz.conf", MFD_CLOEXEC);
    if (fd < 0) {
        return;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return;
        }
        done += (size_t) n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    zr_config_t *cfg = zr_config_load(path);
    close(fd);
    if (cfg) {
        s_check(cfg);
        zr_config_destroy(&cfg);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    char *text = zr_fuzz_rest(&in);
    if (!text) {
        return 0;
    }
    zr_config_t *cfg = zr_config_parse(text, "fuzz.conf");
    if (cfg) {
        s_check(cfg);
        zr_config_destroy(&cfg);
    }
    free(text);
    s_load(data, size);
    return 0;
}
