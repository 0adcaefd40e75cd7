/* rshare transports — DSP0237 framing: MCTP packets as SMBus block writes
 * with command code 0x0F and a PEC over every byte from the destination
 * address to the end of the packet. */
#include "config.h"

#include <string.h>

#include "smbus_frame.h"

uint8_t rs_crc8_smbus(uint8_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (uint8_t)(crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1);
    }
    return crc;
}

size_t rs_smbus_frame_encode(uint8_t *out, uint8_t dest, uint8_t source, const uint8_t *packet,
                             size_t len)
{
    out[0] = (uint8_t)(dest << 1);          /* write */
    out[1] = RS_SMBUS_COMMAND_MCTP;
    out[2] = (uint8_t)(1 + len);            /* source byte + packet */
    out[3] = (uint8_t)(source << 1 | 1);    /* DSP0237: bit 0 set */
    memcpy(out + 4, packet, len);
    out[4 + len] = rs_crc8_smbus(0, out, 4 + len);
    return len + RS_SMBUS_FRAME_OVERHEAD;
}

/* Lengths first (nothing is read beyond them), then the PEC (a damaged
 * frame says nothing reliable), then what the intact bytes mean. */
enum rs_smbus_status rs_smbus_frame_decode(const uint8_t *frame, size_t len, uint8_t own_address,
                                           struct rs_smbus_frame *out)
{
    if (len < RS_SMBUS_FRAME_MIN)
        return RS_SMBUS_TRUNCATED;
    if ((size_t)frame[2] + 4 != len)
        return RS_SMBUS_BAD_COUNT;
    if (rs_crc8_smbus(0, frame, len - 1) != frame[len - 1])
        return RS_SMBUS_BAD_PEC;
    if (frame[0] != (uint8_t)(own_address << 1))
        return RS_SMBUS_MISADDRESSED;
    if (frame[1] != RS_SMBUS_COMMAND_MCTP)
        return RS_SMBUS_BAD_COMMAND;
    if (!(frame[3] & 1))
        return RS_SMBUS_BAD_SOURCE;
    out->source = frame[3] >> 1;
    out->packet = frame + 4;
    out->packet_len = len - RS_SMBUS_FRAME_OVERHEAD;
    return RS_SMBUS_OK;
}
