/* rshare Python bindings — node identities (include/rshare/identity.h):
 * module-level functions that make key pairs, enrol a node with the
 * authority's key and check a certificate.  Keys and certificates are
 * bytes; key files are the application's business (rsharectl identity
 * writes them).  Node(identity_key=, identity_cert=, authority_public_key=)
 * is in node.c. */
#include "rshare_python.h"

#include <string.h>

/* A bytes-like argument of exactly `len` bytes, copied into `out`. */
static int exact(PyObject *obj, const char *name, uint8_t *out, size_t len)
{
    Py_buffer b;
    if (PyObject_GetBuffer(obj, &b, PyBUF_SIMPLE) < 0)
        return -1;
    int ok = (size_t)b.len == len;
    if (ok)
        memcpy(out, b.buf, len);
    PyBuffer_Release(&b);
    if (!ok)
        PyErr_Format(PyExc_ValueError, "%s must be %zu bytes", name, len);
    return ok ? 0 : -1;
}

static PyObject *identity_keygen(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    uint8_t pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES], sk[RSHARE_IDENTITY_SECRET_KEY_BYTES];
    rshare_identity_keygen(pk, sk);
    PyObject *r = Py_BuildValue("(y#y#)", (const char *)pk, (Py_ssize_t)sizeof(pk),
                                (const char *)sk, (Py_ssize_t)sizeof(sk));
    memset(sk, 0, sizeof(sk));
    return r;
}

static PyObject *identity_public_key(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *sk_obj;
    uint8_t sk[RSHARE_IDENTITY_SECRET_KEY_BYTES], pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    if (!PyArg_ParseTuple(args, "O", &sk_obj) ||
        exact(sk_obj, "secret_key", sk, sizeof(sk)) < 0)
        return NULL;
    rshare_identity_public_key(sk, pk);
    memset(sk, 0, sizeof(sk));
    return PyBytes_FromStringAndSize((const char *)pk, sizeof(pk));
}

static PyObject *identity_certify(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"authority_secret_key", "node_id", "public_key", NULL};
    PyObject *sk_obj, *pk_obj;
    unsigned long id;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OkO", kwlist, &sk_obj, &id, &pk_obj))
        return NULL;
    if (id == 0 || id >= 0xFFFFFFFFul) {
        PyErr_SetString(PyExc_ValueError, "node_id must be in 1 .. 0xFFFFFFFE");
        return NULL;
    }
    uint8_t sk[RSHARE_IDENTITY_SECRET_KEY_BYTES], pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
        cert[RSHARE_IDENTITY_CERT_BYTES];
    if (exact(pk_obj, "public_key", pk, sizeof(pk)) < 0 ||
        exact(sk_obj, "authority_secret_key", sk, sizeof(sk)) < 0)
        return NULL;
    int rc = rshare_identity_certify(sk, (uint32_t)id, pk, cert);
    memset(sk, 0, sizeof(sk));
    if (rc < 0)
        return rspy_raise(rc, "certifying the key");
    return PyBytes_FromStringAndSize((const char *)cert, sizeof(cert));
}

static PyObject *identity_cert_verify(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"cert", "authority_public_key", NULL};
    PyObject *cert_obj, *auth_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO", kwlist, &cert_obj, &auth_obj))
        return NULL;
    uint8_t cert[RSHARE_IDENTITY_CERT_BYTES], auth[RSHARE_IDENTITY_PUBLIC_KEY_BYTES],
        pk[RSHARE_IDENTITY_PUBLIC_KEY_BYTES];
    if (exact(cert_obj, "cert", cert, sizeof(cert)) < 0 ||
        exact(auth_obj, "authority_public_key", auth, sizeof(auth)) < 0)
        return NULL;
    uint32_t id;
    int rc = rshare_identity_cert_verify(cert, auth, &id, pk);
    if (rc < 0)
        return rspy_raise(rc, rc == RSHARE_EAUTH ? "the certificate is not the authority's"
                                                 : "not an rshare certificate");
    return Py_BuildValue("(ky#)", (unsigned long)id, (const char *)pk, (Py_ssize_t)sizeof(pk));
}

PyMethodDef rspy_identity_methods[] = {
    {"identity_keygen", identity_keygen, METH_NOARGS,
     "identity_keygen() -> (public_key, secret_key)\nA new Ed25519 key pair (32 and 64 bytes)."},
    {"identity_public_key", identity_public_key, METH_VARARGS,
     "identity_public_key(secret_key) -> bytes\nThe public half of a secret key."},
    {"identity_certify", (PyCFunction)(void (*)(void))identity_certify,
     METH_VARARGS | METH_KEYWORDS,
     "identity_certify(authority_secret_key, node_id, public_key) -> bytes\n"
     "Enrol a node: the 104-byte certificate binding node_id to public_key,\n"
     "signed with the cluster authority's secret key."},
    {"identity_cert_verify", (PyCFunction)(void (*)(void))identity_cert_verify,
     METH_VARARGS | METH_KEYWORDS,
     "identity_cert_verify(cert, authority_public_key) -> (node_id, public_key)\n"
     "Check a certificate against the authority's public key; raises\n"
     "AuthenticationFailed (not the authority's) or ProtocolError (not a certificate)."},
    {NULL, NULL, 0, NULL},
};
