/* test_config.c - config files: what is accepted, and for each mistake
 * the exact message, naming file and line.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

static zr_config_t *
s_parse(const char *text)
{
    zr_config_t *cfg = zr_config_parse(text, "t.conf");
    ZR_CHECK(cfg != NULL);
    return cfg;
}

/* TEXT must have exactly the errors WANT (NULL-ended), in order. */
static void
s_errors(const char *text, const char *const *want)
{
    zr_config_t *cfg = s_parse(text);
    size_t n = 0;
    while (want[n]) {
        n++;
    }
    size_t got = zr_config_error_count(cfg);
    for (size_t i = 0; i < got || i < n; i++) {
        const char *e = i < got ? zr_config_error(cfg, i) : "(none)";
        const char *w = i < n ? want[i] : "(none)";
        ZR_CHECKF(strcmp(e, w) == 0,
                  "config:\n%s\nerror %zu:\n  got  %s\n  want %s", text, i, e,
                  w);
    }
    zr_config_destroy(&cfg);
    ZR_CHECK(cfg == NULL);
}

#define S_ERR(text, ...)                                                       \
    do {                                                                       \
        const char *const want_[] = {__VA_ARGS__, NULL};                       \
        s_errors((text), want_);                                               \
    } while (0)

#define DEV "[streamer s]\nfrontend = @inproc://a\nbackend = @inproc://b\n"

static void
test_good(void)
{
    zr_config_t *cfg = s_parse("; a comment\n"
                               "# another\n"
                               "[zrelay]\n"
                               "control = tcp://127.0.0.1:7000\n"
                               "io_threads = 2\n"
                               "log_level = info\n"
                               "linger = 2s\n"
                               "\n"
                               "[forwarder market]\n"
                               "frontend = @tcp://127.0.0.1:*\n"
                               "backend = @tcp://127.0.0.1:*, @inproc://m\n"
                               "sndhwm = 5000 ; inline comment\n"
                               "max_msg_size = 1M\n"
                               "heartbeat_ivl = 500ms\n"
                               "[queue orders]\n"
                               "frontend = @ipc:///tmp/zr-orders\n"
                               "backend = >tcp://127.0.0.1:9999\n"
                               "capture = @inproc://cap\n"
                               "control = @inproc://ctl\n");
    ZR_EQ(zr_config_error_count(cfg), 0);
    ZR_STREQ(zr_config_control(cfg), "tcp://127.0.0.1:7000");
    ZR_EQ(zr_config_io_threads(cfg), 2);
    ZR_EQ(zr_config_log_level(cfg), ZR_LOG_INFO);
    ZR_EQ(zr_config_device_count(cfg), 2);
    ZR_STREQ(zr_config_device_name(cfg, 0), "market");
    ZR_EQ(zr_config_device_type(cfg, 0), ZR_FORWARDER);
    ZR_EQ(zr_config_device_line(cfg, 0), 9);
    ZR_STREQ(zr_config_device_name(cfg, 1), "orders");
    ZR_EQ(zr_config_device_find(cfg, "orders"), 1);
    ZR_EQ(zr_config_device_find(cfg, "nope"), -1);
    zr_device_t *dev = zr_config_device_new(cfg, 1, NULL);
    ZR_CHECK(dev != NULL);
    ZR_STREQ(zr_device_name(dev), "orders");
    ZR_EQ(zr_device_type(dev), ZR_QUEUE);
    zr_device_destroy(&dev);
    zr_config_destroy(&cfg);
}

static void
test_default(void)
{
    zr_config_t *cfg = s_parse(zr_config_default_text());
    ZR_EQ(zr_config_error_count(cfg), 0);
    ZR_STREQ(zr_config_control(cfg), "tcp://127.0.0.1:5558");
    ZR_EQ(zr_config_device_count(cfg), 4);
    ZR_STREQ(zr_config_device_name(cfg, 0), "seed-pubsub");
    ZR_EQ(zr_config_device_type(cfg, 0), ZR_FORWARDER);
    ZR_STREQ(zr_config_device_name(cfg, 1), "seed-handshake");
    ZR_STREQ(zr_config_device_name(cfg, 2), "seed-async");
    ZR_STREQ(zr_config_device_name(cfg, 3), "services");
    ZR_EQ(zr_config_device_type(cfg, 3), ZR_MAJORDOMO);
    zr_config_destroy(&cfg);
}

static void
test_same(void)
{
    zr_config_t *a = s_parse("[queue q]\nfrontend = @inproc://a\n"
                             "backend = @inproc://b\nsndhwm = 10\n");
    zr_config_t *b = s_parse("[queue q]\nsndhwm = 10\nbackend = @inproc://b\n"
                             "frontend = @inproc://a\n");
    zr_config_t *c = s_parse("[queue q]\nfrontend = @inproc://a\n"
                             "backend = @inproc://b\nsndhwm = 11\n");
    zr_config_t *d = s_parse("[zrelay]\nlinger = 5s\n[queue q]\n"
                             "frontend = @inproc://a\nbackend = @inproc://b\n"
                             "sndhwm = 10\n");
    ZR_CHECK(zr_config_device_same(a, 0, b, 0)); /* order does not count */
    ZR_CHECK(!zr_config_device_same(a, 0, c, 0));
    ZR_CHECK(!zr_config_device_same(a, 0, d, 0)); /* inherited linger */
    zr_config_destroy(&a);
    zr_config_destroy(&b);
    zr_config_destroy(&c);
    zr_config_destroy(&d);
}

/* At least 20 ways to get it wrong, each with its exact message. */
static void
test_malformed(void)
{
    S_ERR("[fowarder x]\nfrontend = @inproc://a\nbackend = @inproc://b\n",
          "t.conf:1: unknown section type 'fowarder' (did you mean "
          "'forwarder'?)");
    S_ERR("[broker x]\n",
          "t.conf:1: unknown section type 'broker' (sections are [zrelay], "
          "[forwarder NAME], [queue NAME], [streamer NAME])");
    S_ERR("[queue]\nfrontend = @inproc://a\n",
          "t.conf:1: section [queue] needs a name: [queue NAME]");
    S_ERR("[queue a b]\n",
          "t.conf:1: bad device name in [queue a b]: a name is one word of "
          "letters, digits, '-', '_', '.'");
    S_ERR("[queue a/b]\n",
          "t.conf:1: bad device name in [queue a/b]: a name is one word of "
          "letters, digits, '-', '_', '.'");
    S_ERR("[]\n", "t.conf:1: empty section name []");
    S_ERR("[queue q\nfrontend = x\n", "t.conf:1: section header lacks ']'");
    S_ERR("[zrelay extra]\n", "t.conf:1: [zrelay] takes no name");
    S_ERR("[zrelay]\n[zrelay]\n",
          "t.conf:2: a second [zrelay] section (the first is at line 1)");
    S_ERR("frontend = @inproc://a\n" DEV,
          "t.conf:1: 'frontend' is outside any section (put it under "
          "[zrelay] or a device's [TYPE NAME])");
    S_ERR(DEV "sndhmw = 10\n",
          "t.conf:4: unknown key 'sndhmw' in [streamer s] (did you mean "
          "'sndhwm'?)");
    S_ERR(DEV "max-msg-size = 10\n",
          "t.conf:4: unknown key 'max-msg-size' in [streamer s] (did you "
          "mean 'max_msg_size'?)");
    S_ERR(DEV "colour = blue\n",
          "t.conf:4: unknown key 'colour' in [streamer s] (see "
          "zrelay.conf(5) for the keys of a streamer)");
    S_ERR("[zrelay]\nlog_levle = info\n",
          "t.conf:2: unknown key 'log_levle' in [zrelay] (did you mean "
          "'log_level'?)");
    S_ERR("[zrelay]\nlog_level = loud\n",
          "t.conf:2: log_level: 'loud' is not one of error, warning, "
          "notice, info, debug");
    S_ERR("[zrelay]\nio_threads = 0\n",
          "t.conf:2: io_threads: '0' is not a number from 1 to 64");
    S_ERR("[zrelay]\nlinger = soon\n",
          "t.conf:2: linger: 'soon' is not a duration (500ms, 2s, 1m; a "
          "bare number is milliseconds)");
    S_ERR("[zrelay]\ncontrol = 5558\n",
          "t.conf:2: control: endpoint '5558' has no transport; did you "
          "mean 'tcp://*:5558'?");
    S_ERR(DEV "sndhwm = lots\n",
          "t.conf:4: sndhwm: 'lots' is not a whole number from 0 to "
          "2147483647");
    S_ERR(DEV "sndhwm = -1\n",
          "t.conf:4: sndhwm: '-1' is not a whole number from 0 to "
          "2147483647");
    S_ERR(DEV "max_msg_size = 12X\n",
          "t.conf:4: max_msg_size: '12X' is not a size (bytes, or with k, "
          "M, G)");
    S_ERR(DEV "linger = 10 minutes\n",
          "t.conf:4: linger: '10 minutes' is not a duration (500ms, 2s, 1m; "
          "a bare number is milliseconds)");
    S_ERR("[queue q]\nfrontend = 5559\nbackend = @inproc://b\n",
          "t.conf:2: frontend: endpoint '5559' has no transport; did you "
          "mean 'tcp://*:5559'?");
    S_ERR("[queue q]\nfrontend = >tcp://*:5559\nbackend = @inproc://b\n",
          "t.conf:2: frontend: cannot connect to 'tcp://*:5559': '*' and "
          "port 0 only make sense for bind; did you mean '@tcp://*:5559'?");
    S_ERR("[queue q]\nfrontend = @inproc://a\n",
          "t.conf:1: [queue q] needs a backend");
    S_ERR("[queue q]\n", "t.conf:1: [queue q] needs a frontend and a backend");
    S_ERR(DEV "backend = @inproc://c\n",
          "t.conf:4: 'backend' is set twice in [streamer s] (first at line "
          "3)");
    S_ERR(DEV DEV, "t.conf:4: duplicate device name 's' (first at line 1)");
    S_ERR("[queue a]\nfrontend = @tcp://127.0.0.1:5600\n"
          "backend = @inproc://a\n"
          "[queue b]\nfrontend = @tcp://*:5600\nbackend = @inproc://b\n",
          "t.conf:5: device 'b' frontend binds tcp://*:5600, which device "
          "'a' frontend binds already (line 2)");
    S_ERR("[zrelay]\ncontrol = @ipc:///tmp/zr.ctl\n"
          "[queue a]\nfrontend = @ipc:///tmp/zr.ctl\nbackend = @inproc://b\n",
          "t.conf:4: device 'a' frontend binds ipc:///tmp/zr.ctl, which "
          "[zrelay] control binds already (line 2)");
    S_ERR(DEV "this is not a key\n",
          "t.conf:4: expected 'key = value' or '[section]', not 'this is not "
          "a key'");
    /* Several problems: all of them, in line order. */
    S_ERR("[zrelay]\nio_threads = many\n[queue]\n" DEV "rcvhwm = x\n",
          "t.conf:2: io_threads: 'many' is not a number from 1 to 64",
          "t.conf:3: section [queue] needs a name: [queue NAME]",
          "t.conf:7: rcvhwm: 'x' is not a whole number from 0 to "
          "2147483647");
}

/* Indented keys are keys (no continuation lines); a byte order mark is
 * no error. */
static void
test_layout(void)
{
    zr_config_t *cfg = s_parse("\xef\xbb\xbf[zrelay]\n"
                               "    io_threads = 3\n"
                               "[queue q]\n"
                               "\tfrontend = @inproc://a\n"
                               "  backend = @inproc://b\n");
    ZR_EQ(zr_config_error_count(cfg), 0);
    ZR_EQ(zr_config_io_threads(cfg), 3);
    zr_config_destroy(&cfg);
    S_ERR("[queue q]\nfrontend = @inproc://a\n   @inproc://c\n"
          "backend = @inproc://b\n",
          "t.conf:3: expected 'key = value' or '[section]', not "
          "'@inproc://c'");
    S_ERR("[zrelay]\nio_threads = 2\nio_threads = 3\n",
          "t.conf:3: 'io_threads' is set twice in [zrelay] (first at line 2)");
    S_ERR("[queue q]\nfrontend = @tcp://127.0.0.1:5558\n"
          "backend = @inproc://b\n",
          "t.conf:2: device 'q' frontend binds tcp://127.0.0.1:5558, which "
          "the daemon's default control endpoint binds already");
}

static void
test_long_line(void)
{
    char text[1024];
    snprintf(text, sizeof text, DEV "capture = @inproc://%0300d\n", 7);
    S_ERR(text, "t.conf:4: line too long (at most 198 characters)");
}

static void
test_files(void)
{
    zr_config_t *cfg = zr_config_load("/nonexistent/zrelay.conf");
    ZR_EQ(zr_config_error_count(cfg), 1);
    ZR_STREQ(zr_config_error(cfg, 0),
             "/nonexistent/zrelay.conf: cannot open: No such file or "
             "directory");
    zr_config_destroy(&cfg);

    char path[] = "/tmp/zrelay-test-XXXXXX";
    int fd = mkstemp(path);
    ZR_CHECK(fd >= 0);
    const char *text = DEV "sndhwm = 7\r\n";
    ZR_EQ(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    cfg = zr_config_load(path);
    ZR_EQ(zr_config_error_count(cfg), 0); /* CRLF is fine */
    ZR_STREQ(zr_config_path(cfg), path);
    zr_config_destroy(&cfg);
    unlink(path);
}

/* The grammar of values the config file and the command line share. */
static void
test_values(void)
{
    int64_t v = 42;
    ZR_PASS(zr_parse_int("1000", 0, 1000, &v));
    ZR_EQ(v, 1000);
    ZR_PASS(zr_parse_int("-5", -5, 5, &v));
    ZR_EQ(v, -5);
    static const char *const not_ints[] = {
        "", " 1", "1 ", "1k", "+1", "0x10", "1001", "99999999999999999999"};
    for (size_t i = 0; i < sizeof not_ints / sizeof not_ints[0]; i++) {
        v = 42;
        ZR_FAIL(zr_parse_int(not_ints[i], 0, 1000, &v), EINVAL);
        ZR_EQ(v, 42); /* left alone */
    }
    ZR_FAIL(zr_parse_int(NULL, 0, 1, &v), EINVAL);
    static const struct {
        const char *text;
        int64_t ms;
    } durations[] = {{"0", 0},        {"250", 250},  {"500ms", 500},
                     {"2s", 2000},    {"1m", 60000}, {"1min", 60000},
                     {"1h", 3600000}, {"2000us", 2}};
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        ZR_PASS(zr_parse_duration(durations[i].text, &v));
        ZR_EQ(v, durations[i].ms);
    }
    static const char *const not_durations[] = {"",     "1500us", "2 s", "-1s",
                                                "2sec", "s",      "1.5s"};
    for (size_t i = 0; i < sizeof not_durations / sizeof not_durations[0];
         i++) {
        ZR_FAIL(zr_parse_duration(not_durations[i], &v), EINVAL);
    }
    static const struct {
        const char *text;
        int64_t bytes;
    } sizes[] = {{"0", 0},          {"100B", 100},      {"64k", 65536},
                 {"2K", 2048},      {"1KiB", 1024},     {"1M", 1048576},
                 {"3MiB", 3145728}, {"1G", 1073741824}, {"1GiB", 1073741824}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ZR_PASS(zr_parse_size(sizes[i].text, &v));
        ZR_EQ(v, sizes[i].bytes);
    }
    static const char *const not_sizes[] = {"",    "1 M", "-1",
                                            "1kb", "1T",  "99999999999G"};
    for (size_t i = 0; i < sizeof not_sizes / sizeof not_sizes[0]; i++) {
        ZR_FAIL(zr_parse_size(not_sizes[i], &v), EINVAL);
    }
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        bool b = false;
        ZR_PASS(zr_parse_bool(yes[i], &b));
        ZR_CHECK(b);
        ZR_PASS(zr_parse_bool(no[i], &b));
        ZR_CHECK(!b);
    }
    bool b = true;
    ZR_FAIL(zr_parse_bool("maybe", &b), EINVAL);
    ZR_FAIL(zr_parse_bool("TRUE", &b), EINVAL);
    ZR_FAIL(zr_parse_bool(NULL, &b), EINVAL);
    ZR_CHECK(b);
}

/* zr_config_load(PATH) in a thread: a load that hangs fails the test at
 * the deadline instead of hanging it. */
typedef struct {
    const char *path;
    zr_config_t *cfg;
    atomic_bool done;
} s_load_t;

static void *
s_load_main(void *arg)
{
    s_load_t *l = arg;
    l->cfg = zr_config_load(l->path);
    atomic_store(&l->done, true);
    return NULL;
}

static zr_config_t *
s_load_within(const char *path)
{
    s_load_t l = {.path = path};
    pthread_t t;
    ZR_EQ(pthread_create(&t, NULL, s_load_main, &l), 0);
    ZR_WAIT(atomic_load(&l.done), ZRT_DEADLINE_MS);
    pthread_join(t, NULL);
    ZR_CHECK(l.cfg != NULL);
    return l.cfg;
}

/* PATH loads with exactly one error, WANT. */
static void
s_load_error(const char *path, const char *want)
{
    zr_config_t *cfg = s_load_within(path);
    ZR_CHECKF(zr_config_error_count(cfg) == 1 &&
                  strcmp(zr_config_error(cfg, 0), want) == 0,
              "%s: %zu error(s), the first:\n  got  %s\n  want %s", path,
              zr_config_error_count(cfg),
              zr_config_error_count(cfg) ? zr_config_error(cfg, 0) : "(none)",
              want);
    ZR_EQ(zr_config_device_count(cfg), 0);
    zr_config_destroy(&cfg);
}

/* A temporary file holding TEXT (LEN bytes); its path into PATH. */
static void
s_temp(char *path, const char *text, size_t len)
{
    strcpy(path, "/tmp/zrelay-test-XXXXXX");
    int fd = mkstemp(path);
    ZR_CHECK(fd >= 0);
    ZR_EQ(write(fd, text, len), (ssize_t) len);
    close(fd);
}

/* What is not a config file is refused, naming the cause, and at once:
 * a directory, a device, a FIFO, a file too large, a file without a
 * device section (unless [zrelay] allow_empty says so). */
static void
test_not_a_config(void)
{
    char dir[] = "/tmp/zrelay-test-dir-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    char want[600];
    snprintf(want, sizeof want, "%s: is a directory", dir);
    s_load_error(dir, want);
    s_load_error("/dev/zero",
                 "/dev/zero: not a regular file (a character device)");
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ZR_EQ(mkfifo(fifo, 0600), 0);
    snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", fifo);
    s_load_error(fifo, want); /* opening it must not wait for a writer */
    unlink(fifo);
    rmdir(dir);

    static const char *const empty[] = {
        "",
        "\n# nothing but comments\n; and blank lines\n\n",
        "[zrelay]\ncontrol = @tcp://127.0.0.1:*\n",
        "[zrelay]\nallow_empty = no\n",
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        char path[64];
        s_temp(path, empty[i], strlen(empty[i]));
        snprintf(want, sizeof want,
                 "%s: no device section ([forwarder NAME], [queue NAME] or "
                 "[streamer NAME]); a config without devices needs "
                 "allow_empty = yes in [zrelay]",
                 path);
        s_load_error(path, want);
        unlink(path);
    }
    /* Allowed, it is fine, and says so. */
    char path[64];
    const char *allowed = "[zrelay]\nallow_empty = yes\n";
    s_temp(path, allowed, strlen(allowed));
    zr_config_t *cfg = s_load_within(path);
    ZR_EQ(zr_config_error_count(cfg), 0);
    ZR_EQ(zr_config_device_count(cfg), 0);
    zr_config_destroy(&cfg);
    unlink(path);
    S_ERR("[zrelay]\nallow_empty = maybe\n",
          "t.conf:2: allow_empty: 'maybe' is not true or false");
    /* A file with other errors is not also told it has no device. */
    const char *bad = "[fowarder x]\n";
    s_temp(path, bad, strlen(bad));
    snprintf(want, sizeof want,
             "%s:1: unknown section type 'fowarder' (did you mean "
             "'forwarder'?)",
             path);
    s_load_error(path, want);
    unlink(path);

    /* Far more than a config: read no further than the bound. */
    strcpy(path, "/tmp/zrelay-test-XXXXXX");
    int fd = mkstemp(path);
    ZR_CHECK(fd >= 0);
    ZR_EQ(ftruncate(fd, (off_t) 1 << 30), 0); /* 1 GiB, sparse */
    close(fd);
    snprintf(want, sizeof want, "%s: larger than 1 MiB: not a config file",
             path);
    s_load_error(path, want);
    unlink(path);
}

/* Text a program hands to zr_config_parse is its own business: no
 * device is no error there. */
static void
test_parse_no_device(void)
{
    zr_config_t *cfg = s_parse("[zrelay]\ncontrol = @inproc://ctl\n");
    ZR_EQ(zr_config_error_count(cfg), 0);
    ZR_EQ(zr_config_device_count(cfg), 0);
    zr_config_destroy(&cfg);
}

/* ATTACK12: a NUL byte in a file is not text: the line must not be
 * taken as ending there (control = tcp://127.0.0.1:5\0558 was accepted
 * as port 5, and `zrelay check` said ok). */
static void
test_attack12_nul_byte(void)
{
    static const char text[] = "[zrelay]\ncontrol = tcp://127.0.0.1:5\000558\n"
                               "[streamer s]\nfrontend = @inproc://a\n"
                               "backend = @inproc://b\n";
    char path[64];
    s_temp(path, text, sizeof text - 1);
    zr_config_t *cfg = zr_config_load(path);
    ZR_CHECK(cfg != NULL);
    ZR_CHECKF(zr_config_error_count(cfg) > 0,
              "a config with a NUL byte in line 2 has no error (control "
              "taken as '%s')",
              zr_config_control(cfg) ? zr_config_control(cfg) : "(null)");
    zr_config_destroy(&cfg);
    unlink(path);
}

ZR_TESTS = {
    {"a good config", test_good},
    {"the embedded default", test_default},
    {"devices configured alike", test_same},
    {"malformed configs, exact messages", test_malformed},
    {"layout: indentation, byte order mark", test_layout},
    {"a line too long", test_long_line},
    {"files", test_files},
    {"values: numbers, durations, sizes, booleans", test_values},
    {"not a config: refused with the cause", test_not_a_config},
    {"zr_config_parse: no device is no error", test_parse_no_device},
    {"ATTACK12: a NUL byte in a config file", test_attack12_nul_byte},
    {NULL, NULL},
};
ZR_MAIN
