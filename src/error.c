/* error.c - error text and the library's version.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <zmq.h>

const char *
zr_strerror(int errnum)
{
    /* zmq_strerror covers libzmq's own codes and falls back on strerror. */
    return zmq_strerror(errnum);
}

const char *
zr_version(void)
{
    return ZR_VERSION_STRING;
}
