/* rshare transports — DSP0237 framing of MCTP packets as SMBus block writes
 * (internal): the PEC (CRC-8/SMBUS), the encoder and the checked decoder. */
#ifndef RSHARE_TRANSPORTS_SMBUS_FRAME_H
#define RSHARE_TRANSPORTS_SMBUS_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* [dest<<1|0] [command 0x0F] [byte count N] [source<<1|1] [MCTP packet] [PEC]
 * N counts the source address byte and the MCTP packet, not the PEC. */
#define RS_SMBUS_COMMAND_MCTP 0x0F
#define RS_SMBUS_FRAME_OVERHEAD 5   /* dest, command, count, source, PEC */
#define RS_SMBUS_COUNT_MAX 255
#define RS_SMBUS_PAYLOAD_BLOCK255 250 /* SMBus 3.x: N = 1 + 4 + 250 */
#define RS_SMBUS_PAYLOAD_BLOCK32 27   /* SMBus 2.0: N = 1 + 4 + 27 */
#define RS_SMBUS_FRAME_MAX (RS_SMBUS_COUNT_MAX + 4)
/* The smallest frame: an MCTP header and one payload byte. */
#define RS_SMBUS_FRAME_MIN (RS_SMBUS_FRAME_OVERHEAD + 4 + 1)

enum rs_smbus_status {
    RS_SMBUS_OK = 0,
    RS_SMBUS_TRUNCATED,    /* shorter than the smallest MCTP frame */
    RS_SMBUS_BAD_COUNT,    /* byte count does not match the frame's length */
    RS_SMBUS_BAD_PEC,
    RS_SMBUS_MISADDRESSED, /* destination is not our address, or a read */
    RS_SMBUS_BAD_COMMAND,  /* not MCTP (IPMB, ...) */
    RS_SMBUS_BAD_SOURCE,   /* source address byte without its read bit */
};

struct rs_smbus_frame {
    uint8_t source;         /* 7-bit address of the sender */
    const uint8_t *packet;  /* MCTP header and payload */
    size_t packet_len;
};

/* CRC-8/SMBUS: polynomial 0x07, initial value `crc` (0 to start). */
uint8_t rs_crc8_smbus(uint8_t crc, const uint8_t *data, size_t len);

/* Frame `packet` (len <= 254) from `source` to `dest` into `out`, which
 * holds len + RS_SMBUS_FRAME_OVERHEAD bytes.  Returns the frame length,
 * address byte included (the I2C controller sends that byte itself, so a
 * write passes out + 1). */
size_t rs_smbus_frame_encode(uint8_t *out, uint8_t dest, uint8_t source, const uint8_t *packet,
                             size_t len);

/* Check a received frame (as the slave-mqueue delivers it, our address byte
 * first) and find the packet in it.  Every length comes from `len`. */
enum rs_smbus_status rs_smbus_frame_decode(const uint8_t *frame, size_t len, uint8_t own_address,
                                           struct rs_smbus_frame *out);

#endif
