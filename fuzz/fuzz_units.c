/* fuzz_units.c - numbers, durations, sizes, booleans and names (util.c,
 * option.c, log.c) as the command line and the config file give them,
 * and every option's value parser (zr_device_set on a device that is
 * never opened). Input: a byte choosing the parser (and the option), then
 * the text.
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include "zr_impl.h"

#include <inttypes.h>
#include <strings.h>

static size_t s_noptions;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    while (zr_option(s_noptions)) {
        s_noptions++;
    }
    return 0;
}

static void
s_numbers(const char *text)
{
    int64_t v = -7;
    if (zr_parse_int(text, INT64_MIN, INT64_MAX, &v) == 0) {
        int64_t w;
        ZR_FUZZ_CHECK(zr_parse_int(text, v, v, &w) == 0 && w == v);
        /* Its own printout reads back as it. */
        char again[32];
        snprintf(again, sizeof again, "%" PRId64, v);
        ZR_FUZZ_CHECK(zr_parse_int(again, INT64_MIN, INT64_MAX, &w) == 0 &&
                      w == v);
    }
    else {
        ZR_FUZZ_CHECK(v == -7); /* left alone */
    }
    int64_t ms = -7, us = -7, bytes = -7;
    if (zr_parse_duration(text, &ms) == 0) {
        ZR_FUZZ_CHECK(ms >= 0);
        ZR_FUZZ_CHECK(zr__parse_duration_us(text, &us) == 0);
        ZR_FUZZ_CHECK(us / 1000 == ms && us % 1000 == 0);
    }
    else {
        ZR_FUZZ_CHECK(ms == -7);
    }
    us = -7;
    if (zr__parse_duration_us(text, &us) == 0) {
        ZR_FUZZ_CHECK(us >= 0);
    }
    if (zr_parse_size(text, &bytes) == 0) {
        ZR_FUZZ_CHECK(bytes >= 0);
    }
    else {
        ZR_FUZZ_CHECK(bytes == -7);
    }
    bool b = false;
    (void) zr_parse_bool(text, &b);
    int level = zr_log_level_from_name(text);
    ZR_FUZZ_CHECK(level >= -1);
    int type = zr_device_type_from_name(text);
    if (type >= 0) {
        ZR_FUZZ_CHECK(
            strcmp(zr_device_type_name((zr_device_type_t) type), text) == 0 ||
            strcasecmp(zr_device_type_name((zr_device_type_t) type), text) ==
                0);
    }
    (void) zr_option_find(text);
}

/* Option number PICK's value TEXT on a new device of each type. */
static void
s_option(unsigned pick, const char *text)
{
    const zr_option_t *opt = zr_option(pick % s_noptions);
    for (int t = ZR_FORWARDER; t <= ZR_STREAMER; t++) {
        zr_device_t *dev = zr_device_new(NULL, (zr_device_type_t) t, "fuzz");
        if (!dev) {
            return;
        }
        int rc = zr_device_set(dev, opt->name, text);
        if (rc != 0) {
            ZR_FUZZ_CHECK(*zr_device_error(dev) != 0);
        }
        if (!zr_option_applies(opt, (zr_device_type_t) t)) {
            ZR_FUZZ_CHECK(rc != 0);
        }
        /* Set twice: the second replaces the first. */
        (void) zr_device_set(dev, opt->name, text);
        zr_device_destroy(&dev);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    uint8_t pick = zr_fuzz_byte(&in);
    char *text = zr_fuzz_rest(&in);
    if (!text) {
        return 0;
    }
    if (pick & 0x80) {
        s_option(pick & 0x7f, text);
    }
    else {
        s_numbers(text);
    }
    free(text);
    return 0;
}
