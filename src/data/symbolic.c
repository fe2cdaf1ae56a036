/* symbolic: expressions in prefix notation (Lample & Charton 2019): parse, print, evaluate,
 * differentiate, simplify, draw random trees, make derivative and integral problems, and check an
 * answer up to equivalence.
 *
 * Trees live in one array per call (sym_tree) and are hash-consed: making a node that already
 * exists returns the existing index, so equal subtrees have equal indices (structural equality is
 * one comparison), children always have lower indices than their parents (evaluation is one pass
 * in index order), and derivatives share subtrees instead of copying them.
 *
 * The simplifier works bottom-up; each rule keeps the value wherever the input is defined (it may
 * only widen the domain, e.g. x/x -> 1):
 *   - constants are exact 64-bit rationals (printed as integers or "div INT+ p INT+ q", reduced by
 *     the gcd); a result that would overflow is left unfolded;
 *   - a sum is flattened into coefficient * term pairs, like terms are added (x + x -> 2x,
 *     x - x -> 0, x - (-2)x -> 3x), constants are summed and written last, zero terms dropped,
 *     and a negative coefficient becomes a sub (a + (-2)u -> a - 2u);
 *   - a product (mul, div, pow with a constant exponent, sqrt) is flattened into a rational
 *     coefficient times factors base^exponent; equal bases add their exponents (x*x -> x^2,
 *     x/x -> 1, sqrt(x)^2 -> x), integer powers of constants fold (2^10 -> 1024, sqrt(9) -> 3),
 *     a zero coefficient gives 0 and exponents 0 and 1 vanish. It descends into a product or a
 *     power only under an integer exponent, so sqrt(x^2) stays |x| and is not made x;
 *   - functions: exact special values (exp 0 = 1, log 1 = 0, sin 0 = 0, acos 1 = 0, ...),
 *     exp(log u) -> u, log(exp u) -> u, and signs out of odd functions and dropped by even ones
 *     (sin(-2x) -> -sin(2x), cos(-x) -> cos(x)).
 * Factors and terms keep the order in which they first appear (no sorting).
 *
 * Random trees follow Lample & Charton's sampler for unary-binary trees with n internal nodes,
 * uniform over tree shapes: D(e, n), the number of shapes that n more internal nodes can give to
 * e empty slots, obeys D(0, n) = 0, D(e, 0) = 1, D(e, n) = D(e-1, n) + D(e, n-1) + D(e+1, n-1);
 * each step draws how many empty slots (counted from the left) become leaves and the arity of the
 * next internal node with probabilities D(e-k, n-1)/D(e, n) (unary) and D(e-k+1, n-1)/D(e, n)
 * (binary). Operators are then drawn by fixed weights; a pow keeps a subtree as exponent one time
 * in three and is otherwise re-drawn among add/sub/mul/div, and a leaf exponent of pow is an
 * integer in +-2..4. Other leaves are x (3 in 4) or an integer 1..max_int (a quarter negative);
 * when no leaf is x, one is made x. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/symbolic.h"

/* ----------------------------------------------------------------------------- operators */

enum {
    OP_X,
    OP_CONST,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_POW,
    OP_EXP,
    OP_LOG,
    OP_SQRT,
    OP_SIN,
    OP_COS,
    OP_TAN,
    OP_ASIN,
    OP_ACOS,
    OP_ATAN,
    OP_SINH,
    OP_COSH,
    OP_TANH,
    OP_ASINH,
    OP_ACOSH,
    OP_ATANH,
    OP_COUNT
};

static const char *const sym_op_names[OP_COUNT] = {
    "x",    "INT",  "add",  "sub",  "mul",  "div",  "pow",  "exp",   "log",   "sqrt",  "sin",
    "cos",  "tan",  "asin", "acos", "atan", "sinh", "cosh", "tanh",  "asinh", "acosh", "atanh"};

static const char *const sym_vocab[] = {
    "add",  "sub",  "mul",  "div",   "pow",   "exp",   "log", "sqrt", "sin",  "cos", "tan",
    "asin", "acos", "atan", "sinh",  "cosh",  "tanh",  "asinh", "acosh", "atanh", "x", "INT+",
    "INT-", "0",    "1",    "2",     "3",     "4",     "5",   "6",    "7",    "8",   "9"};

static int op_arity(int op)
{
    return op >= OP_EXP ? 1 : op >= OP_ADD ? 2 : 0;
}

static bool op_is_odd(int op)
{
    return op == OP_SIN || op == OP_TAN || op == OP_ASIN || op == OP_ATAN || op == OP_SINH ||
           op == OP_TANH || op == OP_ASINH || op == OP_ATANH;
}

const char *const *sym_vocabulary(int *count)
{
    if (count)
        *count = (int)(sizeof sym_vocab / sizeof sym_vocab[0]);
    return sym_vocab;
}

arith_status sym_kind_parse(sym_kind *out, const char *name)
{
    if (name && strcmp(name, "derivative") == 0) {
        *out = SYM_DERIVATIVE;
        return ARITH_OK;
    }
    if (name && strcmp(name, "integral") == 0) {
        *out = SYM_INTEGRAL;
        return ARITH_OK;
    }
    return arith_error(ARITH_ERR_ARG, "unknown symbolic problem kind '%s' (valid: derivative, "
                       "integral)", name ? name : "(null)");
}

const char *sym_kind_name(sym_kind k)
{
    return k == SYM_DERIVATIVE ? "derivative" : k == SYM_INTEGRAL ? "integral" : NULL;
}

void sym_config_default(sym_config *cfg)
{
    cfg->max_ops = 6;
    cfg->max_int = 5;
    cfg->max_tokens = 48;
}

arith_status sym_config_check(const sym_config *cfg)
{
    if (!cfg)
        return arith_error(ARITH_ERR_ARG, "symbolic config: NULL");
    if (cfg->max_ops < 1 || cfg->max_ops > SYM_MAX_OPS)
        return arith_error(ARITH_ERR_ARG, "symbolic config: max_ops %d out of range 1..%d",
                           cfg->max_ops, SYM_MAX_OPS);
    if (cfg->max_int < 1 || cfg->max_int > SYM_MAX_INT)
        return arith_error(ARITH_ERR_ARG, "symbolic config: max_int %d out of range 1..%d",
                           cfg->max_int, SYM_MAX_INT);
    if (cfg->max_tokens < 1 || cfg->max_tokens > SYM_MAX_TOKENS)
        return arith_error(ARITH_ERR_ARG, "symbolic config: max_tokens %d out of range 1..%d",
                           cfg->max_tokens, SYM_MAX_TOKENS);
    return ARITH_OK;
}

/* ----------------------------------------------------------------------------- rationals */

/* n/d with d > 0 and gcd(|n|, d) = 1; INT64_MIN never appears, so negation cannot overflow. */
typedef struct {
    int64_t n, d;
} rat;

static int64_t gcd64(int64_t a, int64_t b)
{
    if (a < 0)
        a = -a;
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

static rat rat_int(int64_t v)
{
    rat r = {v, 1};
    return r;
}

static bool rat_is(rat r, int64_t v)
{
    return r.d == 1 && r.n == v;
}

static bool rat_make(rat *out, int64_t n, int64_t d)
{
    if (d == 0 || n == INT64_MIN || d == INT64_MIN)
        return false;
    if (d < 0) {
        n = -n;
        d = -d;
    }
    int64_t g = gcd64(n, d); /* >= 1 since d >= 1 */
    out->n = n / g;
    out->d = d / g;
    return true;
}

static bool rat_add(rat *out, rat a, rat b)
{
    int64_t g = gcd64(a.d, b.d), x, y, n, d;
    if (__builtin_mul_overflow(a.n, b.d / g, &x) || __builtin_mul_overflow(b.n, a.d / g, &y) ||
        __builtin_add_overflow(x, y, &n) || __builtin_mul_overflow(a.d / g, b.d, &d))
        return false;
    return rat_make(out, n, d);
}

static bool rat_mul(rat *out, rat a, rat b)
{
    int64_t g1 = gcd64(a.n, b.d), g2 = gcd64(b.n, a.d), n, d;
    if (__builtin_mul_overflow(a.n / g1, b.n / g2, &n) ||
        __builtin_mul_overflow(a.d / g2, b.d / g1, &d))
        return false;
    return rat_make(out, n, d);
}

static rat rat_neg(rat a)
{
    a.n = -a.n;
    return a;
}

/* b^e for an integer e; false on overflow or 0^negative. */
static bool rat_pow_int(rat *out, rat b, int64_t e)
{
    if (e < 0) {
        if (b.n == 0 || !rat_make(&b, b.d, b.n))
            return false;
        e = -e;
    }
    if (e == 0 || rat_is(b, 1)) {
        *out = rat_int(1);
        return true;
    }
    if (b.n == 0 || rat_is(b, -1)) {
        *out = rat_int(b.n == 0 ? 0 : (e % 2 ? -1 : 1));
        return true;
    }
    if (e > 64)
        return false;
    rat r = rat_int(1);
    for (int64_t i = 0; i < e; i++)
        if (!rat_mul(&r, r, b))
            return false;
    *out = r;
    return true;
}

/* The exact square root of v >= 0, or -1. */
static int64_t isqrt_exact(int64_t v)
{
    if (v < 0)
        return -1;
    int64_t r = (int64_t)sqrtl((long double)v);
    while (r > 0 && r > v / r)
        r--;
    while ((r + 1) <= v / (r + 1))
        r++;
    return r * r == v ? r : -1;
}

/* ----------------------------------------------------------------------------- trees */

typedef struct {
    uint8_t op;
    bool has_x;
    int32_t a, b;     /* children, -1 when absent */
    int32_t simp, dx; /* memos: simplified form and raw derivative, -1 until computed */
    rat c;            /* OP_CONST: the value; 0/1 otherwise */
} sym_node;

typedef struct {
    sym_node *nodes; /* (cap) */
    int32_t count, cap;
    int32_t *table; /* hash-consing, open addressing: node index + 1, 0 when empty; (mask + 1) */
    uint32_t mask;
    bool failed; /* a limit was hit or an allocation failed: every later result is -1 */
} sym_tree;

/* Bounds that keep a hostile input from exhausting memory or the C stack. */
#define SYM_MAX_NODES (1 << 20)
#define SYM_RECURSION_MAX 2048

static bool tree_init(sym_tree *t, int32_t cap)
{
    memset(t, 0, sizeof *t);
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)cap)
        slots *= 2;
    t->nodes = malloc((size_t)cap * sizeof *t->nodes);
    t->table = calloc(slots, sizeof *t->table);
    t->cap = cap;
    t->mask = slots - 1;
    if (!t->nodes || !t->table) {
        free(t->nodes);
        free(t->table);
        memset(t, 0, sizeof *t);
        return false;
    }
    return true;
}

static void tree_free(sym_tree *t)
{
    free(t->nodes);
    free(t->table);
    memset(t, 0, sizeof *t);
}

static uint64_t node_hash(int op, int32_t a, int32_t b, rat c)
{
    uint64_t h = rng_hash((uint64_t)op << 40 ^ (uint64_t)(uint32_t)a, (uint64_t)(uint32_t)b);
    return rng_hash(h ^ (uint64_t)c.n, (uint64_t)c.d);
}

static int32_t node_make(sym_tree *t, int op, int32_t a, int32_t b, rat c)
{
    int arity = op_arity(op);
    if (t->failed || (arity >= 1 && a < 0) || (arity == 2 && b < 0)) {
        t->failed = true;
        return -1;
    }
    if (arity < 2)
        b = -1;
    if (arity < 1)
        a = -1;
    if (op != OP_CONST)
        c = rat_int(0);
    uint32_t i = (uint32_t)node_hash(op, a, b, c) & t->mask;
    while (t->table[i]) {
        const sym_node *nd = &t->nodes[t->table[i] - 1];
        if (nd->op == op && nd->a == a && nd->b == b && nd->c.n == c.n && nd->c.d == c.d)
            return t->table[i] - 1;
        i = (i + 1) & t->mask;
    }
    if (t->count == t->cap) {
        if (t->cap >= SYM_MAX_NODES) {
            t->failed = true;
            return -1;
        }
        sym_node *grown = realloc(t->nodes, (size_t)t->cap * 2 * sizeof *grown);
        if (!grown) {
            t->failed = true;
            return -1;
        }
        t->nodes = grown;
        t->cap *= 2;
    }
    int32_t id = t->count++;
    sym_node *nd = &t->nodes[id];
    nd->op = (uint8_t)op;
    nd->a = a;
    nd->b = b;
    nd->c = c;
    nd->simp = -1;
    nd->dx = -1;
    nd->has_x = op == OP_X || (a >= 0 && t->nodes[a].has_x) || (b >= 0 && t->nodes[b].has_x);
    t->table[i] = id + 1;
    if ((uint32_t)t->count * 2 > t->mask + 1) {
        /* keep the table at most half full */
        uint32_t slots = (t->mask + 1) * 2;
        int32_t *table = calloc(slots, sizeof *table);
        if (!table) {
            t->failed = true;
            return -1;
        }
        for (int32_t k = 0; k < t->count; k++) {
            const sym_node *m = &t->nodes[k];
            uint32_t j = (uint32_t)node_hash(m->op, m->a, m->b, m->c) & (slots - 1);
            while (table[j])
                j = (j + 1) & (slots - 1);
            table[j] = k + 1;
        }
        free(t->table);
        t->table = table;
        t->mask = slots - 1;
    }
    return id;
}

static int32_t mk_const(sym_tree *t, rat c)
{
    return node_make(t, OP_CONST, -1, -1, c);
}

static int32_t mk_int(sym_tree *t, int64_t v)
{
    return mk_const(t, rat_int(v));
}

static int32_t mk_x(sym_tree *t)
{
    return node_make(t, OP_X, -1, -1, rat_int(0));
}

static int32_t mk1(sym_tree *t, int op, int32_t a)
{
    return node_make(t, op, a, -1, rat_int(0));
}

static int32_t mk2(sym_tree *t, int op, int32_t a, int32_t b)
{
    return node_make(t, op, a, b, rat_int(0));
}

static bool is_const(const sym_tree *t, int32_t i)
{
    return i >= 0 && t->nodes[i].op == OP_CONST;
}

static bool is_int(const sym_tree *t, int32_t i, int64_t v)
{
    return is_const(t, i) && rat_is(t->nodes[i].c, v);
}

/* ----------------------------------------------------------------------------- derivative */

/* d/dx by the textbook rules, unsimplified. A subtree without x has derivative 0 without looking
 * inside; a constant factor is not differentiated. */
static int32_t deriv(sym_tree *t, int32_t n, int depth)
{
    if (n < 0 || t->failed)
        return -1;
    if (depth > SYM_RECURSION_MAX) {
        t->failed = true;
        return -1;
    }
    if (t->nodes[n].dx >= 0)
        return t->nodes[n].dx;
    const sym_node nd = t->nodes[n];
    int32_t u = nd.a, v = nd.b, r = -1;
    bool ux = u >= 0 && t->nodes[u].has_x, vx = v >= 0 && t->nodes[v].has_x;
#define D(i) deriv(t, (i), depth + 1)
#define M1(op, a) mk1(t, (op), (a))
#define M2(op, a, b) mk2(t, (op), (a), (b))
#define SQ(a) M2(OP_POW, (a), mk_int(t, 2))
    if (!nd.has_x)
        r = mk_int(t, 0);
    else
        switch (nd.op) {
        case OP_X:
            r = mk_int(t, 1);
            break;
        case OP_ADD:
        case OP_SUB:
            r = M2(nd.op, D(u), D(v));
            break;
        case OP_MUL: /* (uv)' = u'v + uv' */
            if (!ux)
                r = M2(OP_MUL, u, D(v));
            else if (!vx)
                r = M2(OP_MUL, D(u), v);
            else
                r = M2(OP_ADD, M2(OP_MUL, D(u), v), M2(OP_MUL, u, D(v)));
            break;
        case OP_DIV: /* (u/v)' = (u'v - uv') / v^2 */
            if (!vx)
                r = M2(OP_DIV, D(u), v);
            else
                r = M2(OP_DIV, M2(OP_SUB, M2(OP_MUL, D(u), v), M2(OP_MUL, u, D(v))), SQ(v));
            break;
        case OP_POW:
            if (!vx) { /* (u^c)' = c u^(c-1) u' */
                rat c1;
                int32_t e = is_const(t, v) && rat_add(&c1, t->nodes[v].c, rat_int(-1))
                                ? mk_const(t, c1)
                                : M2(OP_SUB, v, mk_int(t, 1));
                r = M2(OP_MUL, M2(OP_MUL, v, M2(OP_POW, u, e)), D(u));
            } else if (!ux) { /* (c^v)' = c^v log(c) v' */
                r = M2(OP_MUL, M2(OP_MUL, n, M1(OP_LOG, u)), D(v));
            } else { /* (u^v)' = u^v (v' log u + v u' / u) */
                r = M2(OP_MUL, n,
                       M2(OP_ADD, M2(OP_MUL, D(v), M1(OP_LOG, u)),
                          M2(OP_DIV, M2(OP_MUL, v, D(u)), u)));
            }
            break;
        case OP_EXP:
            r = M2(OP_MUL, n, D(u));
            break;
        case OP_LOG:
            r = M2(OP_DIV, D(u), u);
            break;
        case OP_SQRT:
            r = M2(OP_DIV, D(u), M2(OP_MUL, mk_int(t, 2), n));
            break;
        case OP_SIN:
            r = M2(OP_MUL, M1(OP_COS, u), D(u));
            break;
        case OP_COS:
            r = M2(OP_MUL, M2(OP_MUL, mk_int(t, -1), M1(OP_SIN, u)), D(u));
            break;
        case OP_TAN:
            r = M2(OP_DIV, D(u), SQ(M1(OP_COS, u)));
            break;
        case OP_ASIN:
            r = M2(OP_DIV, D(u), M1(OP_SQRT, M2(OP_SUB, mk_int(t, 1), SQ(u))));
            break;
        case OP_ACOS:
            r = M2(OP_DIV, M2(OP_MUL, mk_int(t, -1), D(u)),
                   M1(OP_SQRT, M2(OP_SUB, mk_int(t, 1), SQ(u))));
            break;
        case OP_ATAN:
            r = M2(OP_DIV, D(u), M2(OP_ADD, mk_int(t, 1), SQ(u)));
            break;
        case OP_SINH:
            r = M2(OP_MUL, M1(OP_COSH, u), D(u));
            break;
        case OP_COSH:
            r = M2(OP_MUL, M1(OP_SINH, u), D(u));
            break;
        case OP_TANH:
            r = M2(OP_DIV, D(u), SQ(M1(OP_COSH, u)));
            break;
        case OP_ASINH:
            r = M2(OP_DIV, D(u), M1(OP_SQRT, M2(OP_ADD, SQ(u), mk_int(t, 1))));
            break;
        case OP_ACOSH:
            r = M2(OP_DIV, D(u), M1(OP_SQRT, M2(OP_SUB, SQ(u), mk_int(t, 1))));
            break;
        case OP_ATANH:
            r = M2(OP_DIV, D(u), M2(OP_SUB, mk_int(t, 1), SQ(u)));
            break;
        default:
            t->failed = true;
            break;
        }
#undef D
#undef M1
#undef M2
#undef SQ
    if (r >= 0)
        t->nodes[n].dx = r;
    return r;
}

/* ----------------------------------------------------------------------------- simplifier */

/* A list of (node, rational) pairs: terms with their coefficients, or factors with their
 * exponents; k is the constant term or the coefficient. ok turns false on overflow. */
typedef struct {
    int32_t node;
    rat r;
} sym_item;

typedef struct {
    sym_item *items;
    int count, cap;
    sym_item small[16];
    rat k;
    bool ok;
    bool undefined; /* a product with a factor 0^e, e < 0: infinite or NaN wherever evaluated */
} item_list;

static void list_init(item_list *l, rat k)
{
    l->items = l->small;
    l->count = 0;
    l->cap = 16;
    l->k = k;
    l->ok = true;
    l->undefined = false;
}

static void list_free(item_list *l)
{
    if (l->items != l->small)
        free(l->items);
}

/* Adds r to the item for node, appending it when new. */
static void list_merge(item_list *l, int32_t node, rat r)
{
    for (int i = 0; i < l->count; i++)
        if (l->items[i].node == node) {
            if (!rat_add(&l->items[i].r, l->items[i].r, r))
                l->ok = false;
            return;
        }
    if (l->count == l->cap) {
        size_t bytes = (size_t)l->cap * 2 * sizeof(sym_item);
        sym_item *grown = l->items == l->small ? malloc(bytes) : realloc(l->items, bytes);
        if (!grown) {
            l->ok = false;
            return;
        }
        if (l->items == l->small)
            memcpy(grown, l->small, sizeof l->small);
        l->items = grown;
        l->cap *= 2;
    }
    l->items[l->count].node = node;
    l->items[l->count].r = r;
    l->count++;
}

/* k * u, skipping k = 1 and writing k * 1 as the constant k. */
static int32_t scale_node(sym_tree *t, int64_t k, int32_t u)
{
    if (k == 1)
        return u;
    if (is_int(t, u, 1))
        return mk_int(t, k);
    return mk2(t, OP_MUL, mk_int(t, k), u);
}

/* The canonical c * body: body -1 is the constant 1; a body num/den takes c's numerator and
 * denominator into its own (2/x, not 2 * (1/x)); otherwise "mul c body". */
static int32_t term_node(sym_tree *t, rat c, int32_t body)
{
    if (body < 0 || c.n == 0)
        return mk_const(t, body < 0 ? c : rat_int(0));
    const sym_node nd = t->nodes[body];
    if (nd.op == OP_DIV && !(c.d != 1 && is_const(t, nd.b)))
        return mk2(t, OP_DIV, scale_node(t, c.n, nd.a), scale_node(t, c.d, nd.b));
    if (rat_is(c, 1))
        return body;
    return mk2(t, OP_MUL, mk_const(t, c), body);
}

/* The inverse of term_node: n = c * body (body -1 for a constant). False on failure. */
static bool term_split(sym_tree *t, int32_t n, rat *c, int32_t *body)
{
    const sym_node nd = t->nodes[n];
    *c = rat_int(1);
    *body = n;
    if (nd.op == OP_CONST) {
        *c = nd.c;
        *body = -1;
    } else if (nd.op == OP_MUL && is_const(t, nd.a)) {
        *c = t->nodes[nd.a].c;
        *body = nd.b;
    } else if (nd.op == OP_DIV) {
        int64_t p = 1, q = 1;
        int32_t num = nd.a, den = nd.b;
        const sym_node a = t->nodes[nd.a], b = t->nodes[nd.b];
        if (a.op == OP_CONST && a.c.d == 1) {
            p = a.c.n;
            num = mk_int(t, 1);
        } else if (a.op == OP_MUL && is_const(t, a.a) && t->nodes[a.a].c.d == 1) {
            p = t->nodes[a.a].c.n;
            num = a.b;
        }
        if (b.op == OP_MUL && is_const(t, b.a) && t->nodes[b.a].c.d == 1 &&
            t->nodes[b.a].c.n > 0) {
            q = t->nodes[b.a].c.n;
            den = b.b;
        }
        if ((p != 1 || q != 1) && rat_make(c, p, q))
            *body = mk2(t, OP_DIV, num, den);
        else
            *c = rat_int(1);
    }
    return *body >= -1 && !t->failed;
}

/* Flattens a product: n^e into l->k (the coefficient) and l's factors base^exponent. Descends
 * into mul, div, pow(u, constant) and sqrt only under an integer exponent. */
static void prod_collect(sym_tree *t, item_list *l, int32_t n, rat e, int depth)
{
    if (!l->ok)
        return;
    if (depth > SYM_RECURSION_MAX) {
        l->ok = false;
        return;
    }
    const sym_node nd = t->nodes[n];
    bool whole = e.d == 1;
    rat p, q;
    switch (nd.op) {
    case OP_CONST:
        if (nd.c.n == 0 && e.n != 0) { /* 0^e: 0, or a division by zero (undefined) */
            if (e.n > 0)
                l->k = rat_int(0);
            else
                l->undefined = true;
            return;
        }
        if (whole && rat_pow_int(&p, nd.c, e.n)) {
            if (!rat_mul(&l->k, l->k, p))
                l->ok = false;
            return;
        }
        if (e.d == 2 && nd.c.n > 0) {
            int64_t rn = isqrt_exact(nd.c.n), rd = isqrt_exact(nd.c.d);
            if (rn >= 0 && rd > 0 && rat_make(&q, rn, rd) && rat_pow_int(&p, q, e.n)) {
                if (!rat_mul(&l->k, l->k, p))
                    l->ok = false;
                return;
            }
        }
        break;
    case OP_MUL:
        if (whole) {
            prod_collect(t, l, nd.a, e, depth + 1);
            prod_collect(t, l, nd.b, e, depth + 1);
            return;
        }
        break;
    case OP_DIV:
        if (whole) {
            prod_collect(t, l, nd.a, e, depth + 1);
            prod_collect(t, l, nd.b, rat_neg(e), depth + 1);
            return;
        }
        break;
    case OP_POW:
        if (whole && is_const(t, nd.b) && rat_mul(&q, e, t->nodes[nd.b].c)) {
            prod_collect(t, l, nd.a, q, depth + 1);
            return;
        }
        break;
    case OP_SQRT:
        if (whole && rat_make(&q, e.n, 2)) {
            prod_collect(t, l, nd.a, q, depth + 1);
            return;
        }
        break;
    default:
        break;
    }
    list_merge(l, n, e);
}

/* base^e for e > 0: base, sqrt(base) or pow(base, e). */
static int32_t power_node(sym_tree *t, int32_t base, rat e)
{
    if (rat_is(e, 1))
        return base;
    if (e.n == 1 && e.d == 2)
        return mk1(t, OP_SQRT, base);
    return mk2(t, OP_POW, base, mk_const(t, e));
}

/* n is a mul, div, pow or sqrt with simplified children. */
static int32_t prod_simplify(sym_tree *t, int32_t n, int depth)
{
    if (n < 0)
        return -1;
    item_list l;
    list_init(&l, rat_int(1));
    prod_collect(t, &l, n, rat_int(1), depth);
    int32_t r = n;
    if (l.ok && l.undefined) {
        r = mk2(t, OP_DIV, mk_int(t, 1), mk_int(t, 0)); /* all such products are written 1/0 */
    } else if (l.ok && l.k.n == 0) {
        r = mk_int(t, 0);
    } else if (l.ok) {
        int32_t num = -1, den = -1;
        /* right-nested products, factors in order of first appearance */
        for (int i = l.count - 1; i >= 0; i--) {
            rat e = l.items[i].r;
            if (e.n == 0)
                continue;
            int32_t f = power_node(t, l.items[i].node, e.n > 0 ? e : rat_neg(e));
            int32_t *side = e.n > 0 ? &num : &den;
            *side = *side < 0 ? f : mk2(t, OP_MUL, f, *side);
        }
        int32_t body = num;
        if (den >= 0)
            body = mk2(t, OP_DIV, num < 0 ? mk_int(t, 1) : num, den);
        r = term_node(t, l.k, body);
    }
    list_free(&l);
    return t->failed ? -1 : r;
}

/* Flattens a sum: k * n into l->k (the constant) and l's terms coefficient * body. */
static void sum_collect(sym_tree *t, item_list *l, int32_t n, rat k, int depth)
{
    if (!l->ok)
        return;
    if (depth > SYM_RECURSION_MAX) {
        l->ok = false;
        return;
    }
    const sym_node nd = t->nodes[n];
    if (nd.op == OP_ADD || nd.op == OP_SUB) {
        sum_collect(t, l, nd.a, k, depth + 1);
        sum_collect(t, l, nd.b, nd.op == OP_SUB ? rat_neg(k) : k, depth + 1);
        return;
    }
    rat c, kc;
    int32_t body;
    if (!term_split(t, n, &c, &body) || !rat_mul(&kc, k, c)) {
        l->ok = false;
        return;
    }
    if (body < 0) {
        if (!rat_add(&l->k, l->k, kc))
            l->ok = false;
        return;
    }
    list_merge(l, body, kc);
}

/* n is an add or sub with simplified children. drop_constants also removes the terms without x
 * (an antiderivative's constant of integration). */
static int32_t sum_simplify(sym_tree *t, int32_t n, bool drop_constants, int depth)
{
    if (n < 0)
        return -1;
    item_list l;
    list_init(&l, rat_int(0));
    sum_collect(t, &l, n, rat_int(1), depth);
    int32_t r = n;
    if (l.ok) {
        int kept = 0;
        for (int i = 0; i < l.count; i++)
            if (l.items[i].r.n != 0 && !(drop_constants && !t->nodes[l.items[i].node].has_x))
                l.items[kept++] = l.items[i];
        l.count = kept;
        if (!drop_constants && l.k.n != 0) {
            list_merge(&l, -1, l.k); /* the constant term last, as body -1 */
        }
        if (!l.ok) {
            r = n;
        } else if (l.count == 0) {
            r = mk_int(t, 0);
        } else {
            /* the first positive term leads, so that 1 - x stays "sub INT+ 1 x" */
            int lead = 0;
            for (int i = 0; i < l.count; i++)
                if (l.items[i].r.n > 0) {
                    lead = i;
                    break;
                }
            r = term_node(t, l.items[lead].r, l.items[lead].node);
            for (int i = 0; i < l.count; i++) {
                if (i == lead)
                    continue;
                rat c = l.items[i].r;
                int32_t term = term_node(t, c.n > 0 ? c : rat_neg(c), l.items[i].node);
                r = mk2(t, c.n > 0 ? OP_ADD : OP_SUB, r, term);
            }
        }
    }
    list_free(&l);
    return t->failed ? -1 : r;
}

/* f(u) for a function f and a simplified u. */
static int32_t fn_simplify(sym_tree *t, int op, int32_t u, int depth)
{
    if (u < 0 || t->failed)
        return -1;
    const sym_node nu = t->nodes[u];
    if (nu.op == OP_CONST) {
        if (rat_is(nu.c, 0) && op_is_odd(op))
            return mk_int(t, 0);
        if ((rat_is(nu.c, 0) && (op == OP_EXP || op == OP_COS || op == OP_COSH)))
            return mk_int(t, 1);
        if (rat_is(nu.c, 1) && (op == OP_LOG || op == OP_ACOS || op == OP_ACOSH))
            return mk_int(t, 0);
    }
    if ((op == OP_EXP && nu.op == OP_LOG) || (op == OP_LOG && nu.op == OP_EXP))
        return nu.a;
    if (op_is_odd(op) || op == OP_COS || op == OP_COSH) {
        rat c;
        int32_t body;
        if (!term_split(t, u, &c, &body))
            return -1;
        if (c.n < 0) {
            int32_t inner = fn_simplify(t, op, term_node(t, rat_neg(c), body), depth + 1);
            if (!op_is_odd(op))
                return inner;
            return prod_simplify(t, mk2(t, OP_MUL, mk_int(t, -1), inner), depth + 1);
        }
    }
    return mk1(t, op, u);
}

static int32_t simplify(sym_tree *t, int32_t n, int depth)
{
    if (n < 0 || t->failed)
        return -1;
    if (depth > SYM_RECURSION_MAX) {
        t->failed = true;
        return -1;
    }
    if (t->nodes[n].simp >= 0)
        return t->nodes[n].simp;
    const sym_node nd = t->nodes[n];
    int32_t r, a = -1, b = -1;
    if (nd.a >= 0)
        a = simplify(t, nd.a, depth + 1);
    if (nd.b >= 0)
        b = simplify(t, nd.b, depth + 1);
    switch (nd.op) {
    case OP_X:
    case OP_CONST:
        r = n;
        break;
    case OP_ADD:
    case OP_SUB:
        r = sum_simplify(t, mk2(t, nd.op, a, b), false, depth);
        break;
    case OP_MUL:
    case OP_DIV:
        r = prod_simplify(t, mk2(t, nd.op, a, b), depth);
        break;
    case OP_POW:
        if (is_const(t, b))
            r = prod_simplify(t, mk2(t, OP_POW, a, b), depth);
        else if (is_int(t, a, 1))
            r = mk_int(t, 1);
        else
            r = mk2(t, OP_POW, a, b);
        break;
    case OP_SQRT:
        r = prod_simplify(t, mk1(t, OP_SQRT, a), depth);
        break;
    default:
        r = fn_simplify(t, nd.op, a, depth);
        break;
    }
    if (t->failed)
        return -1;
    t->nodes[n].simp = r;
    return r;
}

/* ----------------------------------------------------------------------------- printing */

typedef struct {
    char *buf;
    size_t cap, len;
    long tokens, max_tokens;
    bool too_long, no_room;
} sym_printer;

static void pr_token(sym_printer *p, const char *s, size_t n)
{
    if (p->too_long || p->no_room)
        return;
    if (p->tokens >= p->max_tokens) {
        p->too_long = true;
        return;
    }
    size_t need = n + (p->len ? 1 : 0);
    if (p->cap == 0 || p->len + need + 1 > p->cap) {
        p->no_room = true;
        return;
    }
    if (p->len)
        p->buf[p->len++] = ' ';
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
    p->tokens++;
}

static void pr_int(sym_printer *p, int64_t v)
{
    char digits[24];
    int n = 0;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    pr_token(p, v < 0 ? "INT-" : "INT+", 4);
    while (n > 0)
        pr_token(p, &digits[--n], 1);
}

static void pr_node(sym_printer *p, const sym_tree *t, int32_t n, int depth)
{
    if (p->too_long || p->no_room)
        return;
    if (depth > SYM_RECURSION_MAX) {
        p->too_long = true;
        return;
    }
    const sym_node *nd = &t->nodes[n];
    if (nd->op == OP_CONST) {
        if (nd->c.d != 1)
            pr_token(p, "div", 3);
        pr_int(p, nd->c.n);
        if (nd->c.d != 1)
            pr_int(p, nd->c.d);
        return;
    }
    const char *name = sym_op_names[nd->op];
    pr_token(p, name, strlen(name));
    if (nd->a >= 0)
        pr_node(p, t, nd->a, depth + 1);
    if (nd->b >= 0)
        pr_node(p, t, nd->b, depth + 1);
}

/* Prints n into out; 0 when it fits, 1 over max_tokens, 2 over cap. out is "" unless 0. */
static int print_tree(const sym_tree *t, int32_t n, long max_tokens, char *out, size_t cap,
                      long *tokens)
{
    sym_printer p = {.buf = out, .cap = cap, .max_tokens = max_tokens};
    if (cap > 0)
        out[0] = '\0';
    pr_node(&p, t, n, 0);
    if (tokens)
        *tokens = p.tokens;
    if (p.too_long || p.no_room) {
        if (cap > 0)
            out[0] = '\0';
        return p.too_long ? 1 : 2;
    }
    return 0;
}

/* ----------------------------------------------------------------------------- parsing */

typedef struct {
    int op;         /* an operator, OP_X, or OP_CONST for an integer */
    int64_t value;  /* OP_CONST */
    int pos;        /* 1-based number of its (first) token */
    const char *text;
    int len;        /* its (first) token's text */
} sym_tok;

static bool sym_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A token for a message: up to 24 characters, other bytes than printable ASCII as '?'. */
static const char *tok_show(char *buf, const char *s, size_t n)
{
    size_t m = n < 24 ? n : 24;
    for (size_t i = 0; i < m; i++)
        buf[i] = (unsigned char)s[i] >= 32 && (unsigned char)s[i] < 127 ? s[i] : '?';
    if (n > m) {
        memcpy(buf + m, "...", 3);
        m += 3;
    }
    buf[m] = '\0';
    return buf;
}

/* Splits, classifies and checks a prefix string; *toks (one per operator, x or integer) is
 * malloc'ed. */
static arith_status sym_lex(const char *prefix, sym_tok **toks_out, int *count_out)
{
    *toks_out = NULL;
    *count_out = 0;
    if (!prefix)
        return arith_error(ARITH_ERR_ARG, "symbolic expression: NULL string");
    size_t words = 0;
    for (const char *s = prefix; *s;) {
        while (sym_space(*s))
            s++;
        if (!*s)
            break;
        words++;
        while (*s && !sym_space(*s))
            s++;
    }
    if (words == 0)
        return arith_error(ARITH_ERR_DATA, "symbolic expression: empty");
    if (words > SYM_PARSE_MAX_TOKENS)
        return arith_error(ARITH_ERR_DATA, "symbolic expression: %zu tokens, more than the limit "
                           "of %d", words, SYM_PARSE_MAX_TOKENS);
    sym_tok *toks = malloc(words * sizeof *toks);
    if (!toks)
        return arith_error(ARITH_ERR_MEMORY, "symbolic expression: out of memory");
    int count = 0, pos = 0;
    arith_status st = ARITH_OK;
    char shown[32];
    const char *s = prefix;
    sym_tok *open_int = NULL; /* the integer whose digits are being read */
    for (;;) {
        while (sym_space(*s))
            s++;
        if (!*s)
            break;
        const char *w = s;
        while (*s && !sym_space(*s))
            s++;
        size_t n = (size_t)(s - w);
        pos++;
        if (n == 1 && w[0] >= '0' && w[0] <= '9') {
            if (!open_int) {
                st = arith_error(ARITH_ERR_DATA, "symbolic expression: token %d ('%c'): a digit "
                                 "outside an integer (integers start with INT+ or INT-)", pos,
                                 w[0]);
                goto fail;
            }
            int64_t d = w[0] - '0';
            int64_t mag = open_int->value < 0 ? -open_int->value : open_int->value;
            if (mag > (1000000000000000000LL - 1 - d) / 10) {
                st = arith_error(ARITH_ERR_DATA, "symbolic expression: token %d: the integer "
                                 "that starts at token %d reaches 10^18", pos, open_int->pos);
                goto fail;
            }
            mag = mag * 10 + d;
            open_int->value = open_int->text[3] == '-' ? -mag : mag;
            open_int->op = OP_CONST;
            continue;
        }
        bool sign = n == 4 && (memcmp(w, "INT+", 4) == 0 || memcmp(w, "INT-", 4) == 0);
        int op = -1;
        for (int j = 0; j < OP_COUNT && !sign; j++)
            if (j != OP_CONST && strlen(sym_op_names[j]) == n && memcmp(sym_op_names[j], w, n) == 0)
                op = j;
        if (!sign && op < 0) {
            st = arith_error(ARITH_ERR_DATA, "symbolic expression: token %d ('%s'): unknown token",
                             pos, tok_show(shown, w, n));
            goto fail;
        }
        if (open_int && open_int->op != OP_CONST)
            break; /* an integer without digits */
        sym_tok *k = &toks[count++];
        k->pos = pos;
        k->text = w;
        k->len = (int)n;
        k->value = 0;
        k->op = op; /* -1 for a sign token until its first digit */
        open_int = sign ? k : NULL;
    }
    if (open_int && open_int->op != OP_CONST) {
        st = arith_error(ARITH_ERR_DATA, "symbolic expression: token %d ('%.4s'): an integer "
                         "without digits", open_int->pos, open_int->text);
        goto fail;
    }
    *toks_out = toks;
    *count_out = count;
    return ARITH_OK;
fail:
    free(toks);
    return st;
}

/* Arity check: exactly one tree, at most SYM_PARSE_MAX_DEPTH deep. */
static arith_status sym_structure(const sym_tok *toks, int count)
{
    typedef struct {
        int tok, left;
    } open_op;
    open_op *stack = malloc((size_t)count * sizeof *stack);
    if (!stack)
        return arith_error(ARITH_ERR_MEMORY, "symbolic expression: out of memory");
    int sp = 0;
    bool done = false;
    arith_status st = ARITH_OK;
    char shown[32];
    for (int i = 0; i < count && st == ARITH_OK; i++) {
        const sym_tok *k = &toks[i];
        if (done) {
            st = arith_error(ARITH_ERR_DATA, "symbolic expression: token %d ('%s'): extra token "
                             "after a complete expression", k->pos, tok_show(shown, k->text,
                                                                             (size_t)k->len));
            break;
        }
        int arity = op_arity(k->op);
        if (arity > 0) {
            if (sp >= SYM_PARSE_MAX_DEPTH) {
                st = arith_error(ARITH_ERR_DATA, "symbolic expression: token %d ('%s'): nested "
                                 "deeper than the limit of %d", k->pos, tok_show(shown, k->text,
                                                                                 (size_t)k->len),
                                 SYM_PARSE_MAX_DEPTH);
                break;
            }
            stack[sp].tok = i;
            stack[sp].left = arity;
            sp++;
            continue;
        }
        while (sp > 0 && --stack[sp - 1].left == 0)
            sp--;
        done = sp == 0;
    }
    if (st == ARITH_OK && !done) {
        int missing = 0; /* each open operator but the outermost fills one operand of the next */
        for (int j = 0; j < sp; j++)
            missing += stack[j].left - (j > 0);
        const sym_tok *k = &toks[stack[sp - 1].tok];
        st = arith_error(ARITH_ERR_DATA, "symbolic expression: ends after token %d with %d "
                         "operand%s missing ('%s' at token %d lacks %s)", toks[count - 1].pos,
                         missing, missing == 1 ? "" : "s", sym_op_names[k->op], k->pos,
                         stack[sp - 1].left == 2 ? "both operands" :
                         op_arity(k->op) == 2 ? "its second operand" : "its operand");
    }
    free(stack);
    return st;
}

arith_status sym_check(const char *prefix)
{
    sym_tok *toks;
    int count;
    arith_status st = sym_lex(prefix, &toks, &count);
    if (st == ARITH_OK)
        st = sym_structure(toks, count);
    free(toks);
    return st;
}

int sym_token_count(const char *prefix)
{
    if (sym_check(prefix) != ARITH_OK)
        return -1;
    int words = 0;
    for (const char *s = prefix; *s;) {
        while (sym_space(*s))
            s++;
        if (!*s)
            break;
        words++;
        while (*s && !sym_space(*s))
            s++;
    }
    return words;
}

/* Parses into t; *root is the tree's node. */
static arith_status sym_parse(sym_tree *t, const char *prefix, int32_t *root)
{
    sym_tok *toks;
    int count;
    arith_status st = sym_lex(prefix, &toks, &count);
    if (st == ARITH_OK)
        st = sym_structure(toks, count);
    if (st != ARITH_OK) {
        free(toks);
        return st;
    }
    int32_t *stack = malloc((size_t)count * sizeof *stack);
    if (!stack) {
        free(toks);
        return arith_error(ARITH_ERR_MEMORY, "symbolic expression: out of memory");
    }
    /* right to left, as a postfix evaluation: operands are on the stack when an operator comes */
    int sp = 0;
    for (int i = count - 1; i >= 0; i--) {
        int op = toks[i].op, arity = op_arity(op);
        if (op == OP_X)
            stack[sp++] = mk_x(t);
        else if (op == OP_CONST)
            stack[sp++] = mk_int(t, toks[i].value);
        else if (arity == 1)
            stack[sp - 1] = mk1(t, op, stack[sp - 1]);
        else {
            int32_t a = stack[sp - 1], b = stack[sp - 2];
            sp--;
            stack[sp - 1] = mk2(t, op, a, b);
        }
    }
    *root = stack[0];
    free(stack);
    free(toks);
    if (t->failed || *root < 0)
        return arith_error(ARITH_ERR_MEMORY, "symbolic expression: out of memory");
    return ARITH_OK;
}

/* ----------------------------------------------------------------------------- evaluation */

/* The nodes reachable from roots, ascending (a topological order: children come first), and
 * slot[i] = the position of node i in that order. Both malloc'ed. */
static bool sym_order(const sym_tree *t, const int32_t *roots, int nroots, int32_t **order_out,
                      int32_t **slot_out, int *count_out)
{
    int32_t *slot = malloc((size_t)t->count * sizeof *slot);
    int32_t *stack = malloc((size_t)t->count * sizeof *stack);
    int32_t *order = NULL;
    if (!slot || !stack)
        goto fail;
    for (int32_t i = 0; i < t->count; i++)
        slot[i] = -1;
    int sp = 0, count = 0;
    int32_t last = 0;
    for (int r = 0; r < nroots; r++) {
        if (slot[roots[r]] < 0) {
            slot[roots[r]] = 0;
            stack[sp++] = roots[r];
        }
        while (sp > 0) {
            int32_t n = stack[--sp];
            count++;
            last = n > last ? n : last;
            int32_t kids[2] = {t->nodes[n].a, t->nodes[n].b};
            for (int j = 0; j < 2; j++)
                if (kids[j] >= 0 && slot[kids[j]] < 0) {
                    slot[kids[j]] = 0;
                    stack[sp++] = kids[j];
                }
        }
    }
    order = malloc((size_t)(count > 0 ? count : 1) * sizeof *order);
    if (!order)
        goto fail;
    int k = 0;
    for (int32_t i = 0; i <= last; i++)
        if (slot[i] == 0) {
            slot[i] = k;
            order[k++] = i;
        }
    free(stack);
    *order_out = order;
    *slot_out = slot;
    *count_out = count;
    return true;
fail:
    free(slot);
    free(stack);
    free(order);
    return false;
}

/* Evaluates every node of `order` at np points; vals is (count, np): row k holds node order[k].
 * Defined twice, in double and in long double (S is the libm suffix). */
#define SYM_DEFINE_EVAL(NAME, T, S)                                                              \
    static void NAME(const sym_tree *t, const int32_t *order, const int32_t *slot, int count,  \
                     const T *xs, int np, T *vals)                                               \
    {                                                                                            \
        for (int k = 0; k < count; k++) {                                                        \
            const sym_node *nd = &t->nodes[order[k]];                                            \
            T *v = vals + (size_t)k * np;                                                        \
            const T *a = nd->a >= 0 ? vals + (size_t)slot[nd->a] * np : NULL;                    \
            const T *b = nd->b >= 0 ? vals + (size_t)slot[nd->b] * np : NULL;                    \
            switch (nd->op) {                                                                    \
            case OP_X: for (int i = 0; i < np; i++) v[i] = xs[i]; break;                         \
            case OP_CONST: {                                                                     \
                T c = (T)nd->c.n / (T)nd->c.d;                                                   \
                for (int i = 0; i < np; i++) v[i] = c;                                           \
                break;                                                                           \
            }                                                                                    \
            case OP_ADD: for (int i = 0; i < np; i++) v[i] = a[i] + b[i]; break;                 \
            case OP_SUB: for (int i = 0; i < np; i++) v[i] = a[i] - b[i]; break;                 \
            case OP_MUL: for (int i = 0; i < np; i++) v[i] = a[i] * b[i]; break;                 \
            case OP_DIV: for (int i = 0; i < np; i++) v[i] = a[i] / b[i]; break;                 \
            case OP_POW: for (int i = 0; i < np; i++) v[i] = pow##S(a[i], b[i]); break;          \
            case OP_EXP: for (int i = 0; i < np; i++) v[i] = exp##S(a[i]); break;                \
            case OP_LOG: for (int i = 0; i < np; i++) v[i] = log##S(a[i]); break;                \
            case OP_SQRT: for (int i = 0; i < np; i++) v[i] = sqrt##S(a[i]); break;              \
            case OP_SIN: for (int i = 0; i < np; i++) v[i] = sin##S(a[i]); break;                \
            case OP_COS: for (int i = 0; i < np; i++) v[i] = cos##S(a[i]); break;                \
            case OP_TAN: for (int i = 0; i < np; i++) v[i] = tan##S(a[i]); break;                \
            case OP_ASIN: for (int i = 0; i < np; i++) v[i] = asin##S(a[i]); break;              \
            case OP_ACOS: for (int i = 0; i < np; i++) v[i] = acos##S(a[i]); break;              \
            case OP_ATAN: for (int i = 0; i < np; i++) v[i] = atan##S(a[i]); break;              \
            case OP_SINH: for (int i = 0; i < np; i++) v[i] = sinh##S(a[i]); break;              \
            case OP_COSH: for (int i = 0; i < np; i++) v[i] = cosh##S(a[i]); break;              \
            case OP_TANH: for (int i = 0; i < np; i++) v[i] = tanh##S(a[i]); break;              \
            case OP_ASINH: for (int i = 0; i < np; i++) v[i] = asinh##S(a[i]); break;            \
            case OP_ACOSH: for (int i = 0; i < np; i++) v[i] = acosh##S(a[i]); break;            \
            case OP_ATANH: for (int i = 0; i < np; i++) v[i] = atanh##S(a[i]); break;            \
            default: for (int i = 0; i < np; i++) v[i] = (T)NAN; break;                          \
            }                                                                                    \
        }                                                                                        \
    }

SYM_DEFINE_EVAL(eval_double, double, )
SYM_DEFINE_EVAL(eval_long, long double, l)

#define SYM_POINTS 32
#define SYM_EVALS (3 * SYM_POINTS)

/* sym_equivalent's points: 24 stratified over [-10, -0.1] and [0.1, 10] (signs alternate), then
 * 8 in (0, 1); fixed, the same for every call. Each point x also comes as x(1 + 1e-15) and
 * x(1 - 1e-15) (entries 32.. and 64..), to tell where a value is too sensitive to trust. */
static void sym_points(long double *xs)
{
    for (int i = 0; i < SYM_POINTS; i++) {
        double u = (double)(rng_hash(0x73796d626f6c6963ULL, (uint64_t)i) >> 11) * 0x1p-53;
        if (i < 24) {
            double m = 0.1 + 9.9 * ((double)(i / 2) + u) / 12.0;
            xs[i] = i % 2 ? -m : m;
        } else {
            xs[i] = 0.02 + 0.96 * ((double)(i - 24) + u) / 8.0;
        }
        xs[SYM_POINTS + i] = xs[i] * (1 + 1e-15L);
        xs[2 * SYM_POINTS + i] = xs[i] * (1 - 1e-15L);
    }
}

/* Whether point i of one expression's SYM_EVALS values is usable: finite there and nearby, and
 * well conditioned (moving x by 1e-15 relative moves the value by at most 1e-7 relative), so
 * that two forms of one function, rounded differently, still agree to 1e-6 there. cos(exp(40))
 * is not usable: its rounding errors are larger than the value. */
static bool point_usable(const long double *v, int i)
{
    long double c = v[i], p = v[SYM_POINTS + i], m = v[2 * SYM_POINTS + i];
    if (!isfinite(c) || !isfinite(p) || !isfinite(m))
        return false;
    return fabsl(p - m) <= 1e-7L * (fabsl(c) > 1 ? fabsl(c) : 1);
}

/* Values of roots[0..nroots) at the SYM_EVALS points: vals[r * SYM_EVALS + i], computed in long
 * double, or in double (4-5 times faster) when `fast`. */
static bool eval_roots(const sym_tree *t, const int32_t *roots, int nroots, bool fast,
                       long double *vals)
{
    int32_t *order, *slot;
    int count;
    if (!sym_order(t, roots, nroots, &order, &slot, &count))
        return false;
    long double xs[SYM_EVALS];
    sym_points(xs);
    size_t n = (size_t)count * SYM_EVALS;
    void *all = malloc(n * (fast ? sizeof(double) : sizeof(long double)));
    bool ok = all != NULL;
    if (ok && fast) {
        double xd[SYM_EVALS];
        for (int i = 0; i < SYM_EVALS; i++)
            xd[i] = (double)xs[i];
        eval_double(t, order, slot, count, xd, SYM_EVALS, all);
        for (int r = 0; r < nroots; r++)
            for (int i = 0; i < SYM_EVALS; i++)
                vals[r * SYM_EVALS + i] = ((double *)all)[(size_t)slot[roots[r]] * SYM_EVALS + i];
    } else if (ok) {
        eval_long(t, order, slot, count, xs, SYM_EVALS, all);
        for (int r = 0; r < nroots; r++)
            memcpy(vals + (size_t)r * SYM_EVALS,
                   (long double *)all + (size_t)slot[roots[r]] * SYM_EVALS,
                   SYM_EVALS * sizeof *vals);
    }
    free(all);
    free(order);
    free(slot);
    return ok;
}

static bool close_enough(long double a, long double b)
{
    long double scale = fabsl(a) > fabsl(b) ? fabsl(a) : fabsl(b);
    return fabsl(a - b) <= 1e-6L * (scale > 1 ? scale : 1);
}

/* Points usable for both a and b (SYM_EVALS values each), and whether they agree at all. */
static int agreeing_points(const long double *a, const long double *b, bool *all_agree)
{
    int valid = 0;
    *all_agree = true;
    for (int i = 0; i < SYM_POINTS; i++) {
        if (!point_usable(a, i) || !point_usable(b, i))
            continue;
        valid++;
        if (!close_enough(a[i], b[i]))
            *all_agree = false;
    }
    return valid;
}

#define SYM_MIN_POINTS 8

bool sym_equivalent(sym_kind kind, const char *prompt, const char *reference,
                    const char *hypothesis)
{
    const char *other = kind == SYM_INTEGRAL ? prompt : reference;
    arith_error_clear();
    if (!other || !hypothesis)
        return false;
    sym_tree t;
    if (!tree_init(&t, 256))
        return false;
    int32_t roots[2];
    bool ok = false;
    if (sym_parse(&t, hypothesis, &roots[0]) == ARITH_OK &&
        sym_parse(&t, other, &roots[1]) == ARITH_OK) {
        if (kind == SYM_INTEGRAL)
            roots[0] = deriv(&t, roots[0], 0);
        long double vals[2 * SYM_EVALS];
        if (roots[0] >= 0 && !t.failed && eval_roots(&t, roots, 2, false, vals)) {
            bool agree;
            int valid = agreeing_points(vals, vals + SYM_EVALS, &agree);
            ok = agree && valid >= SYM_MIN_POINTS;
        }
    }
    tree_free(&t);
    return ok;
}

/* Whether every node reachable from roots has a finite value at one of sym_equivalent's points
 * at least: 1 when it has, 0 when one node is undefined or infinite at all of them (a constant
 * 1/0, log of a negative constant, sqrt(-1 - x^2)), -1 when out of memory. Such a node can hide
 * in a finite expression (tanh(1/0) - x evaluates to 1 - x, as the infinity is absorbed), but
 * the expression is not defined anywhere. In double when `fast`, else in long double. */
static int nodes_defined(const sym_tree *t, const int32_t *roots, int nroots, bool fast)
{
    int32_t *order, *slot;
    int count;
    if (!sym_order(t, roots, nroots, &order, &slot, &count))
        return -1;
    long double xs[SYM_EVALS];
    sym_points(xs);
    size_t n = (size_t)count * SYM_POINTS;
    void *all = malloc(n * (fast ? sizeof(double) : sizeof(long double)));
    int defined = all != NULL ? 1 : -1;
    if (all && fast) {
        double xd[SYM_POINTS];
        for (int i = 0; i < SYM_POINTS; i++)
            xd[i] = (double)xs[i];
        eval_double(t, order, slot, count, xd, SYM_POINTS, all);
    } else if (all) {
        eval_long(t, order, slot, count, xs, SYM_POINTS, all);
    }
    for (int k = 0; all && k < count && defined == 1; k++) {
        bool finite = false;
        for (int i = 0; i < SYM_POINTS && !finite; i++)
            finite = fast ? isfinite(((double *)all)[(size_t)k * SYM_POINTS + i])
                          : isfinite(((long double *)all)[(size_t)k * SYM_POINTS + i]);
        defined = finite;
    }
    free(all);
    free(order);
    free(slot);
    return defined;
}

/* nodes_defined, in double first and, where double says no (it overflows sooner: exp(exp(7))),
 * again in long double. */
static bool tree_defined(const sym_tree *t, const int32_t *roots, int nroots)
{
    int d = nodes_defined(t, roots, nroots, true);
    if (d == 0)
        d = nodes_defined(t, roots, nroots, false);
    return d == 1;
}

bool sym_defined(const char *prefix)
{
    arith_error_clear();
    if (!prefix)
        return false;
    sym_tree t;
    if (!tree_init(&t, 256))
        return false;
    int32_t root;
    bool ok = sym_parse(&t, prefix, &root) == ARITH_OK && tree_defined(&t, &root, 1);
    tree_free(&t);
    return ok;
}

/* ----------------------------------------------------------------------------- random trees */

typedef struct {
    int op, weight;
} op_weight;

static const op_weight sym_binary_weights[] = {
    {OP_ADD, 10}, {OP_SUB, 4}, {OP_MUL, 10}, {OP_DIV, 6}, {OP_POW, 4}};
static const op_weight sym_unary_weights[] = {
    {OP_EXP, 3},  {OP_LOG, 3},  {OP_SQRT, 3}, {OP_SIN, 3},  {OP_COS, 3},
    {OP_TAN, 2},  {OP_ASIN, 1}, {OP_ACOS, 1}, {OP_ATAN, 1}, {OP_SINH, 1},
    {OP_COSH, 1}, {OP_TANH, 1}, {OP_ASINH, 1}, {OP_ACOSH, 1}, {OP_ATANH, 1}};

static int draw_op(rng_state *rng, const op_weight *w, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += w[i].weight;
    int r = (int)rng_below(rng, (uint64_t)total);
    for (int i = 0; i < n; i++) {
        if (r < w[i].weight)
            return w[i].op;
        r -= w[i].weight;
    }
    return w[n - 1].op;
}

static double rng_double(rng_state *rng)
{
    return (double)(rng_u64(rng) >> 11) * 0x1p-53;
}

#define SLOT_EMPTY (-1)
#define SYM_MAX_SLOTS (2 * SYM_MAX_OPS + 1)

/* Draws f into t (see the file comment); -1 on failure. */
static int32_t random_tree(sym_tree *t, rng_state *rng, const sym_config *cfg)
{
    int n = 1 + (int)rng_below(rng, (uint64_t)cfg->max_ops);
    /* D[e][m] for e + m <= n + 1, row length n + 1 */
    double D[(SYM_MAX_OPS + 2) * (SYM_MAX_OPS + 1)];
    int W = n + 1;
    for (int m = 0; m <= n; m++)
        for (int e = 0; e + m <= n + 1; e++) {
            if (e == 0)
                D[e * W + m] = 0;
            else if (m == 0)
                D[e * W + m] = 1;
            else
                D[e * W + m] = D[(e - 1) * W + m] + D[e * W + m - 1] + D[(e + 1) * W + m - 1];
        }

    /* the tree in prefix order: operators and empty slots (leaves) */
    int slots[SYM_MAX_SLOTS];
    int len = 1, e = 1, l_leaves = 0;
    slots[0] = SLOT_EMPTY;
    for (int m = n; m > 0; m--) {
        double r = rng_double(rng) * D[e * W + m];
        int skip = e - 1, arity = 2;
        for (int k = 0; k < e; k++) {
            double p1 = D[(e - k) * W + m - 1], p2 = D[(e - k + 1) * W + m - 1];
            if (r < p1) {
                skip = k;
                arity = 1;
                break;
            }
            r -= p1;
            if (r < p2) {
                skip = k;
                arity = 2;
                break;
            }
            r -= p2;
        }
        int op = arity == 1 ? draw_op(rng, sym_unary_weights, 15)
                            : draw_op(rng, sym_binary_weights, 5);
        l_leaves += skip;
        e = e - skip - 1 + arity;
        int pos = 0, seen = 0;
        for (pos = 0; pos < len; pos++)
            if (slots[pos] == SLOT_EMPTY && seen++ == l_leaves)
                break;
        memmove(slots + pos + 1 + arity, slots + pos + 1, (size_t)(len - pos - 1) * sizeof *slots);
        slots[pos] = op;
        for (int j = 1; j <= arity; j++)
            slots[pos + j] = SLOT_EMPTY;
        len += arity;
    }

    /* right to left: find each pow's exponent; keep a subtree exponent one time in three */
    int start[SYM_MAX_SLOTS], sp = 0;
    bool is_leaf[SYM_MAX_SLOTS], exponent[SYM_MAX_SLOTS] = {false};
    for (int i = len - 1; i >= 0; i--) {
        if (slots[i] == SLOT_EMPTY) {
            start[sp] = i;
            is_leaf[sp++] = true;
            continue;
        }
        if (op_arity(slots[i]) == 2) {
            sp--; /* the left child is on top, the right child under it */
            if (slots[i] == OP_POW) {
                if (is_leaf[sp - 1])
                    exponent[start[sp - 1]] = true;
                else if (rng_below(rng, 3) != 0)
                    slots[i] = draw_op(rng, sym_binary_weights, 4);
            }
        }
        start[sp - 1] = i;
        is_leaf[sp - 1] = false;
    }

    /* leaves: x (3 in 4) or integers; at least one x */
    int64_t value[SYM_MAX_SLOTS];
    bool is_x[SYM_MAX_SLOTS] = {false};
    int free_leaves = 0, xs = 0;
    for (int i = 0; i < len; i++) {
        if (slots[i] != SLOT_EMPTY)
            continue;
        if (exponent[i]) {
            value[i] = 2 + (int64_t)rng_below(rng, 3);
            if (rng_below(rng, 5) == 0)
                value[i] = -value[i];
            continue;
        }
        free_leaves++;
        if (rng_below(rng, 4) != 0) {
            is_x[i] = true;
            xs++;
        } else {
            value[i] = 1 + (int64_t)rng_below(rng, (uint64_t)cfg->max_int);
            if (rng_below(rng, 4) == 0)
                value[i] = -value[i];
        }
    }
    if (xs == 0) {
        int pick = (int)rng_below(rng, (uint64_t)free_leaves);
        for (int i = 0; i < len; i++)
            if (slots[i] == SLOT_EMPTY && !exponent[i] && pick-- == 0)
                is_x[i] = true;
    }

    /* right to left again: build the nodes */
    int32_t stack[SYM_MAX_SLOTS];
    sp = 0;
    for (int i = len - 1; i >= 0; i--) {
        if (slots[i] == SLOT_EMPTY)
            stack[sp++] = is_x[i] ? mk_x(t) : mk_int(t, value[i]);
        else if (op_arity(slots[i]) == 1)
            stack[sp - 1] = mk1(t, slots[i], stack[sp - 1]);
        else {
            int32_t a = stack[sp - 1], b = stack[sp - 2];
            sp--;
            stack[sp - 1] = mk2(t, slots[i], a, b);
        }
    }
    return t->failed ? -1 : stack[0];
}

bool sym_random_expr(rng_state *rng, const sym_config *cfg, char *out, size_t out_cap)
{
    if (!rng || !out || sym_config_check(cfg) != ARITH_OK)
        return false;
    sym_tree t;
    if (!tree_init(&t, 128))
        return false;
    int32_t f = random_tree(&t, rng, cfg);
    bool ok = f >= 0 && print_tree(&t, f, SYM_PARSE_MAX_TOKENS, out, out_cap, NULL) == 0;
    tree_free(&t);
    return ok;
}

/* ----------------------------------------------------------------------------- problems */

/* The points where f = roots[0] is finite and f' = roots[1] (simplified) and roots[2]
 * (unsimplified) are usable, or -1 when the two disagree at one of them; *moves when f' is not
 * zero at all of them. */
static int problem_points(const sym_tree *t, const int32_t *roots, bool fast, bool *moves)
{
    long double vals[3 * SYM_EVALS];
    if (!eval_roots(t, roots, 3, fast, vals))
        return -1;
    const long double *fv = vals, *dv = vals + SYM_EVALS, *rv = vals + 2 * SYM_EVALS;
    int valid = 0;
    *moves = false;
    for (int i = 0; i < SYM_POINTS; i++) {
        if (!isfinite(fv[i]) || !point_usable(dv, i) || !point_usable(rv, i))
            continue;
        if (!close_enough(dv[i], rv[i]))
            return -1;
        valid++;
        *moves |= fabsl(dv[i]) > 1e-9L * (fabsl(fv[i]) > 1 ? fabsl(fv[i]) : 1);
    }
    return valid;
}

bool sym_generate(rng_state *rng, const sym_config *cfg, sym_kind kind, char *prompt,
                  size_t prompt_cap, char *answer, size_t answer_cap)
{
    if (!rng || !prompt || !answer || sym_config_check(cfg) != ARITH_OK)
        return false;
    if (prompt_cap > 0)
        prompt[0] = '\0';
    if (answer_cap > 0)
        answer[0] = '\0';
    sym_tree t;
    if (!tree_init(&t, 256))
        return false;
    bool ok = false;
    int32_t f = simplify(&t, random_tree(&t, rng, cfg), 0);
    if (f >= 0 && kind == SYM_INTEGRAL && (t.nodes[f].op == OP_ADD || t.nodes[f].op == OP_SUB))
        f = sum_simplify(&t, f, true, 0);
    if (f < 0 || !t.nodes[f].has_x)
        goto done;
    int32_t raw = deriv(&t, f, 0);
    int32_t d = simplify(&t, raw, 0);
    if (d < 0 || is_int(&t, d, 0))
        goto done;

    /* checkable by sym_equivalent: f finite and f' (simplified and not) usable at enough points,
     * the simplified f' equal to the unsimplified one there, and f' not numerically zero. In
     * double first; a clear pass is taken, a borderline one is redone as sym_equivalent does. */
    int32_t roots[3] = {f, d, raw};
    bool moves = false;
    int valid = problem_points(&t, roots, true, &moves);
    if (valid < SYM_MIN_POINTS + 6 && valid >= SYM_MIN_POINTS / 2)
        valid = problem_points(&t, roots, false, &moves);
    if (valid < SYM_MIN_POINTS + 2 || !moves)
        goto done;

    int32_t p = kind == SYM_INTEGRAL ? d : f, a = kind == SYM_INTEGRAL ? f : d;
    /* every subtree of both defined somewhere: f = x - tanh(1/0) passes the checks above */
    int32_t shown[2] = {p, a};
    if (!tree_defined(&t, shown, 2))
        goto done;
    ok = print_tree(&t, p, cfg->max_tokens, prompt, prompt_cap, NULL) == 0 &&
         print_tree(&t, a, cfg->max_tokens, answer, answer_cap, NULL) == 0;
    /* what is generated must read back: folding can make integers past sym_check's 10^18 */
    ok = ok && sym_check(prompt) == ARITH_OK && sym_check(answer) == ARITH_OK;
done:
    if (!ok) {
        if (prompt_cap > 0)
            prompt[0] = '\0';
        if (answer_cap > 0)
            answer[0] = '\0';
    }
    tree_free(&t);
    return ok;
}

/* ----------------------------------------------------------------------------- strings */

/* Prints root into out, or reports why it cannot. */
static arith_status sym_output(const sym_tree *t, int32_t root, char *out, size_t out_cap)
{
    if (t->failed || root < 0)
        return arith_error(ARITH_ERR_MEMORY, "symbolic expression: the result exceeds the limits "
                           "(%d nodes, nesting %d)", SYM_MAX_NODES, SYM_RECURSION_MAX);
    long tokens = 0;
    int r = print_tree(t, root, 1L << 30, out, out_cap, &tokens);
    if (r != 0)
        return arith_error(ARITH_ERR_ARG, "symbolic expression: the result (more than %ld "
                           "tokens) does not fit in %zu bytes", tokens, out_cap);
    return ARITH_OK;
}

typedef enum { SYM_DO_FORMAT, SYM_DO_SIMPLIFY, SYM_DO_DERIVATIVE, SYM_DO_RAW_DERIVATIVE } sym_do;

static arith_status sym_transform(const char *prefix, sym_do what, char *out, size_t out_cap)
{
    if (out && out_cap > 0)
        out[0] = '\0';
    if (!out)
        return arith_error(ARITH_ERR_ARG, "symbolic expression: NULL output buffer");
    sym_tree t;
    if (!tree_init(&t, 256))
        return arith_error(ARITH_ERR_MEMORY, "symbolic expression: out of memory");
    int32_t root;
    arith_status st = sym_parse(&t, prefix, &root);
    if (st == ARITH_OK) {
        if (what == SYM_DO_SIMPLIFY)
            root = simplify(&t, root, 0);
        else if (what == SYM_DO_DERIVATIVE)
            root = simplify(&t, deriv(&t, simplify(&t, root, 0), 0), 0);
        else if (what == SYM_DO_RAW_DERIVATIVE)
            root = deriv(&t, root, 0);
        st = sym_output(&t, root, out, out_cap);
    }
    tree_free(&t);
    return st;
}

arith_status sym_format(const char *prefix, char *out, size_t out_cap)
{
    return sym_transform(prefix, SYM_DO_FORMAT, out, out_cap);
}

arith_status sym_simplify(const char *prefix, char *out, size_t out_cap)
{
    return sym_transform(prefix, SYM_DO_SIMPLIFY, out, out_cap);
}

arith_status sym_derivative(const char *prefix, bool simplify_it, char *out, size_t out_cap)
{
    return sym_transform(prefix, simplify_it ? SYM_DO_DERIVATIVE : SYM_DO_RAW_DERIVATIVE, out,
                         out_cap);
}

arith_status sym_eval(const char *prefix, double x, double *value)
{
    sym_tree t;
    if (!tree_init(&t, 64))
        return arith_error(ARITH_ERR_MEMORY, "symbolic expression: out of memory");
    int32_t root;
    arith_status st = sym_parse(&t, prefix, &root);
    if (st == ARITH_OK) {
        int32_t *order, *slot;
        int count;
        double *vals = NULL;
        if (sym_order(&t, &root, 1, &order, &slot, &count)) {
            vals = malloc((size_t)count * sizeof *vals);
            if (vals) {
                eval_double(&t, order, slot, count, &x, 1, vals);
                *value = vals[slot[root]];
            }
            free(order);
            free(slot);
        }
        if (!vals)
            st = arith_error(ARITH_ERR_MEMORY, "symbolic expression: out of memory");
        free(vals);
    }
    tree_free(&t);
    return st;
}
