/* zrelay_bench.c - zrelay against zmq_proxy and against no proxy at all:
 * the same traffic, contenders alternating, in one run.
 * SPDX-License-Identifier: MIT
 *
 * The matrix is patterns x transports x message sizes. Each case runs
 * every contender REPS times, in turn (the starting contender rotates
 * each round), so a machine that gets busier or quieter during the run
 * weighs on all of them alike. See bench/README.md.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* A pattern every contender runs. */
#define S_PATTERN(NAME, WHAT, UNIT, DEVICE, NSUBS, LATENCY)                    \
    {                                                                          \
        .name = NAME, .what = WHAT, .unit = UNIT, .device = DEVICE,            \
        .nsubs = NSUBS, .latency = LATENCY, .plain = -1                        \
    }

const b_pattern_info_t b_patterns[B_NPATTERNS] = {
    [B_STREAMER] =
        S_PATTERN("streamer", "PUSH->PULL", "msgs", ZR_STREAMER, 1, false),
    [B_FORWARD1] = S_PATTERN("forwarder-1", "PUB->SUB, 1 subscriber", "msgs",
                             ZR_FORWARDER, 1, false),
    [B_FORWARD4] = S_PATTERN("forwarder-4", "PUB->SUB, 4 subscribers",
                             "msgs per subscriber", ZR_FORWARDER, 4, false),
    [B_FWD_GATE] = {.name = "forwarder-gate",
                    .what = "PUSH->PULL/XPUB->SUB, --ingest pull "
                            "--hold-until 1, 1 subscriber",
                    .unit = "msgs",
                    .device = ZR_FORWARDER,
                    .nsubs = 1,
                    .zrelay_only = true,
                    .plain = B_FORWARD1,
                    .tag = "gate",
                    .plain_tag = "plain",
                    .opts = {{"ingest", "pull"}, {"hold_until", "1"}}},
    [B_REQREP] = S_PATTERN("reqrep", "REQ->REP round trip", "round trips",
                           ZR_QUEUE, 1, true),
    [B_REQREP_LRU] = {.name = "reqrep-lru",
                      .what = "REQ->ROUTER/ROUTER --strategy lru->lbbroker "
                              "REQ worker round trip",
                      .unit = "round trips",
                      .device = ZR_QUEUE,
                      .nsubs = 1,
                      .latency = true,
                      .zrelay_only = true,
                      .plain = B_REQREP,
                      .tag = "lru",
                      .plain_tag = "rr",
                      .opts = {{"strategy", "lru"}}},
    [B_DEALER] = S_PATTERN("dealer", "DEALER->DEALER echo, windowed",
                           "round trips", ZR_QUEUE, 1, false),
    [B_DEALER_LRU] =
        {.name = "dealer-lru",
         .what = "DEALER->ROUTER/ROUTER --strategy lru->" B_LRU_WORKERS_S
                 " lbbroker REQ workers, windowed",
         .unit = "round trips",
         .device = ZR_QUEUE,
         .nsubs = B_LRU_WORKERS,
         .zrelay_only = true,
         .plain = B_DEALER,
         .tag = "lru",
         .plain_tag = "rr",
         .opts = {{"strategy", "lru"}}},
    [B_STALL] = S_PATTERN("stall", "PUSH->PULL, consumer stopped",
                          "msgs accepted", ZR_STREAMER, 1, false),
};

const char *const b_transport_names[B_NTRANSPORTS] = {"tcp", "ipc", "inproc"};
const char *const b_contender_names[B_NCONTENDERS] = {
    "direct", "zmq_proxy-thread", "zrelay-thread", "zmq_proxy-process",
    "zrelay-process"};

bool
b_is_process(b_contender_t c)
{
    return c == B_ZMQ_PROCESS || c == B_ZR_PROCESS;
}

bool
b_is_proxy(b_contender_t c)
{
    return c != B_DIRECT;
}

bool
b_runs_pattern(b_contender_t c, b_pattern_t p)
{
    if (p == B_STALL) {
        return b_is_process(c);
    }
    if (b_patterns[p].zrelay_only) {
        return c == B_ZR_THREAD || c == B_ZR_PROCESS;
    }
    return true;
}

int
b_baseline_of(b_contender_t c)
{
    switch (c) {
    case B_ZMQ_THREAD:
    case B_ZR_THREAD: return B_ZMQ_THREAD;
    case B_ZMQ_PROCESS:
    case B_ZR_PROCESS: return B_ZMQ_PROCESS;
    default: return -1;
    }
}

static const size_t s_sizes[] = {16, 256, 1024, 8192, 65536};
#define S_NSIZES (sizeof s_sizes / sizeof s_sizes[0])

/* --quick: one or two cases of each pattern and transport. */
static const struct {
    b_pattern_t pattern;
    b_transport_t transport;
    size_t size;
} s_quick[] = {
    {B_STREAMER, B_TCP, 16},
    {B_STREAMER, B_TCP, 1024},
    {B_STREAMER, B_IPC, 1024},
    {B_STREAMER, B_INPROC, 256},
    {B_FORWARD1, B_TCP, 256},
    {B_FORWARD4, B_IPC, 256},
    {B_REQREP, B_TCP, 16},
    {B_DEALER, B_TCP, 1024},
    {B_DEALER, B_INPROC, 16},
    {B_STALL, B_TCP, 1024},
    /* zrelay's own features, each beside its plain case above. */
    {B_FWD_GATE, B_TCP, 256},
    {B_REQREP_LRU, B_TCP, 16},
    {B_DEALER_LRU, B_INPROC, 16},
};
#define S_NQUICK (sizeof s_quick / sizeof s_quick[0])

/* The stalled-consumer check: process contenders over tcp only (their
 * memory is their own), at these sizes. */
static const size_t s_stall_sizes[] = {1024, 65536};

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: zrelay-bench [--quick] [OPTIONS]\n"
        "\n"
        "Runs the same traffic directly, through zmq_proxy() and through\n"
        "zrelay (in a thread and as a separate process), alternating, and\n"
        "reports msgs/s, MB/s, latency, the proxy's CPU and memory.\n"
        "\n"
        "Modes:\n"
        "  --quick             a representative subset, 3 rounds of 0.1 s\n"
        "                      (CI smoke, under a minute)\n"
        "  (default)           the full matrix, 5 rounds of 0.5 s\n"
        "Selection (lists are comma-separated):\n"
        "  --pattern LIST      streamer, forwarder-1, forwarder-4,\n"
        "                      forwarder-gate, reqrep, reqrep-lru, dealer,\n"
        "                      dealer-lru, stall (-gate, -lru: zrelay only)\n"
        "  --transport LIST    tcp, ipc, inproc\n"
        "  --size LIST         bytes, k/K suffix for KiB (16,256,1K,8K,64K)\n"
        "  --contenders LIST   direct, zmq_proxy-thread, zrelay-thread,\n"
        "                      zmq_proxy-process, zrelay-process\n"
        "  --reps N            rounds per case (at least 1)\n"
        "  --duration S        seconds of traffic per run\n"
        "Settings, the same for every contender:\n"
        "  --io-threads N      libzmq I/O threads per context (1)\n"
        "  --sndhwm N          send HWM of every socket (1000)\n"
        "  --rcvhwm N          receive HWM of every socket (1000)\n"
        "  --window N          DEALER requests in flight (128)\n"
        "  --pin-proxy CPU     pin proxy processes to one CPU\n"
        "  --zrelay PATH       the zrelay binary (%s)\n"
        "  --zmq-proxy PATH    the zmq_proxy program (%s)\n"
        "  --zrelay-arg ARG    one more argument for the zrelay binary\n"
        "                      (repeatable; e.g. an engine option)\n"
        "  --zrelay-latency-arg ARG\n"
        "                      the same, for the latency patterns only\n"
        "Output (FILE '-' is stdout):\n"
        "  --json FILE         the whole report as JSON\n"
        "  --csv FILE          one line per case and contender\n"
        "  --markdown FILE     machine, settings and tables (docs)\n"
        "  --plot-data FILE    median msgs/s by size, for bench/plot.gp\n"
        "  --no-table          no table on stdout at the end\n"
        "  --allow-debug       allow the full matrix in an unoptimized or\n"
        "                      sanitizer build (numbers mean nothing)\n"
        "  -h, --help\n",
        ZRELAY_BIN, ZMQ_PROXY_BIN);
}

static int
s_die(const char *fmt, const char *arg)
{
    fputs("zrelay-bench: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 2;
}

static int
s_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || errno) {
        return -1;
    }
    if (*end == 'k' || *end == 'K') {
        v *= 1024;
        end++;
        if (*end == 'i' && end[1] == 'B') {
            end += 2;
        }
    }
    if (*end || v == 0 || v > 64u * 1024 * 1024) {
        return -1;
    }
    *out = v;
    return 0;
}

/* A comma-separated list of NAMES into a bool mask; -1 on an unknown. */
static int
s_parse_names(const char *list, const char *const *names, int n, bool *mask,
              const char **bad)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (int i = 0; i < n; i++) {
        mask[i] = false;
    }
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < n && strcmp(names[i], t) != 0) {
            i++;
        }
        if (i == n) {
            static char what[128];
            snprintf(what, sizeof what, "%s", t);
            *bad = what;
            return -1;
        }
        mask[i] = true;
    }
    return 0;
}

static bool s_tty;
static double s_started;

static double
s_secs(void)
{
    return (double) b_now_ns() / 1e9;
}

static void
s_progress(const b_report_t *r, int k, int done, int total, int rep,
           b_contender_t c, const b_run_t *run)
{
    const b_case_t *cs = &r->cases[k];
    char size[32];
    double el = s_secs() - s_started;
    double eta = done ? el / done * (total - done) : 0;
    if (s_tty) {
        char what[48];
        if (run->ok) {
            snprintf(what, sizeof what, "%.3g msgs/s",
                     (double) run->msgs / run->elapsed_s);
        }
        else {
            snprintf(what, sizeof what, "FAILED");
        }
        fprintf(stderr,
                "\r\033[K[%d/%d] %s %s %s  round %d  %s: %s  "
                "(%dm%02ds left)",
                done, total, b_patterns[cs->pattern].name,
                b_transport_names[cs->transport],
                b_size_name(cs->size, size, sizeof size), rep + 1,
                b_contender_names[c], what, (int) eta / 60, (int) eta % 60);
        fflush(stderr);
    }
    if (!run->ok) {
        if (s_tty) {
            fputc('\n', stderr);
        }
        fprintf(stderr, "zrelay-bench: %s %s %s %s: %s\n",
                b_patterns[cs->pattern].name, b_transport_names[cs->transport],
                b_size_name(cs->size, size, sizeof size), b_contender_names[c],
                run->error);
    }
}

/* One line per finished case when stderr is not a terminal (CI logs). */
static void
s_case_done(const b_report_t *r, int k, int done, int total)
{
    if (s_tty) {
        return;
    }
    const b_case_t *cs = &r->cases[k];
    char size[32];
    fprintf(stderr, "[%d/%d %3.0fs] %s %s %s:", done, total,
            s_secs() - s_started, b_patterns[cs->pattern].name,
            b_transport_names[cs->transport],
            b_size_name(cs->size, size, sizeof size));
    for (int c = 0; c < B_NCONTENDERS; c++) {
        if (cs->has[c]) {
            fprintf(stderr, " %s %.3g", b_contender_names[c],
                    b_case_rate(cs, (b_contender_t) c));
        }
    }
    fputc('\n', stderr);
}

static void
s_record(b_result_t *res, const b_run_t *run, int round)
{
    if (!run->ok) {
        res->nfailed++;
        snprintf(res->error, sizeof res->error, "%s", run->error);
        return;
    }
    int i = res->nruns++;
    double msgs = (double) run->msgs;
    res->round[i] = round;
    res->rate[i] = msgs / run->elapsed_s;
    res->cpu[i] = run->proxy_cpu_s / (msgs / 1e6);
    res->loop_cpu[i] = run->proxy_loop_cpu_s / (msgs / 1e6);
    res->rss[i] = run->proxy_rss_mb;
    res->loss[i] = run->loss_pct;
    res->rss_base[i] = run->rss_base_mb;
    res->rss_stalled[i] = run->rss_stalled_mb;
    res->busy_pct[i] = 100.0 * run->proxy_cpu_s / run->elapsed_s;
    res->sent[i] = run->sent;
}

static void
s_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

static FILE *
s_open_out(const char *path)
{
    if (strcmp(path, "-") == 0) {
        return stdout;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "zrelay-bench: cannot write %s: %s\n", path,
                strerror(errno));
    }
    return f;
}

static int
s_write(const char *path, const b_report_t *r,
        int (*fn)(const b_report_t *, FILE *))
{
    if (!path) {
        return 0;
    }
    FILE *f = s_open_out(path);
    if (!f) {
        return -1;
    }
    int rc = fn(r, f);
    if (f != stdout) {
        if (fclose(f) != 0) {
            rc = -1;
        }
    }
    else {
        fflush(stdout);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    b_report_t report = {0};
    b_config_t *cfg = &report.cfg;
    cfg->duration_s = -1;
    cfg->reps = -1;
    cfg->io_threads = 1;
    cfg->sndhwm = cfg->rcvhwm = 1000;
    cfg->window = 128;
    cfg->pin_cpu = -1;
    cfg->zrelay_bin = ZRELAY_BIN;
    cfg->zmq_proxy_bin = ZMQ_PROXY_BIN;
    bool quick = false, table = true, allow_debug = false;
    bool patterns[B_NPATTERNS], transports[B_NTRANSPORTS];
    bool contenders[B_NCONTENDERS], sizes_given = false;
    for (int i = 0; i < B_NPATTERNS; i++) {
        patterns[i] = true;
    }
    for (int i = 0; i < B_NTRANSPORTS; i++) {
        transports[i] = true;
    }
    for (int i = 0; i < B_NCONTENDERS; i++) {
        contenders[i] = true;
    }
    size_t sizes[16];
    int nsizes = 0;
    bool custom = false;
    const char *json = NULL, *csv = NULL, *md = NULL, *plot = NULL;
    const char *pattern_names[B_NPATTERNS];
    for (int i = 0; i < B_NPATTERNS; i++) {
        pattern_names[i] = b_patterns[i].name;
    }

    enum {
        O_QUICK = 256,
        O_PATTERN,
        O_TRANSPORT,
        O_SIZE,
        O_CONTENDERS,
        O_REPS,
        O_DURATION,
        O_IO,
        O_SNDHWM,
        O_RCVHWM,
        O_WINDOW,
        O_PIN,
        O_ZRELAY,
        O_ZMQPROXY,
        O_JSON,
        O_CSV,
        O_MD,
        O_PLOT,
        O_NOTABLE,
        O_ALLOWDEBUG,
        O_ZRARG,
        O_ZRLATARG
    };
    static const struct option options[] = {
        {"quick", no_argument, NULL, O_QUICK},
        {"pattern", required_argument, NULL, O_PATTERN},
        {"transport", required_argument, NULL, O_TRANSPORT},
        {"size", required_argument, NULL, O_SIZE},
        {"contenders", required_argument, NULL, O_CONTENDERS},
        {"reps", required_argument, NULL, O_REPS},
        {"duration", required_argument, NULL, O_DURATION},
        {"io-threads", required_argument, NULL, O_IO},
        {"sndhwm", required_argument, NULL, O_SNDHWM},
        {"rcvhwm", required_argument, NULL, O_RCVHWM},
        {"window", required_argument, NULL, O_WINDOW},
        {"pin-proxy", required_argument, NULL, O_PIN},
        {"zrelay", required_argument, NULL, O_ZRELAY},
        {"zmq-proxy", required_argument, NULL, O_ZMQPROXY},
        {"json", required_argument, NULL, O_JSON},
        {"csv", required_argument, NULL, O_CSV},
        {"markdown", required_argument, NULL, O_MD},
        {"plot-data", required_argument, NULL, O_PLOT},
        {"no-table", no_argument, NULL, O_NOTABLE},
        {"allow-debug", no_argument, NULL, O_ALLOWDEBUG},
        {"zrelay-arg", required_argument, NULL, O_ZRARG},
        {"zrelay-latency-arg", required_argument, NULL, O_ZRLATARG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    const char *bad = NULL;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;
        long v = 0;
        if (opt == O_REPS || opt == O_IO || opt == O_SNDHWM ||
            opt == O_RCVHWM || opt == O_WINDOW || opt == O_PIN) {
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || errno || v < 0 || v > 1000000) {
                return s_die("bad number '%s'", optarg);
            }
        }
        switch (opt) {
        case O_QUICK: quick = true; break;
        case O_PATTERN:
            custom = true;
            if (s_parse_names(optarg, pattern_names, B_NPATTERNS, patterns,
                              &bad) != 0) {
                return s_die("unknown pattern '%s'", bad);
            }
            break;
        case O_TRANSPORT:
            custom = true;
            if (s_parse_names(optarg, b_transport_names, B_NTRANSPORTS,
                              transports, &bad) != 0) {
                return s_die("unknown transport '%s'", bad);
            }
            break;
        case O_CONTENDERS:
            custom = true;
            if (s_parse_names(optarg, b_contender_names, B_NCONTENDERS,
                              contenders, &bad) != 0) {
                return s_die("unknown contender '%s'", bad);
            }
            break;
        case O_SIZE: {
            custom = true;
            sizes_given = true;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", optarg);
            char *save = NULL;
            for (char *t = strtok_r(buf, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                if (nsizes == 16 || s_parse_size(t, &sizes[nsizes]) != 0) {
                    return s_die("bad size '%s'", t);
                }
                nsizes++;
            }
            break;
        }
        case O_REPS:
            if (v < 1 || v > B_MAX_REPS) {
                return s_die("--reps must be 1..64, not %s", optarg);
            }
            cfg->reps = (int) v;
            break;
        case O_DURATION:
            cfg->duration_s = strtod(optarg, &end);
            if (*end || cfg->duration_s < 0.01 || cfg->duration_s > 600) {
                return s_die("bad duration '%s' (seconds, 0.01..600)", optarg);
            }
            break;
        case O_IO:
            if (v < 1 || v > 64) {
                return s_die("--io-threads must be 1..64, not %s", optarg);
            }
            cfg->io_threads = (int) v;
            break;
        case O_SNDHWM: cfg->sndhwm = (int) v; break;
        case O_RCVHWM: cfg->rcvhwm = (int) v; break;
        case O_WINDOW:
            if (v < 1) {
                return s_die("--window must be at least 1, not %s", optarg);
            }
            cfg->window = (int) v;
            break;
        case O_PIN: cfg->pin_cpu = (int) v; break;
        case O_ZRELAY: cfg->zrelay_bin = optarg; break;
        case O_ZMQPROXY: cfg->zmq_proxy_bin = optarg; break;
        case O_JSON: json = optarg; break;
        case O_CSV: csv = optarg; break;
        case O_MD: md = optarg; break;
        case O_PLOT: plot = optarg; break;
        case O_NOTABLE: table = false; break;
        case O_ALLOWDEBUG: allow_debug = true; break;
        case O_ZRARG:
            if (cfg->nzrelay_args == 8) {
                return s_die("%s", "too many --zrelay-arg");
            }
            cfg->zrelay_args[cfg->nzrelay_args++] = optarg;
            break;
        case O_ZRLATARG:
            if (cfg->nzrelay_lat_args == 8) {
                return s_die("%s", "too many --zrelay-latency-arg");
            }
            cfg->zrelay_lat_args[cfg->nzrelay_lat_args++] = optarg;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        return s_die("unexpected argument '%s'", argv[optind]);
    }
    if (cfg->window > cfg->sndhwm || cfg->window > cfg->rcvhwm) {
        /* More in flight than a queue holds would measure the HWM. */
        return s_die("%s", "--window must not exceed the HWMs");
    }
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
    report.optimized = true;
#endif
    if (!quick && !report.optimized && !allow_debug) {
        return s_die("%s", "this is not an optimized build: measuring is "
                           "for an optimized (Release) build only; --quick "
                           "runs anywhere, --allow-debug runs anyway");
    }
    if (cfg->reps < 0) {
        cfg->reps = quick ? 3 : 5;
    }
    if (cfg->duration_s < 0) {
        cfg->duration_s = quick ? 0.1 : 0.5;
    }
    report.mode = custom ? "custom" : quick ? "quick" : "full";
    /* make-report.sh names the command a person would type. */
    const char *label = getenv("ZRELAY_BENCH_COMMAND");
    size_t used = 0;
    if (label && *label) {
        snprintf(report.command, sizeof report.command, "%s", label);
        used = sizeof report.command;
    }
    for (int i = 0; i < argc && used < sizeof report.command - 1; i++) {
        used += (size_t) snprintf(report.command + used,
                                  sizeof report.command - used, "%s%s",
                                  i ? " " : "", argv[i]);
    }
    for (int c = 0; c < B_NCONTENDERS; c++) {
        if (contenders[c] && b_is_process((b_contender_t) c)) {
            const char *bin =
                c == B_ZR_PROCESS ? cfg->zrelay_bin : cfg->zmq_proxy_bin;
            if (access(bin, X_OK) != 0) {
                return s_die("cannot run %s (build it, or say where it is "
                             "with --zrelay/--zmq-proxy)",
                             bin);
            }
        }
    }

    /* The plan. */
    size_t cap = 256;
    report.cases = calloc(cap, sizeof *report.cases);
    if (!report.cases) {
        return s_die("%s", "out of memory");
    }
    /* Candidates: the quick subset or the whole product; then the
     * selection filters them. */
    for (int p = 0; p < B_NPATTERNS; p++) {
        for (int t = 0; t < B_NTRANSPORTS; t++) {
            const size_t *list = p == B_STALL ? s_stall_sizes : s_sizes;
            size_t nlist = p == B_STALL
                               ? sizeof s_stall_sizes / sizeof s_stall_sizes[0]
                               : S_NSIZES;
            if (sizes_given && !quick) {
                list = sizes;
                nlist = (size_t) nsizes;
            }
            for (size_t s = 0; s < nlist; s++) {
                bool in = patterns[p] && transports[t] &&
                          !(p == B_STALL && t != B_TCP);
                if (quick) {
                    bool listed = false;
                    for (size_t q = 0; q < S_NQUICK; q++) {
                        listed = listed ||
                                 (s_quick[q].pattern == (b_pattern_t) p &&
                                  s_quick[q].transport == (b_transport_t) t &&
                                  s_quick[q].size == list[s]);
                    }
                    bool sized = !sizes_given;
                    for (int z = 0; z < nsizes; z++) {
                        sized = sized || sizes[z] == list[s];
                    }
                    in = in && listed && sized;
                }
                if (!in) {
                    continue;
                }
                b_case_t k = {(b_pattern_t) p,
                              (b_transport_t) t,
                              list[s],
                              {false},
                              {{0}}};
                int n = 0;
                for (int c = 0; c < B_NCONTENDERS; c++) {
                    bool proc = b_is_process((b_contender_t) c);
                    k.has[c] =
                        contenders[c] && !(proc && t == B_INPROC) &&
                        b_runs_pattern((b_contender_t) c, (b_pattern_t) p);
                    n += k.has[c];
                }
                if (n == 0 || (size_t) report.ncases == cap) {
                    continue;
                }
                report.cases[report.ncases++] = k;
            }
        }
    }
    if (report.ncases == 0) {
        free(report.cases);
        return s_die("%s", "nothing to run: the selection is empty");
    }
    int total = 0;
    for (int k = 0; k < report.ncases; k++) {
        b_case_t *cs = &report.cases[k];
        int reps = cs->pattern == B_STALL ? 1 : cfg->reps;
        for (int c = 0; c < B_NCONTENDERS; c++) {
            if (cs->has[c]) {
                total += reps;
                if (b_patterns[cs->pattern].latency) {
                    cs->res[c].hist = calloc(1, sizeof(b_hist_t));
                }
            }
        }
    }

    snprintf(cfg->tmpdir, sizeof cfg->tmpdir, "/tmp/zrbench-XXXXXX");
    if (!mkdtemp(cfg->tmpdir)) {
        return s_die("cannot make a temp dir: %s", strerror(errno));
    }
    signal(SIGPIPE, SIG_IGN);
    s_tty = isatty(2);
    s_started = s_secs();
    time_t now = time(NULL);
    strftime(report.started, sizeof report.started, "%Y-%m-%dT%H:%M:%SZ",
             gmtime(&now));
    fprintf(stderr,
            "zrelay-bench: %s mode, %d cases, %d runs of %.2g s "
            "(libzmq %d.%d.%d, %d I/O thread%s, HWM %d/%d)\n",
            report.mode, report.ncases, total, cfg->duration_s,
            ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH,
            cfg->io_threads, cfg->io_threads == 1 ? "" : "s", cfg->sndhwm,
            cfg->rcvhwm);
    if (!report.optimized) {
        fprintf(stderr, "zrelay-bench: warning: not an optimized build; "
                        "the numbers mean nothing\n");
    }

    /* The runs: within a case, every contender in turn, the first one
     * rotating from round to round. */
    int done = 0;
    b_hist_t *scratch = calloc(1, sizeof *scratch);
    for (int k = 0; k < report.ncases && scratch; k++) {
        b_case_t *cs = &report.cases[k];
        b_contender_t order[B_NCONTENDERS];
        int n = 0;
        for (int c = 0; c < B_NCONTENDERS; c++) {
            if (cs->has[c]) {
                order[n++] = (b_contender_t) c;
            }
        }
        int reps = cs->pattern == B_STALL ? 1 : cfg->reps;
        for (int rep = 0; rep < reps; rep++) {
            for (int j = 0; j < n; j++) {
                b_contender_t c = order[(j + rep) % n];
                b_run_t run = {0};
                if (cs->res[c].hist) {
                    memset(scratch, 0, sizeof *scratch);
                    run.hist = scratch;
                }
                b_run(cfg, cs->pattern, cs->transport, cs->size, c, &run);
                s_record(&cs->res[c], &run, rep);
                if (run.ok && cs->res[c].hist) {
                    b_hist_merge(cs->res[c].hist, scratch);
                }
                s_progress(&report, k, ++done, total, rep, c, &run);
            }
        }
        s_case_done(&report, k, k + 1, report.ncases);
    }
    free(scratch);
    if (s_tty) {
        fputc('\n', stderr);
    }
    report.wall_s = s_secs() - s_started;
    s_rmdir(cfg->tmpdir);

    int failed = 0;
    for (int k = 0; k < report.ncases; k++) {
        for (int c = 0; c < B_NCONTENDERS; c++) {
            failed += report.cases[k].res[c].nfailed;
        }
    }
    int rc = 0;
    if (table) {
        b_report_table(&report, stdout);
    }
    if (s_write(json, &report, b_report_json) != 0 ||
        s_write(csv, &report, b_report_csv) != 0 ||
        s_write(md, &report, b_report_markdown) != 0 ||
        s_write(plot, &report, b_report_plot) != 0) {
        rc = 1;
    }
    fprintf(stderr, "zrelay-bench: %d runs in %.0f s, %d failed\n", total,
            report.wall_s, failed);
    for (int k = 0; k < report.ncases; k++) {
        for (int c = 0; c < B_NCONTENDERS; c++) {
            free(report.cases[k].res[c].hist);
        }
    }
    free(report.cases);
    return failed ? 1 : rc;
}
