/* rshare Python bindings — the module: functions, constants, types.
 *
 * `import rshare` gives Node, Block, Volume, Kvm, the exception classes
 * (errors.c) and the constants of the public headers without their
 * RSHARE_ prefix (LAYOUT_RAID1, RIGHT_READ, EVENT_MAP, ...).  The module
 * keeps process-wide state (the list of open nodes that blocking calls
 * drive), so it is single-phase and not meant for sub-interpreters.
 * doc/PYTHON.md is the user's guide. */
#include "rshare_python.h"

static PyObject *mod_strerror(PyObject *self, PyObject *args)
{
    (void)self;
    int code;
    if (!PyArg_ParseTuple(args, "i", &code))
        return NULL;
    return PyUnicode_FromString(rshare_strerror(code));
}

static PyObject *mod_err_name(PyObject *self, PyObject *args)
{
    (void)self;
    int code;
    if (!PyArg_ParseTuple(args, "i", &code))
        return NULL;
    return PyUnicode_FromString(rshare_err_name(code));
}

static PyObject *mod_run(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"timeout_ms", NULL};
    int timeout_ms = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|i", kwlist, &timeout_ms))
        return NULL;
    if (timeout_ms < 0)
        timeout_ms = 1000; /* one round; never forever */
    if (rspy_drive_once(timeout_ms) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *mod_wait(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return rspy_wait(NULL, args, kw);
}

static PyObject *mod_version(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(rshare_version_string());
}

static PyObject *mod_evdev_to_hid(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned short code;
    if (!PyArg_ParseTuple(args, "H", &code))
        return NULL;
    return PyLong_FromUnsignedLong(rshare_kvm_evdev_to_hid(code));
}

static PyObject *mod_hid_to_evdev(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned usage;
    if (!PyArg_ParseTuple(args, "I", &usage))
        return NULL;
    return PyLong_FromUnsignedLong(rshare_kvm_hid_to_evdev(usage));
}

static PyMethodDef module_methods[] = {
    {"strerror", mod_strerror, METH_VARARGS, "strerror(code) -> str\nThe message of a code."},
    {"err_name", mod_err_name, METH_VARARGS,
     "err_name(code) -> str\nThe symbolic name of a code ('RSHARE_ETIMEDOUT')."},
    {"error", (PyCFunction)(void (*)(void))rspy_error_factory, METH_VARARGS | METH_KEYWORDS,
     "error(code, message=None) -> exception\nThe exception instance for a code (of the\n"
     "right subclass), for example to raise from a message handler."},
    {"run", (PyCFunction)(void (*)(void))mod_run, METH_VARARGS | METH_KEYWORDS,
     "run(timeout_ms=0)\nOne round for every open node of the process that is idle: wait\n"
     "up to timeout_ms for any of them (GIL released), then process them all."},
    {"wait", (PyCFunction)(void (*)(void))mod_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(predicate, timeout_ms=-1) -> bool\nDrive every open node until predicate()\n"
     "is true (True) or the time is up (False)."},
    {"version", mod_version, METH_NOARGS, "version() -> str\nThe loaded library's version."},
    {"evdev_to_hid", mod_evdev_to_hid, METH_VARARGS,
     "evdev_to_hid(code) -> usage\nUSB HID usage of an evdev key code (0: none)."},
    {"hid_to_evdev", mod_hid_to_evdev, METH_VARARGS,
     "hid_to_evdev(usage) -> code\nevdev key code of a USB HID usage (0: none)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rshare",
    .m_doc = "rshare: share disks, keyboards, mice and displays across the nodes of a\n"
             "chassis or rack.  Python bindings of the C library; see doc/PYTHON.md.\n\n"
             "Threading: the GIL is held during every library call and callbacks run in\n"
             "the thread that drives the node; use each Node (and its objects) from one\n"
             "thread at a time.",
    .m_size = -1,
    .m_methods = module_methods,
};

struct constant {
    const char *name;
    long long value;
};

#define C(name) {#name, RSHARE_##name}
static const struct constant constants[] = {
    /* error codes */
    {"OK", RSHARE_OK}, C(EINVAL), C(ENOMEM), C(EVERSION), C(EAGAIN), C(ETIMEDOUT), C(EMSGSIZE),
    C(EPROTO), C(EAUTH), C(EREPLAY), C(ENOENT), C(EEXIST), C(EIO), C(ESYS), C(ENOTSUP),
    C(EBUSY), C(EUNREACH), C(ECANCELED), C(ESTALE), C(ESHUTDOWN), C(EREMOTE), C(ENOHANDLER),
    C(EACCES),
    /* nodes and messages */
    C(CLUSTER_KEY_BYTES), C(IDENTITY_PUBLIC_KEY_BYTES), C(IDENTITY_SECRET_KEY_BYTES),
    C(IDENTITY_CERT_BYTES), C(MSG_TYPE_APP_FIRST), C(MSG_TYPE_APP_LAST), C(UDP_DEFAULT_PORT),
    C(UDP_DEFAULT_MTU), C(LOG_ERROR), C(LOG_WARNING), C(LOG_INFO), C(LOG_DEBUG),
    /* the cluster */
    C(CAP_BLOCK), C(CAP_KVM_INPUT), C(CAP_KVM_DISPLAY), C(CAP_VOLUMES), C(CAP_APP_FIRST),
    C(MEMBER_ALIVE), C(MEMBER_ELIGIBLE), C(MEMBER_VOTER), C(MEMBER_MANAGER), C(MEMBER_SELF),
    C(EVENT_MEMBER_UP), C(EVENT_MEMBER_DOWN), C(EVENT_MANAGER), C(EVENT_MAP),
    /* resources and blocks */
    C(RESOURCE_BLOCK), C(RESOURCE_KEYBOARD), C(RESOURCE_POINTER), C(RESOURCE_DISPLAY),
    C(RIGHT_READ), C(RIGHT_WRITE), C(RESOURCE_FLAG_REMOVABLE), C(RESOURCE_FLAG_ROTATIONAL),
    C(BLOCK_CAP_FLUSH), C(BLOCK_CAP_DISCARD), C(BLOCK_CAP_READONLY),
    /* volumes */
    C(LAYOUT_LINEAR), C(LAYOUT_RAID0), C(LAYOUT_RAID1), C(LAYOUT_RAID5), C(LAYOUT_RAID10),
    C(RAID5_LEFT_ASYMMETRIC), C(RAID5_RIGHT_ASYMMETRIC), C(RAID5_LEFT_SYMMETRIC),
    C(RAID5_RIGHT_SYMMETRIC), C(VOLUME_MEMBER_ACTIVE), C(VOLUME_MEMBER_FAILED),
    C(VOLUME_MEMBER_REBUILDING),
    C(VOLUME_OPTIMAL), C(VOLUME_DEGRADED), C(VOLUME_FAILED),
    /* KVM */
    C(KVM_ROLE_HOST), C(KVM_ROLE_TARGET), C(KVM_LED_NUM), C(KVM_LED_CAPS), C(KVM_LED_SCROLL),
    C(KVM_MOD_CTRL), C(KVM_MOD_SHIFT), C(KVM_MOD_ALT), C(KVM_MOD_META), C(KVM_DISPLAY_ABSOLUTE),
    C(KVM_HOTKEY_COMBO), C(KVM_HOTKEY_DOUBLE_TAP), C(KVM_ACTION_NEXT), C(KVM_ACTION_JUMP),
    C(KVM_ACTION_LOCK), C(KVM_ACTION_UNLOCK), C(KVM_ACTION_LOCK_TOGGLE),
    /* the few evdev codes a KVM program always needs (linux/input-event-codes.h) */
    {"EV_SYN", 0}, {"EV_KEY", 1}, {"EV_REL", 2}, {"EV_ABS", 3}, {"SYN_REPORT", 0},
};
#undef C

PyMODINIT_FUNC PyInit_rshare(void);
PyMODINIT_FUNC PyInit_rshare(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
        if (PyModule_AddIntConstant(m, constants[i].name, (long)constants[i].value) < 0)
            goto fail;
    if (PyModule_AddStringConstant(m, "__version__", RSHARE_VERSION_STRING) < 0 ||
        PyModule_AddFunctions(m, rspy_identity_methods) < 0 ||
        rspy_errors_init(m) < 0 || rspy_node_init_types(m) < 0 ||
        rspy_storage_init_types(m) < 0 || rspy_kvm_init_types(m) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
