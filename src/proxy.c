/* proxy.c - zr_proxy: zmq_proxy_steerable's contract, zrelay's engine, on
 * sockets the caller owns.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <errno.h>
#include <zmq.h>

int
zr_proxy(void *frontend, void *backend, void *capture, void *control)
{
    if (!frontend || !backend) {
        errno = EFAULT;
        return -1;
    }
    zr__engine_t *engine = zr__engine_new();
    if (!engine) {
        return -1;
    }
    int rc = zr__engine_set_sockets(engine, frontend, backend);
    if (rc == 0) {
        zr__engine_set_capture(engine, capture);
        zr__engine_set_control(engine, control);
        zr__engine_set_eintr_returns(engine, true);
        rc = zr__engine_run(engine);
    }
    int err = errno;
    zr__engine_destroy(&engine);
    errno = err;
    return rc;
}
