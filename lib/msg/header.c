/* rshare msg — message header encoding and validation. */
#include "config.h"

#include "header.h"

#include "core/endian.h"
#include "rshare/error.h"

void rs_msg_hdr_encode(const struct rs_msg_hdr *hdr, uint8_t *out)
{
    out[0] = RS_MSG_VERSION;
    out[1] = hdr->kind;
    rs_put16(out + 2, hdr->type);
    rs_put32(out + 4, hdr->request_id);
    rs_put32(out + 8, hdr->sender);
    rs_put32(out + 12, hdr->map_epoch);
    rs_put64(out + 16, hdr->map_version);
    rs_put16(out + 24, hdr->slot);
    rs_put16(out + 26, 0); /* reserved */
}

int rs_msg_hdr_decode(const uint8_t *buf, size_t len, struct rs_msg_hdr *hdr)
{
    if (len < 1)
        return RSHARE_EPROTO;
    if (buf[0] != RS_MSG_VERSION)
        return RSHARE_EVERSION;
    if (len < RS_MSG_HDR_LEN)
        return RSHARE_EPROTO;
    hdr->kind = buf[1];
    hdr->type = rs_get16(buf + 2);
    hdr->request_id = rs_get32(buf + 4);
    hdr->sender = rs_get32(buf + 8);
    hdr->map_epoch = rs_get32(buf + 12);
    hdr->map_version = rs_get64(buf + 16);
    hdr->slot = rs_get16(buf + 24);
    if (rs_get16(buf + 26) != 0 || hdr->slot >= RS_MSG_SLOTS_MAX)
        return RSHARE_EPROTO;
    if (hdr->kind < RS_MSG_REQUEST || hdr->kind > RS_MSG_NOTIFY)
        return RSHARE_EPROTO;
    if ((hdr->kind != RS_MSG_NOTIFY) != (hdr->request_id != 0))
        return RSHARE_EPROTO; /* requests and answers carry an id, notifications none */
    return 0;
}

void rs_msg_hdr_set_slot(uint8_t *wire, uint16_t slot)
{
    rs_put16(wire + 24, slot);
}

void rs_msg_hdr_set_map(uint8_t *wire, uint32_t epoch, uint64_t version)
{
    rs_put32(wire + 12, epoch);
    rs_put64(wire + 16, version);
}
