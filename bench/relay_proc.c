/* relay_proc.c - a relay in a process of its own (relay_proc.h).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* pipe2, sched_setaffinity */
#include "relay_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A deadline MS milliseconds from now, and how many are left of it. */
static struct timespec
s_deadline(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t) (ms / 1000);
    t.tv_nsec += (long) (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int64_t
s_ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) (deadline->tv_sec - now.tv_sec) * 1000 +
           (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

void
b_relay_proc_init(b_relay_proc_t *r)
{
    memset(r, 0, sizeof *r);
    r->out_fd = -1;
}

void
b_relay_proc_stderr(const b_relay_proc_t *r, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = r->errfile[0] ? fopen(r->errfile, "r") : NULL;
    if (!f) {
        return;
    }
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ')) {
        text[--n] = '\0';
    }
    const char *tail = n > len - 1 ? text + n - (len - 1) : text;
    size_t tlen = strlen(tail);
    tlen = tlen < len - 1 ? tlen : len - 1;
    memcpy(buf, tail, tlen);
    buf[tlen] = '\0';
    for (char *p = buf; *p; p++) {
        *p = *p == '\n' ? ' ' : *p;
    }
}

/* Fork and exec ARGV, its stdout a pipe (R->out_fd), its stderr
 * R->errfile. */
static int
s_spawn(b_relay_proc_t *r, const char *const *argv, const b_relay_how_t *how,
        char *err, size_t errlen)
{
    static atomic_int counter;
    const char *bin = argv[0];
    snprintf(r->errfile, sizeof r->errfile, "%s/%s-%d.err", how->dir, how->what,
             atomic_fetch_add(&counter, 1));
    int errfd =
        open(r->errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fds[2];
    if (errfd < 0 || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot start %s: %s", bin, strerror(errno));
        if (errfd >= 0) {
            close(errfd);
        }
        return -1;
    }
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    if (how->pin_cpu >= 0) {
        CPU_SET(how->pin_cpu, &cpus);
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. The relay
         * dies with the harness, however the harness ends. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(127);
        }
        if (how->pin_cpu >= 0) {
            sched_setaffinity(0, sizeof cpus, &cpus);
        }
        dup2(fds[1], 1);
        dup2(errfd, 2);
        execv(bin, (char *const *) argv);
        _exit(127);
    }
    close(fds[1]);
    close(errfd);
    if (pid < 0) {
        close(fds[0]);
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    r->pid = pid;
    r->out_fd = fds[0];
    return 0;
}

/* One whole line of its stdout: "ready", or "ROLE MODE ADDRESS". */
static bool
s_line(b_relay_proc_t *r, const char *line)
{
    char role[32], mode[32], addr[256];
    if (strcmp(line, "ready") == 0) {
        return true;
    }
    if (sscanf(line, "%31s %31s %255s", role, mode, addr) == 3) {
        char *to = strcmp(role, "frontend") == 0  ? r->frontend
                   : strcmp(role, "backend") == 0 ? r->backend
                   : strcmp(role, "control") == 0 ? r->control
                                                  : NULL;
        if (to) {
            snprintf(to, sizeof r->frontend, "%s", addr);
        }
    }
    return false;
}

/* Read its lines until "ready". */
static int
s_wait_ready(b_relay_proc_t *r, const char *bin, const b_relay_how_t *how,
             char *err, size_t errlen)
{
    char buf[4096];
    size_t used = 0;
    int ready_s = how->ready_s;
    struct timespec deadline = s_deadline((int64_t) ready_s * 1000);
    for (bool ready = false; !ready;) {
        int64_t left = s_ms_left(&deadline);
        struct pollfd p = {.fd = r->out_fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int) left) == 0) {
            snprintf(err, errlen, "%s: no 'ready' line within %d s", bin,
                     ready_s);
            return -1;
        }
        ssize_t n = read(r->out_fd, buf + used, sizeof buf - 1 - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            char why[160];
            b_relay_proc_stderr(r, why, sizeof why);
            snprintf(err, errlen, "%s exited before 'ready': %s", bin, why);
            return -1;
        }
        used += (size_t) n;
        buf[used] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            ready = s_line(r, line) || ready;
            line = nl + 1;
        }
        used = strlen(line);
        memmove(buf, line, used + 1);
        if (used == sizeof buf - 1) {
            used = 0; /* a line too long to be ours */
        }
    }
    if (!r->frontend[0] || (!r->backend[0] && !how->one_endpoint)) {
        snprintf(err, errlen, "%s printed 'ready' without its endpoints", bin);
        return -1;
    }
    return 0;
}

int
b_relay_proc_start(b_relay_proc_t *r, const char *const *argv,
                   const b_relay_how_t *how, char *err, size_t errlen)
{
    b_relay_proc_init(r);
    r->what = how->what;
    if (s_spawn(r, argv, how, err, errlen) == 0 &&
        s_wait_ready(r, argv[0], how, err, errlen) == 0) {
        return 0;
    }
    char ignored[200];
    b_relay_proc_stop(r, ignored, sizeof ignored);
    return -1;
}

int
b_relay_proc_stop(b_relay_proc_t *r, char *err, size_t errlen)
{
    int rc = 0;
    const char *what = r->what ? r->what : "relay";
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        int status = 0;
        pid_t got = 0;
        struct timespec deadline = s_deadline(10000);
        while ((got = waitpid(r->pid, &status, WNOHANG)) == 0 &&
               s_ms_left(&deadline) > 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        if (got == 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &status, 0);
            snprintf(err, errlen, "%s did not stop within 10 s of SIGTERM",
                     what);
            rc = -1;
        }
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char why[160];
            b_relay_proc_stderr(r, why, sizeof why);
            snprintf(err, errlen, "%s exited with %s %d: %s", what,
                     WIFEXITED(status) ? "status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                     why);
            rc = -1;
        }
        r->pid = 0;
    }
    if (r->out_fd >= 0) {
        close(r->out_fd);
        r->out_fd = -1;
    }
    if (r->errfile[0]) {
        unlink(r->errfile);
        r->errfile[0] = '\0';
    }
    return rc;
}

double
b_proc_stat_cpu_s(const char *path, char *comm, size_t commlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0; /* the thread is gone */
    }
    char line[1024];
    double s = 0;
    if (fgets(line, sizeof line, f)) {
        /* The fields after the name, which may hold spaces. */
        char *open = strchr(line, '('), *close = strrchr(line, ')');
        if (comm && open && close && close > open) {
            snprintf(comm, commlen, "%.*s", (int) (close - open - 1), open + 1);
        }
        unsigned long utime = 0, stime = 0;
        if (close && sscanf(close + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%lu %lu",
                            &utime, &stime) == 2) {
            s = (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
        }
    }
    fclose(f);
    return s;
}

double
b_proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return NAN;
    }
    double kib = NAN;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, len) == 0) {
            kib = strtod(line + len, NULL);
            break;
        }
    }
    fclose(f);
    return kib;
}

static int
s_cmp_double(const void *x, const void *y)
{
    double a = *(const double *) x, b = *(const double *) y;
    return (a > b) - (a < b);
}

void
b_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, s_cmp_double);
}

double
b_quantile(const double *v, size_t n, double p)
{
    if (n == 0) {
        return NAN;
    }
    size_t i = (size_t) (p * (double) (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}
