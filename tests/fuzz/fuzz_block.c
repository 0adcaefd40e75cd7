/* Fuzz target: the host's handling of block requests — the body parser
 * (lib/block/blockwire.c) and the checks and service in serve.c.  The
 * input is the CBOR body of one RS_MSG_BLOCK request, delivered as if node
 * 1 had sent it to node 2, which serves a 64 KiB memory disk (id
 * 0x200000001) and a read-only one (0x200000002); completions are then run
 * from the node's loop.  A body that decodes must encode back to the same
 * request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block/blockwire.h"
#include "core/shared.h"
#include "link/link.h"
#include "msg/msg.h"

#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const uint8_t *data, size_t size)
{
    struct rs_block_req req;
    if (rs_block_req_decode(data, size, &req) != 0)
        return;
    static uint8_t again[RS_BLOCK_PIECE_MAX + RS_BLOCK_REQ_OVERHEAD];
    size_t n = rs_block_req_encode(&req, again, sizeof(again));
    struct rs_block_req back;
    if (n == 0 || rs_block_req_decode(again, n, &back) != 0 || back.op != req.op ||
        back.resource != req.resource || back.offset != req.offset ||
        back.length != req.length ||
        (req.op == RSHARE_BLOCK_WRITE && memcmp(back.data, req.data, (size_t)req.length) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_round_trip(data, size);
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 2;
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    rshare_node_add_transport(node, &null_transport_ops, NULL);
    rshare_node_add_peer(node, 1, 0, "1");
    rshare_block *disk = NULL, *ro = NULL;
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    if (rshare_block_open_memory(node, 64 << 10, 512, &disk) == 0) {
        strcpy(d.path, "disk");
        rshare_resource_register_block(node, &d, disk, NULL);
    }
    if (rshare_block_open_memory(node, 64 << 10, 4096, &ro) == 0) {
        strcpy(d.path, "ro");
        d.rights = RSHARE_RIGHT_READ;
        rshare_resource_register_block(node, &d, ro, NULL);
    }
    uint8_t *msg = rs_shared_alloc(node, RS_MSG_HDR_LEN + size); /* as the link hands it up */
    if (msg) {
        struct rs_msg_hdr hdr;
        rs_msg_fill_hdr(node, &hdr, RS_MSG_REQUEST, RS_MSG_BLOCK, 1);
        hdr.sender = 1;
        rs_msg_hdr_encode(&hdr, msg);
        if (size)
            memcpy(msg + RS_MSG_HDR_LEN, data, size);
        struct rs_link_msg lm = {.data = msg, .len = RS_MSG_HDR_LEN + size, .owned = true};
        rs_msg_deliver(node, 1, &lm);
        if (lm.owned)
            rs_shared_unref(node, lm.data);
    }
    /* The backend's completion arrives from the loop, then the answer. */
    for (int i = 0; i < 3; i++)
        rshare_node_process(node);
    rshare_block_close(disk);
    rshare_block_close(ro);
    rshare_node_destroy(node);
    return 0;
}
