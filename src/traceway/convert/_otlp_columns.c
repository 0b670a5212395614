/* OTLP ExportTraceServiceRequest protobuf -> SpanBatch columns, in C.
 *
 * The contract, which the tests check against the pure-Python path on every fixture and on
 * fuzzed inputs: ``decode(body)`` either returns None, or returns exactly the columns that
 * ``traceway.convert.otlp.spans_from_otlp`` produces for the same body. It returns None, and
 * leaves the request to the Python path, for anything outside the common case it handles:
 * malformed or truncated wire data, invalid UTF-8, an invalid span (ids, times, kind, status),
 * unknown fields, and encodings that are not canonical (fields out of number order, repeated
 * singular fields, zero values written out, non-minimal varints). SDKs write canonical
 * protobuf, so real traffic takes this path; whatever it declines, Python answers as before.
 *
 * Canonical input is what makes slicing safe: a canonical span's bytes equal its protobuf
 * re-serialisation, so ``detail`` (the span without fields 1, 2, 4-8) and the resource and
 * scope bytes can be cut from the request instead of being re-encoded.
 *
 * The first pass parses and validates the whole request with the GIL released; the second
 * builds the Python lists from the offsets it recorded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 32
#define MAX_TIME_NS ((uint64_t)INT64_MAX)

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} Reader;

typedef struct {
    uint32_t field;
    uint32_t wire;
    uint64_t value;        /* varint / fixed value */
    const uint8_t *data;   /* length-delimited payload */
    size_t len;
    const uint8_t *start;  /* first byte of the tag */
} Field;

typedef struct {
    const uint8_t *data;
    size_t len;
} Slice;

typedef struct {
    Slice bytes;    /* the Resource message */
    Slice service;  /* service.name string value, empty when absent */
} ResourceInfo;

typedef struct {
    const uint8_t *trace_id, *span_id, *parent; /* parent NULL when absent or all zero */
    Slice name, status_message, trace_state_field, tail;
    uint64_t start, end;
    uint32_t kind, status_code;
    uint32_t resource, scope;
} SpanInfo;

typedef struct {
    SpanInfo *spans;
    size_t n_spans, cap_spans;
    ResourceInfo *resources;
    size_t n_resources, cap_resources;
    Slice *scopes;
    size_t n_scopes, cap_scopes;
} Parsed;

static int read_varint(Reader *r, uint64_t *out) {
    uint64_t value = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return 0;
        uint8_t byte = *r->p++;
        if (i == 9 && byte > 1) return 0;
        value |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            if (i > 0 && byte == 0) return 0; /* non-minimal */
            *out = value;
            return 1;
        }
    }
    return 0;
}

/* Read the next field; 0 at a malformed one. Groups (wire types 3, 4) are refused. */
static int next_field(Reader *r, Field *f) {
    uint64_t tag;
    f->start = r->p;
    if (!read_varint(r, &tag)) return 0;
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff) return 0;
    f->field = (uint32_t)(tag >> 3);
    f->wire = (uint32_t)(tag & 7);
    switch (f->wire) {
    case 0:
        return read_varint(r, &f->value);
    case 1:
        if (r->end - r->p < 8) return 0;
        memcpy(&f->value, r->p, 8); /* little-endian hosts only: checked at import */
        r->p += 8;
        return 1;
    case 5: {
        uint32_t v;
        if (r->end - r->p < 4) return 0;
        memcpy(&v, r->p, 4);
        f->value = v;
        r->p += 4;
        return 1;
    }
    case 2: {
        uint64_t len;
        if (!read_varint(r, &len)) return 0;
        if (len > (uint64_t)(r->end - r->p)) return 0;
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 1;
    }
    default:
        return 0;
    }
}

static int valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) {
            if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80) return 0;
            i += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            if (i + 2 >= n) return 0;
            uint8_t c1 = s[i + 1];
            if ((c1 & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80) return 0;
            if (c == 0xe0 && c1 < 0xa0) return 0;  /* overlong */
            if (c == 0xed && c1 >= 0xa0) return 0;  /* surrogate */
            i += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            if (i + 3 >= n) return 0;
            uint8_t c1 = s[i + 1];
            if ((c1 & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 || (s[i + 3] & 0xc0) != 0x80) return 0;
            if (c == 0xf0 && c1 < 0x90) return 0;  /* overlong */
            if (c == 0xf4 && c1 >= 0x90) return 0;  /* above U+10FFFF */
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Field order: strictly increasing, except a repeated field may follow itself. */
static int in_order(uint32_t *last, uint32_t field, int repeated) {
    if (field < *last || (field == *last && !repeated)) return 0;
    *last = field;
    return 1;
}

/* A proto3 implicit-presence scalar: canonical encodings omit zero values. */
static int present_string(const Field *f) { return f->wire == 2 && f->len > 0 && valid_utf8(f->data, f->len); }
static int present_bytes(const Field *f) { return f->wire == 2 && f->len > 0; }
static int present_u32(const Field *f) { return f->wire == 0 && f->value != 0 && f->value <= 0xffffffffu; }
static int present_fixed(const Field *f, uint32_t wire) { return f->wire == wire && f->value != 0; }

static int check_key_value(const uint8_t *p, size_t n, int depth);

static int check_any_value(const uint8_t *p, size_t n, int depth) {
    Reader r = {p, p + n};
    Field f;
    int seen = 0;
    if (depth > MAX_DEPTH) return 0;
    while (r.p < r.end) {
        if (!next_field(&r, &f) || seen++) return 0; /* a oneof: one field at most */
        switch (f.field) {
        case 1: if (f.wire != 2 || !valid_utf8(f.data, f.len)) return 0; break;
        case 2: if (f.wire != 0 || f.value > 1) return 0; break;
        case 3: if (f.wire != 0) return 0; break;
        case 4: if (f.wire != 1) return 0; break;
        case 5: case 6: {
            /* ArrayValue {repeated AnyValue values = 1} / KeyValueList {repeated KeyValue values = 1} */
            Reader inner = {f.data, f.data + f.len};
            Field g;
            if (f.wire != 2) return 0;
            while (inner.p < inner.end) {
                if (!next_field(&inner, &g) || g.field != 1 || g.wire != 2) return 0;
                if (f.field == 5 ? !check_any_value(g.data, g.len, depth + 2)
                                 : !check_key_value(g.data, g.len, depth + 2)) return 0;
            }
            break;
        }
        case 7: if (f.wire != 2) return 0; break;
        default: return 0;
        }
    }
    return 1;
}

static int check_key_value(const uint8_t *p, size_t n, int depth) {
    Reader r = {p, p + n};
    Field f;
    uint32_t last = 0;
    if (depth > MAX_DEPTH) return 0;
    while (r.p < r.end) {
        if (!next_field(&r, &f) || !in_order(&last, f.field, 0)) return 0;
        if (f.field == 1) { if (!present_string(&f)) return 0; }
        else if (f.field == 2) { if (f.wire != 2 || !check_any_value(f.data, f.len, depth + 1)) return 0; }
        else return 0;
    }
    return 1;
}

/* A message of the form {KeyValue attributes = A; uint32 dropped = A + 1} plus optional
 * leading string fields 1..A-1 (InstrumentationScope: name, version). */
static int check_attributes_message(const uint8_t *p, size_t n, uint32_t attributes_field) {
    Reader r = {p, p + n};
    Field f;
    uint32_t last = 0;
    while (r.p < r.end) {
        if (!next_field(&r, &f) || !in_order(&last, f.field, f.field == attributes_field)) return 0;
        if (f.field < attributes_field) { if (!present_string(&f)) return 0; }
        else if (f.field == attributes_field) { if (f.wire != 2 || !check_key_value(f.data, f.len, 2)) return 0; }
        else if (f.field == attributes_field + 1) { if (!present_u32(&f)) return 0; }
        else return 0;
    }
    return 1;
}

static int check_event(const uint8_t *p, size_t n) {
    Reader r = {p, p + n};
    Field f;
    uint32_t last = 0;
    while (r.p < r.end) {
        if (!next_field(&r, &f) || !in_order(&last, f.field, f.field == 3)) return 0;
        switch (f.field) {
        case 1: if (!present_fixed(&f, 1)) return 0; break;
        case 2: if (!present_string(&f)) return 0; break;
        case 3: if (f.wire != 2 || !check_key_value(f.data, f.len, 2)) return 0; break;
        case 4: if (!present_u32(&f)) return 0; break;
        default: return 0;
        }
    }
    return 1;
}

static int check_link(const uint8_t *p, size_t n) {
    Reader r = {p, p + n};
    Field f;
    uint32_t last = 0;
    while (r.p < r.end) {
        if (!next_field(&r, &f) || !in_order(&last, f.field, f.field == 4)) return 0;
        switch (f.field) {
        case 1: case 2: if (!present_bytes(&f)) return 0; break;
        case 3: if (!present_string(&f)) return 0; break;
        case 4: if (f.wire != 2 || !check_key_value(f.data, f.len, 2)) return 0; break;
        case 5: if (!present_u32(&f)) return 0; break;
        case 6: if (!present_fixed(&f, 5)) return 0; break;
        default: return 0;
        }
    }
    return 1;
}

static int check_status(const uint8_t *p, size_t n, SpanInfo *span) {
    Reader r = {p, p + n};
    Field f;
    uint32_t last = 0;
    while (r.p < r.end) {
        if (!next_field(&r, &f) || !in_order(&last, f.field, 0)) return 0;
        if (f.field == 2) {
            if (!present_string(&f)) return 0;
            span->status_message.data = f.data;
            span->status_message.len = f.len;
        } else if (f.field == 3) {
            if (f.wire != 0 || f.value < 1 || f.value > 2) return 0;
            span->status_code = (uint32_t)f.value;
        } else {
            return 0;
        }
    }
    return 1;
}

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (p[i]) return 0;
    return 1;
}

static int parse_span(const uint8_t *p, size_t n, SpanInfo *span) {
    Reader r = {p, p + n};
    Field f;
    uint32_t last = 0;
    memset(span, 0, sizeof *span);
    span->tail.data = p + n; /* empty tail unless a field after the columns follows */
    while (r.p < r.end) {
        if (!next_field(&r, &f)) return 0;
        if (!in_order(&last, f.field, f.field == 9 || f.field == 11 || f.field == 13)) return 0;
        if (f.field >= 9 && span->tail.data == p + n) span->tail.data = f.start;
        switch (f.field) {
        case 1:
            if (f.wire != 2 || f.len != 16 || all_zero(f.data, 16)) return 0;
            span->trace_id = f.data;
            break;
        case 2:
            if (f.wire != 2 || f.len != 8 || all_zero(f.data, 8)) return 0;
            span->span_id = f.data;
            break;
        case 3:
            if (!present_string(&f)) return 0;
            span->trace_state_field.data = f.start;
            span->trace_state_field.len = (size_t)(r.p - f.start);
            break;
        case 4:
            if (f.wire != 2 || f.len != 8) return 0;
            span->parent = all_zero(f.data, 8) ? NULL : f.data;
            break;
        case 5:
            if (!present_string(&f)) return 0;
            span->name.data = f.data;
            span->name.len = f.len;
            break;
        case 6:
            if (f.wire != 0 || f.value < 1 || f.value > 5) return 0;
            span->kind = (uint32_t)f.value;
            break;
        case 7: case 8:
            if (!present_fixed(&f, 1) || f.value > MAX_TIME_NS) return 0;
            if (f.field == 7) span->start = f.value; else span->end = f.value;
            break;
        case 9: case 11: case 13:
            if (f.wire != 2) return 0;
            if (f.field == 9 && !check_key_value(f.data, f.len, 1)) return 0;
            if (f.field == 11 && !check_event(f.data, f.len)) return 0;
            if (f.field == 13 && !check_link(f.data, f.len)) return 0;
            break;
        case 10: case 12: case 14:
            if (!present_u32(&f)) return 0;
            break;
        case 15:
            if (f.wire != 2 || !check_status(f.data, f.len, span)) return 0;
            break;
        case 16:
            if (!present_fixed(&f, 5)) return 0;
            break;
        default:
            return 0;
        }
    }
    if (!span->trace_id || !span->span_id) return 0;
    span->tail.len = (size_t)(p + n - span->tail.data);
    return 1;
}

#define GROW(array, count, cap)                                                    \
    do {                                                                           \
        if ((count) == (cap)) {                                                    \
            size_t grown = (cap) ? (cap) * 2 : 64;                                 \
            void *more = PyMem_RawRealloc((array), grown * sizeof *(array));       \
            if (!more) return -1;                                                  \
            (array) = more;                                                        \
            (cap) = grown;                                                         \
        }                                                                          \
    } while (0)

/* The service.name value of a canonical Resource, empty when absent or not a string. */
static Slice service_name(const uint8_t *p, size_t n) {
    Reader r = {p, p + n};
    Field f, g, h;
    Slice none = {NULL, 0};
    while (r.p < r.end && next_field(&r, &f)) {
        if (f.field != 1) continue;
        Reader kv = {f.data, f.data + f.len};
        Slice key = {NULL, 0};
        while (kv.p < kv.end && next_field(&kv, &g)) {
            if (g.field == 1) {
                key.data = g.data;
                key.len = g.len;
            } else if (g.field == 2) {
                if (key.len != 12 || memcmp(key.data, "service.name", 12) != 0) break;
                Reader any = {g.data, g.data + g.len};
                if (next_field(&any, &h) && h.field == 1) {
                    Slice value = {h.data, h.len};
                    return value;
                }
                return none;
            }
        }
        if (key.len == 12 && memcmp(key.data, "service.name", 12) == 0) return none; /* no value */
    }
    return none;
}

/* 1 parsed, 0 declined (Python decides), -1 out of memory. */
static int parse_request(const uint8_t *p, size_t n, Parsed *out) {
    Reader r = {p, p + n};
    Field f, g, h;
    while (r.p < r.end) {
        if (!next_field(&r, &f) || f.field != 1 || f.wire != 2) return 0;
        /* ResourceSpans */
        Reader rs = {f.data, f.data + f.len};
        uint32_t last = 0;
        GROW(out->resources, out->n_resources, out->cap_resources);
        ResourceInfo *resource = &out->resources[out->n_resources];
        uint32_t resource_index = (uint32_t)out->n_resources++;
        resource->bytes.data = f.data;
        resource->bytes.len = 0;
        resource->service.data = NULL;
        resource->service.len = 0;
        while (rs.p < rs.end) {
            if (!next_field(&rs, &g) || !in_order(&last, g.field, g.field == 2)) return 0;
            if (g.field == 1) {
                if (g.wire != 2 || !check_attributes_message(g.data, g.len, 1)) return 0;
                resource = &out->resources[resource_index];
                resource->bytes.data = g.data;
                resource->bytes.len = g.len;
                resource->service = service_name(g.data, g.len);
            } else if (g.field == 2) {
                if (g.wire != 2) return 0;
                /* ScopeSpans */
                Reader ss = {g.data, g.data + g.len};
                uint32_t last_scope = 0;
                GROW(out->scopes, out->n_scopes, out->cap_scopes);
                uint32_t scope_index = (uint32_t)out->n_scopes++;
                out->scopes[scope_index].data = g.data;
                out->scopes[scope_index].len = 0;
                while (ss.p < ss.end) {
                    if (!next_field(&ss, &h) || !in_order(&last_scope, h.field, h.field == 2)) return 0;
                    if (h.field == 1) {
                        if (h.wire != 2 || !check_attributes_message(h.data, h.len, 3)) return 0;
                        out->scopes[scope_index].data = h.data;
                        out->scopes[scope_index].len = h.len;
                    } else if (h.field == 2) {
                        if (h.wire != 2) return 0;
                        GROW(out->spans, out->n_spans, out->cap_spans);
                        SpanInfo *span = &out->spans[out->n_spans];
                        if (!parse_span(h.data, h.len, span)) return 0;
                        span->resource = resource_index;
                        span->scope = scope_index;
                        out->n_spans++;
                    } else if (h.field == 3) {
                        if (!present_string(&h)) return 0;
                    } else {
                        return 0;
                    }
                }
            } else if (g.field == 3) {
                if (!present_string(&g)) return 0;
            } else {
                return 0;
            }
        }
    }
    return 1;
}

static PyObject *unknown_service;

static PyObject *bytes_of(Slice s) { return PyBytes_FromStringAndSize((const char *)s.data, (Py_ssize_t)s.len); }
static PyObject *str_of(Slice s) { return PyUnicode_DecodeUTF8((const char *)s.data, (Py_ssize_t)s.len, "strict"); }

static PyObject *detail_of(const SpanInfo *span) {
    if (!span->trace_state_field.len) return bytes_of(span->tail);
    size_t n = span->trace_state_field.len + span->tail.len;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!out) return NULL;
    char *dest = PyBytes_AS_STRING(out);
    memcpy(dest, span->trace_state_field.data, span->trace_state_field.len);
    if (span->tail.len) memcpy(dest + span->trace_state_field.len, span->tail.data, span->tail.len);
    return out;
}

enum { TRACE_ID, SPAN_ID, PARENT, SERVICE, NAME, KIND, START, DURATION, STATUS_CODE,
       STATUS_MESSAGE, DETAIL, RESOURCE, SCOPE, N_COLUMNS };

/* Build the column lists; a new reference to a tuple of them, NULL with an exception set. */
static PyObject *columns_of(const Parsed *parsed) {
    PyObject *columns[N_COLUMNS] = {NULL};
    PyObject **resources = NULL, **services = NULL, **scopes = NULL;
    PyObject *result = NULL, *empty = NULL;
    Py_ssize_t n = (Py_ssize_t)parsed->n_spans;
    size_t i;

    for (int c = 0; c < N_COLUMNS; c++)
        if (!(columns[c] = PyList_New(n))) goto done;
    resources = PyMem_Calloc(parsed->n_resources + 1, sizeof *resources);
    services = PyMem_Calloc(parsed->n_resources + 1, sizeof *services);
    scopes = PyMem_Calloc(parsed->n_scopes + 1, sizeof *scopes);
    if (!resources || !services || !scopes || !(empty = PyBytes_FromStringAndSize("", 0))) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < parsed->n_resources; i++) {
        const ResourceInfo *r = &parsed->resources[i];
        if (!(resources[i] = bytes_of(r->bytes))) goto done;
        if (r->service.len) {
            if (!(services[i] = str_of(r->service))) goto done;
        } else {
            Py_INCREF(unknown_service);
            services[i] = unknown_service;
        }
    }
    for (i = 0; i < parsed->n_scopes; i++)
        if (!(scopes[i] = bytes_of(parsed->scopes[i]))) goto done;

    for (i = 0; i < parsed->n_spans; i++) {
        const SpanInfo *s = &parsed->spans[i];
        PyObject *values[N_COLUMNS];
        Slice trace = {s->trace_id, 16}, span = {s->span_id, 8}, parent = {s->parent, 8};
        int64_t start = (int64_t)s->start, end = (int64_t)s->end;
        values[TRACE_ID] = bytes_of(trace);
        values[SPAN_ID] = bytes_of(span);
        if (s->parent) {
            values[PARENT] = bytes_of(parent);
        } else {
            Py_INCREF(empty);
            values[PARENT] = empty;
        }
        Py_INCREF(services[s->resource]);
        values[SERVICE] = services[s->resource];
        values[NAME] = str_of(s->name);
        values[KIND] = PyLong_FromUnsignedLong(s->kind);
        values[START] = PyLong_FromLongLong(start);
        values[DURATION] = PyLong_FromLongLong(end > start ? end - start : 0);
        values[STATUS_CODE] = PyLong_FromUnsignedLong(s->status_code);
        values[STATUS_MESSAGE] = str_of(s->status_message);
        values[DETAIL] = detail_of(s);
        Py_INCREF(resources[s->resource]);
        values[RESOURCE] = resources[s->resource];
        Py_INCREF(scopes[s->scope]);
        values[SCOPE] = scopes[s->scope];
        int failed = 0;
        for (int c = 0; c < N_COLUMNS; c++) {
            if (values[c]) PyList_SET_ITEM(columns[c], (Py_ssize_t)i, values[c]);
            else failed = 1; /* the list keeps NULL, which its dealloc skips */
        }
        if (failed) goto done;
    }
    result = PyTuple_New(N_COLUMNS);
    if (result)
        for (int c = 0; c < N_COLUMNS; c++) {
            PyTuple_SET_ITEM(result, c, columns[c]);
            columns[c] = NULL;
        }
done:
    for (int c = 0; c < N_COLUMNS; c++) Py_XDECREF(columns[c]);
    if (resources) for (i = 0; i < parsed->n_resources; i++) Py_XDECREF(resources[i]);
    if (services) for (i = 0; i < parsed->n_resources; i++) Py_XDECREF(services[i]);
    if (scopes) for (i = 0; i < parsed->n_scopes; i++) Py_XDECREF(scopes[i]);
    PyMem_Free(resources);
    PyMem_Free(services);
    PyMem_Free(scopes);
    Py_XDECREF(empty);
    return result;
}

static PyObject *decode(PyObject *module, PyObject *arg) {
    Py_buffer view;
    Parsed parsed = {0};
    int outcome;
    PyObject *result;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    outcome = parse_request((const uint8_t *)view.buf, (size_t)view.len, &parsed);
    Py_END_ALLOW_THREADS
    if (outcome < 0) result = PyErr_NoMemory();
    else if (outcome == 0) result = Py_NewRef(Py_None);
    else result = columns_of(&parsed);
    PyMem_RawFree(parsed.spans);
    PyMem_RawFree(parsed.resources);
    PyMem_RawFree(parsed.scopes);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_O,
     "decode(body) -> tuple of 13 column lists, or None when the Python path must decide.\n\n"
     "``body`` is an OTLP ExportTraceServiceRequest (or TracesData) protobuf message."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_otlp_columns",
    "OTLP protobuf -> SpanBatch columns in C (see traceway.convert.otlp_native).", -1, methods,
};

PyMODINIT_FUNC PyInit__otlp_columns(void) {
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe != 1) {
        PyErr_SetString(PyExc_ImportError, "_otlp_columns reads fixed-width fields little-endian");
        return NULL;
    }
    unknown_service = PyUnicode_InternFromString("unknown_service");
    if (!unknown_service) return NULL;
    return PyModule_Create(&module_def);
}
