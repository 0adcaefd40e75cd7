/* rshare Python bindings — what the module's files share.
 *
 * The extension is split by concept: rshare_module.c (module, constants,
 * module-level functions), errors.c (exceptions carrying rshare's codes),
 * node.c (Node, messages, cluster, the loop that drives nodes), transports.c
 * (the serial and SMBus transports of a Node), storage.c
 * (Block, Volume), kvm.c (Kvm) and identity.c (node keys and
 * certificates).  It is compiled against the public
 * headers only.
 *
 * Rules every file follows (doc/PYTHON.md explains them to users):
 *
 * - The GIL is held during every rshare call.  rshare is single-threaded
 *   and runs Python callbacks from inside its calls, so the GIL is what
 *   serialises the library; it is released only around poll(2), never
 *   inside rshare.
 * - Every object (Block, Volume, Kvm) holds a strong reference to its Node
 *   and is linked into the node's list of children, so that closing the
 *   node first closes them; a closed object raises rshare.Closed.
 * - `depth` counts the rshare calls of a node that are on the C stack and
 *   may run callbacks.  While it is non-zero nothing of the node is
 *   destroyed: closes are deferred to the "graveyard" and done when the
 *   outermost call returns (rspy_leave), and blocking waits on that node
 *   are refused (they could never complete).
 * - Objects with callbacks keep them in small heap contexts whose lifetime
 *   is the rshare handle's, not the Python object's: a deferred close may
 *   run callbacks after the Python object is gone.
 * - Operations waited for (calls, I/O, map changes) live in heap `rspy_op`
 *   records: when the wait is abandoned (timeout, KeyboardInterrupt) the
 *   record is "orphaned" and freed by the completion that rshare always
 *   delivers later. */
#ifndef RSHARE_PYTHON_H
#define RSHARE_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <rshare/rshare.h>

#include <stdbool.h>
#include <stdint.h>

/* --- errors (errors.c) ------------------------------------------------------ */

/* Keep an exception aside while cleanup code that may call Python runs
 * (PyErr_Fetch is deprecated from 3.12 on). */
typedef struct {
    PyObject *type, *value, *tb;
} rspy_saved_error;

static inline void rspy_err_save(rspy_saved_error *s)
{
#if PY_VERSION_HEX >= 0x030C0000
    s->type = s->tb = NULL;
    s->value = PyErr_GetRaisedException();
#else
    PyErr_Fetch(&s->type, &s->value, &s->tb);
    PyErr_NormalizeException(&s->type, &s->value, &s->tb);
#endif
}

static inline void rspy_err_restore(rspy_saved_error *s)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(s->value);
#else
    PyErr_Restore(s->type, s->value, s->tb);
#endif
}

static inline void rspy_err_drop(rspy_saved_error *s)
{
    Py_XDECREF(s->type);
    Py_XDECREF(s->value);
    Py_XDECREF(s->tb);
}

/* The exception classes: rshare.Error and one subclass per code. */
extern PyObject *rspy_Error;
extern PyObject *rspy_Closed;
extern PyObject *rspy_RemoteError;

int rspy_errors_init(PyObject *module);
/* Raise the exception for `code` (negative) with an optional detail text;
 * returns NULL for convenience. */
PyObject *rspy_raise(int code, const char *detail);
/* The same with the node's last error message as the detail. */
PyObject *rspy_raise_node(rshare_node *node, int code);
/* Raise rshare.RemoteError for a peer's error answer. */
PyObject *rspy_raise_remote(int remote_code, const void *text, size_t len);
/* The code to answer a request with for the current exception (an
 * rshare.Error's code, RSHARE_EIO otherwise). */
int rspy_code_of_exception(PyObject *exc);
/* Report the current exception raised by a callback (sys.unraisablehook)
 * without losing an exception that was already being raised. */
void rspy_report_callback_error(PyObject *callback);
/* rshare.error(code, message=None). */
PyObject *rspy_error_factory(PyObject *self, PyObject *args, PyObject *kw);

/* --- nodes (node.c) --------------------------------------------------------- */

enum rspy_kind { RSPY_BLOCK = 1, RSPY_VOLUME = 2, RSPY_KVM = 3 };

/* Embedded in every object that belongs to a node. */
struct rspy_child {
    struct rspy_child *next, *prev;
    enum rspy_kind kind;
    void *handle;          /* rshare_block / rshare_volume / rshare_kvm, NULL once closed */
    void *ctx;             /* the heap context of its callbacks, or NULL */
};

/* A close waiting for the node's callbacks to return. */
struct rspy_grave {
    struct rspy_grave *next;
    enum rspy_kind kind;
    void *handle;
    void *ctx;
};

typedef struct rspy_node {
    PyObject_HEAD
    rshare_node *node;            /* NULL once closed */
    uint32_t id;
    PyObject *handlers;           /* dict: message type -> callable */
    PyObject *cluster_cb;         /* callable(event, node_id) or NULL */
    PyObject *log_cb;             /* callable(level, message) or NULL */
    PyObject *registered;         /* list of Blocks shared as resources */
    struct rspy_child children;   /* list head of open objects */
    struct rspy_grave *graveyard;
    int depth;
    bool close_pending;
    bool settling;                /* running the deferred closes */
    unsigned next_block_name;     /* default resource paths */
    struct rspy_node *next, *prev; /* every open node of the process */
    PyObject *weakrefs;
} rspy_node;

extern PyTypeObject rspy_NodeType;
extern PyTypeObject rspy_RequestType;

int rspy_node_init_types(PyObject *module);

/* Enter and leave an rshare call of `n` that may run callbacks. */
static inline void rspy_enter(rspy_node *n)
{
    n->depth++;
}
void rspy_leave(rspy_node *n);

/* Raise rshare.Closed unless the node is open; 0 or -1. */
int rspy_node_check(rspy_node *n);

/* --- MCTP transports of a node (transports.c): Node methods ---------------- */

PyObject *rspy_node_add_serial(rspy_node *n, PyObject *args, PyObject *kw);
PyObject *rspy_node_add_smbus(rspy_node *n, PyObject *args, PyObject *kw);
PyObject *rspy_node_mctp_eid(rspy_node *n, PyObject *args);
PyObject *rspy_node_mctp_set_neighbour(rspy_node *n, PyObject *args);

/* Link / close a child.  Closing while the node runs callbacks defers the
 * rshare close until they return. */
void rspy_child_link(rspy_node *n, struct rspy_child *c, enum rspy_kind kind, void *handle,
                     void *ctx);
void rspy_child_close(rspy_node *n, struct rspy_child *c);

/* Drive every idle open node of the process (in this thread) until
 * `cond(arg)` returns non-zero, `timeout_ms` passes (-1: no limit) or a
 * signal handler raises.  `self` (may be NULL) is the node the caller waits
 * for: refused when it is running callbacks, and its closing ends the wait.
 * Returns 1 when the condition holds, 0 on timeout, -1 with an exception
 * set.  `cond` may return -1 with an exception set. */
int rspy_drive(rspy_node *self, int (*cond)(void *arg), void *arg, int timeout_ms);
/* One round: wait up to `timeout_ms` for any node, process them all. */
int rspy_drive_once(int timeout_ms);

/* wait(predicate, timeout_ms=-1) for Node.wait (n) and rshare.wait (n NULL). */
PyObject *rspy_wait(rspy_node *n, PyObject *args, PyObject *kw);

/* Parse a node argument (a rshare.Node, open). */
int rspy_node_converter(PyObject *obj, void *out);

/* --- waited-for operations ---------------------------------------------------- */

struct rspy_op {
    int done;
    int status;
    int remote_code;
    bool orphaned;
    uint64_t value;          /* scrub: mismatches */
    void *buf;               /* malloc'd data owned by the op, or NULL */
    PyObject *result;        /* bytes owned by the op (read target, reply), or NULL */
    int *inflight;           /* counter decremented at completion, or NULL */
    struct rshare_block_io io;
};

struct rspy_op *rspy_op_new(void);
/* Completion: records the status; frees an orphaned op. */
void rspy_op_complete(struct rspy_op *op, int status);
/* Wait for the op on behalf of `n`; on success returns 0 with the op still
 * owned by the caller (free it with rspy_op_free); on failure (-1, exception
 * set) the op has been orphaned or freed. */
int rspy_op_wait(rspy_node *n, struct rspy_op *op, int timeout_ms);
void rspy_op_free(struct rspy_op *op);

/* --- identities (identity.c): module functions, added by rshare_module.c ----- */

extern PyMethodDef rspy_identity_methods[];

/* --- blocks and volumes (storage.c), KVM (kvm.c) ---------------------------- */

extern PyTypeObject rspy_BlockType;
extern PyTypeObject rspy_VolumeType;
extern PyTypeObject rspy_KvmType;

typedef struct rspy_block {
    PyObject_HEAD
    rspy_node *owner;
    struct rspy_child child;
    uint64_t resource_id;    /* 0 until registered */
    PyObject *path;          /* str for file blocks, else NULL */
    PyObject *weakrefs;
} rspy_block;

int rspy_storage_init_types(PyObject *module);
int rspy_kvm_init_types(PyObject *module);

/* Really close a child's handle (node not running callbacks). */
void rspy_volume_release(rspy_node *n, void *handle, void *ctx);
void rspy_kvm_release(rspy_node *n, void *handle, void *ctx);

/* Helpers for dict building. */
int rspy_dict_set_u64(PyObject *dict, const char *key, uint64_t value);
int rspy_dict_set_str(PyObject *dict, const char *key, const char *value);
PyObject *rspy_u64_list(const uint64_t *values, size_t count);
/* uint64_t counters of a structure, by name and offset. */
struct rspy_field {
    const char *name;
    size_t offset;
};
#define RSPY_FIELD(type, f) {#f, offsetof(type, f)}
int rspy_dict_set_fields(PyObject *dict, const void *base, const struct rspy_field *fields,
                         size_t count);

#endif
