/* cli_msg.h - a whole message as an array of frames, for the client
 * verbs: what they read from their input, send, receive and print. The
 * library keeps its own internal one; the CLI uses libzrelay through
 * zrelay.h alone.
 * SPDX-License-Identifier: MIT
 */
#ifndef ZR_CLI_MSG_H_INCLUDED
#define ZR_CLI_MSG_H_INCLUDED

#include <stddef.h>
#include <zmq.h>

/* The frames are owned by the array. {NULL, 0, 0} is an empty one. */
typedef struct {
    zmq_msg_t *frames;
    size_t size, cap;
} cli_msg_t;

/* Room for N frames. -1 with ENOMEM. */
int cli_msg_reserve(cli_msg_t *self, size_t n);
/* Append a frame holding a copy of DATA (SIZE bytes), or of TEXT. */
int cli_msg_add(cli_msg_t *self, const void *data, size_t size);
int cli_msg_addstr(cli_msg_t *self, const char *text);
/* DST (cleared first) shares SRC's frames (zmq_msg_copy). */
int cli_msg_copy(cli_msg_t *dst, const cli_msg_t *src);
/* DST (destroyed first) takes SRC's frames; SRC is left empty. */
void cli_msg_move(cli_msg_t *dst, cli_msg_t *src);
/* Close the frames, keep the array. */
void cli_msg_clear(cli_msg_t *self);
void cli_msg_destroy(cli_msg_t *self);

/* Receive a whole message from SOCKET into SELF (cleared first) if one
 * is there: 1; 0 when none is (or a signal came first); -1 with errno. */
int cli_msg_recv(cli_msg_t *self, void *socket);
/* Send SELF whole on SOCKET: 1, and SELF is emptied; 0 when the socket
 * has no room now (or a signal came first); -1 with errno. SELF is kept
 * unless it was sent. */
int cli_msg_send(cli_msg_t *self, void *socket);

#endif
