/* The compiled part of the nearest-facility index (services_nearby/index.py): the one distance
 * function, a k-d tree over unit vectors, the exact nearest search and the answer's JSON items.
 *
 * Distance. A position is the unit vector u = (cos p cos l, cos p sin l, sin p) of its WGS-84
 * latitude p and longitude l (unit(), the same code for facilities and queries). The distance
 * between two positions is the great-circle distance of their chord:
 *
 *     c2 = |u - v|^2 = ((dx*dx + dy*dy) + dz*dz)            chord2()
 *     metres = 2 R asin(min(1, sqrt(c2) / 2))                metres()
 *
 * (the same quantity as the haversine formula: sqrt(c2) / 2 = sin(angle / 2)). The search and the
 * brute-force scan of the tests (distances()) call these very functions, so equal inputs give
 * equal bits. Compiled with -ffp-contract=off: no fused multiply-add may change a result.
 *
 * Exactness of nearest(): its answer equals a scan of every facility ordered by (metres, id), ties
 * included. Call a point "passing" when it is alive, not known to be closed and c2 <= tau_r, and
 * "eligible" when it passes and its metres are at most the radius r.
 *  1. Nodes are pruned by the squared chord to their bounding box (box_lb2()). For a point a in
 *     the box, |fl(a - q)| >= fl(side - q) >= 0 on every axis where q is outside the box, because
 *     correctly rounded subtraction, multiplication and addition of non-negative terms are
 *     monotonic: the computed bound is at most the computed c2 of every point inside, exactly.
 *  2. The search keeps the k smallest c2 of passing points seen in a heap and prunes nodes and
 *     points above bound = min(tau_r, c2_k (1 + MARGIN) + TINY), c2_k the heap's largest once it
 *     holds k points (no such term until then, nor once c2_k (1 + MARGIN) reaches NEAR_ANTIPODE,
 *     where metres() flattens at pi R). The bound never grows, so every passing point with c2 at
 *     most the final bound is seen, and kept as a candidate.
 *  3. A point a with c2(a) above c2(h) (1 + MARGIN) + TINY has more metres than h: sqrt is
 *     correctly rounded, asin faithfully rounded and asin(x) / x grows with x, so the relative
 *     gap of at least 4e-10 (TINY covers c2 too small for relative rounding) survives the few
 *     ulps of rounding, and h is not clamped (c2(h) < NEAR_ANTIPODE). Such a point cannot rank
 *     within k: the heap's k points all have fewer metres, so each is either eligible and ranks
 *     before a, or beyond r, and then so is a.
 *  4. metres(p) <= r implies c2(p) <= tau_r = (2 sin(r / 2R))^2 (1 + MARGIN) + TINY by the same
 *     argument (tau_r is infinite once r / 2R reaches pi / 2): eligible points all pass.
 *  5. The candidates under the final bound get their metres, those beyond r are dropped, the rest
 *     are sorted by (metres, id) and the first k returned: by 2-4, the scan's answer.
 *
 * The tree: points in an implicit balanced binary tree (node 1 is [0, n); node i splits its range
 * [lo, hi) at lo + (hi - lo) / 2 into nodes 2i and 2i + 1 along the widest axis of its box), all
 * leaves at the same depth, each with at most `leaf` points; per node a tight bounding box. Which
 * points go where affects speed only: the boxes are computed from the points they hold.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EARTH_RADIUS_M 6371008.8 /* app.geo.coords.EARTH_RADIUS_M (a test checks) */
#define MARGIN 1e-9
#define TINY 1e-300
#define NEAR_ANTIPODE 3.99 /* c2 past which every passing point is a candidate */
#define MAX_DEPTH 40

/* ------------------------------------------------------------------ the one distance */

static inline void unit(double lat, double lng, double *u) {
    const double k = Py_MATH_PI / 180.0;
    double p = lat * k, l = lng * k, c = cos(p);
    u[0] = c * cos(l);
    u[1] = c * sin(l);
    u[2] = sin(p);
}

static inline double chord2(const double *a, const double *q) {
    double dx = a[0] - q[0], dy = a[1] - q[1], dz = a[2] - q[2];
    return (dx * dx + dy * dy) + dz * dz;
}

static inline double metres(double c2) {
    double h = 0.5 * sqrt(c2);
    return (2.0 * EARTH_RADIUS_M) * asin(h < 1.0 ? h : 1.0);
}

/* ------------------------------------------------------------------ buffers */

typedef struct {
    Py_buffer view;
    int held;
} Buf;

/* A C-contiguous buffer of `count` items of `size` bytes (count < 0: any multiple of size). */
static int get_buf(PyObject *obj, Buf *b, Py_ssize_t size, Py_ssize_t count, const char *what) {
    if (PyObject_GetBuffer(obj, &b->view, PyBUF_C_CONTIGUOUS) < 0) return -1;
    b->held = 1;
    if (b->view.len % size || (count >= 0 && b->view.len != size * count)) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd items of %zd bytes", what,
                     b->view.len, count, size);
        return -1;
    }
    return 0;
}

static void release(Buf *b, int n) {
    for (int i = 0; i < n; i++)
        if (b[i].held) {
            PyBuffer_Release(&b[i].view);
            b[i].held = 0;
        }
}

/* ------------------------------------------------------------------ unit_vectors, distances */

static PyObject *py_unit_vectors(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "unit_vectors(lat, lng)");
        return NULL;
    }
    Buf b[2];
    memset(b, 0, sizeof b);
    PyObject *out = NULL;
    if (get_buf(args[0], &b[0], 8, -1, "lat") < 0) goto done;
    Py_ssize_t n = b[0].view.len / 8;
    if (get_buf(args[1], &b[1], 8, n, "lng") < 0) goto done;
    out = PyBytes_FromStringAndSize(NULL, 24 * n);
    if (out == NULL) goto done;
    const double *lat = b[0].view.buf, *lng = b[1].view.buf;
    double *u = (double *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) unit(lat[i], lng[i], u + 3 * i);
done:
    release(b, 2);
    return out;
}

static PyObject *py_distances(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    double lat, lng, q[3];
    if (nargs != 3 || (lat = PyFloat_AsDouble(args[1]), PyErr_Occurred()) ||
        (lng = PyFloat_AsDouble(args[2]), PyErr_Occurred())) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "distances(xyz, lat, lng)");
        return NULL;
    }
    Buf b[1];
    memset(b, 0, sizeof b);
    PyObject *out = NULL;
    if (get_buf(args[0], &b[0], 24, -1, "xyz") < 0) goto done;
    Py_ssize_t n = b[0].view.len / 24;
    out = PyBytes_FromStringAndSize(NULL, 8 * n);
    if (out == NULL) goto done;
    unit(lat, lng, q);
    const double *xyz = b[0].view.buf;
    double *d = (double *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) d[i] = metres(chord2(xyz + 3 * i, q));
done:
    release(b, 1);
    return out;
}

/* ------------------------------------------------------------------ the tree */

static int tree_depth(Py_ssize_t n, Py_ssize_t leaf) {
    int depth = 0;
    while (depth < MAX_DEPTH && (n + ((Py_ssize_t)1 << depth) - 1) >> depth > leaf) depth++;
    return depth;
}

static inline void swap_points(double *xyz, int32_t *ord, Py_ssize_t i, Py_ssize_t j) {
    double t;
    for (int a = 0; a < 3; a++) {
        t = xyz[3 * i + a];
        xyz[3 * i + a] = xyz[3 * j + a];
        xyz[3 * j + a] = t;
    }
    int32_t o = ord[i];
    ord[i] = ord[j];
    ord[j] = o;
}

/* Rearrange [lo, hi) so that the point at `nth` has no greater coordinate on `axis` before it
 * and no smaller after it (three-way partitions around random pivots: duplicates are cheap). */
static void select_nth(double *xyz, int32_t *ord, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t nth,
                       int axis, uint64_t *rng) {
    while (hi - lo > 1) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        double pivot = xyz[3 * (lo + (Py_ssize_t)(*rng % (uint64_t)(hi - lo))) + axis];
        Py_ssize_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double v = xyz[3 * i + axis];
            if (v < pivot)
                swap_points(xyz, ord, lt++, i++);
            else if (v > pivot)
                swap_points(xyz, ord, i, --gt);
            else
                i++;
        }
        if (nth < lt)
            hi = lt;
        else if (nth >= gt)
            lo = gt;
        else
            return;
    }
}

static void build_node(double *xyz, int32_t *ord, double *boxes, Py_ssize_t node, Py_ssize_t lo,
                       Py_ssize_t hi, int level, int depth, uint64_t *rng) {
    double *box = boxes + 6 * node;
    for (int a = 0; a < 3; a++) {
        box[a] = INFINITY;
        box[3 + a] = -INFINITY;
    }
    for (Py_ssize_t i = lo; i < hi; i++)
        for (int a = 0; a < 3; a++) {
            double v = xyz[3 * i + a];
            if (v < box[a]) box[a] = v;
            if (v > box[3 + a]) box[3 + a] = v;
        }
    if (level == depth) return;
    int axis = 0;
    for (int a = 1; a < 3; a++)
        if (box[3 + a] - box[a] > box[3 + axis] - box[axis]) axis = a;
    Py_ssize_t mid = lo + (hi - lo) / 2;
    select_nth(xyz, ord, lo, hi, mid, axis, rng);
    build_node(xyz, ord, boxes, 2 * node, lo, mid, level + 1, depth, rng);
    build_node(xyz, ord, boxes, 2 * node + 1, mid, hi, level + 1, depth, rng);
}

static PyObject *py_build(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t leaf;
    if (nargs != 2 || (leaf = PyLong_AsSsize_t(args[1]), PyErr_Occurred())) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "build(xyz, leaf)");
        return NULL;
    }
    if (leaf < 1) {
        PyErr_SetString(PyExc_ValueError, "leaf must be at least 1");
        return NULL;
    }
    Buf b[1];
    memset(b, 0, sizeof b);
    PyObject *xyz = NULL, *ord = NULL, *boxes = NULL, *out = NULL;
    if (get_buf(args[0], &b[0], 24, -1, "xyz") < 0) goto done;
    Py_ssize_t n = b[0].view.len / 24;
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many points");
        goto done;
    }
    int depth = tree_depth(n, leaf);
    xyz = PyBytes_FromStringAndSize(b[0].view.buf, 24 * n);
    ord = PyBytes_FromStringAndSize(NULL, 4 * n);
    boxes = PyBytes_FromStringAndSize(NULL, 48 * ((Py_ssize_t)2 << depth));
    if (xyz == NULL || ord == NULL || boxes == NULL) goto done;
    int32_t *o = (int32_t *)PyBytes_AS_STRING(ord);
    for (Py_ssize_t i = 0; i < n; i++) o[i] = (int32_t)i;
    double *bx = (double *)PyBytes_AS_STRING(boxes);
    for (int a = 0; a < 6; a++) bx[a] = NAN; /* node 0 is unused */
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    build_node((double *)PyBytes_AS_STRING(xyz), o, bx, 1, 0, n, 0, depth, &rng);
    out = Py_BuildValue("(OOOi)", xyz, ord, boxes, depth);
done:
    Py_XDECREF(xyz);
    Py_XDECREF(ord);
    Py_XDECREF(boxes);
    release(b, 1);
    return out;
}

/* ------------------------------------------------------------------ nearest */

typedef struct {
    double c2;
    int64_t id;
    Py_ssize_t pos; /* position in the concatenated sources */
    double m;
} Cand;

typedef struct { /* one source: a tree and its per-position columns */
    const double *xyz, *boxes;
    const int32_t *ord, *hours;
    const int64_t *ids;
    const uint8_t *alive; /* NULL: all alive */
    Py_ssize_t n, offset;
    int depth;
} Source;

typedef struct {
    double q[3];
    const uint8_t *closed; /* per schedule; NULL: no open-now filter */
    Py_ssize_t nclosed;
    double tau_r, bound;
    double *heap; /* max-heap of the k smallest c2 */
    Py_ssize_t k, hn;
    Cand *cand;
    Py_ssize_t nc, cap;
    Py_ssize_t examined;
    int failed;
} Search;

static inline double box_lb2(const double *b, const double *q) {
    double g[3];
    for (int a = 0; a < 3; a++)
        g[a] = q[a] < b[a] ? b[a] - q[a] : (q[a] > b[3 + a] ? q[a] - b[3 + a] : 0.0);
    return (g[0] * g[0] + g[1] * g[1]) + g[2] * g[2];
}

static void update_bound(Search *s) {
    double b = s->tau_r;
    if (s->hn == s->k) {
        double t = s->heap[0] * (1.0 + MARGIN) + TINY;
        if (t < NEAR_ANTIPODE && t < b) b = t;
    }
    s->bound = b;
}

static void heap_offer(Search *s, double c2) {
    double *h = s->heap;
    if (s->hn < s->k) { /* sift up */
        Py_ssize_t i = s->hn++;
        while (i > 0 && h[(i - 1) / 2] < c2) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = c2;
    } else if (c2 < h[0]) { /* replace the largest, sift down */
        Py_ssize_t i = 0, n = s->hn;
        for (;;) {
            Py_ssize_t c = 2 * i + 1;
            if (c >= n) break;
            if (c + 1 < n && h[c + 1] > h[c]) c++;
            if (h[c] <= c2) break;
            h[i] = h[c];
            i = c;
        }
        h[i] = c2;
    } else
        return;
    update_bound(s);
}

static void add_candidate(Search *s, double c2, int64_t id, Py_ssize_t pos) {
    if (s->nc == s->cap) { /* drop those the bound has since passed, then grow if need be */
        Py_ssize_t j = 0;
        for (Py_ssize_t i = 0; i < s->nc; i++)
            if (s->cand[i].c2 <= s->bound) s->cand[j++] = s->cand[i];
        s->nc = j;
        if (s->nc > s->cap / 2) {
            Py_ssize_t cap = s->cap * 2;
            Cand *grown = PyMem_Realloc(s->cand, cap * sizeof(Cand));
            if (grown == NULL) {
                s->failed = 1;
                return;
            }
            s->cand = grown;
            s->cap = cap;
        }
    }
    Cand *c = &s->cand[s->nc++];
    c->c2 = c2;
    c->id = id;
    c->pos = pos;
}

static void visit(Search *s, const Source *src, Py_ssize_t node, Py_ssize_t lo, Py_ssize_t hi,
                  int level) {
    if (s->failed) return;
    if (level == src->depth) {
        for (Py_ssize_t i = lo; i < hi; i++) {
            double c2 = chord2(src->xyz + 3 * i, s->q);
            s->examined++;
            if (c2 > s->bound) continue;
            int32_t p = src->ord[i];
            if (src->alive != NULL && !src->alive[p]) continue;
            if (s->closed != NULL) {
                int32_t h = src->hours[p];
                if (h >= 0 && h < s->nclosed && s->closed[h]) continue;
            }
            add_candidate(s, c2, src->ids[p], src->offset + p);
            heap_offer(s, c2);
        }
        return;
    }
    Py_ssize_t mid = lo + (hi - lo) / 2;
    double left = box_lb2(src->boxes + 12 * node, s->q);
    double right = box_lb2(src->boxes + 12 * node + 6, s->q);
    if (left <= right) {
        if (left <= s->bound) visit(s, src, 2 * node, lo, mid, level + 1);
        if (right <= s->bound) visit(s, src, 2 * node + 1, mid, hi, level + 1);
    } else {
        if (right <= s->bound) visit(s, src, 2 * node + 1, mid, hi, level + 1);
        if (left <= s->bound) visit(s, src, 2 * node, lo, mid, level + 1);
    }
}

static int by_metres_then_id(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->m != y->m) return x->m < y->m ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

#define SOURCE_FIELDS 7 /* xyz, ord, boxes, depth, ids, alive, hours */

static int get_source(PyObject *t, Source *src, Buf *b, Py_ssize_t offset) {
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != SOURCE_FIELDS) {
        PyErr_SetString(PyExc_TypeError,
                        "a source is (xyz, order, boxes, depth, ids, alive or None, hours)");
        return -1;
    }
    if (get_buf(PyTuple_GET_ITEM(t, 0), &b[0], 24, -1, "xyz") < 0) return -1;
    Py_ssize_t n = b[0].view.len / 24;
    long depth = PyLong_AsLong(PyTuple_GET_ITEM(t, 3));
    if (depth == -1 && PyErr_Occurred()) return -1;
    if (depth < 0 || depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "bad depth");
        return -1;
    }
    if (get_buf(PyTuple_GET_ITEM(t, 1), &b[1], 4, n, "order") < 0 ||
        get_buf(PyTuple_GET_ITEM(t, 2), &b[2], 48, (Py_ssize_t)2 << depth, "boxes") < 0 ||
        get_buf(PyTuple_GET_ITEM(t, 4), &b[3], 8, n, "ids") < 0 ||
        get_buf(PyTuple_GET_ITEM(t, 6), &b[5], 4, n, "hours") < 0)
        return -1;
    PyObject *alive = PyTuple_GET_ITEM(t, 5);
    if (alive != Py_None && get_buf(alive, &b[4], 1, n, "alive") < 0) return -1;
    src->xyz = b[0].view.buf;
    src->ord = b[1].view.buf;
    src->boxes = b[2].view.buf;
    src->depth = (int)depth;
    src->ids = b[3].view.buf;
    src->alive = alive == Py_None ? NULL : b[4].view.buf;
    src->hours = b[5].view.buf;
    src->n = n;
    src->offset = offset;
    return 0;
}

#define MAX_SOURCES 4

/* nearest(sources, lat, lng, limit, radius or None, closed or None[, stats]) -> [(metres, pos)]
 *
 * sources: tuple of (xyz, order, boxes, depth, ids, alive or None, hours), positions numbered
 * across them in turn; closed: per schedule, nonzero when known closed; stats: a list that gets
 * the number of points examined. */
static PyObject *py_nearest(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 6 || nargs > 7 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError,
                        "nearest(sources, lat, lng, limit, radius, closed[, stats])");
        return NULL;
    }
    double lat = PyFloat_AsDouble(args[1]);
    if (lat == -1.0 && PyErr_Occurred()) return NULL;
    double lng = PyFloat_AsDouble(args[2]);
    if (lng == -1.0 && PyErr_Occurred()) return NULL;
    Py_ssize_t k = PyLong_AsSsize_t(args[3]);
    if (k == -1 && PyErr_Occurred()) return NULL;
    double radius = INFINITY;
    if (args[4] != Py_None) {
        radius = PyFloat_AsDouble(args[4]);
        if (radius == -1.0 && PyErr_Occurred()) return NULL;
    }
    Py_ssize_t nsrc = PyTuple_GET_SIZE(args[0]);
    if (nsrc > MAX_SOURCES) {
        PyErr_SetString(PyExc_ValueError, "too many sources");
        return NULL;
    }
    if (!isfinite(lat) || !isfinite(lng)) {
        PyErr_SetString(PyExc_ValueError, "the query's position must be finite");
        return NULL;
    }
    if (k <= 0 || isnan(radius) || radius < 0) return PyList_New(0);

    Buf b[MAX_SOURCES * 6 + 1];
    memset(b, 0, sizeof b);
    Source src[MAX_SOURCES];
    Search s = {.k = k, .tau_r = INFINITY, .bound = INFINITY};
    PyObject *out = NULL;
    Py_ssize_t offset = 0;
    for (Py_ssize_t i = 0; i < nsrc; i++) {
        if (get_source(PyTuple_GET_ITEM(args[0], i), &src[i], b + 6 * i, offset) < 0) goto done;
        offset += src[i].n;
    }
    if (args[5] != Py_None) {
        Buf *cb = &b[MAX_SOURCES * 6];
        if (get_buf(args[5], cb, 1, -1, "closed") < 0) goto done;
        s.closed = cb->view.buf;
        s.nclosed = cb->view.len;
    }
    if (radius / (2.0 * EARTH_RADIUS_M) * (1.0 + MARGIN) < Py_MATH_PI / 2) {
        double c = 2.0 * sin(radius / (2.0 * EARTH_RADIUS_M));
        s.tau_r = c * c * (1.0 + MARGIN) + TINY;
    }
    s.bound = s.tau_r;
    if (k > offset) k = s.k = offset > 0 ? offset : 1;
    s.heap = PyMem_Malloc(k * sizeof(double));
    s.cap = 2 * k + 32;
    s.cand = PyMem_Malloc(s.cap * sizeof(Cand));
    if (s.heap == NULL || s.cand == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    unit(lat, lng, s.q);
    for (Py_ssize_t i = 0; i < nsrc; i++)
        if (src[i].n > 0 && box_lb2(src[i].boxes + 6, s.q) <= s.bound)
            visit(&s, &src[i], 1, 0, src[i].n, 0);
    if (s.failed) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < s.nc; i++) {
        Cand c = s.cand[i];
        if (c.c2 > s.bound) continue;
        c.m = metres(c.c2);
        if (c.m <= radius) s.cand[m++] = c;
    }
    qsort(s.cand, m, sizeof(Cand), by_metres_then_id);
    if (m > s.k) m = s.k;
    out = PyList_New(m);
    if (out == NULL) goto done;
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *item = Py_BuildValue("(dn)", s.cand[i].m, s.cand[i].pos);
        if (item == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, item);
    }
    if (nargs == 7 && args[6] != Py_None) {
        PyObject *examined = PyLong_FromSsize_t(s.examined);
        if (examined == NULL || PyList_Append(args[6], examined) < 0) Py_CLEAR(out);
        Py_XDECREF(examined);
    }
done:
    PyMem_Free(s.heap);
    PyMem_Free(s.cand);
    release(b, MAX_SOURCES * 6 + 1);
    return out;
}

/* ------------------------------------------------------------------ items */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} Out;

static int put(Out *o, const char *s, Py_ssize_t n) {
    if (o->len + n > o->cap) {
        Py_ssize_t cap = (o->len + n) * 2;
        char *grown = PyMem_Realloc(o->p, cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        o->p = grown;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

/* As Python's b"%.<precision>f" % value. */
static int put_fixed(Out *o, double value, int precision) {
    char *text = PyOS_double_to_string(value, 'f', precision, 0, NULL);
    if (text == NULL) return -1;
    int r = put(o, text, strlen(text));
    PyMem_Free(text);
    return r;
}

#define VIEW_FIELDS 6 /* lat, lng, hours, view_buf, view_off, overrides or None */

/* items(ranked, views, states or None, positions or None) -> b'[{...},...]'
 *
 * ranked: [(metres, pos)] as nearest() gives; views: per source (lat, lng, hours, view_buf,
 * view_off, overrides: {pos: view} or None), positions numbered as in nearest(); states: per
 * schedule, 1 open, 0 closed, else unknown (None: unknown); positions: [(lat, lng)] per item, in
 * place of the lat, lng columns. Each item is the facility's view with its distance, open state
 * and position put first, exactly as
 *     b'{"distance_m":%.1f,"open_now":%s,"location":{"lat":%.7f,"lng":%.7f},' + view[1:]. */
static PyObject *py_items(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyList_Check(args[0]) || !PyTuple_Check(args[1]) ||
        (args[3] != Py_None && !PyList_Check(args[3]))) {
        PyErr_SetString(PyExc_TypeError, "items(ranked, views, states, positions)");
        return NULL;
    }
    PyObject *ranked = args[0], *views = args[1], *positions = args[3];
    Py_ssize_t nsrc = PyTuple_GET_SIZE(views), count = PyList_GET_SIZE(ranked);
    if (nsrc > MAX_SOURCES) {
        PyErr_SetString(PyExc_ValueError, "too many sources");
        return NULL;
    }
    if (positions != Py_None && PyList_GET_SIZE(positions) != count) {
        PyErr_SetString(PyExc_ValueError, "one position per item");
        return NULL;
    }
    Buf b[MAX_SOURCES * 5 + 1];
    memset(b, 0, sizeof b);
    struct {
        const double *lat, *lng;
        const int32_t *hours;
        const char *buf;
        Py_ssize_t buflen;
        const int64_t *off;
        PyObject *overrides;
        Py_ssize_t n;
    } src[MAX_SOURCES];
    Out o = {NULL, 0, 0};
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < nsrc; i++) {
        PyObject *t = PyTuple_GET_ITEM(views, i);
        Buf *sb = b + 5 * i;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != VIEW_FIELDS) {
            PyErr_SetString(PyExc_TypeError, "a view source has 6 fields");
            goto done;
        }
        if (get_buf(PyTuple_GET_ITEM(t, 2), &sb[2], 4, -1, "hours") < 0) goto done;
        Py_ssize_t n = sb[2].view.len / 4;
        if (get_buf(PyTuple_GET_ITEM(t, 0), &sb[0], 8, n, "lat") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 1), &sb[1], 8, n, "lng") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 3), &sb[3], 1, -1, "view_buf") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 4), &sb[4], 8, n + 1, "view_off") < 0)
            goto done;
        PyObject *ov = PyTuple_GET_ITEM(t, 5);
        if (ov != Py_None && !PyDict_Check(ov)) {
            PyErr_SetString(PyExc_TypeError, "overrides: a dict or None");
            goto done;
        }
        src[i].lat = sb[0].view.buf;
        src[i].lng = sb[1].view.buf;
        src[i].hours = sb[2].view.buf;
        src[i].buf = sb[3].view.buf;
        src[i].buflen = sb[3].view.len;
        src[i].off = sb[4].view.buf;
        src[i].overrides = ov != Py_None && PyDict_GET_SIZE(ov) ? ov : NULL;
        src[i].n = n;
    }
    const int8_t *states = NULL;
    Py_ssize_t nstates = 0;
    if (args[2] != Py_None) {
        Buf *st = &b[MAX_SOURCES * 5];
        if (get_buf(args[2], st, 1, -1, "states") < 0) goto done;
        states = st->view.buf;
        nstates = st->view.len;
    }
    if (put(&o, "[", 1) < 0) goto done;
    for (Py_ssize_t j = 0; j < count; j++) {
        PyObject *hit = PyList_GET_ITEM(ranked, j);
        if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2) {
            PyErr_SetString(PyExc_TypeError, "ranked: (metres, pos) pairs");
            goto done;
        }
        double d = PyFloat_AsDouble(PyTuple_GET_ITEM(hit, 0));
        if (d == -1.0 && PyErr_Occurred()) goto done;
        Py_ssize_t pos = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 1)), p = pos, s = 0;
        if (pos == -1 && PyErr_Occurred()) goto done;
        while (s < nsrc && p >= src[s].n) p -= src[s++].n;
        if (p < 0 || s == nsrc) {
            PyErr_SetString(PyExc_IndexError, "position out of range");
            goto done;
        }
        double lat = src[s].lat[p], lng = src[s].lng[p];
        if (positions != Py_None) {
            PyObject *at = PyList_GET_ITEM(positions, j);
            if (!PyTuple_Check(at) || PyTuple_GET_SIZE(at) != 2) {
                PyErr_SetString(PyExc_TypeError, "positions: (lat, lng) pairs");
                goto done;
            }
            lat = PyFloat_AsDouble(PyTuple_GET_ITEM(at, 0));
            lng = PyFloat_AsDouble(PyTuple_GET_ITEM(at, 1));
            if (PyErr_Occurred()) goto done;
        }
        const char *open = "null";
        int32_t h = src[s].hours[p];
        if (states != NULL && h >= 0 && h < nstates)
            open = states[h] == 1 ? "true" : states[h] == 0 ? "false" : "null";
        const char *view;
        Py_ssize_t vlen;
        PyObject *replaced = NULL;
        if (src[s].overrides != NULL) {
            PyObject *key = PyLong_FromSsize_t(p);
            if (key == NULL) goto done;
            replaced = PyDict_GetItemWithError(src[s].overrides, key);
            Py_DECREF(key);
            if (replaced == NULL && PyErr_Occurred()) goto done;
        }
        if (replaced != NULL) {
            if (!PyBytes_Check(replaced)) {
                PyErr_SetString(PyExc_TypeError, "a view is bytes");
                goto done;
            }
            view = PyBytes_AS_STRING(replaced);
            vlen = PyBytes_GET_SIZE(replaced);
        } else {
            int64_t a = src[s].off[p], z = src[s].off[p + 1];
            if (a < 0 || z < a || z > src[s].buflen) {
                PyErr_SetString(PyExc_ValueError, "view offsets out of range");
                goto done;
            }
            view = src[s].buf + a;
            vlen = (Py_ssize_t)(z - a);
        }
        if (vlen < 1) {
            PyErr_SetString(PyExc_ValueError, "an empty view");
            goto done;
        }
        if ((j && put(&o, ",", 1) < 0) || put(&o, "{\"distance_m\":", 14) < 0 ||
            put_fixed(&o, d, 1) < 0 || put(&o, ",\"open_now\":", 12) < 0 ||
            put(&o, open, strlen(open)) < 0 || put(&o, ",\"location\":{\"lat\":", 19) < 0 ||
            put_fixed(&o, lat, 7) < 0 || put(&o, ",\"lng\":", 7) < 0 ||
            put_fixed(&o, lng, 7) < 0 || put(&o, "},", 2) < 0 || put(&o, view + 1, vlen - 1) < 0)
            goto done;
    }
    if (put(&o, "]", 1) < 0) goto done;
    result = PyBytes_FromStringAndSize(o.p, o.len);
done:
    PyMem_Free(o.p);
    release(b, MAX_SOURCES * 5 + 1);
    return result;
}

/* ------------------------------------------------------------------ the module */

static PyMethodDef methods[] = {
    {"unit_vectors", (PyCFunction)(void (*)(void))py_unit_vectors, METH_FASTCALL,
     "unit_vectors(lat, lng) -> bytes: 3 float64 per point (degrees in, WGS-84)."},
    {"distances", (PyCFunction)(void (*)(void))py_distances, METH_FASTCALL,
     "distances(xyz, lat, lng) -> bytes: float64 metres from (lat, lng) to every point."},
    {"build", (PyCFunction)(void (*)(void))py_build, METH_FASTCALL,
     "build(xyz, leaf) -> (xyz, order, boxes, depth): a k-d tree of the points."},
    {"nearest", (PyCFunction)(void (*)(void))py_nearest, METH_FASTCALL,
     "nearest(sources, lat, lng, limit, radius, closed[, stats]) -> [(metres, pos)]."},
    {"items", (PyCFunction)(void (*)(void))py_items, METH_FASTCALL,
     "items(ranked, views, states, positions) -> bytes: the answer's JSON array."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_nearby",
    .m_doc = "The compiled part of services_nearby.index (see _nearby.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__nearby(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObject(m, "EARTH_RADIUS_M", PyFloat_FromDouble(EARTH_RADIUS_M)) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SOURCES", MAX_SOURCES) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
