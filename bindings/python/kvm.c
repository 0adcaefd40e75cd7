/* rshare Python bindings — rshare.Kvm: keyboard and mouse routing.
 *
 * One handle per node and role: a host (it owns the physical keyboard and
 * mouse: give `targets`) feeds evdev events and moves the focus; a target
 * (give `host` and `sink`) receives frames of events through the sink.
 * Both run from the node's loop.  The callbacks live in a heap context
 * kept until rshare_kvm_destroy() has returned, because destroying a
 * target releases its keys through the sink. */
#include "rshare_python.h"

#include <stdlib.h>
#include <string.h>

struct kvm_ctx {
    PyObject *sink;      /* callable(host, events) or NULL */
    PyObject *on_focus;  /* callable(target, locked) or NULL */
};

typedef struct {
    PyObject_HEAD
    rspy_node *owner;
    struct rspy_child child;
    uint32_t roles;
    PyObject *weakrefs;
} rspy_kvm;

static void sink_cb(void *user, uint32_t host, const struct rshare_kvm_event *events,
                    size_t count)
{
    struct kvm_ctx *c = user;
    PyObject *fn = c->sink;
    if (!fn)
        return;
    Py_INCREF(fn);
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *t = Py_BuildValue("(HHi)", events[i].type, events[i].code,
                                    (int)events[i].value);
        if (!t)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    PyObject *r = list ? PyObject_CallFunction(fn, "IO", (unsigned)host, list) : NULL;
    if (!r)
        rspy_report_callback_error(fn);
    Py_XDECREF(r);
    Py_XDECREF(list);
    Py_DECREF(fn);
}

static void focus_cb(void *user, uint32_t target, int locked)
{
    struct kvm_ctx *c = user;
    PyObject *fn = c->on_focus;
    if (!fn)
        return;
    Py_INCREF(fn);
    PyObject *r = PyObject_CallFunction(fn, "IO", (unsigned)target,
                                        locked ? Py_True : Py_False);
    if (!r)
        rspy_report_callback_error(fn);
    Py_XDECREF(r);
    Py_DECREF(fn);
}

void rspy_kvm_release(rspy_node *n, void *handle, void *ctx)
{
    struct kvm_ctx *c = ctx;
    n->depth++;
    rshare_kvm_destroy(handle);
    n->depth--;
    if (c) {
        Py_CLEAR(c->sink);
        Py_CLEAR(c->on_focus);
        free(c);
    }
}

static rspy_kvm *kvm_check(rspy_kvm *k)
{
    if (!k->child.handle || !k->owner->node) {
        PyErr_SetString(rspy_Closed, "the KVM handle is closed");
        return NULL;
    }
    return k;
}

static unsigned long dict_u32(PyObject *d, const char *key, unsigned long dflt)
{
    PyObject *v = PyDict_GetItemString(d, key);
    if (!v)
        return dflt;
    return PyLong_AsUnsignedLong(v);
}

static int parse_hotkeys(PyObject *seq, struct rshare_kvm_hotkey *out, uint32_t *count)
{
    PyObject *fast = PySequence_Fast(seq, "hotkeys must be a sequence of dicts");
    if (!fast)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if (len > RSHARE_KVM_MAX_HOTKEYS) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "at most %d hotkeys", RSHARE_KVM_MAX_HOTKEYS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *d = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyDict_Check(d)) {
            Py_DECREF(fast);
            PyErr_SetString(PyExc_TypeError,
                            "a hotkey is a dict: kind, mods, key, window_ms, action, target");
            return -1;
        }
        struct rshare_kvm_hotkey *h = &out[i];
        h->kind = (uint32_t)dict_u32(d, "kind", RSHARE_KVM_HOTKEY_COMBO);
        h->mods = (uint32_t)dict_u32(d, "mods", 0);
        h->key = (uint32_t)dict_u32(d, "key", 0);
        h->window_ms = (uint32_t)dict_u32(d, "window_ms", 0);
        h->action = (uint32_t)dict_u32(d, "action", RSHARE_KVM_ACTION_NEXT);
        h->target = (uint32_t)dict_u32(d, "target", 0);
        if (PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
    }
    *count = (uint32_t)len;
    Py_DECREF(fast);
    return 0;
}

static int kvm_init(rspy_kvm *k, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"node",    "targets",     "hotkeys",           "on_focus",
                             "sync_ms", "target_timeout_ms", "host",        "sink",
                             "report_ms", "release_timeout_ms", NULL};
    rspy_node *n;
    PyObject *targets = Py_None, *hotkeys = Py_None, *on_focus = Py_None, *sink = Py_None;
    unsigned host = 0;
    struct rshare_kvm_config cfg;
    rshare_kvm_config_init(&cfg, sizeof(cfg));
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$OOOIIIOII", kwlist, rspy_node_converter, &n,
                                     &targets, &hotkeys, &on_focus, &cfg.sync_ms,
                                     &cfg.target_timeout_ms, &host, &sink, &cfg.report_ms,
                                     &cfg.release_timeout_ms))
        return -1;
    if (k->child.handle) {
        PyErr_SetString(PyExc_RuntimeError, "Kvm.__init__ called twice");
        return -1;
    }
    if ((on_focus != Py_None && !PyCallable_Check(on_focus)) ||
        (sink != Py_None && !PyCallable_Check(sink))) {
        PyErr_SetString(PyExc_TypeError, "on_focus and sink must be callable");
        return -1;
    }
    uint32_t ids[RSHARE_KVM_MAX_TARGETS];
    struct rshare_kvm_hotkey keys[RSHARE_KVM_MAX_HOTKEYS];
    memset(keys, 0, sizeof(keys));
    if (targets != Py_None) {
        PyObject *fast = PySequence_Fast(targets, "targets must be a sequence of node ids");
        if (!fast)
            return -1;
        Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
        if (len < 1 || len > RSHARE_KVM_MAX_TARGETS) {
            Py_DECREF(fast);
            rspy_raise(RSHARE_EINVAL, "1 .. 16 targets");
            return -1;
        }
        for (Py_ssize_t i = 0; i < len; i++)
            ids[i] = (uint32_t)PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(fast, i));
        Py_DECREF(fast);
        if (PyErr_Occurred())
            return -1;
        cfg.roles |= RSHARE_KVM_ROLE_HOST;
        cfg.targets = ids;
        cfg.target_count = (uint32_t)len;
    }
    if (hotkeys != Py_None && parse_hotkeys(hotkeys, keys, &cfg.hotkey_count) < 0)
        return -1;
    cfg.hotkeys = cfg.hotkey_count ? keys : NULL;
    if (host) {
        cfg.roles |= RSHARE_KVM_ROLE_TARGET;
        cfg.host = host;
    }
    if (!cfg.roles) {
        rspy_raise(RSHARE_EINVAL, "give targets (host role) and/or host and sink (target role)");
        return -1;
    }
    struct kvm_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        PyErr_NoMemory();
        return -1;
    }
    if (sink != Py_None) {
        c->sink = sink;
        Py_INCREF(sink);
        cfg.sink = sink_cb;
        cfg.sink_data = c;
    }
    if (on_focus != Py_None) {
        c->on_focus = on_focus;
        Py_INCREF(on_focus);
        cfg.on_focus = focus_cb;
        cfg.focus_data = c;
    }
    rshare_kvm *handle = NULL;
    char detail[256] = "";
    rspy_enter(n);
    int rc = rshare_kvm_create(n->node, &cfg, &handle);
    if (rc < 0)
        snprintf(detail, sizeof(detail), "%s", rshare_node_errmsg(n->node));
    rspy_leave(n);
    if (rc < 0) {
        Py_XDECREF(c->sink);
        Py_XDECREF(c->on_focus);
        free(c);
        rspy_raise(rc, detail);
        return -1;
    }
    k->owner = n;
    Py_INCREF(n);
    k->roles = cfg.roles;
    rspy_child_link(n, &k->child, RSPY_KVM, handle, c);
    return 0;
}

static PyObject *kvm_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    rspy_kvm *k = (rspy_kvm *)type->tp_alloc(type, 0);
    if (k)
        k->child.next = k->child.prev = &k->child;
    return (PyObject *)k;
}

/* Call an int-returning rshare function of the handle, raise on failure. */
#define KVM_CALL(k, expr)                                                                 \
    do {                                                                                  \
        char detail_[256] = "";                                                           \
        rspy_enter((k)->owner);                                                           \
        int rc_ = (expr);                                                                 \
        if (rc_ < 0)                                                                      \
            snprintf(detail_, sizeof(detail_), "%s", rshare_node_errmsg((k)->owner->node)); \
        rspy_leave((k)->owner);                                                           \
        if (rc_ < 0)                                                                      \
            return rspy_raise(rc_, detail_);                                              \
    } while (0)

static PyObject *kvm_input(rspy_kvm *k, PyObject *args)
{
    unsigned short type, code;
    int value;
    if (!PyArg_ParseTuple(args, "HHi", &type, &code, &value))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    KVM_CALL(k, rshare_kvm_input(k->child.handle, type, code, value));
    Py_RETURN_NONE;
}

static PyObject *kvm_input_events(rspy_kvm *k, PyObject *seq)
{
    if (!kvm_check(k))
        return NULL;
    PyObject *fast = PySequence_Fast(seq, "events must be a sequence of (type, code, value)");
    if (!fast)
        return NULL;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    struct rshare_kvm_event *ev = PyMem_Calloc(len ? (size_t)len : 1, sizeof(*ev));
    if (!ev) {
        Py_DECREF(fast);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned short type, code;
        int value;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "HHi", &type, &code, &value)) {
            PyMem_Free(ev);
            Py_DECREF(fast);
            return NULL;
        }
        ev[i].type = type;
        ev[i].code = code;
        ev[i].value = value;
    }
    Py_DECREF(fast);
    char detail[256] = "";
    rspy_enter(k->owner);
    int rc = rshare_kvm_input_events(k->child.handle, ev, (size_t)len);
    if (rc < 0)
        snprintf(detail, sizeof(detail), "%s", rshare_node_errmsg(k->owner->node));
    rspy_leave(k->owner);
    PyMem_Free(ev);
    if (rc < 0)
        return rspy_raise(rc, detail);
    Py_RETURN_NONE;
}

static PyObject *kvm_focus_set(rspy_kvm *k, PyObject *args)
{
    unsigned target;
    if (!PyArg_ParseTuple(args, "I", &target))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    KVM_CALL(k, rshare_kvm_focus_set(k->child.handle, target));
    Py_RETURN_NONE;
}

static PyObject *kvm_focus_next(rspy_kvm *k, PyObject *unused)
{
    (void)unused;
    if (!kvm_check(k))
        return NULL;
    KVM_CALL(k, rshare_kvm_focus_next(k->child.handle));
    return PyLong_FromUnsignedLong(rshare_kvm_focus(k->child.handle));
}

static PyObject *kvm_lock(rspy_kvm *k, PyObject *args)
{
    int locked = 1;
    if (!PyArg_ParseTuple(args, "|p", &locked))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    KVM_CALL(k, rshare_kvm_lock(k->child.handle, locked));
    Py_RETURN_NONE;
}

static PyObject *kvm_target_up(rspy_kvm *k, PyObject *args)
{
    unsigned target;
    if (!PyArg_ParseTuple(args, "I", &target))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    return PyBool_FromLong(rshare_kvm_target_up(k->child.handle, target) > 0);
}

static PyObject *kvm_set_host_leds(rspy_kvm *k, PyObject *args)
{
    unsigned leds;
    if (!PyArg_ParseTuple(args, "I", &leds))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    KVM_CALL(k, rshare_kvm_set_host_leds(k->child.handle, leds));
    Py_RETURN_NONE;
}

static PyObject *kvm_report_leds(rspy_kvm *k, PyObject *args)
{
    unsigned leds;
    if (!PyArg_ParseTuple(args, "I", &leds))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    KVM_CALL(k, rshare_kvm_report_leds(k->child.handle, leds));
    Py_RETURN_NONE;
}

static PyObject *kvm_pressed(rspy_kvm *k, PyObject *args)
{
    unsigned short code;
    if (!PyArg_ParseTuple(args, "H", &code))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    return PyBool_FromLong(rshare_kvm_pressed(k->child.handle, code) > 0);
}

static PyObject *kvm_release_all(rspy_kvm *k, PyObject *unused)
{
    (void)unused;
    if (!kvm_check(k))
        return NULL;
    KVM_CALL(k, rshare_kvm_release_all(k->child.handle));
    Py_RETURN_NONE;
}

/* set_layout(displays, host_screen=None, edges=True, delay_ms=0,
 * double_tap_ms=0, corner_px=0, mods=0): displays are dicts with node, x,
 * y, width, height and optionally scale_milli; None or [] removes the
 * layout. */
static PyObject *kvm_set_layout(rspy_kvm *k, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"displays", "host_screen", "edges",     "delay_ms",
                             "double_tap_ms", "corner_px", "mods", NULL};
    PyObject *displays = Py_None, *host_screen = Py_None;
    int edges = 1;
    struct rshare_kvm_layout_config cfg;
    rshare_kvm_layout_config_init(&cfg, sizeof(cfg));
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pIIII", kwlist, &displays, &host_screen,
                                     &edges, &cfg.delay_ms, &cfg.double_tap_ms, &cfg.corner_px,
                                     &cfg.mods))
        return NULL;
    if (!kvm_check(k))
        return NULL;
    cfg.edges = (uint32_t)edges;
    if (host_screen != Py_None &&
        !PyArg_ParseTuple(host_screen, "II;host_screen is (width, height)", &cfg.host_width,
                          &cfg.host_height))
        return NULL;
    struct rshare_kvm_display d[RSHARE_KVM_MAX_TARGETS];
    memset(d, 0, sizeof(d));
    if (displays != Py_None) {
        PyObject *fast = PySequence_Fast(displays, "displays must be a sequence of dicts");
        if (!fast)
            return NULL;
        Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
        if (len > RSHARE_KVM_MAX_TARGETS) {
            Py_DECREF(fast);
            return PyErr_Format(PyExc_ValueError, "at most %d displays", RSHARE_KVM_MAX_TARGETS);
        }
        for (Py_ssize_t i = 0; i < len; i++) {
            PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
            if (!PyDict_Check(o)) {
                Py_DECREF(fast);
                PyErr_SetString(PyExc_TypeError,
                                "a display is a dict: node, x, y, width, height, "
                                "scale_milli, flags");
                return NULL;
            }
            PyObject *x = PyDict_GetItemString(o, "x"), *y = PyDict_GetItemString(o, "y");
            d[i].node = (uint32_t)dict_u32(o, "node", 0);
            d[i].x = x ? (int32_t)PyLong_AsLong(x) : 0;
            d[i].y = y ? (int32_t)PyLong_AsLong(y) : 0;
            d[i].width = (uint32_t)dict_u32(o, "width", 0);
            d[i].height = (uint32_t)dict_u32(o, "height", 0);
            d[i].scale_milli = (uint32_t)dict_u32(o, "scale_milli", 0);
            d[i].flags = (uint32_t)dict_u32(o, "flags", 0);
            if (PyErr_Occurred()) {
                Py_DECREF(fast);
                return NULL;
            }
        }
        cfg.displays = d;
        cfg.display_count = (uint32_t)len;
        Py_DECREF(fast);
    }
    KVM_CALL(k, rshare_kvm_set_layout(k->child.handle, &cfg));
    Py_RETURN_NONE;
}

static PyObject *kvm_stats(rspy_kvm *k, PyObject *unused)
{
    (void)unused;
    if (!kvm_check(k))
        return NULL;
    struct rshare_kvm_stats s;
    int rc = rshare_kvm_stats(k->child.handle, &s, sizeof(s));
    if (rc < 0)
        return rspy_raise_node(k->owner->node, rc);
#define F(f) RSPY_FIELD(struct rshare_kvm_stats, f)
    static const struct rspy_field fields[] = {
        F(events_in), F(refused), F(repeats_dropped), F(hotkeys), F(switches), F(frames_sent),
        F(syncs_sent), F(send_failed), F(targets_lost), F(frames_received), F(frames_stale),
        F(frames_gap), F(bad_messages), F(sync_releases), F(release_alls), F(edge_switches),
    };
#undef F
    PyObject *d = PyDict_New();
    if (d && rspy_dict_set_fields(d, &s, fields, sizeof(fields) / sizeof(fields[0])) < 0)
        Py_CLEAR(d);
    return d;
}

static PyObject *kvm_close(rspy_kvm *k, PyObject *unused)
{
    (void)unused;
    if (k->child.handle)
        rspy_child_close(k->owner, &k->child);
    Py_RETURN_NONE;
}

static PyObject *kvm_enter(rspy_kvm *k, PyObject *unused)
{
    (void)unused;
    if (!kvm_check(k))
        return NULL;
    Py_INCREF(k);
    return (PyObject *)k;
}

static PyObject *kvm_exit(rspy_kvm *k, PyObject *args)
{
    (void)args;
    return kvm_close(k, NULL);
}

static PyObject *kvm_get_focus(rspy_kvm *k, void *closure)
{
    (void)closure;
    if (!kvm_check(k))
        return NULL;
    return PyLong_FromUnsignedLong(rshare_kvm_focus(k->child.handle));
}

static int kvm_set_focus(rspy_kvm *k, PyObject *value, void *closure)
{
    (void)closure;
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "focus cannot be deleted");
        return -1;
    }
    PyObject *args = PyTuple_Pack(1, value);
    if (!args)
        return -1;
    PyObject *r = kvm_focus_set(k, args);
    Py_DECREF(args);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *kvm_get_pointer(rspy_kvm *k, void *closure)
{
    (void)closure;
    if (!kvm_check(k))
        return NULL;
    uint32_t x, y;
    if (rshare_kvm_pointer(k->child.handle, &x, &y) < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(II)", x, y);
}

static PyObject *kvm_get_locked(rspy_kvm *k, void *closure)
{
    (void)closure;
    if (!kvm_check(k))
        return NULL;
    return PyBool_FromLong(rshare_kvm_locked(k->child.handle) > 0);
}

static PyObject *kvm_get_host_leds(rspy_kvm *k, void *closure)
{
    (void)closure;
    if (!kvm_check(k))
        return NULL;
    return PyLong_FromUnsignedLong(rshare_kvm_host_leds(k->child.handle));
}

static PyObject *kvm_get_pressed_count(rspy_kvm *k, void *closure)
{
    (void)closure;
    if (!kvm_check(k))
        return NULL;
    return PyLong_FromSize_t(rshare_kvm_pressed_count(k->child.handle));
}

static PyObject *kvm_get_roles(rspy_kvm *k, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(k->roles);
}

static PyObject *kvm_get_closed(rspy_kvm *k, void *closure)
{
    (void)closure;
    return PyBool_FromLong(!k->child.handle);
}

static int kvm_traverse(rspy_kvm *k, visitproc visit, void *arg)
{
    Py_VISIT(k->owner);
    struct kvm_ctx *c = k->child.ctx;
    if (c) {
        Py_VISIT(c->sink);
        Py_VISIT(c->on_focus);
    }
    return 0;
}

static int kvm_clear(rspy_kvm *k)
{
    struct kvm_ctx *c = k->child.ctx;
    if (c) {
        Py_CLEAR(c->sink);
        Py_CLEAR(c->on_focus);
    }
    return 0;
}

static void kvm_dealloc(rspy_kvm *k)
{
    PyObject_GC_UnTrack(k);
    if (k->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)k);
    if (k->owner) {
        rspy_saved_error saved;
        rspy_err_save(&saved);
        rspy_child_close(k->owner, &k->child);
        rspy_err_restore(&saved);
    }
    Py_CLEAR(k->owner);
    Py_TYPE(k)->tp_free((PyObject *)k);
}

static PyMethodDef kvm_methods[] = {
    {"input", (PyCFunction)kvm_input, METH_VARARGS,
     "input(type, code, value)\nHost: one evdev event; a frame ends with EV_SYN/SYN_REPORT."},
    {"input_events", (PyCFunction)kvm_input_events, METH_O,
     "input_events(events)\nHost: several (type, code, value) events."},
    {"focus_set", (PyCFunction)kvm_focus_set, METH_VARARGS,
     "focus_set(target)\nHost: move the focus (NotFound: not a target; Busy: locked)."},
    {"focus_next", (PyCFunction)kvm_focus_next, METH_NOARGS,
     "focus_next() -> target\nHost: focus the next target that is up."},
    {"lock", (PyCFunction)kvm_lock, METH_VARARGS,
     "lock(locked=True)\nHost: keep the focus where it is (or release the lock)."},
    {"target_up", (PyCFunction)kvm_target_up, METH_VARARGS,
     "target_up(target) -> bool\nHost: whether the host hears from the target."},
    {"set_host_leds", (PyCFunction)kvm_set_host_leds, METH_VARARGS,
     "set_host_leds(leds)\nHost: the lock state of the physical keyboard (KVM_LED_*)."},
    {"report_leds", (PyCFunction)kvm_report_leds, METH_VARARGS,
     "report_leds(leds)\nTarget: its own LED state, sent to the host."},
    {"pressed", (PyCFunction)kvm_pressed, METH_VARARGS,
     "pressed(code) -> bool\nTarget: whether it injected `code` as pressed."},
    {"release_all", (PyCFunction)kvm_release_all, METH_NOARGS,
     "release_all()\nTarget: release everything it injected."},
    {"set_layout", (PyCFunction)(void (*)(void))kvm_set_layout, METH_VARARGS | METH_KEYWORDS,
     "set_layout(displays, host_screen=None, *, edges=True, delay_ms=0, double_tap_ms=0,\n"
     "           corner_px=0, mods=0)\n"
     "Host: place the targets' displays (dicts: node, x, y, width, height, scale_milli,\n"
     "flags)\n"
     "in one layout; pushing the pointer past an edge moves focus (doc/KVM.md)."},
    {"stats", (PyCFunction)kvm_stats, METH_NOARGS, "stats() -> dict\nThe handle's counters."},
    {"close", (PyCFunction)kvm_close, METH_NOARGS,
     "close()\nRelease every key this handle pressed anywhere, then free it."},
    {"__enter__", (PyCFunction)kvm_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)kvm_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef kvm_getset[] = {
    {"focus", (getter)kvm_get_focus, (setter)kvm_set_focus,
     "Host: the focused node id (assign to move it).", NULL},
    {"locked", (getter)kvm_get_locked, NULL, "Host: whether the focus is locked.", NULL},
    {"pointer", (getter)kvm_get_pointer, NULL,
     "Host: (x, y) of the pointer on the focused display, or None without a layout.", NULL},
    {"host_leds", (getter)kvm_get_host_leds, NULL, "Host: the LEDs to show (KVM_LED_*).", NULL},
    {"pressed_count", (getter)kvm_get_pressed_count, NULL,
     "Target: keys and buttons down.", NULL},
    {"roles", (getter)kvm_get_roles, NULL, "KVM_ROLE_HOST and/or KVM_ROLE_TARGET.", NULL},
    {"closed", (getter)kvm_get_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject rspy_KvmType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rshare.Kvm",
    .tp_basicsize = sizeof(rspy_kvm),
    .tp_dealloc = (destructor)kvm_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Kvm(node, *, targets=None, hotkeys=None, on_focus=None, sync_ms=0,\n"
              "    target_timeout_ms=0, host=0, sink=None, report_ms=0,\n"
              "    release_timeout_ms=0)\n\n"
              "Host role with `targets` (node ids; focus starts on the first):\n"
              "hotkeys are dicts (kind, mods, key, window_ms, action, target), on_focus\n"
              "is callable(target, locked).  Target role with `host` (the only node\n"
              "whose input is accepted) and `sink`: callable(host, events), events a\n"
              "list of (type, code, value) ending with EV_SYN/SYN_REPORT.",
    .tp_traverse = (traverseproc)kvm_traverse,
    .tp_clear = (inquiry)kvm_clear,
    .tp_weaklistoffset = offsetof(rspy_kvm, weakrefs),
    .tp_methods = kvm_methods,
    .tp_getset = kvm_getset,
    .tp_init = (initproc)kvm_init,
    .tp_new = kvm_new,
};

int rspy_kvm_init_types(PyObject *module)
{
    if (PyType_Ready(&rspy_KvmType) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "Kvm", (PyObject *)&rspy_KvmType);
}
