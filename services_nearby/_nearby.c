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
 * points go where affects speed only: the boxes are computed from the points they hold. The index
 * keeps every column in the tree's order (a source's `order` is then None), so a search and the
 * answer it writes read neighbouring memory: the facilities of one leaf lie side by side.
 *
 * The answer's items (items()) are written from each facility's record (services_nearby/index.py:
 * a JSON object, or its fields in a few bytes each), strings escaped as json.dumps escapes them
 * and numbers formatted as Python's "%.Nf" formats them (put_fixed(), checked by the tests
 * against Python's own formatting through fixed()).
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
            Py_ssize_t p = src->ord != NULL ? src->ord[i] : i;
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
        PyErr_SetString(PyExc_TypeError, "a source is (xyz, order or None, boxes, depth, ids, "
                                         "alive or None, hours)");
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
    PyObject *order = PyTuple_GET_ITEM(t, 1);
    if ((order != Py_None && get_buf(order, &b[1], 4, n, "order") < 0) ||
        get_buf(PyTuple_GET_ITEM(t, 2), &b[2], 48, (Py_ssize_t)2 << depth, "boxes") < 0 ||
        get_buf(PyTuple_GET_ITEM(t, 4), &b[3], 8, n, "ids") < 0 ||
        get_buf(PyTuple_GET_ITEM(t, 6), &b[5], 4, n, "hours") < 0)
        return -1;
    PyObject *alive = PyTuple_GET_ITEM(t, 5);
    if (alive != Py_None && get_buf(alive, &b[4], 1, n, "alive") < 0) return -1;
    src->xyz = b[0].view.buf;
    src->ord = order == Py_None ? NULL : b[1].view.buf;
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
 * sources: tuple of (xyz, order or None, boxes, depth, ids, alive or None, hours), positions
 * numbered across them in turn (order: the column position of each tree point; None: the columns
 * are in tree order); closed: per schedule, nonzero when known closed; stats: a list that gets
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

static inline int put(Out *o, const char *s, Py_ssize_t n) {
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

#define PUT_LIT(o, s) put((o), (s), (Py_ssize_t)(sizeof(s) - 1))

/* As Python's b"%.<precision>f" % value (and f"{value:.<precision>f}"): the decimal nearest the
 * double's exact value, ties to even. The usual number (a coordinate, a distance) is written
 * with integer arithmetic: value = m * 2^-k exactly (m < 2^53), so value * 10^p = m * 10^p / 2^k
 * with m * 10^p < 2^77 in 128 bits, and the quotient rounded on the exact remainder. Anything
 * else (integers of 2^53 and more, values under 2^-70, NaN, infinities, more than 9 decimals)
 * goes to Python's own formatting. */
static int put_fixed(Out *o, double value, int precision) {
    int e2;
    double f = frexp(fabs(value), &e2); /* |value| = f * 2^e2, f in [0.5, 1) or 0 */
    int k = 53 - e2;
    if (isfinite(value) && precision >= 0 && precision <= 9 && k > 0 && k < 124) {
        static const uint64_t tens[10] = {1,      10,      100,      1000,      10000,
                                          100000, 1000000, 10000000, 100000000, 1000000000};
        unsigned __int128 n = (unsigned __int128)(uint64_t)ldexp(f, 53) * tens[precision];
        unsigned __int128 q = n >> k, r = n - (q << k), half = (unsigned __int128)1 << (k - 1);
        if (r > half || (r == half && (q & 1))) q++;
        if (q < ((unsigned __int128)1 << 64)) { /* always so for coordinates and distances */
            uint64_t d = (uint64_t)q;
            char buf[32], *end = buf + sizeof buf, *p = end;
            for (int i = 0; i < precision; i++) {
                *--p = (char)('0' + (int)(d % 10));
                d /= 10;
            }
            if (precision > 0) *--p = '.';
            do {
                *--p = (char)('0' + (int)(d % 10));
                d /= 10;
            } while (d);
            if (signbit(value)) *--p = '-';
            return put(o, p, end - p);
        }
    }
    char *text = PyOS_double_to_string(value, 'f', precision, 0, NULL);
    if (text == NULL) return -1;
    int r = put(o, text, strlen(text));
    PyMem_Free(text);
    return r;
}

/* A string as json.dumps(text, ensure_ascii=False) writes it: quotes, backslashes and control
 * characters escaped (\b \f \n \r \t, else \u00xx), every other byte as it is. */
static int put_json_string(Out *o, const unsigned char *s, Py_ssize_t n) {
    static const char hex[] = "0123456789abcdef";
    if (PUT_LIT(o, "\"") < 0) return -1;
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (put(o, (const char *)s + run, i - run) < 0) return -1;
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        int len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        if (put(o, esc, len) < 0) return -1;
    }
    if (put(o, (const char *)s + run, n - run) < 0) return -1;
    return PUT_LIT(o, "\"");
}

/* As urllib.parse.quote(text): letters, digits, "_.-~/" as they are, every other byte %XX. */
static int put_quoted(Out *o, const unsigned char *s, Py_ssize_t n) {
    static const char hex[] = "0123456789ABCDEF";
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '-' || c == '~' || c == '/')
            continue;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (put(o, (const char *)s + run, i - run) < 0 || put(o, esc, 3) < 0) return -1;
        run = i + 1;
    }
    return put(o, (const char *)s + run, n - run);
}

/* A compact record's fields (services_nearby/index.py: Shown, record()): per field a tag, and
 * for STRING and NUMBER a LEB128 length and the bytes. */
enum { F_NULL, F_FALSE, F_TRUE, F_STRING, F_NUMBER };
#define SHOWN_FIELDS 7 /* name, address, fee, accessible, capacity, free_spaces, free_spaces_at */
static const char *const SHOWN_KEYS[SHOWN_FIELDS] = {
    ",\"name\":",        ",\"address\":",     ",\"fee\":",           ",\"accessible\":",
    ",\"capacity\":",    ",\"free_spaces\":", ",\"free_spaces_at\":",
};

typedef struct {
    int tag;
    const unsigned char *s;
    Py_ssize_t n;
} Field;

static int read_fields(const unsigned char *p, Py_ssize_t len, Field *f) {
    Py_ssize_t pos = 1; /* after the COMPACT byte */
    for (int i = 0; i < SHOWN_FIELDS; i++) {
        if (pos >= len) goto bad;
        int tag = p[pos++];
        f[i].tag = tag;
        f[i].s = NULL;
        f[i].n = 0;
        if (tag <= F_TRUE) continue;
        if (tag > F_NUMBER) goto bad;
        uint64_t n = 0;
        for (int shift = 0;; shift += 7) {
            if (pos >= len || shift > 28) goto bad;
            unsigned char b = p[pos++];
            n |= (uint64_t)(b & 0x7F) << shift;
            if (b < 0x80) break;
        }
        if (n > (uint64_t)(len - pos)) goto bad;
        f[i].s = p + pos;
        f[i].n = (Py_ssize_t)n;
        pos += (Py_ssize_t)n;
    }
    if (pos == len && f[0].tag == F_STRING) return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "a damaged facility record");
    return -1;
}

static int put_field(Out *o, const Field *f) {
    switch (f->tag) {
    case F_NULL: return PUT_LIT(o, "null");
    case F_FALSE: return PUT_LIT(o, "false");
    case F_TRUE: return PUT_LIT(o, "true");
    case F_STRING: return put_json_string(o, f->s, f->n);
    default: return put(o, (const char *)f->s, f->n);
    }
}

static int put_bytes_item(Out *o, PyObject *list, int32_t h, const char *what) {
    if (!PyList_Check(list) || h < 0 || h >= PyList_GET_SIZE(list) ||
        !PyBytes_Check(PyList_GET_ITEM(list, h))) {
        PyErr_Format(PyExc_ValueError, "no %s for schedule %d", what, (int)h);
        return -1;
    }
    PyObject *b = PyList_GET_ITEM(list, h);
    return put(o, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
}

#define VIEW_FIELDS 12
/* lat, lng, hours, recs, rec_off, overrides or None, ids, gcj_lat, gcj_lng, kind, schedules,
 * labels */
#define VIEW_BUFS 8

typedef struct {
    const double *lat, *lng, *glat, *glng;
    const int32_t *hours;
    const unsigned char *recs;
    Py_ssize_t reclen;
    const int64_t *off, *ids;
    PyObject *overrides, *kind, *schedules, *labels;
    Py_ssize_t n;
} ViewSource;

/* The JSON object a compact record shows, without its opening brace: exactly the bytes of
 * services_nearby/index.py view_json()[1:]. */
static int put_compact(Out *o, const ViewSource *v, Py_ssize_t p, int32_t h,
                       const unsigned char *rec, Py_ssize_t len) {
    Field f[SHOWN_FIELDS];
    char num[24], *end = num + sizeof num, *digits = end;
    if (read_fields(rec, len, f) < 0) return -1;
    int64_t id = v->ids[p];
    uint64_t u = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;
    do {
        *--digits = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (id < 0) *--digits = '-';
    if (PUT_LIT(o, "\"id\":") < 0 || put(o, digits, end - digits) < 0 ||
        PUT_LIT(o, ",\"kind\":") < 0 ||
        put(o, PyBytes_AS_STRING(v->kind), PyBytes_GET_SIZE(v->kind)) < 0)
        return -1;
    for (int i = 0; i < SHOWN_FIELDS; i++) {
        if (put(o, SHOWN_KEYS[i], strlen(SHOWN_KEYS[i])) < 0 || put_field(o, &f[i]) < 0)
            return -1;
        if (i == 1 && (PUT_LIT(o, ",\"opening_hours\":") < 0 ||
                       put_bytes_item(o, v->schedules, h, "opening hours") < 0 ||
                       PUT_LIT(o, ",\"hours_label\":") < 0 ||
                       put_bytes_item(o, v->labels, h, "hours label") < 0))
            return -1;
    }
    if (PUT_LIT(o, ",\"nav_url\":\"https://uri.amap.com/marker?position=") < 0 ||
        put_fixed(o, v->glng[p], 6) < 0 || PUT_LIT(o, ",") < 0 ||
        put_fixed(o, v->glat[p], 6) < 0 || PUT_LIT(o, "&name=") < 0 ||
        put_quoted(o, f[0].s, f[0].n) < 0 ||
        PUT_LIT(o, "&coordinate=gaode&callnative=1&src=zhcg\"}") < 0)
        return -1;
    return 0;
}

/* items(ranked, views, states or None, positions or None[, each]) -> b'[{...},...]'
 * (each true: [b'{...}', ...], every facility's JSON object alone, as the record shows it)
 *
 * ranked: [(metres, pos)] as nearest() gives; views: per source (lat, lng, hours, recs, rec_off,
 * overrides: {pos: record} or None, ids, gcj_lat, gcj_lng, kind: the kind's code as JSON,
 * schedules: per schedule its text as JSON, labels: per schedule its label as JSON), positions
 * numbered as in nearest(); states: per schedule, 1 open, 0 closed, else unknown (None: unknown);
 * positions: [(lat, lng)] per item, in place of the lat, lng columns. A record is RAW (0) and a
 * JSON object, or COMPACT (1) and its fields (put_compact). Each item is the facility's JSON
 * object with its distance, open state and position put first, exactly as
 *     b'{"distance_m":%.1f,"open_now":%s,"location":{"lat":%.7f,"lng":%.7f},' + view[1:]. */
static PyObject *py_items(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 4 || nargs > 5 || !PyList_Check(args[0]) || !PyTuple_Check(args[1]) ||
        (args[3] != Py_None && !PyList_Check(args[3]))) {
        PyErr_SetString(PyExc_TypeError, "items(ranked, views, states, positions[, each])");
        return NULL;
    }
    int each = nargs == 5 ? PyObject_IsTrue(args[4]) : 0;
    if (each < 0) return NULL;
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
    Buf b[MAX_SOURCES * VIEW_BUFS + 1];
    memset(b, 0, sizeof b);
    ViewSource src[MAX_SOURCES];
    Out o = {NULL, 0, 0};
    PyObject *result = NULL, *list = NULL;
    for (Py_ssize_t i = 0; i < nsrc; i++) {
        PyObject *t = PyTuple_GET_ITEM(views, i);
        Buf *sb = b + VIEW_BUFS * i;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != VIEW_FIELDS) {
            PyErr_SetString(PyExc_ValueError, "a view source has 12 fields");
            goto done;
        }
        if (get_buf(PyTuple_GET_ITEM(t, 2), &sb[2], 4, -1, "hours") < 0) goto done;
        Py_ssize_t n = sb[2].view.len / 4;
        if (get_buf(PyTuple_GET_ITEM(t, 0), &sb[0], 8, n, "lat") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 1), &sb[1], 8, n, "lng") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 3), &sb[3], 1, -1, "recs") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 4), &sb[4], 8, n + 1, "rec_off") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 6), &sb[5], 8, n, "ids") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 7), &sb[6], 8, n, "gcj_lat") < 0 ||
            get_buf(PyTuple_GET_ITEM(t, 8), &sb[7], 8, n, "gcj_lng") < 0)
            goto done;
        PyObject *ov = PyTuple_GET_ITEM(t, 5), *kind = PyTuple_GET_ITEM(t, 9);
        if (ov != Py_None && !PyDict_Check(ov)) {
            PyErr_SetString(PyExc_TypeError, "overrides: a dict or None");
            goto done;
        }
        if (!PyBytes_Check(kind) || !PyList_Check(PyTuple_GET_ITEM(t, 10)) ||
            !PyList_Check(PyTuple_GET_ITEM(t, 11))) {
            PyErr_SetString(PyExc_TypeError, "kind: bytes; schedules, labels: lists");
            goto done;
        }
        src[i] = (ViewSource){
            .lat = sb[0].view.buf, .lng = sb[1].view.buf, .hours = sb[2].view.buf,
            .recs = sb[3].view.buf, .reclen = sb[3].view.len, .off = sb[4].view.buf,
            .ids = sb[5].view.buf, .glat = sb[6].view.buf, .glng = sb[7].view.buf,
            .overrides = ov != Py_None && PyDict_GET_SIZE(ov) ? ov : NULL, .kind = kind,
            .schedules = PyTuple_GET_ITEM(t, 10), .labels = PyTuple_GET_ITEM(t, 11), .n = n,
        };
    }
    const int8_t *states = NULL;
    Py_ssize_t nstates = 0;
    if (args[2] != Py_None) {
        Buf *st = &b[MAX_SOURCES * VIEW_BUFS];
        if (get_buf(args[2], st, 1, -1, "states") < 0) goto done;
        states = st->view.buf;
        nstates = st->view.len;
    }
    o.cap = 512 * (count + 1);
    o.p = PyMem_Malloc(o.cap);
    if (o.p == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (each && (list = PyList_New(count)) == NULL) goto done;
    if (PUT_LIT(&o, "[") < 0) goto done;
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
        const ViewSource *v = &src[s];
        double lat = v->lat[p], lng = v->lng[p];
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
        int32_t h = v->hours[p];
        if (states != NULL && h >= 0 && h < nstates)
            open = states[h] == 1 ? "true" : states[h] == 0 ? "false" : "null";
        const unsigned char *rec;
        Py_ssize_t rlen;
        PyObject *replaced = NULL;
        if (v->overrides != NULL) {
            PyObject *key = PyLong_FromSsize_t(p);
            if (key == NULL) goto done;
            replaced = PyDict_GetItemWithError(v->overrides, key);
            Py_DECREF(key);
            if (replaced == NULL && PyErr_Occurred()) goto done;
        }
        if (replaced != NULL) {
            if (!PyBytes_Check(replaced)) {
                PyErr_SetString(PyExc_TypeError, "a record is bytes");
                goto done;
            }
            rec = (const unsigned char *)PyBytes_AS_STRING(replaced);
            rlen = PyBytes_GET_SIZE(replaced);
        } else {
            int64_t a = v->off[p], z = v->off[p + 1];
            if (a < 0 || z < a || z > v->reclen) {
                PyErr_SetString(PyExc_ValueError, "record offsets out of range");
                goto done;
            }
            rec = v->recs + a;
            rlen = (Py_ssize_t)(z - a);
        }
        if (rlen < 2 || rec[0] > 1) {
            PyErr_SetString(PyExc_ValueError, "an empty or unknown record");
            goto done;
        }
        if (each) { /* the facility's JSON object alone */
            o.len = 0;
            if (rec[0] == 0) {
                if (put(&o, (const char *)rec + 1, rlen - 1) < 0) goto done;
            } else if (PUT_LIT(&o, "{") < 0 || put_compact(&o, v, p, h, rec, rlen) < 0) {
                goto done;
            }
            PyObject *one = PyBytes_FromStringAndSize(o.p, o.len);
            if (one == NULL) goto done;
            PyList_SET_ITEM(list, j, one);
            continue;
        }
        if ((j && PUT_LIT(&o, ",") < 0) || PUT_LIT(&o, "{\"distance_m\":") < 0 ||
            put_fixed(&o, d, 1) < 0 || PUT_LIT(&o, ",\"open_now\":") < 0 ||
            put(&o, open, strlen(open)) < 0 || PUT_LIT(&o, ",\"location\":{\"lat\":") < 0 ||
            put_fixed(&o, lat, 7) < 0 || PUT_LIT(&o, ",\"lng\":") < 0 ||
            put_fixed(&o, lng, 7) < 0 || PUT_LIT(&o, "},") < 0)
            goto done;
        if (rec[0] == 0 ? put(&o, (const char *)rec + 2, rlen - 2) < 0
                        : put_compact(&o, v, p, h, rec, rlen) < 0)
            goto done;
    }
    if (each) {
        result = list;
        list = NULL;
        goto done;
    }
    if (PUT_LIT(&o, "]") < 0) goto done;
    result = PyBytes_FromStringAndSize(o.p, o.len);
done:
    Py_XDECREF(list);
    PyMem_Free(o.p);
    release(b, MAX_SOURCES * VIEW_BUFS + 1);
    return result;
}

/* position(ids, by_id, id) -> int: the position of a facility id (-1: none), by_id giving the
 * positions in increasing id order (a binary search: the columns are in tree order). */
static PyObject *py_position(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long want;
    if (nargs != 3 || (want = PyLong_AsLongLong(args[2]), PyErr_Occurred())) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "position(ids, by_id, id)");
        return NULL;
    }
    Buf b[2];
    memset(b, 0, sizeof b);
    Py_ssize_t found = -1;
    if (get_buf(args[0], &b[0], 8, -1, "ids") < 0 ||
        get_buf(args[1], &b[1], 4, b[0].view.len / 8, "by_id") < 0) {
        release(b, 2);
        return NULL;
    }
    const int64_t *ids = b[0].view.buf;
    const int32_t *by_id = b[1].view.buf;
    Py_ssize_t lo = 0, hi = b[0].view.len / 8;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2, p = by_id[mid];
        if (p < 0 || p >= b[0].view.len / 8) {
            release(b, 2);
            PyErr_SetString(PyExc_ValueError, "by_id out of range");
            return NULL;
        }
        if (ids[p] < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < b[0].view.len / 8 && by_id[lo] >= 0 && by_id[lo] < b[0].view.len / 8 &&
        ids[by_id[lo]] == want)
        found = by_id[lo];
    release(b, 2);
    return PyLong_FromSsize_t(found);
}

/* fixed(value, precision) -> str: the answer's number formatting (the tests compare it with
 * Python's f"{value:.{precision}f}"). */
static PyObject *py_fixed(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    double value;
    long precision;
    if (nargs != 2 || (value = PyFloat_AsDouble(args[0]), PyErr_Occurred()) ||
        (precision = PyLong_AsLong(args[1]), PyErr_Occurred())) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "fixed(value, precision)");
        return NULL;
    }
    if (precision < 0 || precision > 17) {
        PyErr_SetString(PyExc_ValueError, "precision: 0 to 17");
        return NULL;
    }
    Out o = {NULL, 0, 0};
    PyObject *out = NULL;
    if (put_fixed(&o, value, (int)precision) == 0) out = PyUnicode_FromStringAndSize(o.p, o.len);
    PyMem_Free(o.p);
    return out;
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
    {"position", (PyCFunction)(void (*)(void))py_position, METH_FASTCALL,
     "position(ids, by_id, id) -> int: where the facility is in the columns (-1: nowhere)."},
    {"fixed", (PyCFunction)(void (*)(void))py_fixed, METH_FASTCALL,
     "fixed(value, precision) -> str: as f\"{value:.{precision}f}\"."},
    {"items", (PyCFunction)(void (*)(void))py_items, METH_FASTCALL,
     "items(ranked, views, states, positions[, each]) -> bytes: the answer's JSON array."},
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
