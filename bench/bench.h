/* bench.h - what the parts of zrelay-bench share: the matrix (patterns,
 * transports, contenders), one run's result, and the histogram.
 * SPDX-License-Identifier: MIT
 *
 * The parts: zrelay_bench.c plans the matrix and alternates the
 * contenders; contender.c puts a proxy (or none) in the middle and reads
 * its CPU and memory (a proxy process through relay_proc.c, which
 * zrelay-bench-scale uses too); traffic.c drives one run of one pattern
 * through it; report.c turns the runs into tables, JSON, CSV and plot
 * data.
 */
#ifndef ZR_BENCH_H_INCLUDED
#define ZR_BENCH_H_INCLUDED

#include "zrelay.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define B_MAX_REPS 64
#define B_MAX_SUBS 4
#define B_MAX_TIDS 64
/* dealer-lru: lbbroker REQ workers behind the lru queue (each has one
 * request at a time, so the window needs several). */
#define B_LRU_WORKERS 4
#define B_LRU_WORKERS_S "4"

/* ---------------------------------------------------------------------
 * The matrix. A new device adds a pattern: its entry in s_patterns
 * (zrelay_bench.c) names the device and the traffic function that drives
 * it (traffic.c).
 */
typedef enum {
    B_STREAMER,   /* PUSH -> PULL, throughput */
    B_FORWARD1,   /* PUB -> SUB, one subscriber, throughput */
    B_FORWARD4,   /* PUB -> SUB, four subscribers, throughput */
    B_FWD_GATE,   /* PUSH -> gated forwarder -> SUB: throughput (zrelay) */
    B_REQREP,     /* REQ -> REP, one request at a time: latency */
    B_REQREP_LRU, /* REQ -> lru queue -> REQ worker: latency (zrelay) */
    B_DEALER,     /* DEALER -> DEALER echo with a window: throughput */
    B_DEALER_LRU, /* DEALER -> lru queue -> REQ workers: throughput (zrelay) */
    B_STALL,      /* PUSH -> PULL with a stopped consumer: memory */
    B_NPATTERNS
} b_pattern_t;

typedef enum { B_TCP, B_IPC, B_INPROC, B_NTRANSPORTS } b_transport_t;

typedef enum {
    B_DIRECT,      /* producer and consumer connected to each other */
    B_ZMQ_THREAD,  /* zmq_proxy() in a thread of the harness */
    B_ZR_THREAD,   /* zr_proxy() in a thread of the harness */
    B_ZMQ_PROCESS, /* zmq_proxy() in bench/zmq_proxy_main.c's process */
    B_ZR_PROCESS,  /* the zrelay binary */
    B_NCONTENDERS
} b_contender_t;

/* A device option a pattern needs, by its zr_option name ("hold_until");
 * the zrelay binary gets it as --hold-until VALUE. */
typedef struct {
    const char *name, *value;
} b_option_t;

#define B_MAX_OPTS 4

typedef struct {
    const char *name; /* "streamer", "forwarder-1", ... */
    const char *what; /* "PUSH->PULL" */
    const char *unit; /* what msgs/s counts: "msgs", "round trips" */
    zr_device_type_t device;
    int nsubs;    /* consumers (forwarder: subscribers; lru: workers) */
    bool latency; /* reports round-trip percentiles */
    /* A feature only zrelay has (the gate, lru): only the zrelay
     * contenders run it, with these device options (the thread contender
     * as a zr_device, since zr_proxy() takes no options), and the report
     * compares it with PLAIN, the pattern without the feature, of the same
     * transport and size in the same run. */
    bool zrelay_only;
    int plain;             /* b_pattern_t, or -1 */
    const char *tag;       /* "gate", "lru": the feature, in column heads */
    const char *plain_tag; /* "plain", "rr": PLAIN, in column heads */
    b_option_t opts[B_MAX_OPTS];
} b_pattern_info_t;

extern const b_pattern_info_t b_patterns[B_NPATTERNS];
extern const char *const b_transport_names[B_NTRANSPORTS];
extern const char *const b_contender_names[B_NCONTENDERS];

bool b_is_process(b_contender_t c);
bool b_is_proxy(b_contender_t c);
/* Whether contender C runs pattern P at all (transports aside). */
bool b_runs_pattern(b_contender_t c, b_pattern_t p);
/* The zmq_proxy contender zrelay's is compared with, or -1. */
int b_baseline_of(b_contender_t c);

/* Settings every run shares. */
typedef struct {
    double duration_s; /* traffic per run */
    int reps;
    int io_threads;
    int sndhwm, rcvhwm;
    int window;  /* DEALER: requests in flight */
    int pin_cpu; /* -1: no pinning of the proxy process */
    const char *zrelay_bin;
    const char *zmq_proxy_bin;
    /* Extra arguments for the zrelay binary: for every pattern, and for
     * the latency patterns only (an engine option such as a busy-poll
     * that zmq_proxy has no equivalent of; the report lists them). */
    const char *zrelay_args[8];
    int nzrelay_args;
    const char *zrelay_lat_args[8];
    int nzrelay_lat_args;
    char tmpdir[128]; /* ipc paths and child stderr files */
} b_config_t;

/* ---------------------------------------------------------------------
 * Latency histogram: log-linear, 32 buckets per power of two (3 %
 * resolution), nanoseconds up to about 18 minutes.
 */
#define B_HIST_BUCKETS 1216
typedef struct {
    uint64_t counts[B_HIST_BUCKETS];
    uint64_t total;
} b_hist_t;

void b_hist_add(b_hist_t *h, uint64_t ns);
void b_hist_merge(b_hist_t *into, const b_hist_t *from);
/* The value (ns) at quantile Q (0..1); NAN when empty. */
double b_hist_quantile(const b_hist_t *h, double q);

/* ---------------------------------------------------------------------
 * One run.
 */
typedef struct {
    bool ok;
    char error[240];
    uint64_t msgs;           /* counted unit: delivered msgs or round trips */
    uint64_t sent;           /* published (forwarder), accepted (stall) */
    double elapsed_s;        /* at the consumer, first to last message */
    double loss_pct;         /* forwarder: published but not delivered */
    b_hist_t *hist;          /* latency patterns: filled by the run */
    double proxy_cpu_s;      /* proxy's loop and I/O threads; NAN: none */
    double proxy_loop_cpu_s; /* the proxy's loop thread alone */
    double proxy_rss_mb;     /* peak RSS of the proxy process; NAN: n/a */
    /* stall only */
    double rss_base_mb, rss_stalled_mb;
} b_run_t;

/* ---------------------------------------------------------------------
 * contender.c: a proxy in the middle (or none).
 */
typedef struct b_proxy_t b_proxy_t;

/* Start contender C for PATTERN's device (and options) over TRANSPORT.
 * For an in-process contender over inproc, SHARED_CTX is the context
 * every party uses. NULL with a reason in ERR on failure. Direct: a proxy
 * that is none. */
b_proxy_t *b_proxy_start(const b_config_t *cfg, b_contender_t c,
                         b_pattern_t pattern, b_transport_t transport,
                         void *shared_ctx, char *err, size_t errlen);
/* Where producers and consumers connect; NULL for direct. */
const char *b_proxy_frontend(const b_proxy_t *self);
const char *b_proxy_backend(const b_proxy_t *self);
/* CPU seconds so far: all the proxy's threads, and its loop thread. */
void b_proxy_cpu(const b_proxy_t *self, double *total, double *loop);
/* Resident set now and at its peak, MiB (process contenders; NAN else). */
void b_proxy_rss(const b_proxy_t *self, double *now, double *peak);
/* Stop it and free it. -1 with a reason in ERR when it did not stop
 * cleanly (a process that had to be killed or exited non-zero). */
int b_proxy_stop(b_proxy_t **self_p, char *err, size_t errlen);

/* A fresh endpoint for a party that binds: tcp://127.0.0.1:*, an ipc
 * path in the run's temp dir, or a unique inproc name. */
void b_endpoint(const b_config_t *cfg, b_transport_t t, char *buf, size_t len);

/* CPU seconds of one thread of the calling process. */
double b_thread_cpu_s(pid_t tid);
pid_t b_gettid(void);

/* ---------------------------------------------------------------------
 * traffic.c: one run of PATTERN with SIZE-byte messages through C.
 */
void b_run(const b_config_t *cfg, b_pattern_t pattern, b_transport_t transport,
           size_t size, b_contender_t c, b_run_t *out);

/* ---------------------------------------------------------------------
 * The runs of one case, per contender, and the whole report.
 */
typedef struct {
    int nruns, nfailed;
    int round[B_MAX_REPS];   /* the round (from 0) of each good run */
    double rate[B_MAX_REPS]; /* msgs/s of each good run */
    double cpu[B_MAX_REPS];  /* proxy CPU s per million msgs */
    double loop_cpu[B_MAX_REPS];
    double rss[B_MAX_REPS]; /* proxy peak RSS, MiB */
    double loss[B_MAX_REPS];
    double rss_base[B_MAX_REPS], rss_stalled[B_MAX_REPS];
    double busy_pct[B_MAX_REPS]; /* proxy CPU / wall time of the run */
    uint64_t sent[B_MAX_REPS];
    b_hist_t *hist;  /* latency patterns: every run's round trips */
    char error[240]; /* the last failure */
} b_result_t;

typedef struct {
    b_pattern_t pattern;
    b_transport_t transport;
    size_t size;
    bool has[B_NCONTENDERS]; /* which contenders this case runs */
    b_result_t res[B_NCONTENDERS];
} b_case_t;

typedef struct {
    b_config_t cfg;
    const char *mode; /* "quick", "full" or "custom" */
    char command[1024];
    bool optimized;
    b_case_t *cases;
    int ncases;
    double wall_s;
    char started[32]; /* UTC, ISO 8601 */
} b_report_t;

/* Summaries (report.c). NAN where there is nothing to say. */
double b_median(const double *v, int n);
double b_min(const double *v, int n);
double b_max(const double *v, int n);
/* Median msgs/s of contender C in case K, NAN when it did not run. */
double b_case_rate(const b_case_t *k, b_contender_t c);
/* The noise band of contender C's msgs/s over BASE's in case K: the min
 * and max, in *LO and *HI, of the per-round ratios (C's round i over
 * BASE's round i: the contenders alternate within a round). When a round
 * failed for one of them but not the other, the rounds do not pair: the
 * band is then C's min / BASE's max .. C's max / BASE's min. Returns the
 * number of rounds paired, 0 for that fallback, -1 (NAN in *LO and *HI)
 * when either has no good run. The ratio of the medians is always within
 * the band. */
int b_ratio_band(const b_case_t *k, b_contender_t c, int base, double *lo,
                 double *hi);
/* The case of K's plain pattern with K's transport and size, or NULL. */
const b_case_t *b_plain_case(const b_report_t *r, const b_case_t *k);
const char *b_size_name(size_t size, char *buf, size_t len);
/* The bound on a stalled proxy's growth from its HWMs, MiB. */
double b_stall_bound_mb(const b_config_t *cfg, size_t size);

/* Writers; -1 when the file could not be written. */
void b_report_table(const b_report_t *r, FILE *out);
int b_report_json(const b_report_t *r, FILE *out);
int b_report_csv(const b_report_t *r, FILE *out);
int b_report_plot(const b_report_t *r, FILE *out);
/* The table with a machine/settings header, for docs/PERFORMANCE.md. */
int b_report_markdown(const b_report_t *r, FILE *out);

/* ---------------------------------------------------------------------
 * Time.
 */
uint64_t b_now_ns(void);
void b_sleep_ms(int ms);

#endif
