/* rshare — messages between nodes: requests with responses (retried,
 * executed at most once by the receiver) and one-way notifications.
 * Applications use the message types from RSHARE_MSG_TYPE_APP_FIRST up;
 * lower types belong to rshare itself. */
#ifndef RSHARE_MESSAGE_H
#define RSHARE_MESSAGE_H

#include <rshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSHARE_MSG_TYPE_APP_FIRST 0x8000u
#define RSHARE_MSG_TYPE_APP_LAST 0xFFFFu

/* A received request or notification.  Valid from the handler call until
 * rshare_request_reply() / rshare_request_fail() (requests) or the handler's
 * return (notifications). */
typedef struct rshare_request rshare_request;

/* Called for each request or notification of a registered type. */
typedef void (*rshare_handler_fn)(rshare_node *node, rshare_request *request,
                                  void *user_data);

/* Completion of rshare_node_call(): `status` is 0 and `reply` holds the
 * response body, or `status` is negative (RSHARE_ETIMEDOUT, RSHARE_EREMOTE
 * with the peer's code in `remote_code` and its text in `data`, ...).  `reply`
 * is valid only during the call; `data` may be NULL when `len` is 0. */
struct rshare_reply {
    int status;
    int remote_code;
    const void *data;
    size_t len;
};
typedef void (*rshare_reply_fn)(rshare_node *node, const struct rshare_reply *reply,
                                void *user_data);

/* Register the handler for one application message type (replaces an
 * earlier one; NULL removes it). */
RSHARE_API int rshare_node_set_handler(rshare_node *node, uint16_t type,
                                       rshare_handler_fn handler, void *user_data);

/* Send a request; `done` is called exactly once (also with RSHARE_ESHUTDOWN
 * when the node is destroyed first).  Returns 0 or a negative code, in which
 * case `done` is never called. */
RSHARE_API int rshare_node_call(rshare_node *node, uint32_t peer_id, uint16_t type,
                                const void *body, size_t len,
                                rshare_reply_fn done, void *user_data);

/* Run the node until the request completes.  On success `*reply` is a
 * buffer from the node's allocator, released with rshare_free(). */
RSHARE_API int rshare_node_call_sync(rshare_node *node, uint32_t peer_id, uint16_t type,
                                     const void *body, size_t len,
                                     void **reply, size_t *reply_len);

/* Send a notification (no response, no retry). */
RSHARE_API int rshare_node_notify(rshare_node *node, uint32_t peer_id, uint16_t type,
                                  const void *body, size_t len);

/* Release a buffer the node allocated for the caller (such as the reply of
 * rshare_node_call_sync()).  Accepts NULL. */
RSHARE_API void rshare_free(rshare_node *node, void *ptr);

/* Accessors for a received request. */
RSHARE_API uint32_t rshare_request_peer(const rshare_request *request);
RSHARE_API uint16_t rshare_request_type(const rshare_request *request);
RSHARE_API const void *rshare_request_data(const rshare_request *request);
RSHARE_API size_t rshare_request_len(const rshare_request *request);
/* Non-zero when the sender expects a reply. */
RSHARE_API int rshare_request_expects_reply(const rshare_request *request);

/* Answer a request (now or later, from any callback of the same node).
 * The request handle is released by this call. */
RSHARE_API int rshare_request_reply(rshare_request *request, const void *body, size_t len);
/* Answer with an error: the caller sees RSHARE_EREMOTE and `code`. */
RSHARE_API int rshare_request_fail(rshare_request *request, int code, const char *text);

#ifdef __cplusplus
}
#endif
#endif
