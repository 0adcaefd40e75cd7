/* rshare Python bindings — rshare.Node: lifecycle, transports, the loop,
 * messages, the cluster, resources and the map; rshare.Request; and the
 * machinery every other object relies on (children, deferred closes,
 * waited-for operations, driving the nodes of the process).
 *
 * Blocking methods (call, define_volume, Volume.read, ...) do not use the
 * library's *_sync helpers: they start the asynchronous operation and then
 * drive *every* open node of the process that is idle, polling their
 * descriptors with the GIL released and processing them with it held.  So
 * one Python process can run several nodes that talk to each other (the
 * tests run a two-node cluster that way), Ctrl-C interrupts a wait, and
 * other Python threads run while a node waits for the network. */
#include "rshare_python.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <structmember.h>

/* Every open node of the process, for rspy_drive(). */
static rspy_node *registry;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rspy_dict_set_u64(PyObject *dict, const char *key, uint64_t value)
{
    PyObject *v = PyLong_FromUnsignedLongLong(value);
    if (!v)
        return -1;
    int rc = PyDict_SetItemString(dict, key, v);
    Py_DECREF(v);
    return rc;
}

int rspy_dict_set_str(PyObject *dict, const char *key, const char *value)
{
    PyObject *v = PyUnicode_DecodeUTF8(value, (Py_ssize_t)strlen(value), "replace");
    if (!v)
        return -1;
    int rc = PyDict_SetItemString(dict, key, v);
    Py_DECREF(v);
    return rc;
}

PyObject *rspy_u64_list(const uint64_t *values, size_t count)
{
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (!list)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(values[i]);
        if (!v) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    return list;
}

int rspy_dict_set_fields(PyObject *dict, const void *base, const struct rspy_field *fields,
                         size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t v;
        memcpy(&v, (const char *)base + fields[i].offset, sizeof(v));
        if (rspy_dict_set_u64(dict, fields[i].name, v) < 0)
            return -1;
    }
    return 0;
}

/* --- children and deferred closes --------------------------------------------- */

int rspy_node_check(rspy_node *n)
{
    if (!n->node || n->close_pending) {
        PyErr_SetString(rspy_Closed, "the node is closed");
        return -1;
    }
    return 0;
}

/* Blocking methods wait by processing the node: impossible from inside one
 * of its own callbacks. */
static int check_blocking(rspy_node *n)
{
    if (rspy_node_check(n) < 0)
        return -1;
    if (n->depth > 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a blocking rshare call cannot be made from inside a callback of the "
                        "same node (it could never complete)");
        return -1;
    }
    return 0;
}

void rspy_child_link(rspy_node *n, struct rspy_child *c, enum rspy_kind kind, void *handle,
                     void *ctx)
{
    c->kind = kind;
    c->handle = handle;
    c->ctx = ctx;
    c->next = n->children.next;
    c->prev = &n->children;
    n->children.next->prev = c;
    n->children.next = c;
}

static void release(rspy_node *n, enum rspy_kind kind, void *handle, void *ctx)
{
    switch (kind) {
    case RSPY_BLOCK:
        n->depth++;
        rshare_block_close(handle);
        n->depth--;
        break;
    case RSPY_VOLUME:
        rspy_volume_release(n, handle, ctx);
        break;
    case RSPY_KVM:
        rspy_kvm_release(n, handle, ctx);
        break;
    }
}

void rspy_child_close(rspy_node *n, struct rspy_child *c)
{
    if (!c->handle)
        return;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->next = c->prev = c;
    void *handle = c->handle, *ctx = c->ctx;
    c->handle = NULL;
    c->ctx = NULL;
    if (n->depth > 0) {
        struct rspy_grave *g = malloc(sizeof(*g));
        if (g) {
            g->kind = c->kind;
            g->handle = handle;
            g->ctx = ctx;
            g->next = n->graveyard;
            n->graveyard = g;
            return;
        }
        /* Out of memory: leak the handle rather than free it under a
         * running callback. */
        return;
    }
    rspy_saved_error saved;
    rspy_err_save(&saved);
    release(n, c->kind, handle, ctx);
    rspy_err_restore(&saved);
}

static void node_close_now(rspy_node *n);

/* Deferred work once the outermost rshare call of the node has returned. */
static void settle(rspy_node *n)
{
    if (n->settling)
        return;
    n->settling = true;
    Py_INCREF(n);
    rspy_saved_error saved;
    rspy_err_save(&saved);
    while (n->depth == 0 && n->graveyard) {
        struct rspy_grave *g = n->graveyard;
        n->graveyard = g->next;
        release(n, g->kind, g->handle, g->ctx);
        free(g);
    }
    if (n->depth == 0 && n->close_pending)
        node_close_now(n);
    rspy_err_restore(&saved);
    n->settling = false;
    Py_DECREF(n);
}

void rspy_leave(rspy_node *n)
{
    if (--n->depth == 0 && (n->graveyard || n->close_pending))
        settle(n);
}

static struct rspy_child *first_child(rspy_node *n, enum rspy_kind kind)
{
    for (struct rspy_child *c = n->children.next; c != &n->children; c = c->next)
        if (c->kind == kind)
            return c;
    return NULL;
}

static void node_close_now(rspy_node *n)
{
    if (!n->node)
        return;
    n->close_pending = true; /* refuse new work while closing */
    /* Volumes use blocks (their own), KVM handles must go before the node,
     * blocks last: a registered block is withdrawn as it closes. */
    static const enum rspy_kind order[] = {RSPY_VOLUME, RSPY_KVM, RSPY_BLOCK};
    for (size_t i = 0; i < 3; i++) {
        struct rspy_child *c;
        while ((c = first_child(n, order[i])) != NULL)
            rspy_child_close(n, c);
    }
    while (n->graveyard) {
        struct rspy_grave *g = n->graveyard;
        n->graveyard = g->next;
        release(n, g->kind, g->handle, g->ctx);
        free(g);
    }
    if (n->registered)
        PyList_SetSlice(n->registered, 0, PyList_GET_SIZE(n->registered), NULL);
    n->depth++;
    rshare_node_destroy(n->node); /* pending calls complete with RSHARE_ESHUTDOWN */
    n->depth--;
    n->node = NULL;
    n->close_pending = false;
    if (n->prev)
        n->prev->next = n->next;
    else if (registry == n)
        registry = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

/* --- waited-for operations ----------------------------------------------------- */

struct rspy_op *rspy_op_new(void)
{
    struct rspy_op *op = calloc(1, sizeof(*op));
    if (!op)
        PyErr_NoMemory();
    return op;
}

void rspy_op_free(struct rspy_op *op)
{
    if (!op)
        return;
    free(op->buf);
    Py_XDECREF(op->result);
    free(op);
}

void rspy_op_complete(struct rspy_op *op, int status)
{
    if (op->inflight)
        (*op->inflight)--;
    op->inflight = NULL;
    if (op->orphaned) {
        rspy_op_free(op);
        return;
    }
    op->status = status;
    op->done = 1;
}

static int op_done(void *arg)
{
    return ((struct rspy_op *)arg)->done;
}

int rspy_op_wait(rspy_node *n, struct rspy_op *op, int timeout_ms)
{
    int r = rspy_drive(n, op_done, op, timeout_ms);
    if (r == 1)
        return 0;
    if (op->done) {
        rspy_op_free(op);
    } else {
        op->orphaned = true; /* freed by its completion */
    }
    if (r == 0)
        rspy_raise(RSHARE_ETIMEDOUT, "no completion within the time the caller allowed");
    return -1;
}

/* --- driving the nodes of the process --------------------------------------------- */

int rspy_drive_once(int wait_ms)
{
    size_t cap = 0;
    for (rspy_node *n = registry; n; n = n->next)
        cap++;
    rspy_node **nodes = PyMem_Calloc(cap ? cap : 1, sizeof(*nodes));
    struct pollfd *fds = PyMem_Calloc(cap ? cap : 1, sizeof(*fds));
    if (!nodes || !fds) {
        PyMem_Free(nodes);
        PyMem_Free(fds);
        PyErr_NoMemory();
        return -1;
    }
    size_t count = 0;
    for (rspy_node *n = registry; n && count < cap; n = n->next) {
        if (!n->node || n->depth > 0)
            continue;
        Py_INCREF(n);
        nodes[count] = n;
        fds[count].fd = rshare_node_fd(n->node);
        fds[count].events = POLLIN;
        int t = rshare_node_timeout_ms(n->node);
        if (t >= 0 && t < wait_ms)
            wait_ms = t;
        count++;
    }
    int r, err;
    Py_BEGIN_ALLOW_THREADS
    r = poll(fds, (nfds_t)count, wait_ms);
    err = errno;
    Py_END_ALLOW_THREADS
    int rc = 0;
    if (r < 0 && err != EINTR) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        rc = -1;
    }
    for (size_t i = 0; i < count; i++) {
        rspy_node *n = nodes[i];
        if (rc == 0 && n->node && n->depth == 0) {
            rspy_enter(n);
            rshare_node_process(n->node);
            rspy_leave(n);
        }
        Py_DECREF(n);
    }
    PyMem_Free(nodes);
    PyMem_Free(fds);
    if (rc == 0 && PyErr_CheckSignals() < 0)
        rc = -1;
    return rc;
}

int rspy_drive(rspy_node *self, int (*cond)(void *arg), void *arg, int timeout_ms)
{
    if (self && check_blocking(self) < 0)
        return -1;
    uint64_t deadline = timeout_ms >= 0 ? mono_ms() + (uint64_t)timeout_ms : UINT64_MAX;
    if (self)
        Py_INCREF(self);
    int result;
    for (;;) {
        int c = cond(arg);
        if (c) {
            result = c < 0 ? -1 : 1;
            break;
        }
        if (self && !self->node) {
            PyErr_SetString(rspy_Closed, "the node was closed while waiting");
            result = -1;
            break;
        }
        uint64_t now = mono_ms();
        if (now >= deadline) {
            result = 0;
            break;
        }
        /* Short rounds: another thread may complete the operation. */
        int wait = deadline - now < 50 ? (int)(deadline - now) : 50;
        if (rspy_drive_once(wait) < 0) {
            result = -1;
            break;
        }
    }
    Py_XDECREF(self);
    return result;
}

/* --- callbacks from the library ------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    rshare_request *req;  /* NULL once answered or after the handler returned */
    rspy_node *node;
    uint32_t peer;
    uint16_t type;
    int expects_reply;
    PyObject *data;
} rspy_request;

static void log_cb(void *user, enum rshare_log_level level, const char *message)
{
    rspy_node *n = user;
    if (!n->log_cb) {
        fprintf(stderr, "rshare[%u]: %s\n", (unsigned)n->id, message);
        return;
    }
    rspy_saved_error saved;
    rspy_err_save(&saved);
    PyObject *r = PyObject_CallFunction(n->log_cb, "is", (int)level, message);
    if (!r)
        rspy_report_callback_error(n->log_cb);
    Py_XDECREF(r);
    rspy_err_restore(&saved);
}

static void cluster_cb(rshare_node *node, enum rshare_cluster_event event, uint32_t node_id,
                       void *user)
{
    (void)node;
    rspy_node *n = user;
    PyObject *fn = n->cluster_cb;
    if (!fn)
        return;
    Py_INCREF(fn);
    PyObject *r = PyObject_CallFunction(fn, "iI", (int)event, (unsigned)node_id);
    if (!r)
        rspy_report_callback_error(fn);
    Py_XDECREF(r);
    Py_DECREF(fn);
}

/* Answer a request with the current exception: rshare.Error subclasses
 * answer with their code (deliberate, not reported); anything else is a
 * bug in the handler: reported, and answered with RSHARE_EIO. */
static void fail_with_exception(rshare_request *req, PyObject *fn)
{
    rspy_saved_error saved;
    rspy_err_save(&saved);
    PyObject *value = saved.value;
    int deliberate = value && PyObject_IsInstance(value, rspy_Error) == 1;
    int code = rspy_code_of_exception(value);
    PyObject *text = value ? (deliberate ? PyObject_Str(value)
                                         : PyUnicode_FromFormat("Python handler raised %s: %S",
                                                                Py_TYPE(value)->tp_name, value))
                           : NULL;
    const char *t = text ? PyUnicode_AsUTF8(text) : NULL;
    if (!t)
        PyErr_Clear();
    if (req)
        rshare_request_fail(req, code, t ? t : "Python handler failed");
    Py_XDECREF(text);
    if (deliberate && req) {
        rspy_err_drop(&saved);
        return;
    }
    rspy_err_restore(&saved);
    rspy_report_callback_error(fn);
}

static void handler_cb(rshare_node *node, rshare_request *req, void *user)
{
    (void)node;
    rspy_node *n = user;
    int expects = rshare_request_expects_reply(req);
    PyObject *fn = NULL;
    if (n->handlers) {
        PyObject *key = PyLong_FromLong(rshare_request_type(req));
        fn = key ? PyDict_GetItemWithError(n->handlers, key) : NULL;
        Py_XDECREF(key);
        Py_XINCREF(fn);
    }
    if (!fn) {
        PyErr_Clear();
        if (expects)
            rshare_request_fail(req, RSHARE_ENOHANDLER, "no Python handler");
        return;
    }
    rspy_request *r = PyObject_GC_New(rspy_request, &rspy_RequestType);
    if (r) {
        r->req = req;
        r->node = n;
        Py_INCREF(n);
        r->peer = rshare_request_peer(req);
        r->type = rshare_request_type(req);
        r->expects_reply = expects;
        const void *d = rshare_request_data(req);
        r->data = PyBytes_FromStringAndSize(d ? d : "", (Py_ssize_t)rshare_request_len(req));
        if (!r->data) {
            r->req = NULL;
            Py_DECREF(r);
            r = NULL;
        } else {
            PyObject_GC_Track(r);
        }
    }
    if (!r) {
        fail_with_exception(expects ? req : NULL, fn);
        Py_DECREF(fn);
        return;
    }
    PyObject *res = PyObject_CallOneArg(fn, (PyObject *)r);
    rshare_request *pending = expects ? r->req : NULL; /* not answered by the handler */
    r->req = NULL;
    if (!res) {
        fail_with_exception(pending, fn);
    } else if (pending) {
        Py_buffer view;
        if (res == Py_None) {
            rshare_request_reply(pending, NULL, 0);
        } else if (PyObject_GetBuffer(res, &view, PyBUF_SIMPLE) == 0) {
            rshare_request_reply(pending, view.buf, (size_t)view.len);
            PyBuffer_Release(&view);
        } else {
            PyErr_Format(PyExc_TypeError, "a handler returns bytes or None, not %.100s",
                         Py_TYPE(res)->tp_name);
            fail_with_exception(pending, fn);
        }
    }
    Py_XDECREF(res);
    Py_DECREF(r);
    Py_DECREF(fn);
}

static void reply_cb(rshare_node *node, const struct rshare_reply *reply, void *user)
{
    (void)node;
    struct rspy_op *op = user;
    int status = reply->status;
    if (!op->orphaned) {
        op->remote_code = reply->remote_code;
        op->result = PyBytes_FromStringAndSize(reply->data ? reply->data : "",
                                               (Py_ssize_t)reply->len);
        if (!op->result) {
            PyErr_Clear();
            status = RSHARE_ENOMEM;
        }
    }
    rspy_op_complete(op, status);
}

static void map_done_cb(rshare_node *node, int status, void *user)
{
    (void)node;
    rspy_op_complete(user, status);
}

/* --- rshare.Request ------------------------------------------------------------------ */

static int request_traverse(rspy_request *r, visitproc visit, void *arg)
{
    Py_VISIT(r->node);
    return 0;
}

static int request_clear(rspy_request *r)
{
    Py_CLEAR(r->node);
    return 0;
}

static void request_dealloc(rspy_request *r)
{
    PyObject_GC_UnTrack(r);
    Py_XDECREF(r->node);
    Py_XDECREF(r->data);
    PyObject_GC_Del(r);
}

static int request_live(rspy_request *r)
{
    if (!r->req) {
        PyErr_SetString(PyExc_RuntimeError,
                        r->expects_reply ? "the request was already answered"
                                         : "a notification takes no answer");
        return -1;
    }
    return 0;
}

static PyObject *request_reply(rspy_request *r, PyObject *args)
{
    Py_buffer view = {0};
    if (!PyArg_ParseTuple(args, "|y*", &view))
        return NULL;
    if (request_live(r) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    rshare_request *req = r->req;
    r->req = NULL;
    int rc = rshare_request_reply(req, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    if (rc < 0)
        return rspy_raise_node(r->node ? r->node->node : NULL, rc);
    Py_RETURN_NONE;
}

static PyObject *request_fail(rspy_request *r, PyObject *args)
{
    int code;
    const char *text = NULL;
    if (!PyArg_ParseTuple(args, "i|z", &code, &text))
        return NULL;
    if (request_live(r) < 0)
        return NULL;
    rshare_request *req = r->req;
    r->req = NULL;
    int rc = rshare_request_fail(req, code, text);
    if (rc < 0)
        return rspy_raise_node(r->node ? r->node->node : NULL, rc);
    Py_RETURN_NONE;
}

static PyObject *request_repr(rspy_request *r)
{
    return PyUnicode_FromFormat("<rshare.Request type=0x%04x from node %u, %zd bytes%s>",
                                (unsigned)r->type, (unsigned)r->peer, PyBytes_GET_SIZE(r->data),
                                r->expects_reply ? "" : ", notification");
}

static PyMethodDef request_methods[] = {
    {"reply", (PyCFunction)request_reply, METH_VARARGS,
     "reply(data=b'')\nAnswer the request now (instead of returning the answer)."},
    {"fail", (PyCFunction)request_fail, METH_VARARGS,
     "fail(code, text=None)\nAnswer with an error: the caller gets rshare.RemoteError with\n"
     "remote_code == code (a negative RSHARE_E* code)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef request_members[] = {
    {"peer", T_UINT, offsetof(rspy_request, peer), READONLY, "The sending node's id."},
    {"type", T_USHORT, offsetof(rspy_request, type), READONLY, "The message type."},
    {"data", T_OBJECT, offsetof(rspy_request, data), READONLY, "The body (bytes)."},
    {"expects_reply", T_BOOL, offsetof(rspy_request, expects_reply), READONLY,
     "False for a notification."},
    {NULL, 0, 0, 0, NULL},
};

PyTypeObject rspy_RequestType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rshare.Request",
    .tp_basicsize = sizeof(rspy_request),
    .tp_dealloc = (destructor)request_dealloc,
    .tp_repr = (reprfunc)request_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .tp_traverse = (traverseproc)request_traverse,
    .tp_clear = (inquiry)request_clear,
    .tp_doc = "A received request or notification, passed to a message handler.  It is\n"
              "valid only while the handler runs.",
    .tp_methods = request_methods,
    .tp_members = request_members,
};

/* --- rshare.Node: lifecycle ------------------------------------------------------------ */

static PyObject *node_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    rspy_node *n = (rspy_node *)type->tp_alloc(type, 0);
    if (!n)
        return NULL;
    n->children.next = n->children.prev = &n->children;
    n->handlers = PyDict_New();
    n->registered = PyList_New(0);
    if (!n->handlers || !n->registered) {
        Py_DECREF(n);
        return NULL;
    }
    return (PyObject *)n;
}

/* Node(identity_key=, identity_cert=, authority_public_key=): copied into
 * `out` one after the other, each checked for its size.  0, or -1 with an
 * exception set and `out` wiped. */
#define IDENTITY_BYTES                                                                  \
    (RSHARE_IDENTITY_SECRET_KEY_BYTES + RSHARE_IDENTITY_CERT_BYTES +                    \
     RSHARE_IDENTITY_PUBLIC_KEY_BYTES)
static int read_identity(PyObject *const ident[3], uint8_t out[IDENTITY_BYTES])
{
    static const char *const names[3] = {"identity_key", "identity_cert",
                                         "authority_public_key"};
    static const Py_ssize_t sizes[3] = {RSHARE_IDENTITY_SECRET_KEY_BYTES,
                                        RSHARE_IDENTITY_CERT_BYTES,
                                        RSHARE_IDENTITY_PUBLIC_KEY_BYTES};
    for (int i = 0, off = 0; i < 3; off += (int)sizes[i++]) {
        Py_buffer b;
        if (PyObject_GetBuffer(ident[i], &b, PyBUF_SIMPLE) < 0) {
            memset(out, 0, IDENTITY_BYTES);
            return -1;
        }
        bool right = b.len == sizes[i];
        if (right)
            memcpy(out + off, b.buf, (size_t)b.len);
        PyBuffer_Release(&b);
        if (!right) {
            memset(out, 0, IDENTITY_BYTES);
            PyErr_Format(PyExc_ValueError, "%s must be %zd bytes", names[i], sizes[i]);
            return -1;
        }
    }
    return 0;
}

static int node_init(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", "state_dir", "cluster_key", "slot", "install_order",
                             "request_timeout_ms", "max_message_bytes", "log", "log_level",
                             "identity_key", "identity_cert", "authority_public_key", NULL};
    unsigned long id;
    PyObject *state_dir = Py_None, *key = Py_None, *log = Py_None;
    PyObject *ident[3] = {Py_None, Py_None, Py_None};
    unsigned short slot = 0, install_order = 0;
    unsigned request_timeout_ms = 0, max_message_bytes = 0;
    int log_level = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "k|$OOHHIIOiOOO", kwlist, &id, &state_dir, &key,
                                     &slot, &install_order, &request_timeout_ms,
                                     &max_message_bytes, &log, &log_level, &ident[0], &ident[1],
                                     &ident[2]))
        return -1;
    if (n->node) {
        PyErr_SetString(PyExc_RuntimeError, "Node.__init__ called twice");
        return -1;
    }
    if (id == 0 || id >= 0xFFFFFFFFul) {
        PyErr_SetString(PyExc_ValueError, "id must be in 1 .. 0xFFFFFFFE");
        return -1;
    }
    if (log != Py_None && !PyCallable_Check(log)) {
        PyErr_SetString(PyExc_TypeError, "log must be callable(level, message)");
        return -1;
    }
    if (log_level < 0 || log_level > RSHARE_LOG_DEBUG) {
        PyErr_SetString(PyExc_ValueError, "log_level must be 0 .. 4 (LOG_DEBUG)");
        return -1;
    }
    /* Identity mode: the three together. */
    int ident_given = (ident[0] != Py_None) + (ident[1] != Py_None) + (ident[2] != Py_None);
    if (ident_given != 0 && ident_given != 3) {
        PyErr_SetString(PyExc_ValueError,
                        "identity_key, identity_cert and authority_public_key go together");
        return -1;
    }
    Py_buffer keybuf = {0};
    if (key != Py_None) {
        if (PyObject_GetBuffer(key, &keybuf, PyBUF_SIMPLE) < 0)
            return -1;
        if (keybuf.len != RSHARE_CLUSTER_KEY_BYTES) {
            PyBuffer_Release(&keybuf);
            PyErr_Format(PyExc_ValueError, "cluster_key must be %d bytes",
                         RSHARE_CLUSTER_KEY_BYTES);
            return -1;
        }
    }
    PyObject *dir = NULL;
    if (state_dir != Py_None && !PyUnicode_FSConverter(state_dir, &dir)) {
        PyBuffer_Release(&keybuf);
        return -1;
    }
    if (dir && mkdir(PyBytes_AS_STRING(dir), 0700) < 0 && errno != EEXIST) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, state_dir);
        Py_DECREF(dir);
        PyBuffer_Release(&keybuf);
        return -1;
    }
    uint8_t ident_bytes[IDENTITY_BYTES];
    if (ident_given && read_identity(ident, ident_bytes) < 0) {
        Py_XDECREF(dir);
        PyBuffer_Release(&keybuf);
        return -1;
    }
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = (uint32_t)id;
    cfg.slot = slot;
    cfg.install_order = install_order;
    cfg.cluster_key = keybuf.buf;
    if (ident_given) {
        cfg.identity_secret_key = ident_bytes;
        cfg.identity_cert = ident_bytes + RSHARE_IDENTITY_SECRET_KEY_BYTES;
        cfg.authority_public_key =
            ident_bytes + RSHARE_IDENTITY_SECRET_KEY_BYTES + RSHARE_IDENTITY_CERT_BYTES;
    }
    cfg.state_dir = dir ? PyBytes_AS_STRING(dir) : NULL;
    cfg.request_timeout_ms = request_timeout_ms;
    cfg.max_message_bytes = max_message_bytes;
    if (log != Py_None) { /* else the library's own sink (stderr) */
        cfg.log.write = log_cb;
        cfg.log.user_data = n;
    }
    cfg.log.max_level = (enum rshare_log_level)log_level;
    n->id = (uint32_t)id;
    if (log != Py_None) {
        Py_INCREF(log);
        Py_XSETREF(n->log_cb, log);
    }
    rshare_node *node;
    n->depth++;
    int rc = rshare_node_create(&cfg, &node);
    n->depth--;
    Py_XDECREF(dir);
    PyBuffer_Release(&keybuf);
    memset(ident_bytes, 0, sizeof(ident_bytes)); /* the node keeps its own copy */
    if (rc < 0) {
        rspy_raise(rc, "creating the node");
        return -1;
    }
    n->node = node;
    n->next = registry;
    n->prev = NULL;
    if (registry)
        registry->prev = n;
    registry = n;
    return 0;
}

static int node_traverse(rspy_node *n, visitproc visit, void *arg)
{
    Py_VISIT(n->handlers);
    Py_VISIT(n->cluster_cb);
    Py_VISIT(n->log_cb);
    Py_VISIT(n->registered);
    return 0;
}

static int node_clear(rspy_node *n)
{
    /* Breaks cycles (node -> registered block -> node, handlers that refer
     * to the node).  The library may still call in: the callbacks accept
     * missing handlers. */
    Py_CLEAR(n->handlers);
    Py_CLEAR(n->cluster_cb);
    if (n->registered)
        PyList_SetSlice(n->registered, 0, PyList_GET_SIZE(n->registered), NULL);
    return 0;
}

static void node_dealloc(rspy_node *n)
{
    PyObject_GC_UnTrack(n);
    if (n->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)n);
    rspy_saved_error saved;
    rspy_err_save(&saved);
    n->close_pending = false;
    node_close_now(n);
    rspy_err_restore(&saved);
    Py_CLEAR(n->handlers);
    Py_CLEAR(n->cluster_cb);
    Py_CLEAR(n->log_cb);
    Py_CLEAR(n->registered);
    Py_TYPE(n)->tp_free((PyObject *)n);
}

static PyObject *node_close(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (!n->node)
        Py_RETURN_NONE;
    if (n->depth > 0) {
        n->close_pending = true; /* done when its callbacks return */
        Py_RETURN_NONE;
    }
    node_close_now(n);
    Py_RETURN_NONE;
}

static PyObject *node_enter(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    Py_INCREF(n);
    return (PyObject *)n;
}

static PyObject *node_exit(rspy_node *n, PyObject *args)
{
    (void)args;
    return node_close(n, NULL);
}

static PyObject *node_repr(rspy_node *n)
{
    return PyUnicode_FromFormat("<rshare.Node %u%s>", (unsigned)n->id,
                                n->node ? "" : " (closed)");
}

/* --- transports and the loop --------------------------------------------------------------- */

static PyObject *node_add_udp(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"bind", "mtu", "discovery", "interface", "socket_buffer",
                             "urgent_lane", NULL};
    const char *bind = "127.0.0.1:0", *discovery = NULL, *iface = NULL;
    unsigned mtu = 0, sockbuf = 0;
    int lane = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|s$IzzIp", kwlist, &bind, &mtu, &discovery,
                                     &iface, &sockbuf, &lane))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = bind;
    udp.mtu = mtu;
    udp.discovery_address = discovery;
    udp.interface = iface;
    udp.socket_buffer_bytes = sockbuf;
    udp.urgent_lane = (uint32_t)lane;
    int t = rshare_node_add_udp(n->node, &udp);
    if (t < 0)
        return rspy_raise_node(n->node, t);
    return PyLong_FromLong(t);
}

static PyObject *node_local_address(rspy_node *n, PyObject *args)
{
    int transport = 0;
    if (!PyArg_ParseTuple(args, "|i", &transport))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    char buf[128];
    int rc = rshare_udp_local_address(n->node, transport, buf, sizeof(buf));
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    return PyUnicode_FromStringAndSize(buf, rc);
}

static PyObject *node_add_peer(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", "transport", "address", NULL};
    unsigned long id;
    int transport;
    const char *address;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "kis", kwlist, &id, &transport, &address))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    if (id > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "node id out of range");
        return NULL;
    }
    int rc = rshare_node_add_peer(n->node, (uint32_t)id, transport, address);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    Py_RETURN_NONE;
}

static PyObject *node_fd(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    return PyLong_FromLong(rshare_node_fd(n->node));
}

static PyObject *node_timeout_ms(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    return PyLong_FromLong(rshare_node_timeout_ms(n->node));
}

static PyObject *node_process(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (check_blocking(n) < 0)
        return NULL;
    char detail[256] = "";
    rspy_enter(n);
    int rc = rshare_node_process(n->node);
    if (rc < 0 && n->node)
        snprintf(detail, sizeof(detail), "%s", rshare_node_errmsg(n->node));
    rspy_leave(n);
    if (rc < 0)
        return rspy_raise(rc, detail);
    Py_RETURN_NONE;
}

static PyObject *node_run(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout_ms", NULL};
    int timeout_ms = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|i", kwlist, &timeout_ms))
        return NULL;
    if (check_blocking(n) < 0)
        return NULL;
    /* Wait with the GIL released (in slices, so that Ctrl-C is noticed),
     * then process with it held. */
    uint64_t deadline = timeout_ms >= 0 ? mono_ms() + (uint64_t)timeout_ms : UINT64_MAX;
    for (;;) {
        uint64_t now = mono_ms();
        uint64_t wait = deadline > now ? deadline - now : 0;
        int due = rshare_node_timeout_ms(n->node);
        if (due >= 0 && (uint64_t)due < wait)
            wait = (uint64_t)due;
        int slice = wait > 200 ? 200 : (int)wait;
        struct pollfd p = {.fd = rshare_node_fd(n->node), .events = POLLIN};
        int r, err;
        Py_BEGIN_ALLOW_THREADS
        r = poll(&p, 1, slice);
        err = errno;
        Py_END_ALLOW_THREADS
        if (r < 0 && err != EINTR) {
            errno = err;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        if (PyErr_CheckSignals() < 0)
            return NULL;
        if (rspy_node_check(n) < 0) /* closed by another thread meanwhile */
            return NULL;
        if (r > 0 || (uint64_t)slice >= wait)
            break; /* something to do, or the wait is over */
    }
    return node_process(n, NULL);
}

/* --- messages --------------------------------------------------------------------- */

static PyObject *node_set_handler(rspy_node *n, PyObject *args)
{
    int type;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "iO", &type, &fn))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "a handler is callable(request) or None");
        return NULL;
    }
    if (type < 0 || type > 0xFFFF)
        return rspy_raise(RSHARE_EINVAL, "message types are 16-bit");
    if (!n->handlers && !(n->handlers = PyDict_New()))
        return NULL;
    int rc = rshare_node_set_handler(n->node, (uint16_t)type, fn == Py_None ? NULL : handler_cb,
                                     fn == Py_None ? NULL : n);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    PyObject *key = PyLong_FromLong(type);
    if (!key)
        return NULL;
    if (fn != Py_None) {
        rc = PyDict_SetItem(n->handlers, key, fn);
    } else {
        rc = PyDict_DelItem(n->handlers, key);
        if (rc < 0 && PyErr_ExceptionMatches(PyExc_KeyError)) {
            PyErr_Clear();
            rc = 0;
        }
    }
    Py_DECREF(key);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *node_call(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"peer", "type", "data", "timeout_ms", NULL};
    unsigned long peer;
    int type, timeout_ms = -1;
    Py_buffer data = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ki|y*$i", kwlist, &peer, &type, &data,
                                     &timeout_ms))
        return NULL;
    if (check_blocking(n) < 0 || peer > UINT32_MAX || type < 0 || type > 0xFFFF) {
        if (!PyErr_Occurred())
            rspy_raise(RSHARE_EINVAL, "peer or type out of range");
        PyBuffer_Release(&data);
        return NULL;
    }
    struct rspy_op *op = rspy_op_new();
    if (!op) {
        PyBuffer_Release(&data);
        return NULL;
    }
    int rc = rshare_node_call(n->node, (uint32_t)peer, (uint16_t)type, data.buf,
                              (size_t)data.len, reply_cb, op);
    PyBuffer_Release(&data);
    if (rc < 0) {
        rspy_op_free(op);
        return rspy_raise_node(n->node, rc);
    }
    if (rspy_op_wait(n, op, timeout_ms) < 0)
        return NULL;
    PyObject *result = NULL;
    if (op->status == 0) {
        result = op->result;
        op->result = NULL;
    } else if (op->status == RSHARE_EREMOTE) {
        rspy_raise_remote(op->remote_code, op->result ? PyBytes_AS_STRING(op->result) : NULL,
                          op->result ? (size_t)PyBytes_GET_SIZE(op->result) : 0);
    } else {
        rspy_raise(op->status, NULL);
    }
    rspy_op_free(op);
    return result;
}

static PyObject *node_notify(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"peer", "type", "data", NULL};
    unsigned long peer;
    int type;
    Py_buffer data = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ki|y*", kwlist, &peer, &type, &data))
        return NULL;
    if (rspy_node_check(n) < 0 || peer > UINT32_MAX || type < 0 || type > 0xFFFF) {
        if (!PyErr_Occurred())
            rspy_raise(RSHARE_EINVAL, "peer or type out of range");
        PyBuffer_Release(&data);
        return NULL;
    }
    int rc = rshare_node_notify(n->node, (uint32_t)peer, (uint16_t)type, data.buf,
                                (size_t)data.len);
    PyBuffer_Release(&data);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    Py_RETURN_NONE;
}

/* --- the cluster ---------------------------------------------------------------------- */

static int parse_u32_list(PyObject *seq, uint32_t *out, size_t max, size_t *count,
                          const char *what)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if ((size_t)len > max) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: at most %zu entries", what, max);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned long v = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(fast, i));
        if (PyErr_Occurred() || v > UINT32_MAX) {
            Py_DECREF(fast);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_OverflowError, "%s: value out of range", what);
            return -1;
        }
        out[i] = (uint32_t)v;
    }
    *count = (size_t)len;
    Py_DECREF(fast);
    return 0;
}

static PyObject *node_join_cluster(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"eligible", "voters", "voter_count", "hello_ms",
                             "member_timeout_ms", "election_timeout_ms", "heartbeat_ms",
                             "prefer_install_order", "capabilities", NULL};
    int eligible = 0, prefer = 0;
    PyObject *voters = NULL;
    unsigned voter_count = 0, hello = 0, member_timeout = 0, election = 0, heartbeat = 0;
    unsigned caps = RSHARE_CAP_BLOCK | RSHARE_CAP_VOLUMES;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$pOIIIIIpI", kwlist, &eligible, &voters,
                                     &voter_count, &hello, &member_timeout, &election,
                                     &heartbeat, &prefer, &caps))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    uint32_t ids[64];
    size_t count = 0;
    if (voters && voters != Py_None &&
        parse_u32_list(voters, ids, 64, &count, "voters must be a sequence of node ids") < 0)
        return NULL;
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = (uint32_t)eligible;
    cc.initial_voters = count ? ids : NULL;
    cc.initial_voter_count = (uint32_t)count;
    cc.voters = voter_count;
    cc.hello_interval_ms = hello;
    cc.member_timeout_ms = member_timeout;
    cc.election_timeout_ms = election;
    cc.heartbeat_ms = heartbeat;
    cc.prefer_install_order = (uint32_t)prefer;
    cc.capabilities = caps;
    rspy_enter(n);
    int rc = rshare_cluster_join(n->node, &cc);
    if (rc < 0)
        rspy_raise_node(n->node, rc);
    rspy_leave(n);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *node_set_cluster_callback(rspy_node *n, PyObject *fn)
{
    if (rspy_node_check(n) < 0)
        return NULL;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "callable(event, node_id) or None");
        return NULL;
    }
    int rc = rshare_cluster_set_callback(n->node, fn == Py_None ? NULL : cluster_cb, n);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    Py_XINCREF(fn == Py_None ? NULL : fn);
    Py_XSETREF(n->cluster_cb, fn == Py_None ? NULL : fn);
    Py_RETURN_NONE;
}

static PyObject *node_members(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    size_t count = 0;
    int rc = rshare_cluster_members(n->node, NULL, 0, sizeof(struct rshare_member), &count);
    struct rshare_member *m = NULL;
    if (rc >= 0 && count) {
        m = PyMem_Calloc(count, sizeof(*m));
        if (!m)
            return PyErr_NoMemory();
        rc = rshare_cluster_members(n->node, m, count, sizeof(*m), &count);
    }
    if (rc < 0) {
        PyMem_Free(m);
        return rspy_raise_node(n->node, rc);
    }
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *d = Py_BuildValue(
            "{s:I,s:H,s:H,s:I,s:N,s:N,s:N,s:N,s:N,s:I,s:I}", "id", m[i].id, "slot", m[i].slot,
            "install_order", m[i].install_order, "flags", m[i].flags, "alive",
            PyBool_FromLong(m[i].flags & RSHARE_MEMBER_ALIVE), "eligible",
            PyBool_FromLong(m[i].flags & RSHARE_MEMBER_ELIGIBLE), "voter",
            PyBool_FromLong(m[i].flags & RSHARE_MEMBER_VOTER), "manager",
            PyBool_FromLong(m[i].flags & RSHARE_MEMBER_MANAGER), "self",
            PyBool_FromLong(m[i].flags & RSHARE_MEMBER_SELF), "resources", m[i].resources,
            "capabilities", m[i].capabilities);
        if (!d || PyList_Append(list, d) < 0)
            Py_CLEAR(list);
        Py_XDECREF(d);
    }
    PyMem_Free(m);
    return list;
}

static PyObject *node_force_alone(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    char detail[256] = "";
    rspy_enter(n);
    int rc = rshare_cluster_force_alone(n->node);
    if (rc < 0)
        snprintf(detail, sizeof(detail), "%s", rshare_node_errmsg(n->node));
    rspy_leave(n);
    if (rc < 0)
        return rspy_raise(rc, detail);
    Py_RETURN_NONE;
}

static PyObject *node_get_manager(rspy_node *n, void *closure)
{
    (void)closure;
    if (rspy_node_check(n) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(rshare_cluster_manager(n->node));
}

static PyObject *node_get_map_version(rspy_node *n, void *closure)
{
    (void)closure;
    if (rspy_node_check(n) < 0)
        return NULL;
    uint32_t epoch = 0;
    uint64_t version = 0;
    int rc = rshare_cluster_map_version(n->node, &epoch, &version);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    return Py_BuildValue("(IK)", epoch, (unsigned long long)version);
}

/* --- resources ----------------------------------------------------------------------- */

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case RSHARE_RESOURCE_BLOCK: return "block";
    case RSHARE_RESOURCE_KEYBOARD: return "keyboard";
    case RSHARE_RESOURCE_POINTER: return "pointer";
    case RSHARE_RESOURCE_DISPLAY: return "display";
    default: return "unknown";
    }
}

static PyObject *resource_dict(const struct rshare_resource_desc *d)
{
    return Py_BuildValue("{s:K,s:I,s:s,s:I,s:I,s:I,s:I,s:K,s:I,s:I,s:I,s:s,s:s,s:s}", "id",
                         (unsigned long long)d->id, "kind", d->kind, "kind_name",
                         kind_name(d->kind), "host", d->host, "rights", d->rights, "flags",
                         d->flags, "block_size", d->block_size, "block_count",
                         (unsigned long long)d->block_count, "width", d->width, "height",
                         d->height, "pixel_format", d->pixel_format, "path", d->path, "model",
                         d->model, "serial", d->serial);
}

static PyObject *node_resources(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"local", NULL};
    int local = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &local))
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    size_t count = 0;
    const size_t sz = sizeof(struct rshare_resource_desc);
    int rc = rshare_resource_list(n->node, local, NULL, 0, sz, &count);
    struct rshare_resource_desc *d = NULL;
    if (rc >= 0 && count) {
        d = PyMem_Calloc(count, sz);
        if (!d)
            return PyErr_NoMemory();
        rc = rshare_resource_list(n->node, local, d, count, sz, &count);
    }
    if (rc < 0) {
        PyMem_Free(d);
        return rspy_raise_node(n->node, rc);
    }
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *item = resource_dict(&d[i]);
        if (!item || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    PyMem_Free(d);
    return list;
}

static int copy_text(char *dst, size_t cap, const char *src, const char *what)
{
    if (!src)
        return 0;
    if (strlen(src) >= cap) {
        PyErr_Format(PyExc_ValueError, "%s is longer than %zu bytes", what, cap - 1);
        return -1;
    }
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static PyObject *node_register_block(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"block", "path", "rights", "flags", "model", "serial", NULL};
    PyObject *obj;
    const char *path = NULL, *model = NULL, *serial = NULL;
    unsigned rights = RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE, flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|z$IIzz", kwlist, &rspy_BlockType, &obj,
                                     &path, &rights, &flags, &model, &serial))
        return NULL;
    rspy_block *b = (rspy_block *)obj;
    if (rspy_node_check(n) < 0)
        return NULL;
    if (!b->child.handle) {
        PyErr_SetString(rspy_Closed, "the block is closed");
        return NULL;
    }
    if (b->owner != n)
        return rspy_raise(RSHARE_EINVAL, "the block belongs to another node");
    if (b->resource_id)
        return rspy_raise(RSHARE_EEXIST, "the block is already registered");
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    d.rights = rights;
    d.flags = flags;
    if (path) {
        if (copy_text(d.path, sizeof(d.path), path, "path") < 0)
            return NULL;
    } else if (b->path) {
        const char *p = PyUnicode_AsUTF8(b->path);
        if (!p || copy_text(d.path, sizeof(d.path), p, "the file's path") < 0)
            return NULL;
    } else {
        snprintf(d.path, sizeof(d.path), "python-block-%u", ++n->next_block_name);
    }
    if (copy_text(d.model, sizeof(d.model), model, "model") < 0 ||
        copy_text(d.serial, sizeof(d.serial), serial, "serial") < 0)
        return NULL;
    uint64_t id = 0;
    int rc = rshare_resource_register_block(n->node, &d, b->child.handle, &id);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    b->resource_id = id;
    /* The block must outlive its registration: the node keeps it. */
    if (PyList_Append(n->registered, obj) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(id);
}

static PyObject *node_withdraw(rspy_node *n, PyObject *arg)
{
    unsigned long long id = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    if (rspy_node_check(n) < 0)
        return NULL;
    int rc = rshare_resource_withdraw(n->node, id);
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
    /* Forget the Block that served it (it stays open). */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(n->registered); i++) {
        rspy_block *b = (rspy_block *)PyList_GET_ITEM(n->registered, i);
        if (b->resource_id == id) {
            b->resource_id = 0;
            PySequence_DelItem(n->registered, i);
            break;
        }
    }
    Py_RETURN_NONE;
}

/* --- volumes and KVM routes in the map ------------------------------------------------- */

static const char *const layout_names[] = {NULL, "linear", "raid0", "raid1", "raid5", "raid10"};

static PyObject *volume_desc_dict(const struct rshare_volume_desc *v)
{
    PyObject *members = rspy_u64_list(v->members, v->member_count);
    PyObject *spares = rspy_u64_list(v->spares, v->spare_count);
    PyObject *states = PyList_New(v->member_count);
    for (uint32_t i = 0; states && i < v->member_count; i++) {
        PyObject *s = PyLong_FromUnsignedLong(v->member_state[i]);
        if (!s)
            Py_CLEAR(states);
        else
            PyList_SET_ITEM(states, i, s);
    }
    if (!members || !spares || !states) {
        Py_XDECREF(members);
        Py_XDECREF(spares);
        Py_XDECREF(states);
        return NULL;
    }
    const char *layout = v->layout >= 1 && v->layout <= 5 ? layout_names[v->layout] : "unknown";
    return Py_BuildValue("{s:I,s:s,s:s,s:I,s:I,s:K,s:N,s:N,s:N,s:K,s:K}", "id", v->id, "name",
                         v->name, "layout", layout, "algorithm", v->algorithm, "chunk_sectors",
                         v->chunk_sectors, "chunk", (unsigned long long)v->chunk_sectors * 512u,
                         "members", members, "spares", spares, "member_state", states,
                         "generation", (unsigned long long)v->generation, "component_sectors",
                         (unsigned long long)v->component_sectors);
}

/* The map's volume list (PyMem buffer) or NULL with an exception. */
static struct rshare_volume_desc *list_volumes(rspy_node *n, size_t *count)
{
    const size_t sz = sizeof(struct rshare_volume_desc);
    *count = 0;
    int rc = rshare_volume_list(n->node, NULL, 0, sz, count);
    struct rshare_volume_desc *v = PyMem_Calloc(*count ? *count : 1, sz);
    if (!v)
        return (struct rshare_volume_desc *)PyErr_NoMemory();
    if (rc >= 0 && *count)
        rc = rshare_volume_list(n->node, v, *count, sz, count);
    if (rc < 0) {
        PyMem_Free(v);
        rspy_raise_node(n->node, rc);
        return NULL;
    }
    return v;
}

static PyObject *node_volumes(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    size_t count;
    struct rshare_volume_desc *v = list_volumes(n, &count);
    if (!v)
        return NULL;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *d = volume_desc_dict(&v[i]);
        if (!d || PyList_Append(list, d) < 0)
            Py_CLEAR(list);
        Py_XDECREF(d);
    }
    PyMem_Free(v);
    return list;
}

/* A resource id from an int or an object with `resource_id` (a Block). */
static int resource_id_of(PyObject *obj, uint64_t *out)
{
    PyObject *v = PyLong_Check(obj) ? (Py_INCREF(obj), obj)
                                    : PyObject_GetAttrString(obj, "resource_id");
    if (!v)
        return -1;
    unsigned long long id = PyLong_AsUnsignedLongLong(v);
    Py_DECREF(v);
    if (PyErr_Occurred())
        return -1;
    if (!id) {
        rspy_raise(RSHARE_EINVAL, "a member is a block that was not registered");
        return -1;
    }
    *out = id;
    return 0;
}

static int parse_ids(PyObject *seq, uint64_t *out, size_t max, uint32_t *count,
                     const char *what)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if ((size_t)len > max) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: at most %zu entries", what, max);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        if (resource_id_of(PySequence_Fast_GET_ITEM(fast, i), &out[i]) < 0) {
            Py_DECREF(fast);
            return -1;
        }
    }
    *count = (uint32_t)len;
    Py_DECREF(fast);
    return 0;
}

static int parse_layout(PyObject *obj, uint32_t *out)
{
    if (PyLong_Check(obj)) {
        long v = PyLong_AsLong(obj);
        if (PyErr_Occurred())
            return -1;
        *out = (uint32_t)v;
        return 0;
    }
    const char *s = PyUnicode_Check(obj) ? PyUnicode_AsUTF8(obj) : NULL;
    if (!s) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "layout is a name ('raid1') or LAYOUT_* constant");
        return -1;
    }
    for (uint32_t i = 1; i <= 5; i++)
        if (strcmp(s, layout_names[i]) == 0) {
            *out = i;
            return 0;
        }
    PyErr_Format(PyExc_ValueError, "unknown layout %R (linear, raid0, raid1, raid5, raid10)",
                 obj);
    return -1;
}

static int has_manager(void *arg)
{
    rspy_node *n = arg;
    return n->node && rshare_cluster_manager(n->node) != 0;
}

/* Start a map change with `start`, wait for its commit. */
static int map_change(rspy_node *n, int timeout_ms,
                      int (*start)(rspy_node *n, void *arg, struct rspy_op *op), void *arg)
{
    uint64_t t0 = mono_ms();
    int r = rspy_drive(n, has_manager, n, timeout_ms);
    if (r < 0)
        return -1;
    if (r == 0) {
        rspy_raise(RSHARE_ETIMEDOUT, "no manager was found (check peers, the key, join_cluster)");
        return -1;
    }
    if (timeout_ms >= 0) {
        uint64_t spent = mono_ms() - t0;
        timeout_ms = spent >= (uint64_t)timeout_ms ? 0 : timeout_ms - (int)spent;
    }
    struct rspy_op *op = rspy_op_new();
    if (!op)
        return -1;
    rspy_enter(n);
    int rc = start(n, arg, op);
    if (rc < 0)
        rspy_raise_node(n->node, rc);
    rspy_leave(n);
    if (rc < 0) {
        rspy_op_free(op);
        return -1;
    }
    if (rspy_op_wait(n, op, timeout_ms) < 0)
        return -1;
    rc = op->status;
    rspy_op_free(op);
    if (rc < 0) {
        rspy_raise_node(n->node, rc);
        return -1;
    }
    return 0;
}

static int start_define(rspy_node *n, void *arg, struct rspy_op *op)
{
    return rshare_volume_define(n->node, arg, map_done_cb, op);
}

static PyObject *node_define_volume(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name",      "layout",      "members", "chunk", "spares",
                             "algorithm", "generation", "id", "timeout_ms", NULL};
    const char *name;
    PyObject *layout_obj, *members, *spares = NULL;
    unsigned long long chunk = 0, generation = 0;
    PyObject *algorithm_obj = Py_None; /* None: the layout's default */
    unsigned id = 0;
    int timeout_ms = 30000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sOO|$KOOKIi", kwlist, &name, &layout_obj,
                                     &members, &chunk, &spares, &algorithm_obj, &generation, &id,
                                     &timeout_ms))
        return NULL;
    if (check_blocking(n) < 0)
        return NULL;
    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    v.id = id;
    v.generation = generation;
    if (copy_text(v.name, sizeof(v.name), name, "name") < 0 ||
        parse_layout(layout_obj, &v.layout) < 0 ||
        parse_ids(members, v.members, RSHARE_VOLUME_MEMBERS_MAX, &v.member_count,
                  "members must be a sequence of resource ids or registered Blocks") < 0 ||
        (spares && spares != Py_None &&
         parse_ids(spares, v.spares, RSHARE_VOLUME_SPARES_MAX, &v.spare_count,
                   "spares must be a sequence of resource ids or registered Blocks") < 0))
        return NULL;
    if (chunk % 512 || chunk / 512 > UINT32_MAX)
        return rspy_raise(RSHARE_EINVAL, "chunk is in bytes, a multiple of 512");
    if (!chunk && (v.layout == RSHARE_LAYOUT_RAID0 || v.layout == RSHARE_LAYOUT_RAID5 ||
                   v.layout == RSHARE_LAYOUT_RAID10))
        chunk = 512 * 1024; /* md's default */
    v.chunk_sectors = (uint32_t)(chunk / 512);
    if (algorithm_obj == Py_None) {
        v.algorithm = v.layout == RSHARE_LAYOUT_RAID5 ? RSHARE_RAID5_LEFT_SYMMETRIC : 0;
    } else {
        unsigned long a = PyLong_AsUnsignedLong(algorithm_obj);
        if (PyErr_Occurred())
            return NULL;
        v.algorithm = (uint32_t)a;
    }
    if (map_change(n, timeout_ms, start_define, &v) < 0)
        return NULL;
    size_t count;
    struct rshare_volume_desc *list = list_volumes(n, &count);
    if (!list)
        return NULL;
    uint32_t found = 0;
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i].name, name) == 0)
            found = list[i].id;
    PyMem_Free(list);
    return PyLong_FromUnsignedLong(found);
}

static int start_undefine(rspy_node *n, void *arg, struct rspy_op *op)
{
    return rshare_volume_undefine(n->node, *(uint32_t *)arg, map_done_cb, op);
}

static PyObject *node_undefine_volume(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"volume", "timeout_ms", NULL};
    PyObject *which;
    int timeout_ms = 30000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$i", kwlist, &which, &timeout_ms))
        return NULL;
    if (check_blocking(n) < 0)
        return NULL;
    uint32_t id = 0;
    if (PyUnicode_Check(which)) {
        const char *name = PyUnicode_AsUTF8(which);
        size_t count;
        struct rshare_volume_desc *list = name ? list_volumes(n, &count) : NULL;
        if (!list)
            return NULL;
        for (size_t i = 0; i < count; i++)
            if (strcmp(list[i].name, name) == 0)
                id = list[i].id;
        PyMem_Free(list);
        if (!id)
            return rspy_raise(RSHARE_ENOENT, "no volume of that name in the map");
    } else {
        unsigned long v = PyLong_AsUnsignedLong(which);
        if (PyErr_Occurred())
            return NULL;
        id = (uint32_t)v;
    }
    if (map_change(n, timeout_ms, start_undefine, &id) < 0)
        return NULL;
    Py_RETURN_NONE;
}

struct route_arg {
    uint64_t resource;
    uint32_t target;
};

static int start_route(rspy_node *n, void *arg, struct rspy_op *op)
{
    struct route_arg *r = arg;
    return rshare_kvm_route_set(n->node, r->resource, r->target, map_done_cb, op);
}

static PyObject *node_set_kvm_route(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"resource", "target", "timeout_ms", NULL};
    struct route_arg r;
    unsigned long long resource;
    unsigned target;
    int timeout_ms = 30000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "KI|$i", kwlist, &resource, &target,
                                     &timeout_ms))
        return NULL;
    if (check_blocking(n) < 0)
        return NULL;
    r.resource = resource;
    r.target = target;
    if (map_change(n, timeout_ms, start_route, &r) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *node_kvm_routes(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    const size_t sz = sizeof(struct rshare_kvm_route);
    size_t count = 0;
    int rc = rshare_kvm_route_list(n->node, NULL, 0, sz, &count);
    struct rshare_kvm_route *r = PyMem_Calloc(count ? count : 1, sz);
    if (!r)
        return PyErr_NoMemory();
    if (rc >= 0 && count)
        rc = rshare_kvm_route_list(n->node, r, count, sz, &count);
    if (rc < 0) {
        PyMem_Free(r);
        return rspy_raise_node(n->node, rc);
    }
    PyObject *dict = PyDict_New();
    for (size_t i = 0; dict && i < count; i++) {
        PyObject *k = PyLong_FromUnsignedLongLong(r[i].resource);
        PyObject *t = PyLong_FromUnsignedLong(r[i].target);
        if (!k || !t || PyDict_SetItem(dict, k, t) < 0)
            Py_CLEAR(dict);
        Py_XDECREF(k);
        Py_XDECREF(t);
    }
    PyMem_Free(r);
    return dict;
}

/* --- statistics, waiting, properties --------------------------------------------------- */

static PyObject *node_stats(rspy_node *n, PyObject *unused)
{
    (void)unused;
    if (rspy_node_check(n) < 0)
        return NULL;
    struct rshare_node_stats s;
    int rc = rshare_node_stats(n->node, &s, sizeof(s));
    if (rc < 0)
        return rspy_raise_node(n->node, rc);
#define F(f) RSPY_FIELD(struct rshare_node_stats, f)
    static const struct rspy_field fields[] = {
        F(tx_packets), F(tx_bytes), F(tx_errors), F(rx_packets), F(rx_bytes), F(rx_truncated),
        F(rx_bad_version), F(rx_malformed), F(rx_oversized), F(rx_auth_failed), F(rx_replayed),
        F(rx_unprotected), F(rx_misaddressed), F(rx_spoofed), F(rx_peer_limit), F(retransmits),
        F(transfers_failed), F(reassembly_timeouts), F(reassembly_overflows), F(msgs_sent),
        F(msgs_received), F(msgs_malformed), F(requests_retried), F(requests_timed_out),
        F(duplicates_replayed), F(requests_stale), F(unhandled), F(requests_map_stale),
        F(rx_urgent_lane), F(rx_identity_refused), F(rx_no_pair), F(handshakes),
    };
#undef F
    PyObject *d = PyDict_New();
    if (d && rspy_dict_set_fields(d, &s, fields, sizeof(fields) / sizeof(fields[0])) < 0)
        Py_CLEAR(d);
    return d;
}

static int call_predicate(void *arg)
{
    PyObject *r = PyObject_CallNoArgs((PyObject *)arg);
    if (!r)
        return -1;
    int truth = PyObject_IsTrue(r);
    Py_DECREF(r);
    return truth;
}

/* Shared by Node.wait() and rshare.wait(). */
PyObject *rspy_wait(rspy_node *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"predicate", "timeout_ms", NULL};
    PyObject *pred;
    int timeout_ms = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i", kwlist, &pred, &timeout_ms))
        return NULL;
    if (!PyCallable_Check(pred)) {
        PyErr_SetString(PyExc_TypeError, "predicate must be callable()");
        return NULL;
    }
    int r = rspy_drive(n, call_predicate, pred, timeout_ms);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *node_get_id(rspy_node *n, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(n->id);
}

static PyObject *node_get_closed(rspy_node *n, void *closure)
{
    (void)closure;
    return PyBool_FromLong(!n->node || n->close_pending);
}

static PyObject *node_get_errmsg(rspy_node *n, void *closure)
{
    (void)closure;
    if (rspy_node_check(n) < 0)
        return NULL;
    const char *m = rshare_node_errmsg(n->node);
    return PyUnicode_DecodeUTF8(m, (Py_ssize_t)strlen(m), "replace");
}

static PyObject *node_get_now_us(rspy_node *n, void *closure)
{
    (void)closure;
    if (rspy_node_check(n) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(rshare_node_now_us(n->node));
}

static PyMethodDef node_methods[] = {
    {"close", (PyCFunction)node_close, METH_NOARGS,
     "close()\nClose every Volume, Kvm and Block of the node, then the node.  Pending\n"
     "calls complete with ShutDown.  From inside a callback the close happens when\n"
     "the library returns.  Idempotent."},
    {"__enter__", (PyCFunction)node_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)node_exit, METH_VARARGS, NULL},
    {"add_udp", (PyCFunction)(void (*)(void))node_add_udp, METH_VARARGS | METH_KEYWORDS,
     "add_udp(bind='127.0.0.1:0', *, mtu=0, discovery=None, interface=None,\n"
     "        socket_buffer=0, urgent_lane=False) -> transport index\n"
     "Open a UDP socket ('1.2.3.4:port', '[::1]:port'; port 0: any); urgent_lane:\n"
     "a second socket for urgent packets (KVM input), learned by peers."},
    {"add_serial", (PyCFunction)(void (*)(void))rspy_node_add_serial,
     METH_VARARGS | METH_KEYWORDS,
     "add_serial(device=None, *, fd=-1, eid, baud=0, rtscts=False, multidrop=False,\n"
     "           address=0, turnaround=0, echo=False, nodes=0, packet_payload=0,\n"
     "           message_size=0, allow_set_eid=False) -> transport index\n"
     "MCTP over a serial line: a terminal device ('/dev/ttyS1') or an open one (fd,\n"
     "e.g. a pty master).  eid: this endpoint's MCTP id, 8..254.  Peers are then\n"
     "added with add_peer(id, transport, str(their_eid))."},
    {"add_smbus", (PyCFunction)(void (*)(void))rspy_node_add_smbus,
     METH_VARARGS | METH_KEYWORDS,
     "add_smbus(i2c_device, mqueue_path, *, address, eid, block_mode=0, retries=0,\n"
     "          retry_delay_us=0, packets_per_turn=0, bus_hz=0, message_size=0,\n"
     "          allow_set_eid=False) -> transport index\n"
     "MCTP over SMBus: the i2c-dev adapter that sends ('/dev/i2c-3') and the\n"
     "slave-mqueue file of our 7-bit address (0x08..0x77) on the same bus."},
    {"mctp_eid", (PyCFunction)rspy_node_mctp_eid, METH_VARARGS,
     "mctp_eid(transport) -> int\nThis endpoint's current MCTP id on an MCTP transport."},
    {"mctp_set_neighbour", (PyCFunction)rspy_node_mctp_set_neighbour, METH_VARARGS,
     "mctp_set_neighbour(transport, eid, address)\nWhere MCTP endpoint eid lives on the link:\n"
     "'0x1d' on SMBus, '3' on an RS-485 bus, '' on a point-to-point line."},
    {"local_address", (PyCFunction)node_local_address, METH_VARARGS,
     "local_address(transport=0) -> str\nThe address a UDP transport is bound to."},
    {"add_peer", (PyCFunction)(void (*)(void))node_add_peer, METH_VARARGS | METH_KEYWORDS,
     "add_peer(id, transport, address)\nTell the node where a peer is."},
    {"fd", (PyCFunction)node_fd, METH_NOARGS,
     "fd() -> int\nOne descriptor to poll for readability (transports and timers)."},
    {"timeout_ms", (PyCFunction)node_timeout_ms, METH_NOARGS,
     "timeout_ms() -> int\nMilliseconds until process() is next due, -1 if nothing is."},
    {"process", (PyCFunction)node_process, METH_NOARGS,
     "process()\nDo all pending work of this node without blocking (callbacks run here)."},
    {"run", (PyCFunction)(void (*)(void))node_run, METH_VARARGS | METH_KEYWORDS,
     "run(timeout_ms=-1)\nWait up to timeout_ms for work of this node (GIL released), then\n"
     "process it.  Drives this node only; rshare.run() drives them all."},
    {"set_handler", (PyCFunction)node_set_handler, METH_VARARGS,
     "set_handler(type, fn)\nHandle requests and notifications of an application type\n"
     "(0x8000..0xFFFF): fn(request) returns the reply (bytes-like or None for an empty\n"
     "one) or raises: an rshare.Error answers with its code; any other exception is\n"
     "reported (sys.unraisablehook) and answered with RSHARE_EIO.  fn None removes it."},
    {"call", (PyCFunction)(void (*)(void))node_call, METH_VARARGS | METH_KEYWORDS,
     "call(peer, type, data=b'', *, timeout_ms=-1) -> bytes\n"
     "Send a request and wait for the reply (driving every node of the process).\n"
     "A peer's error answer raises RemoteError (remote_code: the peer's code)."},
    {"notify", (PyCFunction)(void (*)(void))node_notify, METH_VARARGS | METH_KEYWORDS,
     "notify(peer, type, data=b'')\nSend a notification (no reply, no retry)."},
    {"join_cluster", (PyCFunction)(void (*)(void))node_join_cluster,
     METH_VARARGS | METH_KEYWORDS,
     "join_cluster(*, eligible=False, voters=(), voter_count=0, hello_ms=0,\n"
     "             member_timeout_ms=0, election_timeout_ms=0, heartbeat_ms=0,\n"
     "             prefer_install_order=False, capabilities=CAP_BLOCK|CAP_VOLUMES)\n"
     "Start discovery and the map.  `voters` are the initial voters (the same list on\n"
     "each of them); eligible nodes need a state_dir.  0 means the library's default."},
    {"set_cluster_callback", (PyCFunction)node_set_cluster_callback, METH_O,
     "set_cluster_callback(fn)\nfn(event, node_id) for EVENT_MEMBER_UP/DOWN, EVENT_MANAGER,\n"
     "EVENT_MAP; None removes it."},
    {"members", (PyCFunction)node_members, METH_NOARGS,
     "members() -> list of dict\nThe members this node knows, itself included."},
    {"force_alone", (PyCFunction)node_force_alone, METH_NOARGS,
     "force_alone()\nDANGEROUS operator override: continue the map as its only voter\n"
     "(rshare_cluster_force_alone)."},
    {"resources", (PyCFunction)(void (*)(void))node_resources, METH_VARARGS | METH_KEYWORDS,
     "resources(local=False) -> list of dict\nThe resources of the map (or this node's)."},
    {"register_block", (PyCFunction)(void (*)(void))node_register_block,
     METH_VARARGS | METH_KEYWORDS,
     "register_block(block, path=None, *, rights=RIGHT_READ|RIGHT_WRITE, flags=0,\n"
     "               model=None, serial=None) -> resource id\n"
     "Share a Block of this node with the cluster.  `path` names it on the node\n"
     "(default: the file's path, or python-block-N).  The node keeps the Block."},
    {"withdraw", (PyCFunction)node_withdraw, METH_O,
     "withdraw(resource_id)\nStop sharing a resource (the Block stays open)."},
    {"define_volume", (PyCFunction)(void (*)(void))node_define_volume,
     METH_VARARGS | METH_KEYWORDS,
     "define_volume(name, layout, members, *, chunk=0, spares=(), algorithm=None,\n"
     "              generation=0, id=0, timeout_ms=30000) -> id\n"
     "Define (or, with id, redefine) a volume in the map and wait until this node's\n"
     "copy holds it.  layout: 'linear', 'raid0', 'raid1', 'raid5', 'raid10' or a\n"
     "LAYOUT_* constant; members and spares: resource ids or registered Blocks;\n"
     "chunk in bytes (default 512 KiB for RAID-0/5/10); algorithm: RAID5_* (default\n"
     "left-symmetric, md's), RAID-5 only.  Waits for a manager first."},
    {"undefine_volume", (PyCFunction)(void (*)(void))node_undefine_volume,
     METH_VARARGS | METH_KEYWORDS,
     "undefine_volume(volume, *, timeout_ms=30000)\nRemove a volume (name or id) from the map."},
    {"volumes", (PyCFunction)node_volumes, METH_NOARGS,
     "volumes() -> list of dict\nThe volume definitions in this node's copy of the map."},
    {"set_kvm_route", (PyCFunction)(void (*)(void))node_set_kvm_route,
     METH_VARARGS | METH_KEYWORDS,
     "set_kvm_route(resource, target, *, timeout_ms=30000)\nRoute a keyboard, pointer or\n"
     "display resource to a node (0 removes the route) and wait for the commit."},
    {"kvm_routes", (PyCFunction)node_kvm_routes, METH_NOARGS,
     "kvm_routes() -> dict\n{resource id: target node id} from the map."},
    {"stats", (PyCFunction)node_stats, METH_NOARGS, "stats() -> dict\nThe node's counters."},
    {"wait", (PyCFunction)(void (*)(void))rspy_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(predicate, timeout_ms=-1) -> bool\nDrive every node of the process until\n"
     "predicate() is true (True) or the time is up (False)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef node_getset[] = {
    {"id", (getter)node_get_id, NULL, "The node id.", NULL},
    {"closed", (getter)node_get_closed, NULL, "True once close() was called.", NULL},
    {"manager", (getter)node_get_manager, NULL, "The manager's id, 0 while there is none.",
     NULL},
    {"map_version", (getter)node_get_map_version, NULL,
     "(epoch, version) of this node's copy of the map.", NULL},
    {"errmsg", (getter)node_get_errmsg, NULL, "Details of the node's last error.", NULL},
    {"now_us", (getter)node_get_now_us, NULL, "The node's clock, in microseconds.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject rspy_NodeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rshare.Node",
    .tp_basicsize = sizeof(rspy_node),
    .tp_dealloc = (destructor)node_dealloc,
    .tp_repr = (reprfunc)node_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Node(id, *, state_dir=None, cluster_key=None, slot=0, install_order=0,\n"
              "     request_timeout_ms=0, max_message_bytes=0, log=None, log_level=0,\n"
              "     identity_key=None, identity_cert=None, authority_public_key=None)\n\n"
              "One rshare node.  cluster_key: 32 bytes (None: unprotected); identity_key\n"
              "(64 bytes), identity_cert (104) and authority_public_key (32) together put\n"
              "the node in identity mode (rshare.identity_keygen, identity_certify);\n"
              "state_dir is created if missing; log: callable(level, message) replacing the default\n"
              "stderr sink; log_level: the most detailed level passed on (LOG_*).  0\n"
              "means the library's default everywhere.  Use it from one thread at a time;\n"
              "see doc/PYTHON.md for the threading rule.",
    .tp_traverse = (traverseproc)node_traverse,
    .tp_clear = (inquiry)node_clear,
    .tp_weaklistoffset = offsetof(rspy_node, weakrefs),
    .tp_methods = node_methods,
    .tp_getset = node_getset,
    .tp_init = (initproc)node_init,
    .tp_new = node_new,
};

int rspy_node_converter(PyObject *obj, void *out)
{
    if (!PyObject_TypeCheck(obj, &rspy_NodeType)) {
        PyErr_Format(PyExc_TypeError, "expected an rshare.Node, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return 0;
    }
    if (rspy_node_check((rspy_node *)obj) < 0)
        return 0;
    *(rspy_node **)out = (rspy_node *)obj;
    return 1;
}

int rspy_node_init_types(PyObject *module)
{
    if (PyType_Ready(&rspy_NodeType) < 0 || PyType_Ready(&rspy_RequestType) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "Node", (PyObject *)&rspy_NodeType) < 0 ||
        PyModule_AddObjectRef(module, "Request", (PyObject *)&rspy_RequestType) < 0)
        return -1;
    return 0;
}
