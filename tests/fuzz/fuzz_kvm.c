/* Fuzz target: KVM message bodies.  The first byte picks the message type
 * (input, sync, report), the rest is the CBOR body.  It is decoded directly
 * (a decoded message must encode back to an equivalent one), then delivered
 * as if node 1 had sent it to a node that is both a KVM host (with node 1
 * as its target) and a KVM target (of host 1), so the handlers run too. */
#include <stdint.h>
#include <string.h>

#include "link/link.h"
#include "msg/msg.h"
#include "kvm/wire.h"

#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t injected;

static void sink(void *user_data, uint32_t host, const struct rshare_kvm_event *events,
                 size_t count)
{
    (void)user_data;
    (void)host;
    /* A sink only ever sees frames ending with SYN_REPORT. */
    if (!count || events[count - 1].type != EV_SYN)
        __builtin_trap();
    injected += count;
}

static void round_trip(uint8_t kind, const uint8_t *body, size_t len)
{
    static uint8_t buf[RS_KVM_WIRE_BODY_MAX];
    if (kind == 0) {
        static struct rs_kvm_input in, again;
        if (rs_kvm_wire_input_decode(body, len, &in) < 0)
            return;
        size_t n = rs_kvm_wire_input_encode(&in, buf, sizeof(buf));
        if (!n || rs_kvm_wire_input_decode(buf, n, &again) < 0 || again.count != in.count ||
            memcmp(again.events, in.events, in.count * sizeof(in.events[0])))
            __builtin_trap();
    } else if (kind == 1) {
        struct rs_kvm_sync s, again;
        if (rs_kvm_wire_sync_decode(body, len, &s) < 0)
            return;
        size_t n = rs_kvm_wire_sync_encode(&s, buf, sizeof(buf));
        if (!n || rs_kvm_wire_sync_decode(buf, n, &again) < 0 ||
            memcmp(&again.pressed, &s.pressed, sizeof(s.pressed)))
            __builtin_trap();
    } else {
        struct rs_kvm_report r, again;
        if (rs_kvm_wire_report_decode(body, len, &r) < 0)
            return;
        size_t n = rs_kvm_wire_report_encode(&r, buf, sizeof(buf));
        if (!n || rs_kvm_wire_report_decode(buf, n, &again) < 0 || again.leds != r.leds)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t kind = data[0] % 3;
    round_trip(kind, data + 1, size - 1);

    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 2;
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    rshare_node_add_transport(node, &null_transport_ops, NULL);
    rshare_node_add_peer(node, 1, 0, "1");
    static const uint32_t targets[] = {1};
    struct rshare_kvm_config kc;
    rshare_kvm_config_init(&kc, sizeof(kc));
    kc.roles = RSHARE_KVM_ROLE_HOST | RSHARE_KVM_ROLE_TARGET;
    kc.targets = targets;
    kc.target_count = 1;
    kc.host = 1;
    kc.sink = sink;
    rshare_kvm *kvm = NULL;
    if (rshare_kvm_create(node, &kc, &kvm) == 0) {
        static const uint16_t types[3] = {RS_MSG_KVM_INPUT, RS_MSG_KVM_SYNC, RS_MSG_KVM_REPORT};
        struct rs_msg_hdr hdr;
        rs_msg_fill_hdr(node, &hdr, RS_MSG_NOTIFY, types[kind], 0);
        hdr.sender = 1;
        uint8_t *wire;
        size_t wire_len;
        if (rs_msg_build_raw(node, &hdr, data + 1, size - 1, &wire, &wire_len) == 0) {
            struct rs_link_msg msg = {.data = wire, .len = wire_len, .owned = false};
            rs_msg_deliver(node, 1, &msg);
            rs_msg_discard(node, wire); /* a shared buffer: the caller keeps it */
        }
        /* The target's state must still be consistent with a release-all. */
        rshare_kvm_release_all(kvm);
        if (rshare_kvm_pressed_count(kvm) != 0)
            __builtin_trap();
        rshare_kvm_destroy(kvm);
    }
    rshare_node_destroy(node);
    return 0;
}
