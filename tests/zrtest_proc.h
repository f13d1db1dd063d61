/* zrtest_proc.h - child processes for tests that run the zrelay binary:
 * output on pipes, every wait with a deadline, children killed when a
 * check fails.
 * SPDX-License-Identifier: MIT
 */
#ifndef ZRTEST_PROC_H_INCLUDED
#define ZRTEST_PROC_H_INCLUDED

#include "zrtest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

extern char **environ;

/* ---------------------------------------------------------------------
 * Child processes: start one with its stdout and stderr on pipes, read
 * stdout line by line and stderr whole, wait for the exit, kill. Every
 * wait has a deadline. A failed check or a skip ends the case's process
 * at once: children still running then are shown and killed by
 * zrt_proc_cleanup, the harness's end hook (an atexit handler when the
 * case returns; on Linux, PR_SET_PDEATHSIG if the case is killed).
 */

/* What a child said on one stream; beyond ZRT_TEXT_MAX bytes it is read
 * and thrown away, so a chatty child never blocks on a full pipe. */
#define ZRT_TEXT_MAX (4u << 20)

typedef struct {
    char *data; /* always NUL-terminated */
    size_t len, cap;
    size_t pos; /* where the next line starts (stdout) */
} zrt_text_t;

typedef struct {
    pid_t pid;
    int status; /* wait(2) status, once reaped */
    bool reaped;
    int fd[2];          /* read ends of stdout and stderr; -1 at EOF */
    zrt_text_t text[2]; /* what came on each so far */
    char cmdline[512];
} zrt_proc_t;

#define ZRT_MAX_PROCS 16
static zrt_proc_t *zrt_procs[ZRT_MAX_PROCS] __attribute__((unused));

static inline void
zrt_text_append(zrt_text_t *t, const char *buf, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        if (t->len + n + 1 > ZRT_TEXT_MAX) {
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *data = realloc(t->data, cap);
        if (!data) {
            ZR_FAILF("out of memory");
        }
        t->data = data;
        t->cap = cap;
    }
    memcpy(t->data + t->len, buf, n);
    t->len += n;
    t->data[t->len] = 0;
}

static inline void zrt_proc_cleanup(void);

/* zrt_proc_start, with the child's stdin on a pipe whose write end goes
 * to *STDIN_FD when STDIN_FD is not NULL (else /dev/null). */
static inline zrt_proc_t *
zrt_proc_spawn(const char *const *argv, const char *const *env_set,
               int *stdin_fd)
{
    static bool registered;
    if (!registered) {
        atexit(zrt_proc_cleanup);
        zrt_end_hook = zrt_proc_cleanup;
        registered = true;
    }
    int slot = 0;
    while (slot < ZRT_MAX_PROCS && zrt_procs[slot]) {
        slot++;
    }
    if (slot == ZRT_MAX_PROCS) {
        ZR_FAILF("more than %d child processes at once", ZRT_MAX_PROCS);
    }
    zrt_proc_t *self = calloc(1, sizeof *self);
    if (!self) {
        ZR_FAILF("out of memory");
    }
    size_t used = 0;
    for (int i = 0; argv[i]; i++) {
        int n = snprintf(self->cmdline + used, sizeof self->cmdline - used,
                         "%s%s", i ? " " : "", argv[i]);
        if (n < 0 || (size_t) n >= sizeof self->cmdline - used) {
            break;
        }
        used += (size_t) n;
    }
    /* Everything the child needs is built before fork: after it, only
     * async-signal-safe calls. */
    size_t nenv = 0, nset = 0;
    while (environ[nenv]) {
        nenv++;
    }
    while (env_set && env_set[nset]) {
        nset++;
    }
    const char **envp = calloc(nenv + nset + 1, sizeof *envp);
    if (!envp) {
        ZR_FAILF("out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool replaced = false;
        for (size_t j = 0; j < nset; j++) {
            size_t name = strcspn(env_set[j], "=") + 1;
            replaced = replaced || strncmp(environ[i], env_set[j], name) == 0;
        }
        if (!replaced) {
            envp[k++] = environ[i];
        }
    }
    for (size_t j = 0; j < nset; j++) {
        envp[k++] = env_set[j];
    }
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) {
        ZR_FAILF("pipe: %s", strerror(errno));
    }
    int devnull = -1, in[2] = {-1, -1};
    if (stdin_fd) {
        if (pipe(in) != 0) {
            ZR_FAILF("pipe: %s", strerror(errno));
        }
        fcntl(in[0], F_SETFD, FD_CLOEXEC);
        fcntl(in[1], F_SETFD, FD_CLOEXEC);
    }
    else {
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    int pipes[4] = {out[0], out[1], err[0], err[1]};
    for (int i = 0; i < 4; i++) {
        fcntl(pipes[i], F_SETFD, FD_CLOEXEC);
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        ZR_FAILF("fork: %s", strerror(errno));
    }
    if (pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
#endif
        (void) parent;
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
        }
        if (in[0] >= 0) {
            dup2(in[0], STDIN_FILENO);
        }
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        execve(argv[0], (char *const *) argv, (char *const *) envp);
        _exit(127);
    }
    free(envp);
    if (devnull >= 0) {
        close(devnull);
    }
    if (stdin_fd) {
        close(in[0]);
        *stdin_fd = in[1];
    }
    close(out[1]);
    close(err[1]);
    self->pid = pid;
    self->fd[0] = out[0];
    self->fd[1] = err[0];
    zrt_text_append(&self->text[0], "", 0);
    zrt_text_append(&self->text[1], "", 0);
    zrt_procs[slot] = self;
    return self;
}

/* Start ARGV[0] with ARGV; ENV_SET ("NAME=value" strings, NULL-ended,
 * or NULL) replaces or adds variables of this process's environment.
 * Its stdin is /dev/null. */
static inline zrt_proc_t *
zrt_proc_start(const char *const *argv, const char *const *env_set)
{
    return zrt_proc_spawn(argv, env_set, NULL);
}

/* The same with the child's stdin on a pipe: *STDIN_FD is its write end
 * (close-on-exec), which the caller writes and closes (the child then
 * sees end of file). Ignore SIGPIPE before writing to a child that may
 * exit first. */
static inline zrt_proc_t *
zrt_proc_start_stdin(const char *const *argv, const char *const *env_set,
                     int *stdin_fd)
{
    return zrt_proc_spawn(argv, env_set, stdin_fd);
}

/* Wait up to MS for output and keep what came. False when nothing more
 * can come (both pipes closed) or nothing came in time. */
static inline bool
zrt_proc_pump(zrt_proc_t *self, int ms)
{
    struct pollfd pfd[2];
    int which[2], n = 0;
    for (int i = 0; i < 2; i++) {
        if (self->fd[i] >= 0) {
            pfd[n] = (struct pollfd){.fd = self->fd[i], .events = POLLIN};
            which[n++] = i;
        }
    }
    if (n == 0) {
        return false;
    }
    int rc = poll(pfd, (nfds_t) n, ms < 0 ? 0 : ms);
    if (rc < 0 && errno == EINTR) {
        return true;
    }
    if (rc <= 0) {
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!pfd[i].revents) {
            continue;
        }
        int w = which[i];
        char buf[4096];
        ssize_t got = read(self->fd[w], buf, sizeof buf);
        if (got > 0) {
            zrt_text_append(&self->text[w], buf, (size_t) got);
        }
        else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(self->fd[w]);
            self->fd[w] = -1;
        }
    }
    return true;
}

static inline const char *
zrt_proc_stdout(const zrt_proc_t *self)
{
    return self->text[0].data;
}

static inline const char *
zrt_proc_stderr(const zrt_proc_t *self)
{
    return self->text[1].data;
}

/* The next line of stdout, without its newline, within MS. False at the
 * end of stdout or when the time is up. */
static inline bool
zrt_proc_read_line(zrt_proc_t *self, char *line, size_t len, int ms)
{
    int64_t end = zrt_now_ms() + ms;
    for (;;) {
        zrt_text_t *t = &self->text[0];
        const char *start = t->data + t->pos;
        const char *nl = strchr(start, '\n');
        if (nl) {
            int n = (int) (nl - start);
            snprintf(line, len, "%.*s", n, start);
            t->pos += (size_t) n + 1;
            return true;
        }
        int64_t left = end - zrt_now_ms();
        if (left <= 0 || self->fd[0] < 0) {
            return false;
        }
        zrt_proc_pump(self, (int) left);
    }
}

/* Wait up to MS for the child to exit, reading its output meanwhile.
 * True once it has been reaped. */
static inline bool
zrt_proc_wait(zrt_proc_t *self, int ms)
{
    int64_t end = zrt_now_ms() + ms;
    while (!self->reaped) {
        pid_t rc = waitpid(self->pid, &self->status, WNOHANG);
        if (rc == self->pid) {
            self->reaped = true;
            break;
        }
        if (rc < 0 && errno != EINTR) {
            ZR_FAILF("waitpid %d: %s", (int) self->pid, strerror(errno));
        }
        int64_t left = end - zrt_now_ms();
        if (left <= 0) {
            return false;
        }
        if (self->fd[0] >= 0 || self->fd[1] >= 0) {
            /* Exit closes the pipes, which ends this poll. */
            zrt_proc_pump(self, (int) left);
        }
        else {
            /* Pipes closed, exit not yet reapable: a moment at most. */
            poll(NULL, 0, left < 2 ? (int) left : 2);
        }
    }
    while (zrt_proc_pump(self, 0)) {
    }
    return true;
}

static inline bool
zrt_proc_alive(zrt_proc_t *self)
{
    if (!self->reaped &&
        waitpid(self->pid, &self->status, WNOHANG) == self->pid) {
        self->reaped = true;
    }
    return !self->reaped;
}

static inline void
zrt_proc_signal(zrt_proc_t *self, int sig)
{
    if (self->reaped || kill(self->pid, sig) != 0) {
        ZR_FAILF("cannot signal '%s': it is gone (status 0x%x); "
                 "stderr:\n%s",
                 self->cmdline, self->status, zrt_proc_stderr(self));
    }
}

/* The child must exit with CODE within MS. */
static inline void
zrt_proc_expect_exit(zrt_proc_t *self, int code, int ms)
{
    if (!zrt_proc_wait(self, ms)) {
        ZR_FAILF("'%s' still running after %d ms; stderr:\n%s", self->cmdline,
                 ms, zrt_proc_stderr(self));
    }
    if (WIFSIGNALED(self->status)) {
        ZR_FAILF("'%s' killed by signal %d; stderr:\n%s", self->cmdline,
                 WTERMSIG(self->status), zrt_proc_stderr(self));
    }
    if (WEXITSTATUS(self->status) != code) {
        ZR_FAILF("'%s' exited %d, want %d; stdout:\n%s\nstderr:\n%s",
                 self->cmdline, WEXITSTATUS(self->status), code,
                 zrt_proc_stdout(self), zrt_proc_stderr(self));
    }
}

/* Kill the child if it still runs, reap it, free everything. */
static inline void
zrt_proc_destroy(zrt_proc_t **self_p)
{
    zrt_proc_t *self = *self_p;
    if (!self) {
        return;
    }
    if (!self->reaped) {
        kill(self->pid, SIGKILL);
        while (waitpid(self->pid, &self->status, 0) < 0 && errno == EINTR) {
        }
    }
    for (int i = 0; i < 2; i++) {
        if (self->fd[i] >= 0) {
            close(self->fd[i]);
        }
        free(self->text[i].data);
    }
    for (int i = 0; i < ZRT_MAX_PROCS; i++) {
        if (zrt_procs[i] == self) {
            zrt_procs[i] = NULL;
        }
    }
    free(self);
    *self_p = NULL;
}

/* At the end of a case. A child still listed here means a check failed
 * (or the case skipped) while it ran: show what it said, then kill it. */
static inline void
zrt_proc_cleanup(void)
{
    for (int i = 0; i < ZRT_MAX_PROCS; i++) {
        zrt_proc_t *p = zrt_procs[i];
        if (!p) {
            continue;
        }
        for (int n = 0; n < 64 && zrt_proc_pump(p, 0); n++) {
        }
        fprintf(stderr, "---- '%s' (%s, status 0x%x) said on stderr:\n%s\n",
                p->cmdline, zrt_proc_alive(p) ? "still running" : "exited",
                p->status, zrt_proc_stderr(p));
        zrt_proc_destroy(&p);
    }
}

/* ---------------------------------------------------------------------
 * Files and the daemon: `zrelay run` on a config file, its table of
 * endpoints ("DEVICE TYPE ROLE bind ADDRESS" lines) read up to "ready".
 */

/* Write TEXT to PATH, replacing what was there. */
static inline void
zrt_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ZR_CHECKF(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Make a fresh file from PATH, a mkstemp template ("/tmp/x-XXXXXX"),
 * which gets its name, and write TEXT to it. */
static inline void
zrt_temp_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    ZR_CHECKF(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
    close(fd);
    zrt_write_file(path, text);
}

#define ZRT_DAEMON_EPS 16

typedef struct {
    zrt_proc_t *proc;
    char path[64];     /* the config file */
    char control[128]; /* the daemon's control endpoint */
    struct {
        char device[64], role[16], address[128];
    } eps[ZRT_DAEMON_EPS];
    int neps;
} zrt_daemon_t;

/* D's config file: a fresh file from TEMPLATE holding TEXT, in d->path.
 * Starts nothing yet (zrt_daemon_start). */
static inline void
zrt_daemon_config(zrt_daemon_t *d, const char *template, const char *text)
{
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", template);
    zrt_temp_file(d->path, text);
}

/* Start ARGV, a `zrelay run` on d->path, and read its table up to
 * "ready": the control endpoint and every bound endpoint. */
static inline void
zrt_daemon_start(zrt_daemon_t *d, const char *const *argv)
{
    d->proc = zrt_proc_start(argv, NULL);
    char line[512];
    for (;;) {
        ZR_CHECKF(
            zrt_proc_read_line(d->proc, line, sizeof line, ZRT_DEADLINE_MS),
            "no 'ready' from zrelay run; stderr:\n%s",
            zrt_proc_stderr(d->proc));
        if (strcmp(line, "ready") == 0) {
            break;
        }
        char device[64], type[16], role[16], mode[16], address[128];
        if (sscanf(line, " %63s %15s %15s %15s %127s", device, type, role, mode,
                   address) != 5 ||
            strcmp(mode, "bind") != 0) {
            continue;
        }
        if (strcmp(device, "-") == 0 && strcmp(role, "control") == 0) {
            snprintf(d->control, sizeof d->control, "%s", address);
        }
        else if (d->neps < ZRT_DAEMON_EPS) {
            snprintf(d->eps[d->neps].device, 64, "%s", device);
            snprintf(d->eps[d->neps].role, 16, "%s", role);
            snprintf(d->eps[d->neps].address, 128, "%s", address);
            d->neps++;
        }
    }
    ZR_CHECKF(*d->control, "no control line in the table");
}

/* The address DEVICE's ROLE is bound to; fails the case when the table
 * has none. */
static inline const char *
zrt_daemon_ep(const zrt_daemon_t *d, const char *device, const char *role)
{
    for (int i = 0; i < d->neps; i++) {
        if (strcmp(d->eps[i].device, device) == 0 &&
            strcmp(d->eps[i].role, role) == 0) {
            return d->eps[i].address;
        }
    }
    ZR_FAILF("no %s %s in the table", device, role);
}

/* SIGTERM; it must exit 0. Removes the config file. */
static inline void
zrt_daemon_stop(zrt_daemon_t *d)
{
    zrt_proc_signal(d->proc, SIGTERM);
    zrt_proc_expect_exit(d->proc, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&d->proc);
    unlink(d->path);
}

#endif
