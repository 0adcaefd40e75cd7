/* rshare link — packet header encoding and validation.  Every length and
 * field read from the wire is checked here before anything uses it. */
#include "config.h"

#include "packet.h"

#include "core/endian.h"

void rs_pkt_hdr_encode(const struct rs_pkt_hdr *hdr, uint8_t *out)
{
    out[0] = (uint8_t)(RS_PKT_VERSION << 4 | (hdr->type & 0x0F));
    out[1] = hdr->flags;
    rs_put32(out + 2, hdr->src);
    rs_put32(out + 6, hdr->dst);
    rs_put64(out + 10, hdr->session);
    rs_put64(out + 18, hdr->seq);
}

enum rs_pkt_status rs_pkt_hdr_decode(const uint8_t *buf, size_t len, struct rs_pkt_hdr *hdr)
{
    if (len < 1)
        return RS_PKT_TRUNCATED;
    if (buf[0] >> 4 != RS_PKT_VERSION)
        return RS_PKT_BAD_VERSION;
    if (len < RS_PKT_HDR_LEN)
        return RS_PKT_TRUNCATED;
    hdr->type = buf[0] & 0x0F;
    hdr->flags = buf[1];
    hdr->src = rs_get32(buf + 2);
    hdr->dst = rs_get32(buf + 6);
    hdr->session = rs_get64(buf + 10);
    hdr->seq = rs_get64(buf + 18);
    if (hdr->type != RS_PKT_DATA && hdr->type != RS_PKT_ACK && hdr->type != RS_PKT_HELLO)
        return RS_PKT_MALFORMED;
    if (hdr->flags & ~RS_PKT_F_KNOWN ||
        (hdr->flags & RS_PKT_F_PAIR && hdr->flags & RS_PKT_F_PROTECTED))
        return RS_PKT_MALFORMED;
    if (hdr->src == 0 || hdr->src == UINT32_MAX || hdr->dst == 0)
        return RS_PKT_MALFORMED;
    return RS_PKT_OK;
}

uint32_t rs_pkt_fragment_size(uint32_t total, uint16_t count)
{
    return count ? (uint32_t)(((uint64_t)total + count - 1) / count) : 0;
}

uint32_t rs_pkt_fragment_len(uint32_t total, uint16_t count, uint16_t index)
{
    uint32_t f = rs_pkt_fragment_size(total, count);
    uint64_t start = (uint64_t)index * f;
    if (index >= count || start >= total)
        return 0;
    return index + 1 < count ? f : (uint32_t)(total - start);
}

void rs_pkt_data_encode(const struct rs_pkt_data *data, uint8_t *out)
{
    rs_put32(out, data->xfer);
    rs_put32(out + 4, data->total);
    rs_put16(out + 8, data->index);
    rs_put16(out + 10, data->count);
}

enum rs_pkt_status rs_pkt_data_decode(const uint8_t *buf, size_t len, struct rs_pkt_data *data)
{
    if (len < RS_PKT_DATA_LEN)
        return RS_PKT_TRUNCATED;
    data->xfer = rs_get32(buf);
    data->total = rs_get32(buf + 4);
    data->index = rs_get16(buf + 8);
    data->count = rs_get16(buf + 10);
    if (data->count == 0 || data->total == 0 || data->index >= data->count ||
        data->total < data->count)
        return RS_PKT_MALFORMED;
    /* The last fragment must be non-empty: reject counts that cannot come
     * from ceil-division of the total. */
    if (rs_pkt_fragment_len(data->total, data->count, (uint16_t)(data->count - 1)) == 0)
        return RS_PKT_MALFORMED;
    size_t payload = len - RS_PKT_DATA_LEN;
    uint32_t expect = rs_pkt_fragment_len(data->total, data->count, data->index);
    if (payload < expect)
        return RS_PKT_TRUNCATED;
    if (payload > expect)
        return RS_PKT_MALFORMED;
    return RS_PKT_OK;
}

void rs_pkt_ack_encode(const struct rs_pkt_ack *ack, uint8_t *out)
{
    rs_put32(out, ack->xfer);
    rs_put16(out + 4, ack->next);
    rs_put64(out + 6, ack->bitmap);
}

enum rs_pkt_status rs_pkt_ack_decode(const uint8_t *buf, size_t len, struct rs_pkt_ack *ack)
{
    if (len < RS_PKT_ACK_LEN)
        return RS_PKT_TRUNCATED;
    if (len > RS_PKT_ACK_LEN)
        return RS_PKT_MALFORMED;
    ack->xfer = rs_get32(buf);
    ack->next = rs_get16(buf + 4);
    ack->bitmap = rs_get64(buf + 6);
    return RS_PKT_OK;
}
