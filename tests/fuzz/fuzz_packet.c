/* Fuzz target: arbitrary bytes pushed into a node as received packets, the
 * whole receive path (header, AEAD, replay window, reassembly, message
 * header, CBOR body, dispatch).  The first input byte picks the node:
 * unprotected or with a cluster key.  Timers run between packets so that
 * reassembly timeouts and retransmissions are exercised too. */
#include <stdint.h>
#include <string.h>

#include <rshare/rshare.h>

#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t now = 1000000;
static uint64_t fuzz_clock(void *u) { (void)u; return now; }

static void echo(rshare_node *node, rshare_request *req, void *u)
{
    (void)node; (void)u;
    if (rshare_request_expects_reply(req))
        rshare_request_reply(req, rshare_request_data(req), rshare_request_len(req));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8};
    if (size < 1)
        return 0;
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 2;
    cfg.cluster_key = (data[0] & 1) ? key : NULL;
    cfg.clock = (struct rshare_clock){fuzz_clock, &now};
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    cfg.max_reassembly_bytes = 1u << 20;
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    rshare_node_add_transport(node, &null_transport_ops, NULL);
    rshare_node_set_handler(node, 0x8001, echo, NULL);
    rshare_node_add_peer(node, 1, 0, "1");
    /* The rest is a sequence of [len_hi len_lo packet...] records. */
    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        struct rshare_link_addr src = {.len = 1, .bytes = {1}};
        rshare_node_push(node, 0, &src, data + pos, len);
        pos += len;
        now += 300000;
        rshare_node_process(node);
    }
    rshare_node_destroy(node);
    return 0;
}
