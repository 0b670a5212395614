/* Bytes -> latin-1 text as an Arrow string column, in C.
 *
 * The DuckDB store keeps protobuf bytes (span details) as latin-1 text, one character per
 * byte (see schema.py). ``utf8_columns(values)`` returns what ``pa.array([v.decode("latin-1")
 * for v in values])`` holds, as the two buffers of an Arrow string array: int32 offsets
 * (little-endian) and the UTF-8 data. Bytes below 0x80 are copied; each other byte becomes
 * two. The copy runs with the GIL released: the writer thread builds these columns while the
 * receivers decode requests.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    Py_ssize_t len;
} Piece;

static void transcode(const Piece *pieces, Py_ssize_t n, int32_t *offsets, uint8_t *out,
                      size_t *written) {
    size_t at = 0;
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *p = pieces[i].data, *end = p + pieces[i].len;
        while (p < end) {
            /* Copy the run of ASCII up to the next high byte, eight bytes at a time. */
            const uint8_t *run = p;
            uint64_t word;
            while (end - p >= 8 && (memcpy(&word, p, 8), !(word & 0x8080808080808080ULL))) p += 8;
            while (p < end && *p < 0x80) p++;
            memcpy(out + at, run, (size_t)(p - run));
            at += (size_t)(p - run);
            if (p < end) {
                out[at++] = (uint8_t)(0xC0 | (*p >> 6));
                out[at++] = (uint8_t)(0x80 | (*p & 0x3F));
                p++;
            }
        }
        offsets[i + 1] = (int32_t)at;
    }
    *written = at;
}

static PyObject *utf8_columns(PyObject *module, PyObject *arg) {
    PyObject *values = NULL, *offsets = NULL, *data = NULL, *result = NULL;
    Piece *pieces = NULL;
    Py_ssize_t n, i;
    size_t total = 0, written = 0;
    values = PySequence_Tuple(arg); /* keeps every value alive while the GIL is released */
    if (!values) return NULL;
    n = PyTuple_GET_SIZE(values);
    pieces = PyMem_Malloc(sizeof(Piece) * (size_t)(n ? n : 1));
    if (!pieces) { PyErr_NoMemory(); goto done; }
    for (i = 0; i < n; i++) {
        PyObject *value = PyTuple_GET_ITEM(values, i);
        if (!PyBytes_Check(value)) {
            PyErr_Format(PyExc_TypeError, "value %zd is %.100s, not bytes", i, Py_TYPE(value)->tp_name);
            goto done;
        }
        pieces[i].data = (const uint8_t *)PyBytes_AS_STRING(value);
        pieces[i].len = PyBytes_GET_SIZE(value);
        total += (size_t)pieces[i].len;
    }
    if (total > INT32_MAX / 2) {
        PyErr_SetString(PyExc_OverflowError, "more text than 32-bit Arrow offsets can address");
        goto done;
    }
    offsets = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(sizeof(int32_t) * (size_t)(n + 1)));
    data = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(2 * total));
    if (!offsets || !data) goto done;
    {
        int32_t *offset_out = (int32_t *)PyBytes_AS_STRING(offsets);
        uint8_t *data_out = (uint8_t *)PyBytes_AS_STRING(data);
        Py_BEGIN_ALLOW_THREADS
        transcode(pieces, n, offset_out, data_out, &written);
        Py_END_ALLOW_THREADS
    }
    if (_PyBytes_Resize(&data, (Py_ssize_t)written) < 0) goto done;
    result = PyTuple_Pack(2, offsets, data);
done:
    PyMem_Free(pieces);
    Py_XDECREF(values);
    Py_XDECREF(offsets);
    Py_XDECREF(data);
    return result;
}

static PyMethodDef methods[] = {
    {"utf8_columns", utf8_columns, METH_O,
     "utf8_columns(values) -> (offsets, data): a list of bytes read as latin-1, as the int32\n"
     "offsets and UTF-8 data of an Arrow string array."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_latin1",
    "Bytes as latin-1 text in Arrow's UTF-8 layout, in C (see traceway.storage.duckdb.schema).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__latin1(void) {
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe != 1) {
        PyErr_SetString(PyExc_ImportError, "_latin1 writes Arrow's little-endian offsets");
        return NULL;
    }
    return PyModule_Create(&module_def);
}
