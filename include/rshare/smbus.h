/* rshare — the SMBus transport: MCTP over SMBus/I2C (DMTF DSP0237) through
 * Linux i2c-dev for sending and a BMC kernel's slave-mqueue file for
 * receiving.  Each MCTP packet is one SMBus block write with a PEC; rshare
 * packets travel as vendor-defined MCTP messages (see rshare/mctp.h). */
#ifndef RSHARE_SMBUS_H
#define RSHARE_SMBUS_H

#include <rshare/common.h>
#include <rshare/mctp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Block size of the controllers on the bus. */
#define RSHARE_SMBUS_BLOCK_255 0 /* SMBus 3.x, 255-byte blocks: 250-byte MCTP payloads */
#define RSHARE_SMBUS_BLOCK_32 1  /* SMBus 2.0, 32-byte blocks: 27-byte MCTP payloads */

struct rshare_smbus_config {
    uint32_t struct_size;
    /* The i2c-dev adapter that sends ("/dev/i2c-3"), opened read-write; it
     * must support raw I2C transfers (I2C_FUNC_I2C). */
    const char *i2c_device;
    /* The slave-mqueue file of our target address on the same bus
     * ("/sys/bus/i2c/devices/3-1012/slave-mqueue").  Its message size must
     * hold a whole frame: 256 bytes or more for RSHARE_SMBUS_BLOCK_255. */
    const char *mqueue_path;
    /* This node's 7-bit address, 0x08..0x77.  Required. */
    uint8_t address;
    uint8_t block_mode;         /* RSHARE_SMBUS_BLOCK_255 (default) or _32 */
    /* Attempts after a transient error (EAGAIN, EPROTO, ETIMEDOUT, ENXIO,
     * EIO, EBUSY) before a message is abandoned; default 8, at most 1000. */
    uint16_t retries;
    /* Wait before the first retry, doubled per retry up to 100 ms;
     * default 500 us. */
    uint32_t retry_delay_us;
    /* Packets written per turn of the node's loop before received frames
     * are read again; default 8 (the slave-mqueue holds 32). */
    uint32_t packets_per_turn;
    /* The bus clock in Hz, for timing estimates only (the warning about
     * retransmission timers); default 100000. */
    uint32_t bus_hz;
    /* This endpoint's MCTP settings (EID required). */
    const struct rshare_mctp_config *mctp;
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_smbus_config_init(struct rshare_smbus_config *config, size_t struct_size);

/* Open the adapter and the mqueue and attach the transport to `node`.
 * Returns the transport index or a negative code (details in
 * rshare_node_errmsg()).  Peer addresses: "EID@0xAA" (endpoint id and
 * 7-bit address), "EID" for an endpoint of the neighbour table, "*" for
 * every endpoint of that table (SMBus has no broadcast). */
RSHARE_API int rshare_node_add_smbus(rshare_node *node, const struct rshare_smbus_config *config);

#ifdef __cplusplus
}
#endif
#endif
