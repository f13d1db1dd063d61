/* relay_proc.h - a relay in a process of its own, as the benches drive it.
 * SPDX-License-Identifier: MIT
 *
 * The zrelay binary and zrelay-bench-zmq-proxy print "ROLE bind ADDRESS"
 * for each endpoint they bound, then "ready"; SIGTERM stops them. Used by
 * contender.c (zrelay-bench) and scale.c (zrelay-bench-scale), which build
 * the command lines; this file starts the process, waits for its lines
 * (never a sleep), stops it and reads its CPU and memory from /proc.
 */
#ifndef ZR_BENCH_RELAY_PROC_H_INCLUDED
#define ZR_BENCH_RELAY_PROC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;  /* 0: not running */
    int out_fd; /* its stdout; -1: none */
    /* The endpoints it printed ("" when it printed none). */
    char frontend[256], backend[256], control[256];
    char errfile[192]; /* its stderr; "" once removed */
    const char *what;  /* "relay", "proxy": in file names and errors */
} b_relay_proc_t;

/* How to start one. */
typedef struct {
    const char *what;  /* "relay", "proxy" */
    const char *dir;   /* where its stderr file goes */
    int ready_s;       /* how long it may take to print "ready" */
    int pin_cpu;       /* the one CPU it may run on; -1: any */
    bool one_endpoint; /* it binds one socket (a majordomo): no backend */
} b_relay_how_t;

/* A relay that is not running: b_relay_proc_stop does nothing. */
void b_relay_proc_init(b_relay_proc_t *r);

/* Start ARGV (ARGV[0] the binary, NULL-terminated), its stdout a pipe
 * to us, its stderr a file in HOW->dir; return once it printed "ready"
 * and both a frontend and a backend. -1 with a reason in ERR (then the
 * process is stopped again and R is not running). The process gets
 * SIGTERM when the calling process ends, however it ends. With
 * HOW->one_endpoint, a frontend alone will do. */
int b_relay_proc_start(b_relay_proc_t *r, const char *const *argv,
                       const b_relay_how_t *how, char *err, size_t errlen);

/* SIGTERM, then wait up to 10 s for a clean exit; closes its pipe and
 * removes its stderr file. -1 with a reason in ERR when it had to be
 * killed or exited non-zero. Does nothing for a relay not running. */
int b_relay_proc_stop(b_relay_proc_t *r, char *err, size_t errlen);

/* The last line(s) of its stderr, newlines as spaces, for a message. */
void b_relay_proc_stderr(const b_relay_proc_t *r, char *buf, size_t len);

/* utime + stime of a /proc/PID[/task/TID]/stat file, in seconds (whole
 * 10 ms ticks); 0 when unreadable. COMM (may be NULL) gets the name. */
double b_proc_stat_cpu_s(const char *path, char *comm, size_t commlen);

/* "VmRSS:" or "VmHWM:" of process PID, KiB; NAN when unreadable. */
double b_proc_status_kib(pid_t pid, const char *field);

/* Sort the N samples V in place, smallest first. */
void b_sort(double *v, size_t n);
/* The P quantile (0..1) of the N sorted samples V (nearest rank); NAN
 * when there is none. */
double b_quantile(const double *v, size_t n, double p);

#endif
