/* cmd_mdp.c - `zrelay mdp-call SERVICE [BODY...]` and `zrelay mdp-worker
 * SERVICE --exec CMD`: a Majordomo client and worker for the shell, on
 * libzrelay's zr_mdp_client_* and zr_mdp_worker_* (so with their resends,
 * failover, heartbeats and reconnects). mdp-worker runs CMD once per
 * request, the request on its standard input and its standard output as
 * the reply: any shell script becomes a service.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_DEFAULT_BROKER "tcp://127.0.0.1:5555"
#define S_MAX_BROKERS 16

static const char s_call_usage[] =
    "usage: zrelay mdp-call SERVICE [BODY...] [OPTIONS]\n"
    "\n"
    "Send one request to SERVICE through a Majordomo broker (zrelay\n"
    "majordomo, or any MDP broker) and print the reply. Each BODY is a\n"
    "frame of the request ('--' before one that starts with '-'); without\n"
    "BODY, all of standard input is the request, one frame, without its\n"
    "final newline. No reply within --timeout: the request goes again on a\n"
    "new connection, to the next --broker in turn, --retries times. A\n"
    "request sent again may run twice on workers: make --timeout longer\n"
    "than the service takes.\n"
    "\n"
    "Options:\n"
    "  -b, --broker EP        the broker (default " S_DEFAULT_BROKER ");\n"
    "                         repeat for others to fail over to\n"
    "  -t, --timeout D        wait D for the reply, per attempt (default\n"
    "                         2.5s); with --mdp 2 each PARTIAL waits again\n"
    "  -r, --retries N        send again N times on no reply (default 3)\n"
    "      --mdp 1|2          MDP/0.1 (MDPC01, default) or MDP/0.2 (MDPC02:\n"
    "                         each PARTIAL reply is printed as it comes)\n"
    "      --format F         text|quoted|hex|json|raw (default text; see\n"
    "                         'zrelay req --help')\n"
    "      --frames-sep S     text, quoted, hex: between the reply's frames\n"
    "                         (default a newline: one frame per line)\n"
    "      --curve-server-key F  CURVE: the broker's public certificate\n"
    "      --curve-cert F     CURVE: this client's certificate (NAME_secret)\n"
    "  -v, --verbose          log each resend on stderr\n"
    "  -h, --help             this text\n"
    "\n"
    "Durations (D): 500ms, 2s, 1m; a bare number is milliseconds.\n"
    "\n"
    "Exit status: 0 a reply (printed on standard output); 1 a runtime\n"
    "failure; 2 a usage error; 3 no reply after every attempt (the brokers\n"
    "tried on stderr); 4 the broker's error reply, \"ZRELAY-ERROR CODE text\"\n"
    "(on stderr; CODE timeout: no worker of SERVICE took it, busy, failed:\n"
    "the workers or the worker's command failed, stopping); 128 + the\n"
    "signal on SIGINT, SIGTERM, SIGHUP.\n"
    "\n"
    "Examples:\n"
    "  zrelay mdp-call echo hello\n"
    "  date | zrelay mdp-call log -b tcp://a:5555 -b tcp://b:5555 -t 1s\n"
    "  zrelay mdp-call mmi.service echo      # 200: echo has a worker\n";

static const char s_worker_usage[] =
    "usage: zrelay mdp-worker SERVICE --exec CMD [OPTIONS]\n"
    "\n"
    "Serve SERVICE for a Majordomo broker: for each request, run CMD with\n"
    "/bin/sh -c; the request's frames, each followed by a newline, are its\n"
    "standard input, and its standard output, without one final newline,\n"
    "is the reply (one frame). Its standard error is this command's. It\n"
    "runs with ZRELAY_SERVICE (SERVICE) and ZRELAY_FRAMES (how many frames)\n"
    "in its environment, one request at a time. When CMD exits with a\n"
    "status other than 0, is killed, runs longer than --exec-timeout,\n"
    "prints more than --max-output or cannot start, the reply is one frame\n"
    "\"ZRELAY-ERROR failed SERVICE: why\" (mdp-call exits 4). Prints 'ready'\n"
    "once READY has gone to the broker; heartbeats while idle; a broker\n"
    "silent for --liveness heartbeats is taken for dead: a new connection\n"
    "to the next --broker, READY again.\n"
    "\n"
    "Options:\n"
    "  -e, --exec CMD         the command (required)\n"
    "  -b, --broker EP        the broker (default " S_DEFAULT_BROKER ");\n"
    "                         repeat for others to go to in turn\n"
    "      --heartbeat D      HEARTBEAT every D while idle (default 2.5s,\n"
    "                         as the broker's)\n"
    "      --liveness N       the broker is dead after N silent heartbeats\n"
    "                         (default 3)\n"
    "      --reconnect D      wait D before connecting again (default 2.5s)\n"
    "      --exec-timeout D   kill CMD after D (default 30s; 0: never)\n"
    "      --max-output SIZE  kill CMD when it prints more (default 16M)\n"
    "  -n, --count N          exit 0 after N requests (default: until\n"
    "                         stopped)\n"
    "      --mdp 1|2          MDP/0.1 (MDPW01, default) or MDP/0.2 (MDPW02)\n"
    "      --curve-server-key F  CURVE: the broker's public certificate\n"
    "      --curve-cert F     CURVE: this worker's certificate (NAME_secret)\n"
    "  -v, --verbose          log requests and reconnects on stderr\n"
    "  -h, --help             this text\n"
    "\n"
    "Durations (D): 500ms, 2s, 1m; a bare number is milliseconds. Sizes:\n"
    "bytes, or with k, M, G.\n"
    "\n"
    "SIGINT, SIGTERM or SIGHUP: the command running (if any) finishes and\n"
    "its reply goes, then DISCONNECT to the broker, exit 0; a second signal\n"
    "ends it at once, and the command with it. Exit status: 0 stopped; 1 a\n"
    "runtime failure; 2 a usage error.\n"
    "\n"
    "Example:\n"
    "  zrelay mdp-worker upper --exec 'tr a-z A-Z' &\n"
    "  zrelay mdp-call upper hello       # HELLO\n";

/* What both verbs take. */
typedef struct {
    const char *verb;
    const char *brokers[S_MAX_BROKERS];
    size_t nbrokers;
    int64_t version;
    const char *curve_server_key, *curve_cert;
    int verbosity;
} s_common_t;

enum {
    S_OPT_MDP = 256,
    S_OPT_FORMAT,
    S_OPT_FRAMES_SEP,
    S_OPT_HEARTBEAT,
    S_OPT_LIVENESS,
    S_OPT_RECONNECT,
    S_OPT_EXEC_TIMEOUT,
    S_OPT_MAX_OUTPUT,
};

/* One of the options both verbs take: 1 when OPT was one (0 when not),
 * -1 after saying what is wrong. */
static int
s_common_option(s_common_t *c, int opt, const char *value)
{
    switch (opt) {
    case 'b':
        if (c->nbrokers == S_MAX_BROKERS) {
            return cli_error(-1, "%s: at most %d --broker", c->verb,
                             S_MAX_BROKERS);
        }
        c->brokers[c->nbrokers++] = value;
        return 1;
    case S_OPT_MDP: {
        char label[64];
        snprintf(label, sizeof label, "%s: --mdp", c->verb);
        return cli_int(label, value, 1, 2, &c->version) ? -1 : 1;
    }
    case CLI_OPT_CURVE_SERVER_KEY: c->curve_server_key = value; return 1;
    case CLI_OPT_CURVE_CERT: c->curve_cert = value; return 1;
    case 'v': c->verbosity++; return 1;
    default: return 0;
    }
}

/* "VERB: --OPTION", for a message about a value. */
static const char *
s_label(const s_common_t *c, const char *option)
{
    static char label[64];
    snprintf(label, sizeof label, "%s: %s", c->verb, option);
    return label;
}

/* SERVICE: the first argument left, which must be there. */
static int
s_service(s_common_t *c, int argc, char **argv, const char **service)
{
    if (optind >= argc || !*argv[optind]) {
        return cli_error(CLI_USAGE,
                         "%s: no SERVICE given (see 'zrelay %s "
                         "--help')",
                         c->verb, c->verb);
    }
    *service = argv[optind++];
    if (c->nbrokers == 0) {
        c->brokers[c->nbrokers++] = S_DEFAULT_BROKER;
    }
    return CLI_OK;
}

/* ---------------------------------------------------------------------
 * mdp-call
 */

typedef struct {
    cli_format_t format;
    const char *sep;
} s_print_t;

/* Print M's frames as one message in P's format; 0, or -1 with errno. */
static int
s_print(const s_print_t *p, const zr_mdp_msg_t *m)
{
    cli_msg_t out = {NULL, 0, 0};
    int rc = 0;
    for (size_t i = 0; i < zr_mdp_msg_frames(m) && rc == 0; i++) {
        rc = cli_msg_add(&out, zr_mdp_msg_data(m, i), zr_mdp_msg_size(m, i));
    }
    if (rc == 0) {
        rc = cli_format_write(stdout, p->format, &out, p->sep, false);
    }
    cli_msg_destroy(&out);
    return rc;
}

static int
s_on_partial(const zr_mdp_msg_t *body, void *arg)
{
    return s_print(arg, body);
}

/* All of standard input, without one final newline, as a frame of M. */
static int
s_read_stdin(const char *verb, zr_mdp_msg_t *m)
{
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            return cli_error(CLI_FAILURE, "%s: out of memory", verb);
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0 && errno == EINTR && client_signal()) {
            free(buf);
            return 128 + client_signal();
        }
        if (n < 0 && errno != EINTR) {
            free(buf);
            return cli_error(CLI_FAILURE, "%s: standard input: %s", verb,
                             zr_strerror(errno));
        }
        if (n == 0) {
            break;
        }
        len += n > 0 ? (size_t) n : 0;
        if (len == cap) {
            char *more = realloc(buf, cap * 2);
            if (!more) {
                free(buf);
            }
            buf = more;
            cap *= 2;
        }
    }
    if (len && buf[len - 1] == '\n') {
        len--;
    }
    int rc = zr_mdp_msg_add(m, buf, len);
    free(buf);
    return rc ? cli_error(CLI_FAILURE, "%s: out of memory", verb) : CLI_OK;
}

int
cmd_mdp_call(int argc, char **argv)
{
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"timeout", required_argument, NULL, 't'},
        {"retries", required_argument, NULL, 'r'},
        {"mdp", required_argument, NULL, S_OPT_MDP},
        {"format", required_argument, NULL, S_OPT_FORMAT},
        {"frames-sep", required_argument, NULL, S_OPT_FRAMES_SEP},
        {"curve-server-key", required_argument, NULL, CLI_OPT_CURVE_SERVER_KEY},
        {"curve-cert", required_argument, NULL, CLI_OPT_CURVE_CERT},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    s_common_t c = {.verb = "mdp-call", .version = 1};
    int64_t timeout = 2500, retries = 3;
    s_print_t print = {CLI_FMT_TEXT, "\n"};
    optind = 1;
    opterr = 0;
    int opt;
    /* Options may follow SERVICE and BODY (permuted), as in the help. */
    while ((opt = getopt_long(argc, argv, ":b:t:r:vh", options, NULL)) != -1) {
        int rc = s_common_option(&c, opt, optarg);
        if (rc < 0) {
            return CLI_USAGE;
        }
        if (rc > 0) {
            continue;
        }
        switch (opt) {
        case 't':
            if (cli_duration(s_label(&c, "--timeout"), optarg, &timeout) ||
                timeout < 1) {
                return timeout < 1
                           ? cli_error(CLI_USAGE, "mdp-call: --timeout: at "
                                                  "least 1ms")
                           : CLI_USAGE;
            }
            break;
        case 'r':
            if (cli_int(s_label(&c, "--retries"), optarg, 0, 1000, &retries)) {
                return CLI_USAGE;
            }
            break;
        case S_OPT_FORMAT: {
            int f = cli_format_from_name(optarg);
            if (f < 0) {
                return cli_error(CLI_USAGE,
                                 "mdp-call: --format: '%s' is not one of "
                                 "" CLI_FORMAT_NAMES,
                                 optarg);
            }
            print.format = (cli_format_t) f;
            break;
        }
        case S_OPT_FRAMES_SEP: print.sep = optarg; break;
        case 'h': fputs(s_call_usage, stdout); return CLI_OK;
        case ':':
            return cli_error(CLI_USAGE, "mdp-call: %s needs a value",
                             argv[optind - 1]);
        default: return cli_bad_option("mdp-call", argv, optind, options);
        }
    }
    const char *service = NULL;
    int status = s_service(&c, argc, argv, &service);
    if (status != CLI_OK) {
        return status;
    }
    cli_log_to_stderr(c.verbosity);
    if (client_signal_install() != 0) {
        return cli_error(CLI_FAILURE, "mdp-call: signal pipe: %s",
                         zr_strerror(errno));
    }
    zr_mdp_msg_t *request = zr_mdp_msg_new();
    zr_mdp_msg_t *reply = zr_mdp_msg_new();
    zr_mdp_client_t *client = NULL;
    if (!request || !reply) {
        status = cli_error(CLI_FAILURE, "mdp-call: out of memory");
        goto done;
    }
    for (int i = optind; i < argc; i++) {
        if (zr_mdp_msg_addstr(request, argv[i]) != 0) {
            status = cli_error(CLI_FAILURE, "mdp-call: out of memory");
            goto done;
        }
    }
    if (optind == argc) {
        if (isatty(STDIN_FILENO)) {
            fprintf(stderr, "zrelay: mdp-call: the request is standard input "
                            "(Ctrl-D ends it)\n");
        }
        status = s_read_stdin("mdp-call", request);
        if (status != CLI_OK) {
            goto done;
        }
    }
    client = zr_mdp_client_new(NULL, c.brokers, c.nbrokers);
    if (!client) {
        status = cli_error(CLI_USAGE, "mdp-call: --broker: %s",
                           errno == EINVAL || errno == EPROTONOSUPPORT
                               ? "not an endpoint to connect to (a bare or "
                                 "'>' endpoint: tcp://HOST:PORT)"
                               : zr_strerror(errno));
        goto done;
    }
    zr_mdp_client_set_timeout(client, (int) timeout);
    zr_mdp_client_set_retries(client, (int) retries);
    zr_mdp_client_set_version(client, (int) c.version);
    zr_mdp_client_set_wake_fd(client, client_signal_fd());
    zr_mdp_client_set_partial_fn(client, s_on_partial, &print);
    if (c.curve_server_key) {
        zr_mdp_client_set_curve(client, c.curve_server_key, c.curve_cert);
    }
    if (zr_mdp_client_request(client, service, request, reply) == 0) {
        if (s_print(&print, reply) != 0) {
            status = cli_error(CLI_FAILURE, "mdp-call: standard output: %s",
                               zr_strerror(errno));
        }
        goto done;
    }
    switch (errno) {
    case ETIMEDOUT:
        status = cli_error(CLI_TIMEOUT, "mdp-call: %s: %s", service,
                           zr_mdp_client_error(client));
        break;
    case ETIME:
    case EBUSY:
    case EIO:
    case ESHUTDOWN:
    case EPROTO:
        status = cli_error(CLI_ERROR_REPLY, "mdp-call: %s: %s", service,
                           zr_mdp_client_error(client));
        break;
    case EINTR:
        status = client_signal() ? 128 + client_signal() : CLI_FAILURE;
        break;
    default:
        status = cli_error(CLI_FAILURE, "mdp-call: %s: %s", service,
                           zr_mdp_client_error(client)[0]
                               ? zr_mdp_client_error(client)
                               : zr_strerror(errno));
    }
done:
    zr_mdp_client_destroy(&client);
    zr_mdp_msg_destroy(&request);
    zr_mdp_msg_destroy(&reply);
    return status;
}

/* ---------------------------------------------------------------------
 * mdp-worker
 */

typedef struct {
    const char *service, *command;
    int64_t exec_timeout, max_output;
} s_exec_t;

/* The request's frames, each followed by a newline, as CMD's input. */
static char *
s_exec_input(const zr_mdp_msg_t *request, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < zr_mdp_msg_frames(request); i++) {
        n += zr_mdp_msg_size(request, i) + 1;
    }
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        return NULL;
    }
    size_t at = 0;
    for (size_t i = 0; i < zr_mdp_msg_frames(request); i++) {
        size_t size = zr_mdp_msg_size(request, i);
        if (size) {
            memcpy(buf + at, zr_mdp_msg_data(request, i), size);
        }
        at += size;
        buf[at++] = '\n';
    }
    *len = n;
    return buf;
}

/* The child: its own process group (so that --exec-timeout kills
 * whatever it started), stdin and stdout on the pipes, default signal
 * dispositions back, then /bin/sh -c CMD. Between fork and exec only
 * async-signal-safe calls: the environment was made before the fork. */
static void
s_exec_child(const s_exec_t *x, char **envp, int in, int out)
{
    setpgid(0, 0);
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0) {
        _exit(126);
    }
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *const args[] = {"sh", "-c", (char *) x->command, NULL};
    execve("/bin/sh", args, envp);
    _exit(127);
}

extern char **environ;

/* The environment for the command: this one without ZRELAY_SERVICE and
 * ZRELAY_FRAMES, then those two. One block: free() it. */
static char **
s_exec_env(const s_exec_t *x, size_t frames)
{
    size_t n = 0, bytes = 0;
    for (char **e = environ; *e; e++, n++) {
    }
    char service[300], count[64];
    snprintf(service, sizeof service, "ZRELAY_SERVICE=%s", x->service);
    snprintf(count, sizeof count, "ZRELAY_FRAMES=%zu", frames);
    bytes = strlen(service) + strlen(count) + 2;
    char **envp = malloc((n + 3) * sizeof *envp + bytes);
    if (!envp) {
        return NULL;
    }
    char *text = (char *) (envp + n + 3);
    size_t k = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "ZRELAY_SERVICE=", 15) != 0 &&
            strncmp(*e, "ZRELAY_FRAMES=", 14) != 0) {
            envp[k++] = *e;
        }
    }
    envp[k++] = strcpy(text, service);
    envp[k++] = strcpy(text + strlen(service) + 1, count);
    envp[k] = NULL;
    return envp;
}

/* The command's process group while it runs (0: none). A second
 * signal ends this process at once (client_signal.c): s_on_signal kills
 * the group first, so that the command does not outlive its worker. */
static volatile sig_atomic_t s_running;
static struct sigaction s_client_sa[3];
static const int s_signals[3] = {SIGINT, SIGTERM, SIGHUP};

static void
s_on_signal(int sig)
{
    if (client_signal() && s_running > 0) {
        kill(-(pid_t) s_running, SIGKILL); /* async-signal-safe */
    }
    for (int i = 0; i < 3; i++) {
        if (s_signals[i] == sig && s_client_sa[i].sa_handler != SIG_DFL &&
            s_client_sa[i].sa_handler != SIG_IGN) {
            s_client_sa[i].sa_handler(sig);
        }
    }
}

/* s_on_signal in front of client_signal.c's handlers. */
static void
s_signals_wrap(void)
{
    for (int i = 0; i < 3; i++) {
        struct sigaction sa;
        sigaction(s_signals[i], NULL, &s_client_sa[i]);
        sa = s_client_sa[i];
        sa.sa_handler = s_on_signal;
        sigaction(s_signals[i], &sa, NULL);
    }
}

/* A pipe whose ends are closed on exec. */
static int
s_pipe(int fds[2])
{
    if (pipe(fds) != 0) {
        return -1;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* Run the command on REQUEST: 0 and its output in *OUT (*OUTLEN bytes,
 * malloc'd), or -1 with why in WHY (the reply's text). */
static int
s_exec(const s_exec_t *x, const zr_mdp_msg_t *request, char **out,
       size_t *outlen, char *why, size_t whylen)
{
    size_t inlen = 0, inpos = 0;
    char *input = s_exec_input(request, &inlen);
    char **envp = s_exec_env(x, zr_mdp_msg_frames(request));
    int in[2] = {-1, -1}, outp[2] = {-1, -1};
    if (!input || !envp || s_pipe(in) != 0 || s_pipe(outp) != 0) {
        snprintf(why, whylen, "cannot start the command: %s",
                 zr_strerror(errno));
        free(input);
        free(envp);
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0) {
                close(in[i]);
            }
        }
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        s_exec_child(x, envp, in[0], outp[1]);
    }
    int fork_errno = errno;
    free(envp);
    close(in[0]);
    close(outp[1]);
    if (pid < 0) {
        snprintf(why, whylen, "cannot start the command: %s",
                 zr_strerror(fork_errno));
        close(in[1]);
        close(outp[0]);
        free(input);
        return -1;
    }
    setpgid(pid, pid); /* the child does it too: whoever is first */
    s_running = (sig_atomic_t) pid;
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    int wfd = in[1], rfd = outp[0];
    if (inlen == 0) {
        close(wfd);
        wfd = -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int64_t deadline =
        x->exec_timeout > 0 ? cli_now_ms() + x->exec_timeout : INT64_MAX;
    const char *fail = NULL;
    int status = 0;
    bool reaped = false;
    if (!buf) {
        fail = "out of memory";
    }
    while (!fail) {
        int64_t left = deadline - cli_now_ms();
        if (left <= 0) {
            fail = "timeout";
            break;
        }
        if (rfd < 0) {
            /* Output closed: wait for the exit (it may still run). */
            pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid) {
                reaped = true;
                break;
            }
        }
        struct pollfd p[2];
        int n = 0;
        if (rfd >= 0) {
            p[n++] = (struct pollfd){rfd, POLLIN, 0};
        }
        if (wfd >= 0) {
            p[n++] = (struct pollfd){wfd, POLLOUT, 0};
        }
        int wait = rfd < 0 ? 10 : left > 1000 ? 1000 : (int) left;
        if (poll(p, (nfds_t) n, wait) < 0 && errno != EINTR) {
            fail = "poll";
            break;
        }
        for (int i = 0; i < n; i++) {
            if (p[i].fd == wfd && (p[i].revents & (POLLOUT | POLLERR))) {
                ssize_t w = write(wfd, input + inpos, inlen - inpos);
                if (w > 0) {
                    inpos += (size_t) w;
                }
                /* EPIPE: the command does not read it all; fine. */
                if (inpos == inlen ||
                    (w < 0 && errno != EAGAIN && errno != EINTR)) {
                    close(wfd);
                    wfd = -1;
                }
            }
            else if (p[i].fd == rfd && p[i].revents) {
                if (len == cap) {
                    char *more = realloc(buf, cap * 2);
                    if (!more) {
                        fail = "out of memory";
                        break;
                    }
                    buf = more;
                    cap *= 2;
                }
                ssize_t r = read(rfd, buf + len, cap - len);
                if (r > 0) {
                    len += (size_t) r;
                    if ((int64_t) len > x->max_output) {
                        fail = "output";
                    }
                }
                else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    close(rfd);
                    rfd = -1;
                }
            }
        }
    }
    if (wfd >= 0) {
        close(wfd);
    }
    if (rfd >= 0) {
        close(rfd);
    }
    if (!reaped) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    s_running = 0;
    free(input);
    if (fail) {
        if (strcmp(fail, "timeout") == 0) {
            snprintf(why, whylen,
                     "the command ran longer than %lld ms "
                     "(--exec-timeout): killed",
                     (long long) x->exec_timeout);
        }
        else if (strcmp(fail, "output") == 0) {
            snprintf(why, whylen,
                     "the command printed more than %lld bytes "
                     "(--max-output): killed",
                     (long long) x->max_output);
        }
        else {
            snprintf(why, whylen, "%s: %s", fail, zr_strerror(errno));
        }
        free(buf);
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "the command was killed by signal %d",
                 WTERMSIG(status));
        free(buf);
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(why, whylen, "the command exited with status %d%s",
                 WEXITSTATUS(status),
                 WEXITSTATUS(status) == 127 ? " (not found?)" : "");
        free(buf);
        return -1;
    }
    if (len && buf[len - 1] == '\n') {
        len--;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

int
cmd_mdp_worker(int argc, char **argv)
{
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"exec", required_argument, NULL, 'e'},
        {"heartbeat", required_argument, NULL, S_OPT_HEARTBEAT},
        {"liveness", required_argument, NULL, S_OPT_LIVENESS},
        {"reconnect", required_argument, NULL, S_OPT_RECONNECT},
        {"exec-timeout", required_argument, NULL, S_OPT_EXEC_TIMEOUT},
        {"max-output", required_argument, NULL, S_OPT_MAX_OUTPUT},
        {"count", required_argument, NULL, 'n'},
        {"mdp", required_argument, NULL, S_OPT_MDP},
        {"curve-server-key", required_argument, NULL, CLI_OPT_CURVE_SERVER_KEY},
        {"curve-cert", required_argument, NULL, CLI_OPT_CURVE_CERT},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    s_common_t c = {.verb = "mdp-worker", .version = 1};
    s_exec_t x = {.exec_timeout = 30000, .max_output = 16 << 20};
    int64_t heartbeat = 2500, liveness = 3, reconnect = 2500, count = -1;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":b:e:n:vh", options, NULL)) != -1) {
        int rc = s_common_option(&c, opt, optarg);
        if (rc < 0) {
            return CLI_USAGE;
        }
        if (rc > 0) {
            continue;
        }
        int bad = 0;
        switch (opt) {
        case 'e': x.command = optarg; break;
        case S_OPT_HEARTBEAT:
            bad = cli_duration(s_label(&c, "--heartbeat"), optarg, &heartbeat);
            if (!bad && heartbeat < 1) {
                bad = cli_error(-1, "mdp-worker: --heartbeat: at least 1ms");
            }
            break;
        case S_OPT_LIVENESS:
            bad =
                cli_int(s_label(&c, "--liveness"), optarg, 1, 1000, &liveness);
            break;
        case S_OPT_RECONNECT:
            bad = cli_duration(s_label(&c, "--reconnect"), optarg, &reconnect);
            break;
        case S_OPT_EXEC_TIMEOUT:
            bad = cli_duration(s_label(&c, "--exec-timeout"), optarg,
                               &x.exec_timeout);
            break;
        case S_OPT_MAX_OUTPUT:
            bad = cli_size(s_label(&c, "--max-output"), optarg, &x.max_output);
            break;
        case 'n':
            bad = cli_int(s_label(&c, "--count"), optarg, 1, INT32_MAX, &count);
            break;
        case 'h': fputs(s_worker_usage, stdout); return CLI_OK;
        case ':':
            return cli_error(CLI_USAGE, "mdp-worker: %s needs a value",
                             argv[optind - 1]);
        default: return cli_bad_option("mdp-worker", argv, optind, options);
        }
        if (bad) {
            return CLI_USAGE;
        }
    }
    int status = s_service(&c, argc, argv, &x.service);
    if (status != CLI_OK) {
        return status;
    }
    if (optind < argc) {
        return cli_error(CLI_USAGE,
                         "mdp-worker: '%s': one SERVICE only (quote CMD: "
                         "--exec 'tr a-z A-Z')",
                         argv[optind]);
    }
    if (!x.command || !*x.command) {
        return cli_error(CLI_USAGE,
                         "mdp-worker: no --exec CMD given (see 'zrelay "
                         "mdp-worker --help')");
    }
    if (strncmp(x.service, "mmi.", 4) == 0) {
        return cli_error(CLI_USAGE,
                         "mdp-worker: '%s': the broker answers mmi.* itself",
                         x.service);
    }
    cli_log_to_stderr(c.verbosity);
    if (client_signal_install() != 0) {
        return cli_error(CLI_FAILURE, "mdp-worker: signal pipe: %s",
                         zr_strerror(errno));
    }
    s_signals_wrap();
    /* A command that exits before reading its input: EPIPE, not death. */
    signal(SIGPIPE, SIG_IGN);
    zr_mdp_worker_t *w =
        zr_mdp_worker_new(NULL, c.brokers, c.nbrokers, x.service);
    if (!w) {
        return cli_error(CLI_USAGE, "mdp-worker: --broker: %s",
                         errno == EINVAL || errno == EPROTONOSUPPORT
                             ? "not an endpoint to connect to (a bare or "
                               "'>' endpoint: tcp://HOST:PORT)"
                             : zr_strerror(errno));
    }
    zr_mdp_worker_set_heartbeat(w, (int) heartbeat);
    zr_mdp_worker_set_liveness(w, (int) liveness);
    zr_mdp_worker_set_reconnect(w, (int) reconnect);
    zr_mdp_worker_set_version(w, (int) c.version);
    zr_mdp_worker_set_wake_fd(w, client_signal_fd());
    if (c.curve_server_key) {
        zr_mdp_worker_set_curve(w, c.curve_server_key, c.curve_cert);
    }
    if (zr_mdp_worker_connect(w) != 0) {
        status =
            cli_error(CLI_FAILURE, "mdp-worker: %s", zr_mdp_worker_error(w));
        zr_mdp_worker_destroy(&w);
        return status;
    }
    printf("ready\n");
    fflush(stdout);
    zr_mdp_msg_t *request = zr_mdp_msg_new();
    zr_mdp_msg_t *reply = zr_mdp_msg_new();
    int64_t served = 0;
    while (!client_signal() && (count < 0 || served < count)) {
        if (zr_mdp_worker_recv(w, request, -1) != 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            status =
                cli_error(CLI_FAILURE, "mdp-worker: %s",
                          zr_mdp_worker_error(w)[0] ? zr_mdp_worker_error(w)
                                                    : zr_strerror(errno));
            break;
        }
        char *out = NULL, why[300];
        size_t outlen = 0;
        zr_mdp_msg_clear(reply);
        if (s_exec(&x, request, &out, &outlen, why, sizeof why) == 0) {
            zr_mdp_msg_add(reply, out, outlen);
            cli_log(ZR_LOG_INFO, "mdp-worker: %s: answered %zu bytes",
                    x.service, outlen);
        }
        else {
            char text[400];
            snprintf(text, sizeof text, "ZRELAY-ERROR failed %.64s: %s",
                     x.service, why);
            zr_mdp_msg_addstr(reply, text);
            cli_log(ZR_LOG_WARNING, "mdp-worker: %s: %s", x.service, why);
        }
        free(out);
        served++;
        if (zr_mdp_worker_reply(w, reply) != 0) {
            cli_log(ZR_LOG_WARNING, "mdp-worker: %s: the reply is lost: %s",
                    x.service, zr_mdp_worker_error(w));
        }
    }
    zr_mdp_msg_destroy(&request);
    zr_mdp_msg_destroy(&reply);
    zr_mdp_worker_destroy(&w); /* DISCONNECT */
    return status;
}
