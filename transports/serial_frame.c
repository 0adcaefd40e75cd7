/* rshare transports — DSP0253 framing: byte stuffing, the FCS, and a
 * receiver that resynchronises on flags.  A receiver that trusted the
 * length byte would swallow the next frame after a truncated one; here the
 * length is only checked against what lies between two flags. */
#include "config.h"

#include <string.h>

#include "serial_frame.h"

uint16_t rs_crc16_mcrf4xx(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)(crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1);
    }
    return crc;
}

/* Appends one byte, escaped; false when `out` is full. */
static bool put_escaped(uint8_t *out, size_t cap, size_t *pos, uint8_t byte)
{
    bool special = byte == RS_SERIAL_FLAG || byte == RS_SERIAL_ESCAPE;
    if (*pos + (special ? 2 : 1) > cap)
        return false;
    if (special) {
        out[(*pos)++] = RS_SERIAL_ESCAPE;
        byte ^= RS_SERIAL_ESCAPE_XOR;
    }
    out[(*pos)++] = byte;
    return true;
}

size_t rs_serial_frame_encode(uint8_t *out, size_t cap, bool multidrop, uint8_t dst, uint8_t src,
                              const uint8_t *packet, size_t len, uint16_t *fcs_out)
{
    if (len > RS_SERIAL_PACKET_MAX || cap < 2)
        return 0;
    uint8_t head[2 + RS_SERIAL_ADDR_LEN] = {RS_SERIAL_REVISION, (uint8_t)len, dst, src};
    size_t head_len = multidrop ? sizeof(head) : 2;
    uint16_t fcs = rs_crc16_mcrf4xx(0xFFFF, head, head_len);
    fcs = rs_crc16_mcrf4xx(fcs, packet, len);
    size_t pos = 0;
    out[pos++] = RS_SERIAL_FLAG;
    bool ok = true;
    for (size_t i = 0; ok && i < head_len; i++)
        ok = put_escaped(out, cap, &pos, head[i]);
    for (size_t i = 0; ok && i < len; i++)
        ok = put_escaped(out, cap, &pos, packet[i]);
    ok = ok && put_escaped(out, cap, &pos, (uint8_t)(fcs >> 8)); /* most significant first */
    ok = ok && put_escaped(out, cap, &pos, (uint8_t)fcs);
    if (!ok || pos + 1 > cap)
        return 0;
    out[pos++] = RS_SERIAL_FLAG;
    if (fcs_out)
        *fcs_out = fcs;
    return pos;
}

void rs_serial_deframer_init(struct rs_serial_deframer *d, bool multidrop)
{
    memset(d, 0, sizeof(*d));
    d->multidrop = multidrop;
    d->hunting = true;
}

/* Checks what lay between two flags: lengths, then the FCS, then the
 * meaning of bytes that are known intact. */
static enum rs_serial_status evaluate(const struct rs_serial_deframer *d,
                                      struct rs_serial_frame *f)
{
    size_t addr = d->multidrop ? RS_SERIAL_ADDR_LEN : 0;
    if (d->bad_escape)
        return RS_SERIAL_BAD_ESCAPE;
    if (d->len < 2 + addr + 2 || (size_t)d->body[1] + 2 + addr + 2 != d->len)
        return RS_SERIAL_BAD_LENGTH;
    uint16_t fcs = rs_crc16_mcrf4xx(0xFFFF, d->body, d->len - 2);
    if (fcs != ((uint16_t)d->body[d->len - 2] << 8 | d->body[d->len - 1]))
        return RS_SERIAL_BAD_FCS;
    if (d->body[0] != RS_SERIAL_REVISION)
        return RS_SERIAL_BAD_REVISION;
    f->dst = addr ? d->body[2] : 0;
    f->src = addr ? d->body[3] : 0;
    f->fcs = fcs;
    f->packet = d->body + 2 + addr;
    f->packet_len = d->body[1];
    return RS_SERIAL_OK;
}

static void restart(struct rs_serial_deframer *d)
{
    d->len = 0;
    d->escape = false;
    d->bad_escape = false;
}

void rs_serial_deframer_flush(struct rs_serial_deframer *d, rs_serial_frame_fn fn, void *ctx)
{
    if (!d->hunting && (d->len || d->escape || d->bad_escape))
        fn(ctx, RS_SERIAL_BAD_LENGTH, NULL);
    d->hunting = true;
    restart(d);
}

void rs_serial_deframe(struct rs_serial_deframer *d, const uint8_t *data, size_t len,
                       rs_serial_frame_fn fn, void *ctx)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t byte = data[i];
        if (byte == RS_SERIAL_FLAG) {
            /* A closing flag may open the next frame as well; an empty
             * frame (two flags in a row) is just the gap between frames. */
            if (!d->hunting && (d->len || d->escape || d->bad_escape)) {
                struct rs_serial_frame f;
                if (d->escape)
                    d->bad_escape = true;
                enum rs_serial_status st = evaluate(d, &f);
                fn(ctx, st, st == RS_SERIAL_OK ? &f : NULL);
            }
            d->hunting = false;
            restart(d);
            continue;
        }
        if (d->hunting)
            continue;
        if (byte == RS_SERIAL_ESCAPE) {
            if (d->escape)
                d->bad_escape = true;
            d->escape = true;
            continue;
        }
        if (d->escape) {
            byte ^= RS_SERIAL_ESCAPE_XOR;
            d->escape = false;
        }
        if (d->len == sizeof(d->body)) {
            /* A lost flag merged frames: drop everything up to the next. */
            fn(ctx, RS_SERIAL_TOO_LONG, NULL);
            d->hunting = true;
            restart(d);
            continue;
        }
        d->body[d->len++] = byte;
    }
}
