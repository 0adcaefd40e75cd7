/* rshare transports — DSP0253 framing of MCTP packets on a serial line
 * (internal): the FCS (CRC-16/MCRF4XX), the byte-stuffing encoder and a
 * deframer that treats every unescaped flag as a frame boundary, so that a
 * damaged frame costs only itself. */
#ifndef RSHARE_TRANSPORTS_SERIAL_FRAME_H
#define RSHARE_TRANSPORTS_SERIAL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0x7E | revision 0x01 | len | [dst src] | packet | FCS high | FCS low | 0x7E
 * Everything between the flags is escaped (0x7E -> 7D 5E, 0x7D -> 7D 5D);
 * `len` is the unescaped packet length; the FCS covers revision, len, the
 * address bytes and the packet.  The two address bytes exist only on an
 * RS-485 multi-drop bus (rshare's addition; DSP0253 is point-to-point). */
#define RS_SERIAL_FLAG 0x7E
#define RS_SERIAL_ESCAPE 0x7D
#define RS_SERIAL_ESCAPE_XOR 0x20
#define RS_SERIAL_REVISION 0x01
#define RS_SERIAL_PACKET_MAX 255
#define RS_SERIAL_ADDR_LEN 2
#define RS_SERIAL_ADDR_BROADCAST 0xFF
/* Unescaped bytes between the flags, at most. */
#define RS_SERIAL_BODY_MAX (2 + RS_SERIAL_ADDR_LEN + RS_SERIAL_PACKET_MAX + 2)
/* A whole frame on the wire, every byte escaped in the worst case. */
#define RS_SERIAL_FRAME_MAX (2 + 2 * RS_SERIAL_BODY_MAX)

enum rs_serial_status {
    RS_SERIAL_OK = 0,
    RS_SERIAL_BAD_LENGTH,   /* too short, or `len` disagrees with the bytes */
    RS_SERIAL_BAD_FCS,
    RS_SERIAL_BAD_REVISION,
    RS_SERIAL_BAD_ESCAPE,   /* 7D followed by a flag or another 7D */
    RS_SERIAL_TOO_LONG,     /* no flag where one must have been */
};

struct rs_serial_frame {
    uint8_t dst, src;       /* multi-drop only */
    uint16_t fcs;
    const uint8_t *packet;  /* MCTP header and payload */
    size_t packet_len;
};

struct rs_serial_deframer {
    bool multidrop;
    bool hunting;   /* discarding up to the next flag */
    bool escape;    /* the previous byte was 7D */
    bool bad_escape;
    size_t len;
    uint8_t body[RS_SERIAL_BODY_MAX];
};

/* Called for every candidate frame: `frame` is NULL unless `status` is OK. */
typedef void (*rs_serial_frame_fn)(void *ctx, enum rs_serial_status status,
                                   const struct rs_serial_frame *frame);

/* CRC-16/MCRF4XX: reflected polynomial 0x8408, initial value `crc` (0xFFFF
 * to start), no final complement. */
uint16_t rs_crc16_mcrf4xx(uint16_t crc, const uint8_t *data, size_t len);

/* Frame `packet` (len <= 255) into `out` (RS_SERIAL_FRAME_MAX bytes are
 * always enough).  Returns the frame length, or 0 when it does not fit. */
size_t rs_serial_frame_encode(uint8_t *out, size_t cap, bool multidrop, uint8_t dst, uint8_t src,
                              const uint8_t *packet, size_t len, uint16_t *fcs_out);

/* Start in hunting state: bytes before the first flag are line noise. */
void rs_serial_deframer_init(struct rs_serial_deframer *d, bool multidrop);
/* The line fell silent: report a partial frame as cut short (BAD_LENGTH)
 * and wait for the next flag. */
void rs_serial_deframer_flush(struct rs_serial_deframer *d, rs_serial_frame_fn fn, void *ctx);
/* Feed received bytes; `fn` is called once per candidate frame, in order. */
void rs_serial_deframe(struct rs_serial_deframer *d, const uint8_t *data, size_t len,
                       rs_serial_frame_fn fn, void *ctx);

#endif
