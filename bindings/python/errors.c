/* rshare Python bindings — exceptions carrying rshare's error codes.
 *
 * rshare.Error is the base; every RSHARE_E* code has a subclass (TimedOut,
 * NotFound, InvalidArgument, ...) whose class attributes `code` and `name`
 * are the code and its rshare_err_name(), so that an instance raised by
 * Python code (for example from a message handler, to answer with that
 * error) carries the right code too.  Instances raised by the module also
 * have `detail`, the node's rshare_node_errmsg() at the time.  A few
 * subclasses also derive from the built-in exception that Python code
 * would expect (ValueError, TimeoutError, LookupError). */
#include "rshare_python.h"

PyObject *rspy_Error;
PyObject *rspy_Closed;
PyObject *rspy_RemoteError;

/* Subclasses by -code; index 0 unused. */
static PyObject *classes[-RSHARE_ERROR_MIN_];

struct class_spec {
    int code;
    const char *name;
    PyObject **builtin; /* a second base, or NULL */
    const char *doc;
};

static const struct class_spec specs[] = {
    {RSHARE_EINVAL, "InvalidArgument", &PyExc_ValueError, "RSHARE_EINVAL: invalid argument."},
    {RSHARE_ENOMEM, "OutOfMemory", NULL, "RSHARE_ENOMEM: out of memory."},
    {RSHARE_EVERSION, "VersionMismatch", NULL,
     "RSHARE_EVERSION: structure or protocol version not supported."},
    {RSHARE_EAGAIN, "TryAgain", NULL, "RSHARE_EAGAIN: temporarily unavailable, try again."},
    {RSHARE_ETIMEDOUT, "TimedOut", &PyExc_TimeoutError, "RSHARE_ETIMEDOUT: timed out."},
    {RSHARE_EMSGSIZE, "MessageTooLarge", NULL, "RSHARE_EMSGSIZE: message too large."},
    {RSHARE_EPROTO, "ProtocolError", NULL, "RSHARE_EPROTO: malformed packet or message."},
    {RSHARE_EAUTH, "AuthenticationFailed", NULL, "RSHARE_EAUTH: authentication failed."},
    {RSHARE_EREPLAY, "Replayed", NULL, "RSHARE_EREPLAY: duplicate or replayed packet."},
    {RSHARE_ENOENT, "NotFound", &PyExc_LookupError, "RSHARE_ENOENT: no such entry."},
    {RSHARE_EEXIST, "AlreadyExists", NULL, "RSHARE_EEXIST: entry already exists."},
    {RSHARE_EIO, "InputOutputError", NULL, "RSHARE_EIO: input/output error (medium error)."},
    {RSHARE_ESYS, "OperatingSystemError", NULL, "RSHARE_ESYS: operating system error."},
    {RSHARE_ENOTSUP, "NotSupported", NULL, "RSHARE_ENOTSUP: operation not supported."},
    {RSHARE_EBUSY, "Busy", NULL, "RSHARE_EBUSY: resource busy or limit reached."},
    {RSHARE_EUNREACH, "Unreachable", NULL, "RSHARE_EUNREACH: peer unreachable."},
    {RSHARE_ECANCELED, "Canceled", NULL, "RSHARE_ECANCELED: operation canceled."},
    {RSHARE_ESTALE, "Stale", NULL, "RSHARE_ESTALE: request too old to be executed."},
    {RSHARE_ESHUTDOWN, "ShutDown", NULL, "RSHARE_ESHUTDOWN: node is shutting down."},
    {RSHARE_EREMOTE, "RemoteError", NULL,
     "RSHARE_EREMOTE: the peer answered with an error; `remote_code` is the peer's code\n"
     "and the message its text."},
    {RSHARE_ENOHANDLER, "NoHandler", NULL, "RSHARE_ENOHANDLER: no handler for this type."},
    {RSHARE_EACCES, "AccessDenied", &PyExc_PermissionError,
     "RSHARE_EACCES: access denied (no valid grant, lease or fencing token; a revocation\n"
     "asked by a node that may not manage)."},
};

static int set_class_attrs(PyObject *cls, int code)
{
    PyObject *c = PyLong_FromLong(code);
    if (!c)
        return -1;
    int rc = PyObject_SetAttrString(cls, "code", c);
    Py_DECREF(c);
    if (rc == 0) {
        PyObject *n = PyUnicode_FromString(rshare_err_name(code));
        if (!n)
            return -1;
        rc = PyObject_SetAttrString(cls, "name", n);
        Py_DECREF(n);
    }
    return rc;
}

static PyObject *new_class(PyObject *module, const char *name, PyObject *bases, const char *doc)
{
    char qualified[80];
    snprintf(qualified, sizeof(qualified), "rshare.%s", name);
    PyObject *cls = PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL);
    if (!cls)
        return NULL;
    if (PyModule_AddObjectRef(module, name, cls) < 0) {
        Py_DECREF(cls);
        return NULL;
    }
    return cls;
}

int rspy_errors_init(PyObject *module)
{
    rspy_Error = new_class(module, "Error",
                           PyExc_Exception,
                           "An rshare error.  `code` is the RSHARE_E* code (negative), `name`\n"
                           "its symbolic name (rshare_err_name), `detail` what the node said\n"
                           "about it (may be empty).");
    if (!rspy_Error)
        return -1;
    /* The base class: no code of its own (a handler raising it answers
     * RSHARE_EIO). */
    if (PyObject_SetAttrString(rspy_Error, "code", Py_None) < 0 ||
        PyObject_SetAttrString(rspy_Error, "name", Py_None) < 0 ||
        PyObject_SetAttrString(rspy_Error, "detail", Py_None) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        const struct class_spec *s = &specs[i];
        PyObject *bases = s->builtin ? PyTuple_Pack(2, rspy_Error, *s->builtin)
                                     : PyTuple_Pack(1, rspy_Error);
        if (!bases)
            return -1;
        PyObject *cls = new_class(module, s->name, bases, s->doc);
        Py_DECREF(bases);
        if (!cls || set_class_attrs(cls, s->code) < 0)
            return -1;
        classes[-s->code] = cls;
    }
    rspy_RemoteError = classes[-RSHARE_EREMOTE];
    if (PyObject_SetAttrString(rspy_RemoteError, "remote_code", Py_None) < 0)
        return -1;
    /* Using an object after close(): a ShutDown with its own class. */
    PyObject *bases = PyTuple_Pack(1, classes[-RSHARE_ESHUTDOWN]);
    if (!bases)
        return -1;
    rspy_Closed = new_class(module, "Closed", bases,
                            "The object (or its node) was closed.  A ShutDown error.");
    Py_DECREF(bases);
    return rspy_Closed ? 0 : -1;
}

static PyObject *class_for(int code)
{
    if (code < 0 && code > RSHARE_ERROR_MIN_ && classes[-code])
        return classes[-code];
    return rspy_Error;
}

/* An exception instance for `code` with `message`; attributes set. */
static PyObject *make_exception(PyObject *cls, int code, PyObject *message, const char *detail)
{
    PyObject *exc = PyObject_CallOneArg(cls, message);
    if (!exc)
        return NULL;
    PyObject *c = PyLong_FromLong(code);
    PyObject *n = PyUnicode_FromString(rshare_err_name(code));
    if (!detail)
        detail = "";
    PyObject *d = PyUnicode_DecodeUTF8(detail, (Py_ssize_t)strlen(detail), "replace");
    int rc = (c && n && d) ? 0 : -1;
    if (rc == 0)
        rc = PyObject_SetAttrString(exc, "code", c);
    if (rc == 0)
        rc = PyObject_SetAttrString(exc, "name", n);
    if (rc == 0)
        rc = PyObject_SetAttrString(exc, "detail", d);
    Py_XDECREF(c);
    Py_XDECREF(n);
    Py_XDECREF(d);
    if (rc < 0) {
        Py_DECREF(exc);
        return NULL;
    }
    return exc;
}

PyObject *rspy_raise(int code, const char *detail)
{
    PyObject *cls = class_for(code);
    PyObject *message;
    if (detail && *detail)
        message = PyUnicode_FromFormat("%s: %s (%s)", rshare_strerror(code), detail,
                                       rshare_err_name(code));
    else
        message = PyUnicode_FromFormat("%s (%s)", rshare_strerror(code), rshare_err_name(code));
    if (!message)
        return NULL;
    PyObject *exc = make_exception(cls, code, message, detail);
    Py_DECREF(message);
    if (exc) {
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyObject *rspy_raise_node(rshare_node *node, int code)
{
    return rspy_raise(code, node ? rshare_node_errmsg(node) : NULL);
}

PyObject *rspy_raise_remote(int remote_code, const void *text, size_t len)
{
    PyObject *t = PyUnicode_DecodeUTF8(text ? text : "", text ? (Py_ssize_t)len : 0, "replace");
    if (!t)
        return NULL;
    PyObject *message = PyUnicode_FromFormat("peer reported %s: %U", rshare_err_name(remote_code),
                                             t);
    if (!message) {
        Py_DECREF(t);
        return NULL;
    }
    PyObject *detail = PyUnicode_AsUTF8String(t);
    Py_DECREF(t);
    PyObject *exc = detail ? make_exception(rspy_RemoteError, RSHARE_EREMOTE, message,
                                            PyBytes_AS_STRING(detail))
                           : NULL;
    Py_XDECREF(detail);
    Py_DECREF(message);
    if (!exc)
        return NULL;
    PyObject *rc = PyLong_FromLong(remote_code);
    if (rc && PyObject_SetAttrString(exc, "remote_code", rc) == 0)
        PyErr_SetObject(rspy_RemoteError, exc);
    Py_XDECREF(rc);
    Py_DECREF(exc);
    return NULL;
}

int rspy_code_of_exception(PyObject *exc)
{
    if (!exc || !PyObject_IsInstance(exc, rspy_Error))
        return RSHARE_EIO;
    PyObject *c = PyObject_GetAttrString(exc, "code");
    if (!c) {
        PyErr_Clear();
        return RSHARE_EIO;
    }
    long code = PyLong_Check(c) ? PyLong_AsLong(c) : 0;
    Py_DECREF(c);
    if (PyErr_Occurred())
        PyErr_Clear();
    if (code >= 0 || code <= RSHARE_ERROR_MIN_)
        return RSHARE_EIO;
    return (int)code;
}

void rspy_report_callback_error(PyObject *callback)
{
    /* Ctrl-C while a callback ran: report it as usual and raise it again at
     * the next signal check, outside the library. */
    int interrupted = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
    PyErr_WriteUnraisable(callback);
    if (interrupted)
        PyErr_SetInterrupt();
}

/* rshare.error(code, message=None): the exception instance for a code. */
PyObject *rspy_error_factory(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"code", "message", NULL};
    int code;
    const char *message = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|z", kwlist, &code, &message))
        return NULL;
    PyObject *text = message ? PyUnicode_FromString(message)
                             : PyUnicode_FromFormat("%s (%s)", rshare_strerror(code),
                                                    rshare_err_name(code));
    if (!text)
        return NULL;
    PyObject *exc = make_exception(class_for(code), code, text, message);
    Py_DECREF(text);
    return exc;
}
