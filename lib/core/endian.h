/* rshare core — big-endian (network order) loads and stores for wire
 * headers, independent of the host's byte order and alignment. */
#ifndef RSHARE_ENDIAN_H
#define RSHARE_ENDIAN_H

#include <stdint.h>

static inline void rs_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void rs_put32(uint8_t *p, uint32_t v)
{
    rs_put16(p, (uint16_t)(v >> 16));
    rs_put16(p + 2, (uint16_t)v);
}

static inline void rs_put64(uint8_t *p, uint64_t v)
{
    rs_put32(p, (uint32_t)(v >> 32));
    rs_put32(p + 4, (uint32_t)v);
}

static inline uint16_t rs_get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t rs_get32(const uint8_t *p)
{
    return (uint32_t)rs_get16(p) << 16 | rs_get16(p + 2);
}

static inline uint64_t rs_get64(const uint8_t *p)
{
    return (uint64_t)rs_get32(p) << 32 | rs_get32(p + 4);
}

#endif
