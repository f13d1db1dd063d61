/* mdp_msg.h - what the Majordomo client and worker (mdp_client.c,
 * mdp_worker.c) share: zr_mdp_msg_t's frames as zmq_msg_t, sent and
 * received whole (mdp_msg.c), and the endpoint lists.
 * SPDX-License-Identifier: MIT
 */
#ifndef ZR_MDP_MSG_H_INCLUDED
#define ZR_MDP_MSG_H_INCLUDED

#include "zrelay.h"

#include <zmq.h>

/* Frame I of SELF itself (I < zr_mdp_msg_frames), to copy or move. */
zmq_msg_t *zr__mdp_msg_frame(const zr_mdp_msg_t *self, size_t i);

/* Append FRAME (moved in: FRAME is left empty). -1 with ENOMEM. */
int zr__mdp_msg_take(zr_mdp_msg_t *self, zmq_msg_t *frame);
/* Append the frames of SRC from FIRST on, shared (zmq_msg_copy). */
int zr__mdp_msg_append(zr_mdp_msg_t *self, const zr_mdp_msg_t *src,
                       size_t first);
/* Receive a whole message from SOCKET into SELF (cleared first), without
 * waiting: 0, or -1 with errno (EAGAIN: none there). */
int zr__mdp_msg_recv(zr_mdp_msg_t *self, void *socket);
/* A frame to send: SIZE bytes at DATA. */
typedef struct {
    const void *data;
    size_t size;
} zr__mdp_frame_t;
#define ZR__MDP_STR(text) ((zr__mdp_frame_t){(text), sizeof(text) - 1})

/* Send HEAD's NHEAD frames, then BODY's frames from FIRST on (shared
 * copies; BODY may be NULL), as one message on SOCKET. 0, or -1 with
 * errno (EAGAIN after SNDTIMEO). A failure after the first frame cannot
 * take back what was queued: the caller closes the socket. */
int zr__mdp_msg_send(void *socket, const zr__mdp_frame_t *head, size_t nhead,
                     const zr_mdp_msg_t *body, size_t first);
/* Whether frame I of SELF is the string TEXT. */
bool zr__mdp_msg_is(const zr_mdp_msg_t *self, size_t i, const char *text);

/* ENDPOINT without its optional '>': a copy, or NULL (EINVAL) for a bind
 * ('@') or nothing. */
char *zr__mdp_endpoint(const char *endpoint);
/* Whether each of ENDPOINTS is one to connect to (parsed as zrelay's
 * endpoints are; its transport one this libzmq has), so that a typo
 * fails at new, not at the first failover. Nothing is connected: a
 * trial connection would count as a failed handshake at the broker. 0,
 * or -1 with EINVAL or EPROTONOSUPPORT. */
int zr__mdp_check_endpoints(void *ctx, char **endpoints, size_t n);
/* Replace *SLOT by a copy of VALUE (NULL clears it). */
int zr__mdp_set_text(char **slot, const char *value);

#endif
