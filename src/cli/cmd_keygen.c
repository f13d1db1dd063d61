/* cmd_keygen.c - zrelay keygen NAME [--force]: a CURVE certificate pair in
 * the ZPL files CZMQ's zcert_load and pyzmq's zmq.auth.load_certificate
 * read: NAME (public, to hand out) and NAME_secret (mode 0600).
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[] =
    "usage: zrelay keygen NAME [--force]\n"
    "\n"
    "Write a new CURVE key pair as two certificates: NAME, the public one,\n"
    "to copy into the allow directory (--curve-allow) of the relays that\n"
    "let this key in, or to give clients as --curve-server-key; and\n"
    "NAME_secret, both keys, readable by its owner only (mode 0600), for\n"
    "--curve-secret or --curve-cert. The files are those of CZMQ's zcert\n"
    "and pyzmq's zmq.auth, which read them as they read their own.\n"
    "\n"
    "  --force        overwrite NAME and NAME_secret if they exist\n"
    "  -h, --help     this text\n"
    "\n"
    "Prints the public key (Z85). Exit 0, 1 when a file exists (without\n"
    "--force) or cannot be written, 2 on a usage error.\n";

int
cmd_keygen(int argc, char **argv)
{
    static const struct option options[] = {{"force", no_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    bool force = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (c) {
        case 'f': force = true; break;
        case 'h': fputs(s_usage, stdout); return CLI_OK;
        default: return cli_bad_option("keygen", argv, optind, options);
        }
    }
    /* --force may also follow NAME. */
    const char *name = NULL;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) {
            force = true;
        }
        else if (name) {
            return cli_error(CLI_USAGE,
                             "keygen: one NAME only (see 'zrelay keygen "
                             "--help')");
        }
        else {
            name = argv[i];
        }
    }
    if (!name || !*name) {
        return cli_error(CLI_USAGE,
                         "keygen: no NAME given (see 'zrelay keygen --help')");
    }
    char err[600];
    if (zr_cert_generate(name, force, err, sizeof err) != 0) {
        return cli_error(CLI_FAILURE, "keygen: %s", err);
    }
    char key[41];
    if (zr_cert_public_text(name, key, err, sizeof err) != 0) {
        return cli_error(CLI_FAILURE, "keygen: %s", err);
    }
    printf("%s\n", key);
    cli_log(ZR_LOG_NOTICE, "wrote %s (public) and %s_secret (secret, 0600)",
            name, name);
    return CLI_OK;
}
