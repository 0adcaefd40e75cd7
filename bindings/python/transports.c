/* rshare Python bindings — the MCTP transports of a Node: serial (RS-232,
 * RS-485, a pty) and SMBus (i2c-dev and slave-mqueue), and the MCTP
 * neighbour table.  Methods of rshare.Node (node.c's method table); UDP
 * stays in node.c with the rest of the node's basics. */
#include "rshare_python.h"

/* An MCTP endpoint id given from Python: 8..254 (the library checks it
 * too; this gives the clearer message first). */
static int eid_arg(unsigned value, uint8_t *out)
{
    if (value < 8 || value > 254) {
        PyErr_Format(PyExc_ValueError, "eid %u: an MCTP endpoint id is 8..254", value);
        return -1;
    }
    *out = (uint8_t)value;
    return 0;
}

static int byte_arg(const char *name, unsigned value, uint8_t *out)
{
    if (value > 255) {
        PyErr_Format(PyExc_ValueError, "%s %u: at most 255", name, value);
        return -1;
    }
    *out = (uint8_t)value;
    return 0;
}

static int u16_arg(const char *name, unsigned value, uint16_t *out)
{
    if (value > 65535) {
        PyErr_Format(PyExc_ValueError, "%s %u: at most 65535", name, value);
        return -1;
    }
    *out = (uint16_t)value;
    return 0;
}

PyObject *rspy_node_add_serial(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"device", "fd", "eid", "baud", "rtscts", "multidrop", "address",
                             "turnaround", "echo", "nodes", "packet_payload", "message_size",
                             "allow_set_eid", NULL};
    const char *device = NULL;
    int fd = -1, rtscts = 0, multidrop = 0, echo = 0, allow_set_eid = 0;
    unsigned eid = 0, baud = 0, address = 0, turnaround = 0, nodes = 0, payload = 0, size = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|z$iIIppIIpIIIp", kwlist, &device, &fd, &eid,
                                     &baud, &rtscts, &multidrop, &address, &turnaround, &echo,
                                     &nodes, &payload, &size, &allow_set_eid))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    if (!device && fd < 0) {
        PyErr_SetString(PyExc_ValueError, "add_serial: give a device path or an open fd");
        return NULL;
    }
    struct rshare_mctp_config mctp;
    rshare_mctp_config_init(&mctp, sizeof(mctp));
    struct rshare_serial_config cfg;
    rshare_serial_config_init(&cfg, sizeof(cfg));
    if (eid_arg(eid, &mctp.eid) < 0 || byte_arg("address", address, &cfg.address) < 0 ||
        byte_arg("turnaround", turnaround, &cfg.turnaround) < 0 ||
        u16_arg("nodes", nodes, &cfg.nodes) < 0)
        return NULL;
    mctp.allow_set_eid = (uint8_t)allow_set_eid;
    mctp.message_size = size;
    cfg.device = device;
    cfg.fd = device ? -1 : fd;
    cfg.baud = baud;
    cfg.rtscts = (uint8_t)rtscts;
    cfg.multidrop = (uint8_t)multidrop;
    cfg.echo = (uint8_t)echo;
    cfg.packet_payload = payload;
    cfg.mctp = &mctp;
    int t = rshare_node_add_serial(n->node, &cfg);
    if (t < 0)
        return rspy_raise_node(n->node, t);
    return PyLong_FromLong(t);
}

PyObject *rspy_node_add_smbus(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"i2c_device", "mqueue_path", "address", "eid", "block_mode",
                             "retries", "retry_delay_us", "packets_per_turn", "bus_hz",
                             "message_size", "allow_set_eid", NULL};
    const char *i2c = NULL, *mqueue = NULL;
    unsigned address = 0, eid = 0, block_mode = 0, retries = 0, delay = 0, per_turn = 0,
             bus_hz = 0, size = 0;
    int allow_set_eid = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|$IIIIIIIIp", kwlist, &i2c, &mqueue, &address,
                                     &eid, &block_mode, &retries, &delay, &per_turn, &bus_hz,
                                     &size, &allow_set_eid))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    struct rshare_mctp_config mctp;
    rshare_mctp_config_init(&mctp, sizeof(mctp));
    struct rshare_smbus_config cfg;
    rshare_smbus_config_init(&cfg, sizeof(cfg));
    if (eid_arg(eid, &mctp.eid) < 0 || byte_arg("address", address, &cfg.address) < 0 ||
        byte_arg("block_mode", block_mode, &cfg.block_mode) < 0 ||
        u16_arg("retries", retries, &cfg.retries) < 0)
        return NULL;
    mctp.allow_set_eid = (uint8_t)allow_set_eid;
    mctp.message_size = size;
    cfg.i2c_device = i2c;
    cfg.mqueue_path = mqueue;
    cfg.retry_delay_us = delay;
    cfg.packets_per_turn = per_turn;
    cfg.bus_hz = bus_hz;
    cfg.mctp = &mctp;
    int t = rshare_node_add_smbus(n->node, &cfg);
    if (t < 0)
        return rspy_raise_node(n->node, t);
    return PyLong_FromLong(t);
}

PyObject *rspy_node_mctp_eid(rspy_node *n, PyObject *args)
{
    int transport = 0;
    if (!PyArg_ParseTuple(args, "i", &transport))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    int rc = rshare_mctp_eid(n->node, transport);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    return PyLong_FromLong(rc);
}

PyObject *rspy_node_mctp_set_neighbour(rspy_node *n, PyObject *args)
{
    int transport = 0;
    unsigned eid = 0;
    const char *address = NULL;
    if (!PyArg_ParseTuple(args, "iIs", &transport, &eid, &address))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    uint8_t e;
    if (eid_arg(eid, &e) < 0)
        return NULL;
    int rc = rshare_mctp_set_neighbour(n->node, transport, e, address);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    Py_RETURN_NONE;
}
