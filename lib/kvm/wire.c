/* rshare kvm — encoding and bounded decoding of the KVM messages (see
 * wire.h and doc/PROTOCOL.md).  Every message is a CBOR array whose first
 * element is the version; elements a newer peer appends are skipped. */
#include "config.h"

#include <string.h>

#include "rshare/error.h"
#include "msg/body.h"

#include "wire.h"

int rs_kvm_wire_event_check(const struct rs_kvm_event *ev)
{
    switch (ev->type) {
    case EV_SYN:
        return ev->code == SYN_REPORT && ev->value == 0 ? 0 : RSHARE_EINVAL;
    case EV_KEY:
        /* Autorepeat (2) never travels: the target repeats by itself. */
        return ev->code <= KEY_MAX && (ev->value == 0 || ev->value == 1) ? 0 : RSHARE_EINVAL;
    case EV_REL:
        return ev->code <= REL_MAX ? 0 : RSHARE_EINVAL;
    case EV_ABS:
        return ev->code <= ABS_MAX && ev->value >= 0 && ev->value <= RS_KVM_ABS_MAX_VALUE
                   ? 0
                   : RSHARE_EINVAL;
    default:
        return RSHARE_EINVAL;
    }
}

static void put_head(struct rs_cbor_writer *w, size_t elements, uint64_t session)
{
    rs_cbor_put_array(w, elements);
    rs_cbor_put_uint(w, RS_KVM_WIRE_VERSION);
    rs_cbor_put_uint(w, session);
}

size_t rs_kvm_wire_input_encode(const struct rs_kvm_input *in, uint8_t *buf, size_t cap)
{
    if (!in->session || !in->count || in->count > RS_KVM_WIRE_EVENTS_MAX)
        return 0;
    const struct rs_kvm_event *last = &in->events[in->count - 1];
    if (last->type != EV_SYN || last->code != SYN_REPORT)
        return 0;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    put_head(&w, 4, in->session);
    rs_cbor_put_uint(&w, in->seq);
    rs_cbor_put_array(&w, (size_t)in->count * 3);
    for (uint32_t i = 0; i < in->count; i++) {
        if (rs_kvm_wire_event_check(&in->events[i]) < 0)
            return 0;
        rs_cbor_put_uint(&w, in->events[i].type);
        rs_cbor_put_uint(&w, in->events[i].code);
        rs_cbor_put_int(&w, in->events[i].value);
    }
    return w.overflow ? 0 : w.len;
}

size_t rs_kvm_wire_sync_encode(const struct rs_kvm_sync *s, uint8_t *buf, size_t cap)
{
    if (!s->session)
        return 0;
    /* The bitmap, little-endian by code, without its trailing zero bytes:
     * usually a few bytes, nothing at all when no key is down. */
    uint8_t bytes[RS_KVM_WIRE_KEYBYTES];
    size_t used = 0;
    for (size_t i = 0; i < RS_KVM_WIRE_KEYBYTES; i++) {
        bytes[i] = (uint8_t)(s->pressed.bits[i / 8] >> (8 * (i % 8)));
        if (bytes[i])
            used = i + 1;
    }
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    put_head(&w, 4, s->session);
    rs_cbor_put_uint(&w, s->seq);
    rs_cbor_put_bytes(&w, bytes, used);
    return w.overflow ? 0 : w.len;
}

size_t rs_kvm_wire_report_encode(const struct rs_kvm_report *r, uint8_t *buf, size_t cap)
{
    if (!r->session)
        return 0;
    struct rs_cbor_writer w;
    rs_cbor_writer_init(&w, buf, cap);
    put_head(&w, 3, r->session);
    rs_cbor_put_uint(&w, r->leds & RS_KVM_WIRE_LEDS);
    return w.overflow ? 0 : w.len;
}

/* The array head, version and session common to all three; `*extra` is the
 * number of elements after the `known` ones, to be skipped at the end. */
static int get_head(struct rs_cbor_reader *r, size_t known, uint64_t *session, size_t *extra)
{
    size_t n;
    uint64_t version;
    if (rs_cbor_get_array(r, &n) < 0 || n < known || n > RS_KVM_WIRE_ELEMENTS_MAX ||
        rs_cbor_get_uint(r, &version) < 0 || rs_cbor_get_uint(r, session) < 0)
        return RSHARE_EPROTO;
    if (version != RS_KVM_WIRE_VERSION)
        return RSHARE_EVERSION;
    if (*session == 0)
        return RSHARE_EPROTO;
    *extra = n - known;
    return 0;
}

static int get_tail(struct rs_cbor_reader *r, size_t extra)
{
    for (size_t i = 0; i < extra; i++)
        if (rs_cbor_skip(r) < 0)
            return RSHARE_EPROTO;
    return rs_cbor_at_end(r) ? 0 : RSHARE_EPROTO;
}

int rs_kvm_wire_input_decode(const uint8_t *buf, size_t len, struct rs_kvm_input *out)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    size_t extra, n;
    int rc = get_head(&r, 4, &out->session, &extra);
    if (rc < 0)
        return rc;
    if (rs_cbor_get_uint(&r, &out->seq) < 0 || out->seq == 0 || rs_cbor_get_array(&r, &n) < 0 ||
        n == 0 || n % 3 || n / 3 > RS_KVM_WIRE_EVENTS_MAX)
        return RSHARE_EPROTO;
    out->count = (uint32_t)(n / 3);
    bool bad = false;
    for (uint32_t i = 0; i < out->count; i++) {
        uint64_t type, code;
        int64_t value;
        if (rs_cbor_get_uint(&r, &type) < 0 || rs_cbor_get_uint(&r, &code) < 0 ||
            rs_cbor_get_int(&r, &value) < 0)
            return RSHARE_EPROTO;
        if (type > UINT16_MAX || code > UINT16_MAX || value < INT32_MIN || value > INT32_MAX) {
            bad = true;
            continue;
        }
        out->events[i] = (struct rs_kvm_event){(uint16_t)type, (uint16_t)code, (int32_t)value};
        bad |= rs_kvm_wire_event_check(&out->events[i]) < 0;
    }
    if ((rc = get_tail(&r, extra)) < 0)
        return rc;
    const struct rs_kvm_event *last = &out->events[out->count - 1];
    /* Well-formed but not injectable: the whole frame is refused, never a
     * part of it (a frame is what the target applies at once). */
    if (bad || last->type != EV_SYN)
        return RSHARE_EINVAL;
    return 0;
}

int rs_kvm_wire_sync_decode(const uint8_t *buf, size_t len, struct rs_kvm_sync *out)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    size_t extra, n;
    const uint8_t *bytes;
    int rc = get_head(&r, 4, &out->session, &extra);
    if (rc < 0)
        return rc;
    if (rs_cbor_get_uint(&r, &out->seq) < 0 || rs_cbor_get_bytes(&r, &bytes, &n) < 0 ||
        n > RS_KVM_WIRE_KEYBYTES)
        return RSHARE_EPROTO;
    memset(&out->pressed, 0, sizeof(out->pressed));
    for (size_t i = 0; i < n; i++)
        out->pressed.bits[i / 8] |= (uint64_t)bytes[i] << (8 * (i % 8));
    return get_tail(&r, extra);
}

int rs_kvm_wire_report_decode(const uint8_t *buf, size_t len, struct rs_kvm_report *out)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, buf, len);
    size_t extra;
    uint64_t leds;
    int rc = get_head(&r, 3, &out->session, &extra);
    if (rc < 0)
        return rc;
    if (rs_cbor_get_uint(&r, &leds) < 0 || leds > UINT32_MAX)
        return RSHARE_EPROTO;
    out->leds = (uint32_t)leds & RS_KVM_WIRE_LEDS;
    return get_tail(&r, extra);
}
