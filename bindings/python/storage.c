/* rshare Python bindings — rshare.Block (a backend bound to a node: file,
 * memory or a resource of the map, wherever it lives) and rshare.Volume (a
 * volume of the map, opened by name).
 *
 * I/O is asynchronous underneath: each read, write or flush is an rspy_op
 * submitted to the library and waited for by driving the process's nodes
 * (node.c).  Reads land directly in the bytes object returned; writes copy
 * the caller's data first, because an abandoned wait (Ctrl-C, timeout)
 * leaves the I/O running with the op's own buffer. */
#include "rshare_python.h"

#include <stdlib.h>
#include <string.h>

/* --- rshare.Block --------------------------------------------------------------- */

static rspy_block *block_check(rspy_block *b)
{
    if (!b->child.handle || !b->owner->node) {
        PyErr_SetString(rspy_Closed, "the block is closed");
        return NULL;
    }
    return b;
}

static PyObject *block_wrap(rspy_node *n, rshare_block *handle, PyObject *path)
{
    rspy_block *b = PyObject_GC_New(rspy_block, &rspy_BlockType);
    if (!b) {
        n->depth++;
        rshare_block_close(handle);
        n->depth--;
        return NULL;
    }
    b->owner = n;
    Py_INCREF(n);
    b->resource_id = 0;
    b->path = path;
    Py_XINCREF(path);
    b->weakrefs = NULL;
    b->child.next = b->child.prev = &b->child;
    rspy_child_link(n, &b->child, RSPY_BLOCK, handle, NULL);
    PyObject_GC_Track(b);
    return (PyObject *)b;
}

static PyObject *block_open_file(PyTypeObject *cls, PyObject *args, PyObject *kw)
{
    (void)cls;
    static char *kwlist[] = {"node", "path", "readonly", "direct", "block_size", NULL};
    rspy_node *n;
    PyObject *path;
    int readonly = 0, direct = 0;
    unsigned block_size = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&|$ppI", kwlist, rspy_node_converter, &n,
                                     PyUnicode_FSDecoder, &path, &readonly, &direct,
                                     &block_size))
        return NULL;
    PyObject *encoded = PyUnicode_EncodeFSDefault(path);
    if (!encoded) {
        Py_DECREF(path);
        return NULL;
    }
    uint32_t flags = (readonly ? RSHARE_BLOCK_OPEN_READONLY : 0) |
                     (direct ? RSHARE_BLOCK_OPEN_DIRECT : 0);
    rshare_block *handle;
    int rc = rshare_block_open_file(n->node, PyBytes_AS_STRING(encoded), flags, block_size,
                                    &handle);
    Py_DECREF(encoded);
    PyObject *result = rc < 0 ? rspy_raise_node(n->node, rc) : block_wrap(n, handle, path);
    Py_DECREF(path);
    return result;
}

static PyObject *block_open_memory(PyTypeObject *cls, PyObject *args, PyObject *kw)
{
    (void)cls;
    static char *kwlist[] = {"node", "size", "block_size", NULL};
    rspy_node *n;
    unsigned long long size;
    unsigned block_size = 512;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&K|$I", kwlist, rspy_node_converter, &n, &size,
                                     &block_size))
        return NULL;
    rshare_block *handle;
    int rc = rshare_block_open_memory(n->node, size, block_size, &handle);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    return block_wrap(n, handle, NULL);
}

static PyObject *block_open_resource(PyTypeObject *cls, PyObject *args, PyObject *kw)
{
    (void)cls;
    static char *kwlist[] = {"node", "resource_id", NULL};
    rspy_node *n;
    unsigned long long id;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&K", kwlist, rspy_node_converter, &n, &id))
        return NULL;
    rshare_block *handle;
    int rc = rshare_block_open_resource(n->node, id, &handle);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    return block_wrap(n, handle, NULL);
}

static void block_done(struct rshare_block_io *io, int status)
{
    rspy_op_complete(io->user_data, status);
}

/* Submit `op` (its io filled) and wait; returns the op (caller frees) or
 * NULL with an exception. */
static struct rspy_op *block_io(rspy_block *b, struct rspy_op *op, uint32_t kind,
                                uint64_t offset, uint64_t length, void *buf)
{
    rspy_node *n = b->owner;
    rshare_block_io_init(&op->io, sizeof(op->io));
    op->io.op = kind;
    op->io.offset = offset;
    op->io.length = length;
    op->io.buf = buf;
    op->io.done = block_done;
    op->io.user_data = op;
    rspy_enter(n);
    int rc = rshare_block_submit(b->child.handle, &op->io);
    if (rc < 0)
        rspy_raise_node(n->node, rc);
    rspy_leave(n);
    if (rc < 0) {
        rspy_op_free(op);
        return NULL;
    }
    if (rspy_op_wait(n, op, -1) < 0)
        return NULL;
    if (op->status < 0) {
        rspy_raise(op->status, NULL);
        rspy_op_free(op);
        return NULL;
    }
    return op;
}

/* Checks shared by every blocking method of a block. */
static int block_ready(rspy_block *b)
{
    if (!block_check(b))
        return -1;
    if (b->owner->depth > 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "block I/O cannot wait from inside a callback of the same node");
        return -1;
    }
    return 0;
}

static PyObject *block_read(rspy_block *b, PyObject *args)
{
    unsigned long long offset, length;
    if (!PyArg_ParseTuple(args, "KK", &offset, &length))
        return NULL;
    if (block_ready(b) < 0)
        return NULL;
    if (length == 0)
        return PyBytes_FromStringAndSize("", 0);
    if (length > PY_SSIZE_T_MAX)
        return rspy_raise(RSHARE_EINVAL, "length too large");
    struct rspy_op *op = rspy_op_new();
    if (!op)
        return NULL;
    op->result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)length);
    if (!op->result) {
        rspy_op_free(op);
        return NULL;
    }
    op = block_io(b, op, RSHARE_BLOCK_READ, offset, length, PyBytes_AS_STRING(op->result));
    if (!op)
        return NULL;
    PyObject *result = op->result;
    op->result = NULL;
    rspy_op_free(op);
    return result;
}

static PyObject *block_write(rspy_block *b, PyObject *args)
{
    unsigned long long offset;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "Ky*", &offset, &data))
        return NULL;
    if (block_ready(b) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    struct rspy_op *op = rspy_op_new();
    if (op && data.len && !(op->buf = malloc((size_t)data.len))) {
        rspy_op_free(op);
        op = NULL;
        PyErr_NoMemory();
    }
    if (!op) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (data.len)
        memcpy(op->buf, data.buf, (size_t)data.len);
    uint64_t len = (uint64_t)data.len;
    PyBuffer_Release(&data);
    op = block_io(b, op, RSHARE_BLOCK_WRITE, offset, len, op->buf);
    if (!op)
        return NULL;
    rspy_op_free(op);
    Py_RETURN_NONE;
}

static PyObject *block_flush(rspy_block *b, PyObject *unused)
{
    (void)unused;
    if (block_ready(b) < 0)
        return NULL;
    struct rspy_op *op = rspy_op_new();
    if (!op || !(op = block_io(b, op, RSHARE_BLOCK_FLUSH, 0, 0, NULL)))
        return NULL;
    rspy_op_free(op);
    Py_RETURN_NONE;
}

static PyObject *block_discard(rspy_block *b, PyObject *args)
{
    unsigned long long offset, length;
    if (!PyArg_ParseTuple(args, "KK", &offset, &length))
        return NULL;
    if (block_ready(b) < 0)
        return NULL;
    struct rspy_op *op = rspy_op_new();
    if (!op || !(op = block_io(b, op, RSHARE_BLOCK_DISCARD, offset, length, NULL)))
        return NULL;
    rspy_op_free(op);
    Py_RETURN_NONE;
}

static PyObject *block_close(rspy_block *b, PyObject *unused)
{
    (void)unused;
    if (!b->child.handle)
        Py_RETURN_NONE;
    rspy_node *n = b->owner;
    rspy_child_close(n, &b->child); /* a registered block is withdrawn */
    if (b->resource_id && n->registered) {
        b->resource_id = 0;
        Py_ssize_t i = 0;
        for (; i < PyList_GET_SIZE(n->registered); i++)
            if (PyList_GET_ITEM(n->registered, i) == (PyObject *)b)
                break;
        if (i < PyList_GET_SIZE(n->registered) && PySequence_DelItem(n->registered, i) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *block_enter(rspy_block *b, PyObject *unused)
{
    (void)unused;
    if (!block_check(b))
        return NULL;
    Py_INCREF(b);
    return (PyObject *)b;
}

static PyObject *block_exit(rspy_block *b, PyObject *args)
{
    (void)args;
    return block_close(b, NULL);
}

static int block_get_info_raw(rspy_block *b, struct rshare_block_info *info)
{
    if (!block_check(b))
        return -1;
    rshare_block_info_init(info, sizeof(*info));
    int rc = rshare_block_get_info(b->child.handle, info);
    if (rc < 0) {
        rspy_raise_node(b->owner->node, rc);
        return -1;
    }
    return 0;
}

static PyObject *block_get_info(rspy_block *b, void *closure)
{
    (void)closure;
    struct rshare_block_info info;
    if (block_get_info_raw(b, &info) < 0)
        return NULL;
    return Py_BuildValue("{s:I,s:K,s:K,s:I,s:I,s:O,s:O,s:O}", "block_size", info.block_size,
                         "block_count", (unsigned long long)info.block_count, "size",
                         (unsigned long long)info.block_count * info.block_size, "caps",
                         info.caps, "max_io_bytes", info.max_io_bytes, "readonly",
                         (info.caps & RSHARE_BLOCK_CAP_READONLY) ? Py_True : Py_False,
                         "flush", (info.caps & RSHARE_BLOCK_CAP_FLUSH) ? Py_True : Py_False,
                         "discard",
                         (info.caps & RSHARE_BLOCK_CAP_DISCARD) ? Py_True : Py_False);
}

static PyObject *block_get_size(rspy_block *b, void *closure)
{
    (void)closure;
    struct rshare_block_info info;
    if (block_get_info_raw(b, &info) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(info.block_count * info.block_size);
}

static PyObject *block_get_block_size(rspy_block *b, void *closure)
{
    (void)closure;
    struct rshare_block_info info;
    if (block_get_info_raw(b, &info) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(info.block_size);
}

static PyObject *block_get_resource_id(rspy_block *b, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(b->resource_id);
}

static PyObject *block_get_closed(rspy_block *b, void *closure)
{
    (void)closure;
    return PyBool_FromLong(!b->child.handle);
}

static PyObject *block_get_node(rspy_block *b, void *closure)
{
    (void)closure;
    Py_INCREF(b->owner);
    return (PyObject *)b->owner;
}

static PyObject *block_repr(rspy_block *b)
{
    if (b->path)
        return PyUnicode_FromFormat("<rshare.Block %R on node %u%s>", b->path,
                                    (unsigned)b->owner->id, b->child.handle ? "" : " (closed)");
    return PyUnicode_FromFormat("<rshare.Block on node %u%s>", (unsigned)b->owner->id,
                                b->child.handle ? "" : " (closed)");
}

static int block_traverse(rspy_block *b, visitproc visit, void *arg)
{
    Py_VISIT(b->owner);
    return 0;
}

static void block_dealloc(rspy_block *b)
{
    PyObject_GC_UnTrack(b);
    if (b->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)b);
    if (b->owner)
        rspy_child_close(b->owner, &b->child);
    Py_CLEAR(b->owner);
    Py_CLEAR(b->path);
    PyObject_GC_Del(b);
}

static PyMethodDef block_methods[] = {
    {"open_file", (PyCFunction)(void (*)(void))block_open_file,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS,
     "Block.open_file(node, path, *, readonly=False, direct=False, block_size=0)\n"
     "A file or block device (block_size 0: the device's, 512 for a file; a file's\n"
     "size must be a multiple of it)."},
    {"open_memory", (PyCFunction)(void (*)(void))block_open_memory,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS,
     "Block.open_memory(node, size, *, block_size=512)\n`size` bytes of zeroed memory."},
    {"open_resource", (PyCFunction)(void (*)(void))block_open_resource,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS,
     "Block.open_resource(node, resource_id)\nA block resource of the map, wherever it lives."},
    {"read", (PyCFunction)block_read, METH_VARARGS,
     "read(offset, length) -> bytes\nOffset and length are multiples of the block size."},
    {"write", (PyCFunction)block_write, METH_VARARGS,
     "write(offset, data)\nWrite a bytes-like object (a multiple of the block size)."},
    {"flush", (PyCFunction)block_flush, METH_NOARGS, "flush()\nMake completed writes durable."},
    {"discard", (PyCFunction)block_discard, METH_VARARGS,
     "discard(offset, length)\nThe range's contents are no longer needed."},
    {"close", (PyCFunction)block_close, METH_NOARGS,
     "close()\nRelease the block (withdrawn if it was registered).  Idempotent."},
    {"__enter__", (PyCFunction)block_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)block_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef block_getset[] = {
    {"info", (getter)block_get_info, NULL, "Geometry and capabilities (dict).", NULL},
    {"size", (getter)block_get_size, NULL, "Size in bytes.", NULL},
    {"block_size", (getter)block_get_block_size, NULL, "Logical block size in bytes.", NULL},
    {"resource_id", (getter)block_get_resource_id, NULL,
     "The resource id once registered with Node.register_block(), else 0.", NULL},
    {"closed", (getter)block_get_closed, NULL, "True once closed.", NULL},
    {"node", (getter)block_get_node, NULL, "The node the block belongs to.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject rspy_BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rshare.Block",
    .tp_basicsize = sizeof(rspy_block),
    .tp_dealloc = (destructor)block_dealloc,
    .tp_repr = (reprfunc)block_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_doc = "A block backend bound to a node; create it with Block.open_file(),\n"
              "Block.open_memory() or Block.open_resource().",
    .tp_traverse = (traverseproc)block_traverse,
    .tp_weaklistoffset = offsetof(rspy_block, weakrefs),
    .tp_methods = block_methods,
    .tp_getset = block_getset,
};

/* --- rshare.Volume -------------------------------------------------------------------- */

/* What outlives the Python object while the volume is open. */
struct vol_ctx {
    int inflight;         /* our requests not yet completed */
    PyObject *progress;   /* callable(status, done, total) or NULL */
};

typedef struct {
    PyObject_HEAD
    rspy_node *owner;
    struct rspy_child child;
    PyObject *name;
    PyObject *weakrefs;
} rspy_volume;

static void progress_cb(rshare_volume *volume, int status, uint64_t done, uint64_t total,
                        void *user)
{
    (void)volume;
    struct vol_ctx *c = user;
    PyObject *fn = c->progress;
    if (!fn)
        return;
    Py_INCREF(fn);
    PyObject *r = PyObject_CallFunction(fn, "iKK", status, (unsigned long long)done,
                                        (unsigned long long)total);
    if (!r)
        rspy_report_callback_error(fn);
    Py_XDECREF(r);
    Py_DECREF(fn);
}

static void vol_done_cb(rshare_volume *volume, int status, void *user)
{
    (void)volume;
    rspy_op_complete(user, status);
}

static void scrub_done_cb(rshare_volume *volume, int status, uint64_t mismatches, void *user)
{
    (void)volume;
    struct rspy_op *op = user;
    op->value = mismatches;
    rspy_op_complete(op, status);
}

static int inflight_zero(void *arg)
{
    return ((struct vol_ctx *)arg)->inflight == 0;
}

void rspy_volume_release(rspy_node *n, void *handle, void *ctx)
{
    struct vol_ctx *c = ctx;
    /* Let our requests finish first, driving every node of the process:
     * the members may be served by nodes of this same process, which
     * rshare_volume_close's own loop (this node only) would not run. */
    if (c && c->inflight > 0 && n->depth == 0) {
        if (rspy_drive(NULL, inflight_zero, c, 60000) < 0)
            PyErr_Clear();
    }
    n->depth++;
    rshare_volume_close(handle);
    n->depth--;
    if (c) {
        Py_CLEAR(c->progress);
        if (c->inflight == 0)
            free(c);
        /* else: completions still reference the counter; leaked. */
    }
}

static rspy_volume *volume_check(rspy_volume *v)
{
    if (!v->child.handle || !v->owner->node) {
        PyErr_SetString(rspy_Closed, "the volume is closed");
        return NULL;
    }
    return v;
}

static int volume_ready(rspy_volume *v)
{
    if (!volume_check(v))
        return -1;
    if (v->owner->depth > 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "volume I/O cannot wait from inside a callback of the same node");
        return -1;
    }
    return 0;
}

struct open_arg {
    rspy_node *n;
    const char *name;
    struct rshare_volume_config *cfg;
    rshare_volume *handle;
    int rc;
    char detail[256];
};

static int try_open(void *arg)
{
    struct open_arg *a = arg;
    if (!a->n->node) {
        a->rc = RSHARE_ESHUTDOWN;
        return 1;
    }
    rspy_enter(a->n);
    a->rc = rshare_volume_open(a->n->node, a->name, a->cfg, &a->handle);
    if (a->rc < 0)
        snprintf(a->detail, sizeof(a->detail), "%s", rshare_node_errmsg(a->n->node));
    rspy_leave(a->n);
    return a->rc != RSHARE_ENOENT;
}

static int volume_init(rspy_volume *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"node",          "name",          "force",
                             "retry_budget",  "rebuild_step_sectors",
                             "bitmap_region_sectors",          "max_inflight",
                             "clean_delay_ms", "progress",     "timeout_ms",
                             NULL};
    rspy_node *n;
    PyObject *name, *progress = Py_None;
    int force = 0, timeout_ms = 0;
    struct rshare_volume_config cfg;
    rshare_volume_config_init(&cfg, sizeof(cfg));
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&U|$pIIIIIOi", kwlist, rspy_node_converter, &n,
                                     &name, &force, &cfg.retry_budget,
                                     &cfg.rebuild_step_sectors, &cfg.bitmap_region_sectors,
                                     &cfg.max_inflight, &cfg.clean_delay_ms, &progress,
                                     &timeout_ms))
        return -1;
    if (v->child.handle) {
        PyErr_SetString(PyExc_RuntimeError, "Volume.__init__ called twice");
        return -1;
    }
    if (progress != Py_None && !PyCallable_Check(progress)) {
        PyErr_SetString(PyExc_TypeError, "progress must be callable(status, done, total)");
        return -1;
    }
    const char *cname = PyUnicode_AsUTF8(name);
    if (!cname)
        return -1;
    struct vol_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        PyErr_NoMemory();
        return -1;
    }
    if (progress != Py_None) {
        c->progress = progress;
        Py_INCREF(progress);
        cfg.progress = progress_cb;
        cfg.progress_data = c;
    }
    cfg.flags = force ? RSHARE_VOLUME_OPEN_FORCE : 0;
    struct open_arg a = {.n = n, .name = cname, .cfg = &cfg};
    int r;
    if (timeout_ms > 0) {
        /* Wait for this node's copy of the map to hold the volume. */
        if (n->depth > 0) {
            PyErr_SetString(PyExc_RuntimeError, "cannot wait inside a callback of the node");
            r = -1;
        } else {
            r = rspy_drive(n, try_open, &a, timeout_ms);
        }
    } else {
        r = try_open(&a);
    }
    if (r == 1 && a.rc < 0)
        rspy_raise(a.rc, a.detail);
    else if (r == 0)
        rspy_raise(a.rc, "the volume did not appear in this node's map in time");
    if (r != 1 || a.rc < 0) {
        Py_XDECREF(c->progress);
        free(c);
        return -1;
    }
    v->owner = n;
    Py_INCREF(n);
    v->name = name;
    Py_INCREF(name);
    rspy_child_link(n, &v->child, RSPY_VOLUME, a.handle, c);
    return 0;
}

static PyObject *volume_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    rspy_volume *v = (rspy_volume *)type->tp_alloc(type, 0);
    if (v)
        v->child.next = v->child.prev = &v->child;
    return (PyObject *)v;
}

/* Start an asynchronous volume request with `op` and wait for it. */
static int volume_wait(rspy_volume *v, struct rspy_op *op, int rc)
{
    rspy_node *n = v->owner;
    if (rc < 0) {
        rspy_raise_node(n->node, rc);
        rspy_op_free(op);
        return -1;
    }
    struct vol_ctx *c = v->child.ctx;
    c->inflight++;
    op->inflight = &c->inflight;
    if (rspy_op_wait(n, op, -1) < 0)
        return -1;
    if (op->status < 0) {
        rspy_raise(op->status, NULL);
        rspy_op_free(op);
        return -1;
    }
    return 0;
}

static PyObject *volume_read(rspy_volume *v, PyObject *args)
{
    unsigned long long offset, length;
    if (!PyArg_ParseTuple(args, "KK", &offset, &length))
        return NULL;
    if (volume_ready(v) < 0)
        return NULL;
    if (length == 0)
        return PyBytes_FromStringAndSize("", 0);
    if (length > PY_SSIZE_T_MAX)
        return rspy_raise(RSHARE_EINVAL, "length too large");
    struct rspy_op *op = rspy_op_new();
    if (!op)
        return NULL;
    op->result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)length);
    if (!op->result) {
        rspy_op_free(op);
        return NULL;
    }
    rspy_enter(v->owner);
    int rc = rshare_volume_read(v->child.handle, offset, PyBytes_AS_STRING(op->result),
                                (size_t)length, vol_done_cb, op);
    rspy_leave(v->owner);
    if (volume_wait(v, op, rc) < 0)
        return NULL;
    PyObject *result = op->result;
    op->result = NULL;
    rspy_op_free(op);
    return result;
}

static PyObject *volume_write(rspy_volume *v, PyObject *args)
{
    unsigned long long offset;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "Ky*", &offset, &data))
        return NULL;
    if (volume_ready(v) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    struct rspy_op *op = rspy_op_new();
    if (op && !(op->buf = malloc(data.len ? (size_t)data.len : 1))) {
        rspy_op_free(op);
        op = NULL;
        PyErr_NoMemory();
    }
    if (!op) {
        PyBuffer_Release(&data);
        return NULL;
    }
    memcpy(op->buf, data.buf, (size_t)data.len);
    size_t len = (size_t)data.len;
    PyBuffer_Release(&data);
    rspy_enter(v->owner);
    int rc = rshare_volume_write(v->child.handle, offset, op->buf, len, vol_done_cb, op);
    rspy_leave(v->owner);
    if (volume_wait(v, op, rc) < 0)
        return NULL;
    rspy_op_free(op);
    Py_RETURN_NONE;
}

static PyObject *volume_flush(rspy_volume *v, PyObject *unused)
{
    (void)unused;
    if (volume_ready(v) < 0)
        return NULL;
    struct rspy_op *op = rspy_op_new();
    if (!op)
        return NULL;
    rspy_enter(v->owner);
    int rc = rshare_volume_flush(v->child.handle, vol_done_cb, op);
    rspy_leave(v->owner);
    if (volume_wait(v, op, rc) < 0)
        return NULL;
    rspy_op_free(op);
    Py_RETURN_NONE;
}

static PyObject *volume_discard(rspy_volume *v, PyObject *args)
{
    unsigned long long offset, length;
    if (!PyArg_ParseTuple(args, "KK", &offset, &length))
        return NULL;
    if (length > SIZE_MAX) {
        PyErr_SetString(PyExc_ValueError, "length too large");
        return NULL;
    }
    if (volume_ready(v) < 0)
        return NULL;
    struct rspy_op *op = rspy_op_new();
    if (!op)
        return NULL;
    rspy_enter(v->owner);
    int rc = rshare_volume_discard(v->child.handle, offset, (size_t)length, vol_done_cb, op);
    rspy_leave(v->owner);
    if (volume_wait(v, op, rc) < 0)
        return NULL;
    rspy_op_free(op);
    Py_RETURN_NONE;
}

static PyObject *volume_scrub(rspy_volume *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"repair", NULL};
    int repair = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &repair))
        return NULL;
    if (volume_ready(v) < 0)
        return NULL;
    struct rspy_op *op = rspy_op_new();
    if (!op)
        return NULL;
    rspy_enter(v->owner);
    int rc = rshare_volume_scrub(v->child.handle, repair, scrub_done_cb, op);
    rspy_leave(v->owner);
    if (volume_wait(v, op, rc) < 0)
        return NULL;
    uint64_t mismatches = op->value;
    rspy_op_free(op);
    return PyLong_FromUnsignedLongLong(mismatches);
}

static PyObject *volume_member_action(rspy_volume *v, PyObject *args,
                                      int (*action)(rshare_volume *, uint32_t))
{
    unsigned index;
    if (!PyArg_ParseTuple(args, "I", &index))
        return NULL;
    if (!volume_check(v))
        return NULL;
    char detail[256] = "";
    rspy_enter(v->owner);
    int rc = action(v->child.handle, index);
    if (rc < 0)
        snprintf(detail, sizeof(detail), "%s", rshare_node_errmsg(v->owner->node));
    rspy_leave(v->owner);
    if (rc < 0)
        return rspy_raise(rc, detail);
    Py_RETURN_NONE;
}

static PyObject *volume_fail_member(rspy_volume *v, PyObject *args)
{
    return volume_member_action(v, args, rshare_volume_fail_member);
}

static PyObject *volume_readd_member(rspy_volume *v, PyObject *args)
{
    return volume_member_action(v, args, rshare_volume_readd_member);
}

static const char *const state_names[] = {"optimal", "degraded", "failed"};

static PyObject *volume_status(rspy_volume *v, PyObject *unused)
{
    (void)unused;
    if (!volume_check(v))
        return NULL;
    struct rshare_volume_status s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    int rc = rshare_volume_get_status(v->child.handle, &s);
    if (rc < 0)
        return rspy_raise_node(v->owner->node, rc);
    uint32_t count = s.member_count <= RSHARE_VOLUME_MEMBERS_MAX ? s.member_count : 0;
    PyObject *members = rspy_u64_list(s.member, count);
    PyObject *states = PyList_New(count);
    for (uint32_t i = 0; states && i < count; i++) {
        PyObject *x = PyLong_FromUnsignedLong(s.member_state[i]);
        if (!x)
            Py_CLEAR(states);
        else
            PyList_SET_ITEM(states, i, x);
    }
    if (!members || !states) {
        Py_XDECREF(members);
        Py_XDECREF(states);
        return NULL;
    }
    PyObject *d = Py_BuildValue("{s:I,s:s,s:I,s:I,s:N,s:N,s:K}", "state", s.state, "state_name",
                                s.state <= 2 ? state_names[s.state] : "unknown", "id", s.id,
                                "member_count", s.member_count, "members", members,
                                "member_state", states, "size", (unsigned long long)s.size);
#define F(f) RSPY_FIELD(struct rshare_volume_status, f)
    static const struct rspy_field fields[] = {
        F(rebuild_done), F(rebuild_total), F(dirty_regions), F(reads), F(writes), F(flushes),
        F(degraded_reads), F(read_repairs), F(member_retries), F(full_stripe_writes),
        F(rmw_writes), F(rcw_writes), F(discards),
    };
#undef F
    if (d && rspy_dict_set_fields(d, &s, fields, sizeof(fields) / sizeof(fields[0])) < 0)
        Py_CLEAR(d);
    return d;
}

static PyObject *volume_close(rspy_volume *v, PyObject *unused)
{
    (void)unused;
    if (v->child.handle)
        rspy_child_close(v->owner, &v->child);
    Py_RETURN_NONE;
}

static PyObject *volume_enter(rspy_volume *v, PyObject *unused)
{
    (void)unused;
    if (!volume_check(v))
        return NULL;
    Py_INCREF(v);
    return (PyObject *)v;
}

static PyObject *volume_exit(rspy_volume *v, PyObject *args)
{
    (void)args;
    return volume_close(v, NULL);
}

static PyObject *volume_get_size(rspy_volume *v, void *closure)
{
    (void)closure;
    if (!volume_check(v))
        return NULL;
    return PyLong_FromUnsignedLongLong(rshare_volume_size(v->child.handle));
}

static PyObject *volume_get_block_size(rspy_volume *v, void *closure)
{
    (void)closure;
    if (!volume_check(v))
        return NULL;
    return PyLong_FromUnsignedLong(rshare_volume_block_size(v->child.handle));
}

static PyObject *volume_get_name(rspy_volume *v, void *closure)
{
    (void)closure;
    PyObject *name = v->name ? v->name : Py_None;
    Py_INCREF(name);
    return name;
}

static PyObject *volume_get_closed(rspy_volume *v, void *closure)
{
    (void)closure;
    return PyBool_FromLong(!v->child.handle);
}

static PyObject *volume_repr(rspy_volume *v)
{
    return PyUnicode_FromFormat("<rshare.Volume %R on node %u%s>", v->name ? v->name : Py_None,
                                v->owner ? (unsigned)v->owner->id : 0u,
                                v->child.handle ? "" : " (closed)");
}

static int volume_traverse(rspy_volume *v, visitproc visit, void *arg)
{
    Py_VISIT(v->owner);
    struct vol_ctx *c = v->child.ctx;
    if (c)
        Py_VISIT(c->progress);
    return 0;
}

static int volume_clear(rspy_volume *v)
{
    struct vol_ctx *c = v->child.ctx;
    if (c)
        Py_CLEAR(c->progress);
    return 0;
}

static void volume_dealloc(rspy_volume *v)
{
    PyObject_GC_UnTrack(v);
    if (v->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)v);
    if (v->owner) {
        rspy_saved_error saved;
        rspy_err_save(&saved);
        rspy_child_close(v->owner, &v->child);
        rspy_err_restore(&saved);
    }
    Py_CLEAR(v->owner);
    Py_CLEAR(v->name);
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static PyMethodDef volume_methods[] = {
    {"read", (PyCFunction)volume_read, METH_VARARGS,
     "read(offset, length) -> bytes\nMultiples of block_size, at most 64 MiB."},
    {"write", (PyCFunction)volume_write, METH_VARARGS,
     "write(offset, data)\nWrite a bytes-like object (a multiple of block_size)."},
    {"flush", (PyCFunction)volume_flush, METH_NOARGS,
     "flush()\nEvery completed write is durable on every member."},
    {"discard", (PyCFunction)volume_discard, METH_VARARGS,
     "discard(offset, length)\nThe range is no longer needed (linear and RAID-0 volumes;\n"
     "others raise NotSupported)."},
    {"status", (PyCFunction)volume_status, METH_NOARGS,
     "status() -> dict\nState ('state_name': optimal, degraded, failed), members and\n"
     "their states, rebuild progress, counters."},
    {"fail_member", (PyCFunction)volume_fail_member, METH_VARARGS,
     "fail_member(index)\nFail a member now, as if its disk died (recorded in the map)."},
    {"readd_member", (PyCFunction)volume_readd_member, METH_VARARGS,
     "readd_member(index)\nBring back a failed member: it is rebuilt in the background."},
    {"scrub", (PyCFunction)(void (*)(void))volume_scrub, METH_VARARGS | METH_KEYWORDS,
     "scrub(repair=False) -> mismatches\nRead every stripe or mirror set and count\n"
     "inconsistencies; with repair, rewrite them."},
    {"close", (PyCFunction)volume_close, METH_NOARGS,
     "close()\nFinish requests, mark the volume clean, release it.  Idempotent."},
    {"__enter__", (PyCFunction)volume_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)volume_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef volume_getset[] = {
    {"size", (getter)volume_get_size, NULL, "Size in bytes.", NULL},
    {"block_size", (getter)volume_get_block_size, NULL, "Logical block size (512).", NULL},
    {"name", (getter)volume_get_name, NULL, "The volume's name.", NULL},
    {"closed", (getter)volume_get_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject rspy_VolumeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rshare.Volume",
    .tp_basicsize = sizeof(rspy_volume),
    .tp_dealloc = (destructor)volume_dealloc,
    .tp_repr = (reprfunc)volume_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Volume(node, name, *, force=False, retry_budget=0, rebuild_step_sectors=0,\n"
              "       bitmap_region_sectors=0, max_inflight=0, clean_delay_ms=0,\n"
              "       progress=None, timeout_ms=0)\n\n"
              "Open the volume `name` of the node's copy of the map.  With timeout_ms > 0,\n"
              "wait that long for the map to hold it.  progress: callable(status, done,\n"
              "total) for rebuilds and resyncs.",
    .tp_traverse = (traverseproc)volume_traverse,
    .tp_clear = (inquiry)volume_clear,
    .tp_weaklistoffset = offsetof(rspy_volume, weakrefs),
    .tp_methods = volume_methods,
    .tp_getset = volume_getset,
    .tp_init = (initproc)volume_init,
    .tp_new = volume_new,
};

int rspy_storage_init_types(PyObject *module)
{
    if (PyType_Ready(&rspy_BlockType) < 0 || PyType_Ready(&rspy_VolumeType) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "Block", (PyObject *)&rspy_BlockType) < 0 ||
        PyModule_AddObjectRef(module, "Volume", (PyObject *)&rspy_VolumeType) < 0)
        return -1;
    return 0;
}
