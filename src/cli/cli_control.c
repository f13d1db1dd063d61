/* cli_control.c - the client side of the control protocol that `zrelay
 * ctl` and `zrelay top` share: the security options, the REQ socket, the
 * control endpoint of a config file, one request and its reply.
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

bool
cli_ctl_auth_option(cli_ctl_auth_t *auth, int opt, const char *value)
{
    switch (opt) {
    case CLI_OPT_CURVE_SERVER_KEY: auth->curve_server_key = value; return true;
    case CLI_OPT_CURVE_CERT: auth->curve_cert = value; return true;
    case CLI_OPT_PLAIN_USER: auth->plain_user = value; return true;
    case CLI_OPT_PLAIN_PASSWORD: auth->plain_password = value; return true;
    default: return false;
    }
}

void *
cli_ctl_socket(void *ctx, const char *verb, const char *endpoint,
               const cli_ctl_auth_t *auth, int *status)
{
    char err[400];
    zr_endpoints_t *eps = zr_endpoints_parse(endpoint, false, err, sizeof err);
    if (!eps) {
        *status = cli_error(CLI_USAGE, "%s: %s", verb, err);
        return NULL;
    }
    void *req = zmq_socket(ctx, ZMQ_REQ);
    if (!req) {
        *status = cli_error(CLI_FAILURE, "%s: %s", verb, zr_strerror(errno));
        zr_endpoints_destroy(&eps);
        return NULL;
    }
    int zero = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    /* A relay's reply is a few MiB at most (STATS of 1000 devices: 2 MB);
     * whatever answers at the endpoint does not choose what ctl and top
     * allocate. */
    int64_t max_reply = (int64_t) 256 << 20;
    zmq_setsockopt(req, ZMQ_MAXMSGSIZE, &max_reply, sizeof max_reply);
    const char *password = auth->plain_password;
    if (!password && auth->plain_user) {
        password = getenv("ZRELAY_PLAIN_PASSWORD");
    }
    *status = CLI_OK;
    if (auth->curve_server_key &&
        zr_curve_client(req, auth->curve_server_key, auth->curve_cert, err,
                        sizeof err) != 0) {
        *status = cli_error(CLI_USAGE, "%s: %s", verb, err);
    }
    else if (!auth->curve_server_key && auth->curve_cert) {
        *status = cli_error(CLI_USAGE,
                            "%s: --curve-cert needs "
                            "--curve-server-key",
                            verb);
    }
    else if (auth->plain_user &&
             zr_plain_client(req, auth->plain_user, password ? password : "",
                             err, sizeof err) != 0) {
        *status = cli_error(CLI_USAGE, "%s: %s", verb, err);
    }
    else if (zr_endpoints_attach(eps, req, err, sizeof err) != 0) {
        *status = cli_error(CLI_FAILURE, "%s: %s", verb, err);
    }
    zr_endpoints_destroy(&eps);
    if (*status != CLI_OK) {
        zmq_close(req);
        return NULL;
    }
    return req;
}

int
cli_ctl_config_endpoint(const char *verb, const char *path, char *out,
                        size_t len)
{
    zr_config_t *config = zr_config_load(path);
    if (!config) {
        return cli_error(CLI_FAILURE, "%s: %s", verb, zr_strerror(errno));
    }
    if (zr_config_error_count(config)) {
        cli_error(0, "%s: %s", verb, zr_config_error(config, 0));
        zr_config_destroy(&config);
        return CLI_USAGE;
    }
    zr_endpoints_t *eps =
        zr_endpoints_parse(zr_config_control(config), true, NULL, 0);
    const char *address = eps ? zr_endpoints_address(eps, 0) : "";
    /* A bind to every interface is reached on loopback. */
    if (strncmp(address, "tcp://*:", 8) == 0) {
        snprintf(out, len, "tcp://127.0.0.1:%s", address + 8);
    }
    else if (strncmp(address, "tcp://0.0.0.0:", 14) == 0) {
        snprintf(out, len, "tcp://127.0.0.1:%s", address + 14);
    }
    else {
        snprintf(out, len, "%s", address);
    }
    zr_endpoints_destroy(&eps);
    zr_config_destroy(&config);
    return CLI_OK;
}
