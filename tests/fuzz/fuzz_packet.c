/* Fuzz target: arbitrary bytes pushed into a node as received packets, the
 * whole receive path (header, AEAD, replay window, reassembly, message
 * header, CBOR body, dispatch).  The first input byte picks the node:
 * unprotected or with a cluster key.  Timers run between packets so that
 * reassembly timeouts and retransmissions are exercised too. */
#include <stdint.h>
#include <string.h>

#include <rshare/rshare.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_mtu(void *impl) { (void)impl; return 65507; }
static int fuzz_send(void *impl, const struct rshare_link_addr *dst, const void *p, size_t n,
                     unsigned flags)
{
    (void)impl; (void)dst; (void)p; (void)n; (void)flags;
    return 0;
}
static int fuzz_parse(void *impl, const char *text, struct rshare_link_addr *a)
{
    (void)impl; (void)text;
    a->len = 1;
    a->bytes[0] = 1;
    return 0;
}
static const struct rshare_transport_ops fuzz_ops = {
    .struct_size = sizeof(struct rshare_transport_ops), .version = RSHARE_TRANSPORT_OPS_VERSION,
    .name = "fuzz", .mtu = fuzz_mtu, .send = fuzz_send, .addr_parse = fuzz_parse};

static uint64_t now = 1000000;
static uint64_t fuzz_clock(void *u) { (void)u; return now; }
static void no_log(void *u, enum rshare_log_level l, const char *m) { (void)u; (void)l; (void)m; }

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
    cfg.log = (struct rshare_log){no_log, NULL, RSHARE_LOG_ERROR};
    cfg.max_reassembly_bytes = 1u << 20;
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    rshare_node_add_transport(node, &fuzz_ops, NULL);
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
