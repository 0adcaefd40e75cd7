/* Fuzz target: arbitrary messages (header + CBOR body) delivered as if a
 * peer had sent them, past the packet layer, so the fuzzer reaches message
 * decoding without having to forge packet headers. */
#include <stdint.h>
#include <string.h>

#include "core/shared.h"
#include "link/link.h"
#include "msg/msg.h"

#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void later(rshare_node *node, rshare_request *req, void *u)
{
    (void)node; (void)u;
    if (rshare_request_len(req) & 1)
        rshare_request_fail(req, RSHARE_EBUSY, "odd");
    else if (rshare_request_expects_reply(req))
        rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

static void ignore_reply(rshare_node *node, const struct rshare_reply *r, void *u)
{
    (void)node; (void)r; (void)u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 2;
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    rshare_node_add_transport(node, &null_transport_ops, NULL);
    rshare_node_add_peer(node, 1, 0, "1");
    rshare_node_set_handler(node, 0x8001, later, NULL);
    /* Outstanding requests 1..3 so that answers find something to match. */
    for (int i = 0; i < 3; i++)
        rshare_node_call(node, 1, 0x8001, "q", 1, ignore_reply, NULL);
    uint8_t *copy = rs_shared_alloc(node, size ? size : 1); /* as the link hands it up */
    if (copy) {
        memcpy(copy, data, size);
        struct rs_link_msg msg = {.data = copy, .len = size, .owned = true};
        rs_msg_deliver(node, 1, &msg);
        if (msg.owned)
            rs_shared_unref(node, msg.data);
    }
    rshare_node_destroy(node);
    return 0;
}
