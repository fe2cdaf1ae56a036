/* Length grids: exact match per pair of operand lengths (la, lb) for tasks add and mul, drawn
 * by task_sample_lengths and answered through evaluate_beam (the tokenizer encodes, the model
 * generates, answers are compared exactly); the grid written as CSV and as an SVG heatmap with
 * the training lengths outlined; several runs' grids combined per cell. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "train/train.h"

/* At most this many lengths per axis (a million cells). */
enum { GRID_MAX_LENGTHS = 1000 };

/* The cells of a grid whose axes are set. */
static arith_status grid_alloc(length_grid *g)
{
    size_t cells = (size_t)g->count * g->count_b;
    g->n = calloc(cells, sizeof *g->n);
    g->correct = calloc(cells, sizeof *g->correct);
    g->accuracy = calloc(cells, sizeof *g->accuracy);
    if (!g->n || !g->correct || !g->accuracy) {
        grid_free(g);
        return arith_error(ARITH_ERR_MEMORY, "out of memory for a grid of %d x %d cells",
                           g->count, g->count_b);
    }
    return ARITH_OK;
}

arith_status grid_init(length_grid *g, int lo, int hi, int step, int per_cell, long long seed)
{
    memset(g, 0, sizeof *g);
    if (lo < 1 || hi < lo || hi > TASK_DIGITS_MAX)
        return arith_error(ARITH_ERR_ARG, "--grid %d..%d: lengths must satisfy 1 <= A <= B <= %d",
                           lo, hi, TASK_DIGITS_MAX);
    if (step < 1)
        return arith_error(ARITH_ERR_ARG, "--grid-step must be at least 1 (got %d)", step);
    if (per_cell < 1)
        return arith_error(ARITH_ERR_ARG, "--grid-n must be at least 1 (got %d)", per_cell);
    int count = (hi - lo) / step + 1;
    if (count > GRID_MAX_LENGTHS)
        return arith_error(ARITH_ERR_ARG, "--grid %d..%d with --grid-step %d has %d lengths per "
                           "axis; at most %d\nhint: a larger --grid-step", lo, hi, step, count,
                           GRID_MAX_LENGTHS);
    g->lo = lo;
    g->hi = hi;
    g->step = step;
    g->count = count;
    g->lo_b = lo;
    g->hi_b = hi;
    g->step_b = step;
    g->count_b = count;
    g->per_cell = per_cell;
    g->seed = seed;
    return grid_alloc(g);
}

arith_status grid_set_b(length_grid *g, int lo_b, int hi_b)
{
    if (lo_b < 1 || hi_b < lo_b || hi_b > TASK_DIGITS_MAX)
        return arith_error(ARITH_ERR_ARG, "--grid-b %d..%d: lengths must satisfy 1 <= A <= B "
                           "<= %d", lo_b, hi_b, TASK_DIGITS_MAX);
    if (hi_b - lo_b + 1 > GRID_MAX_LENGTHS)
        return arith_error(ARITH_ERR_ARG, "--grid-b %d..%d has %d lengths; at most %d", lo_b,
                           hi_b, hi_b - lo_b + 1, GRID_MAX_LENGTHS);
    g->lo_b = lo_b;
    g->hi_b = hi_b;
    g->step_b = 1;
    g->count_b = hi_b - lo_b + 1;
    free(g->n);
    free(g->correct);
    free(g->accuracy);
    g->n = g->correct = NULL;
    g->accuracy = NULL;
    return grid_alloc(g);
}

void grid_free(length_grid *g)
{
    free(g->n);
    free(g->correct);
    free(g->accuracy);
    free(g->acc_std);
    free(g->acc_min);
    free(g->acc_max);
    memset(g, 0, sizeof *g);
}

/* ----------------------------------------------------------------------------- evaluate */

typedef struct {
    int cell;                  /* i * count + j */
    int max_prompt, max_answer; /* tokens (answer: with EOS) */
} cell_info;

static int by_size(const void *x, const void *y)
{
    const cell_info *a = x, *b = y;
    if (a->max_prompt != b->max_prompt)
        return a->max_prompt < b->max_prompt ? -1 : 1;
    if (a->max_answer != b->max_answer)
        return a->max_answer < b->max_answer ? -1 : 1;
    return a->cell < b->cell ? -1 : a->cell > b->cell;
}

typedef struct {
    length_grid *g;
    const int *cell_of;        /* cell of each example of the group */
} grid_tally;

static void tally_cell(void *ctx, int index, const example *ex, const char *predicted,
                       bool correct)
{
    (void)ex;
    (void)predicted;
    grid_tally *t = ctx;
    int cell = t->cell_of[index];
    t->g->n[cell]++;
    t->g->correct[cell] += correct;
}

static bool draws_lengths(const task_def *def)
{
    return def->sample_lengths != NULL;
}

arith_status grid_evaluate(model *m, const tokenizer *tok, const task_config *task,
                           int batch_size, int beam, length_grid *g, grid_progress_fn fn,
                           void *ctx)
{
    if (!task->def->sample_lengths) {
        char names[256];
        task_names(names, sizeof names, draws_lengths);
        return arith_error(ARITH_ERR_ARG, "--grid measures operand lengths of tasks %s (this "
                           "run's task is %s)", names, task->def->name);
    }
    arith_status st = beam_check(m, beam);
    if (st)
        return st;
    double t0 = time_now();
    const int C = g->count, Cb = g->count_b, per = g->per_cell;
    const size_t cells = (size_t)C * Cb;
    const size_t total = cells * (size_t)per;
    const size_t longest = (size_t)grid_length(g, C - 1) + (size_t)grid_length_b(g, Cb - 1);
    size_t prompt_cap = longest + 8, answer_cap = longest + 4;
    int ids_cap = 4 * (int)prompt_cap + 64;
    char *prompt = malloc(prompt_cap), *answer = malloc(answer_cap);
    int32_t *ids = malloc((size_t)ids_cap * sizeof *ids);
    cell_info *info = calloc(cells, sizeof *info);
    example_set all;
    examples_init(&all);
    if (!prompt || !answer || !ids || !info)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory drawing the grid's examples");
    /* every cell's examples first, each from (seed, la, lb) alone; each checked against the
     * tokenizer and the context before anything is generated */
    for (int i = 0; i < C && !st; i++) {
        for (int j = 0; j < Cb && !st; j++) {
            const int la = grid_length(g, i), lb = grid_length_b(g, j);
            cell_info *ci = &info[(size_t)i * Cb + j];
            ci->cell = i * Cb + j;
            rng_state rng;
            rng_seed(&rng, rng_hash(rng_hash((uint64_t)g->seed, (uint64_t)la), (uint64_t)lb));
            for (int k = 0; k < per && !st; k++) {
                st = task_sample_lengths(task, &rng, la, lb, prompt, prompt_cap, answer,
                                         answer_cap);
                int np = 0, na = 0, width = 0;
                if (!st)
                    st = tok_encode_example(tok, prompt, answer, ids, NULL, NULL, ids_cap, &np,
                                            &na, &width);
                if (st) {
                    arith_error_wrap(st, "--grid %d..%d: operands of %d and %d digits: ", g->lo,
                                     g->hi, la, lb);
                    if (tok->kind == TOK_PAIRS && tok->digits >= g->lo) {
                        char msg[1024]; /* arith_error must not read its own buffer */
                        snprintf(msg, sizeof msg, "%s", arith_error_message());
                        st = arith_error(st, "%s\nhint: the pairs tokenizer reads operands of "
                                         "at most %d digits: --grid %d..%d, or a run trained "
                                         "with --tokenizer char", msg, tok->digits, g->lo,
                                         tok->digits);
                    }
                    break;
                }
                if (np > ci->max_prompt)
                    ci->max_prompt = np;
                if (na > ci->max_answer)
                    ci->max_answer = na;
                st = examples_push(&all, prompt, answer);
            }
        }
    }
    if (!st && model_has_context_limit(m)) {
        const int context = m->cfg.context;
        /* the largest grid length whose (n, n) cell fits (with an lb axis of its own: whose
         * cells all fit) */
        int fits = g->lo - 1;
        for (int i = 0; i < C; i++) {
            bool ok = true;
            for (int j = grid_square(g) ? i : 0; j < (grid_square(g) ? i + 1 : Cb); j++) {
                const cell_info *ci = &info[(size_t)i * Cb + j];
                ok = ok && ci->max_prompt + ci->max_answer - 1 <= context;
            }
            if (!ok)
                break;
            fits = grid_length(g, i);
        }
        for (size_t c = 0; c < cells && !st; c++) {
            const cell_info *ci = &info[c];
            if (ci->max_prompt + ci->max_answer - 1 <= context)
                continue;
            const int la = grid_length(g, (int)(c / Cb)), lb = grid_length_b(g, (int)(c % Cb));
            char fit[160];
            if (fits >= g->lo)
                snprintf(fit, sizeof fit, "--grid %d..%d fits", g->lo, fits);
            else
                snprintf(fit, sizeof fit, "no grid from %d fits", g->lo);
            st = arith_error(ARITH_ERR_DATA,
                             "--grid %d..%d: operands of %d and %d digits need %d prompt tokens "
                             "and up to %d answer tokens (with EOS), more than the model's "
                             "context of %d tokens\nhint: %s; or train with a larger --context",
                             g->lo, g->hi, la, lb, ci->max_prompt, ci->max_answer, context,
                             fit);
        }
    }
    free(prompt);
    free(answer);
    free(ids);
    /* cells of similar sizes are generated together, in groups of at least batch_size
     * examples, each group within the context */
    cell_info *order = NULL;
    example *items = NULL;
    int *cell_of = NULL;
    if (!st) {
        order = malloc(cells * sizeof *order);
        int group_cap = (batch_size > per ? batch_size : per) + per;
        items = malloc((size_t)group_cap * sizeof *items);
        cell_of = malloc((size_t)group_cap * sizeof *cell_of);
        if (!order || !items || !cell_of)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory ordering the grid");
    }
    if (!st) {
        memcpy(order, info, cells * sizeof *order);
        qsort(order, cells, sizeof *order, by_size);
    }
    memset(g->n, 0, cells * sizeof *g->n);
    memset(g->correct, 0, cells * sizeof *g->correct);
    size_t done_cells = 0;
    long long done_examples = 0;
    while (!st && done_cells < cells) {
        int count = 0, gp = 0, ga = 0;
        size_t first = done_cells;
        while (done_cells < cells && (count == 0 || count < batch_size)) {
            const cell_info *ci = &order[done_cells];
            int p = ci->max_prompt > gp ? ci->max_prompt : gp;
            int a = ci->max_answer > ga ? ci->max_answer : ga;
            if (count > 0 && model_has_context_limit(m) && p + a - 1 > m->cfg.context)
                break;
            gp = p;
            ga = a;
            for (int k = 0; k < per; k++) {
                items[count + k] = all.items[(size_t)ci->cell * per + k];
                cell_of[count + k] = ci->cell;
            }
            count += per;
            done_cells++;
        }
        example_set part = {.items = items, .count = count, .capacity = count};
        grid_tally t = {g, cell_of};
        eval_result r;
        st = evaluate_beam(m, tok, task, &part, 0, batch_size, beam, tally_cell, &t, -1, &r);
        if (st)
            arith_error_wrap(st, "--grid: cells from (%d, %d): ",
                             grid_length(g, order[first].cell / Cb),
                             grid_length_b(g, order[first].cell % Cb));
        done_examples += count;
        if (!st && fn)
            fn(ctx, (int)done_cells, (int)cells, done_examples, (long long)total,
               time_now() - t0);
    }
    for (size_t c = 0; c < cells; c++)
        g->accuracy[c] = g->n[c] ? (double)g->correct[c] / g->n[c] : NAN;
    g->seconds = time_now() - t0;
    free(order);
    free(items);
    free(cell_of);
    free(info);
    examples_free(&all);
    return st;
}

/* ------------------------------------------------------------------------------ combine */

arith_status grid_combine(length_grid *out, const length_grid *grids, int count)
{
    memset(out, 0, sizeof *out);
    if (count < 1)
        return arith_error(ARITH_ERR_ARG, "grid_combine: no grids");
    const length_grid *g0 = &grids[0];
    for (int k = 1; k < count; k++)
        if (grids[k].lo != g0->lo || grids[k].count != g0->count || grids[k].step != g0->step ||
            grids[k].lo_b != g0->lo_b || grids[k].count_b != g0->count_b ||
            grids[k].step_b != g0->step_b)
            return arith_error(ARITH_ERR_ARG, "grid_combine: grids of different shapes");
    const size_t cells = (size_t)g0->count * g0->count_b;
    *out = (length_grid){.lo = g0->lo, .hi = g0->hi, .step = g0->step, .count = g0->count,
                         .lo_b = g0->lo_b, .hi_b = g0->hi_b, .step_b = g0->step_b,
                         .count_b = g0->count_b, .per_cell = g0->per_cell, .seed = g0->seed,
                         .runs = count};
    out->accuracy = malloc(cells * sizeof(double));
    out->acc_std = malloc(cells * sizeof(double));
    out->acc_min = malloc(cells * sizeof(double));
    out->acc_max = malloc(cells * sizeof(double));
    double *x = malloc((size_t)count * sizeof *x);
    if (!out->accuracy || !out->acc_std || !out->acc_min || !out->acc_max || !x) {
        free(x);
        grid_free(out);
        return arith_error(ARITH_ERR_MEMORY, "out of memory combining grids");
    }
    for (size_t c = 0; c < cells; c++) {
        for (int k = 0; k < count; k++) {
            x[k] = grids[k].accuracy[c];
            out->seconds += c == 0 ? grids[k].seconds : 0;
        }
        stats_summary s;
        stats_summarize(x, count, &s);
        out->accuracy[c] = s.mean;
        out->acc_std[c] = s.std;
        out->acc_min[c] = s.min;
        out->acc_max[c] = s.max;
    }
    free(x);
    return ARITH_OK;
}

void grid_largest_at(const length_grid *g, double threshold, int *prefix, int *any)
{
    *prefix = *any = g->lo - 1;
    bool unbroken = true;
    for (int i = 0; i < g->count; i++) {
        bool ok = true; /* NaN (no examples) is never ok */
        if (grid_square(g))
            ok = g->accuracy[(size_t)i * g->count_b + i] >= threshold;
        for (int j = 0; !grid_square(g) && j < g->count_b; j++)
            ok = ok && g->accuracy[(size_t)i * g->count_b + j] >= threshold;
        unbroken = unbroken && ok;
        if (unbroken)
            *prefix = grid_length(g, i);
        if (ok)
            *any = grid_length(g, i);
    }
}

/* ------------------------------------------------------------------------------- writing */

arith_status grid_write_csv(const length_grid *g, const char *path)
{
    text_buffer b = {0};
    text_printf(&b, g->runs ? "la,lb,runs,accuracy,std,min,max\n" : "la,lb,n,correct,accuracy\n");
    for (int i = 0; i < g->count; i++) {
        for (int j = 0; j < g->count_b; j++) {
            size_t c = (size_t)i * g->count_b + j;
            int la = grid_length(g, i), lb = grid_length_b(g, j);
            if (g->runs)
                text_printf(&b, "%d,%d,%d,%.6f,%.6f,%.6f,%.6f\n", la, lb, g->runs, g->accuracy[c],
                    g->acc_std[c], g->acc_min[c], g->acc_max[c]);
            else
                text_printf(&b, "%d,%d,%d,%d,%.6f\n", la, lb, g->n[c], g->correct[c],
                    g->n[c] ? g->accuracy[c] : 0.0);
        }
    }
    return text_write_atomic(&b, path);
}

/* viridis at five stops, interpolated in RGB */
void heat_colour(double v, char out[8])
{
    static const unsigned char stops[5][3] = {
        {0x44, 0x01, 0x54}, {0x3b, 0x52, 0x8b}, {0x21, 0x91, 0x8c}, {0x5e, 0xc9, 0x62},
        {0xfd, 0xe7, 0x25}};
    if (isnan(v)) {
        snprintf(out, 8, "#bbbbbb");
        return;
    }
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double x = v * 4;
    int k = x >= 4 ? 3 : (int)x;
    double f = x - k;
    int rgb[3];
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(stops[k][c] + f * (stops[k + 1][c] - stops[k][c]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

arith_status grid_write_svg(const length_grid *g, const char *path, const char *title,
                            int train_lo, int train_hi, int train_lo_b, int train_hi_b)
{
    const int C = g->count, Cb = g->count_b;
    const int left = 78, right = 150, bottom = 58;
    int cs = 560 / (C > Cb ? C : Cb);
    if (cs > 48)
        cs = 48;
    if (cs < 1)
        cs = 1;
    /* cells cs wide and ch high: square, but at least 32 high on a short lb axis of its own */
    int ch = cs;
    if (!grid_square(g) && ch < 32 && Cb <= 8)
        ch = 32;
    const int plot = cs * C, plot_h = ch * Cb; /* la across, lb up */
    const int sh = plot < 160 ? 160 : plot > 200 ? 200 : plot; /* the colour scale's height */
    int width = left + plot + right;
    if (width < 560)
        width = 560;
    /* the title in lines that fit (about 8.3 pixels a character), broken after ", " or ": " */
    enum { MAX_LINES = 4 };
    const char *line_at[MAX_LINES];
    int line_len[MAX_LINES], lines = 0;
    const int fit = (int)((width - 30) / 8.3);
    for (const char *p = title; *p && lines < MAX_LINES; lines++) {
        int len = (int)strlen(p);
        if (len > fit && lines < MAX_LINES - 1) {
            int cut = -1;
            for (int k = fit - 1; k > fit / 3 && cut < 0; k--)
                if ((p[k] == ',' || p[k] == ':') && p[k + 1] == ' ')
                    cut = k + 1;
            for (int k = fit - 1; k > fit / 3 && cut < 0; k--)
                if (p[k] == ' ')
                    cut = k;
            len = cut > 0 ? cut : fit;
        }
        line_at[lines] = p;
        line_len[lines] = len;
        p += len;
        while (*p == ' ')
            p++;
    }
    const int head = 22 + 18 * (lines > 0 ? lines - 1 : 0); /* the last title line */
    const int top = head + 42;
    int height = top + plot_h + bottom;
    if (height < top + sh + 80)
        height = top + sh + 80;
    text_buffer b = {0};
    text_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", width, height,
        width, height);
    text_printf(&b, "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
    for (int k = 0; k <= 4; k++) {
        char col[8];
        heat_colour(k / 4.0, col);
        text_printf(&b, "<stop offset=\"%d%%\" stop-color=\"%s\"/>", k * 25, col);
    }
    text_printf(&b, "</linearGradient></defs>\n");
    text_printf(&b, "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
        "fill=\"white\"/>\n", width, height);
    for (int k = 0; k < lines; k++) {
        char part[1024];
        snprintf(part, sizeof part, "%.*s", line_len[k] < 1023 ? line_len[k] : 1023,
                 line_at[k]);
        text_printf(&b, "<text class=\"title\" x=\"20\" y=\"%d\" font-size=\"14\" "
            "font-weight=\"bold\">", 22 + 18 * k);
        text_put_xml(&b, part);
        text_printf(&b, "</text>\n");
    }
    if (g->runs)
        text_printf(&b, "<text x=\"20\" y=\"%d\" fill=\"#444\">mean exact match over %d runs, %d "
            "examples per cell and run (seed %lld)</text>\n", head + 20, g->runs, g->per_cell,
            g->seed);
    else
        text_printf(&b, "<text x=\"20\" y=\"%d\" fill=\"#444\">exact match per cell, %d examples "
            "each (seed %lld)</text>\n", head + 20, g->per_cell, g->seed);
    /* cells: la across (left to right), lb up (bottom to top) */
    const bool labels = cs >= 28 && ch >= 28;
    for (int i = 0; i < C; i++) {
        for (int j = 0; j < Cb; j++) {
            size_t c = (size_t)i * Cb + j;
            double v = g->accuracy[c];
            char col[8];
            heat_colour(v, col);
            int x = left + i * cs, y = top + (Cb - 1 - j) * ch;
            text_printf(&b, "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                "fill=\"%s\"><title>la %d, lb %d: %.4f", x, y, cs, ch, col, grid_length(g, i),
                grid_length_b(g, j), v);
            if (!g->runs)
                text_printf(&b, " (%d/%d)", g->correct[c], g->n[c]);
            else
                text_printf(&b, " (std %.4f, %.4f..%.4f)", g->acc_std[c], g->acc_min[c], g->acc_max[c]);
            text_printf(&b, "</title></rect>\n");
            if (labels && !isnan(v))
                text_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%d\" "
                    "fill=\"%s\">%.2f</text>\n", x + cs / 2.0, y + ch / 2.0 + cs * 0.12,
                    cs / 3 < 13 ? cs / 3 : 13, v > 0.6 ? "black" : "white", v);
        }
    }
    /* axes: a label every k-th length, at least 26 pixels apart */
    int every = (26 + cs - 1) / cs, every_b = (26 + ch - 1) / ch;
    for (int i = 0; i < C; i += every) {
        double cx = left + i * cs + cs / 2.0;
        text_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", cx,
            top + plot_h + 16, grid_length(g, i));
    }
    for (int j = 0; j < Cb; j += every_b) {
        double cy = top + (Cb - 1 - j) * ch + ch / 2.0;
        text_printf(&b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", left - 6, cy + 4,
            grid_length_b(g, j));
    }
    text_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">la: digits of the first "
        "operand</text>\n", left + plot / 2.0, top + plot_h + 38);
    /* the lb axis's title, shortened where the axis is too short for it */
    text_printf(&b, "<text transform=\"translate(%d %.1f) rotate(-90)\" text-anchor=\"middle\">%s"
        "</text>\n", left - 46, top + plot_h / 2.0,
        plot_h >= 220 ? "lb: digits of the second operand" : "lb");
    text_printf(&b, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
        "stroke=\"#333\"/>\n", left, top, plot, plot_h);
    /* the training lengths: around the cells whose lengths lie in train_lo..train_hi (la) and
     * train_lo_b..train_hi_b (lb) */
    int e0 = C, e1 = 0, f0 = Cb, f1 = 0;
    for (int i = 0; i < C; i++) {
        if (grid_length(g, i) >= train_lo && grid_length(g, i) <= train_hi) {
            if (i < e0)
                e0 = i;
            e1 = i + 1;
        }
    }
    for (int j = 0; j < Cb; j++) {
        if (grid_length_b(g, j) >= train_lo_b && grid_length_b(g, j) <= train_hi_b) {
            if (j < f0)
                f0 = j;
            f1 = j + 1;
        }
    }
    bool inside = e1 > e0 && f1 > f0;
    if (inside) {
        double x0 = left + e0 * cs, x1 = left + e1 * cs;
        double y0 = top + (double)(Cb - f1) * ch, y1 = top + (double)(Cb - f0) * ch;
        text_printf(&b, "<rect class=\"train-region\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
            "height=\"%.1f\" fill=\"none\" stroke=\"#ff2d55\" stroke-width=\"3\"/>\n", x0, y0,
            x1 - x0, y1 - y0);
    }
    /* legend: the colour scale, then the outline */
    const int lx = left + plot + 30, ly = top;
    text_printf(&b, "<rect class=\"legend\" x=\"%d\" y=\"%d\" width=\"16\" height=\"%d\" "
        "fill=\"url(#scale)\" stroke=\"#333\"/>\n", lx, ly, sh);
    for (int k = 0; k <= 4; k++)
        text_printf(&b, "<text x=\"%d\" y=\"%.1f\">%.2f</text>\n", lx + 22, ly + sh - k * sh / 4.0 + 4,
            k / 4.0);
    text_printf(&b, "<text x=\"%d\" y=\"%d\">exact match</text>\n", lx - 4, ly + sh + 20);
    if (inside) {
        text_printf(&b, "<rect class=\"legend-train\" x=\"%d\" y=\"%d\" width=\"16\" height=\"12\" "
            "fill=\"none\" stroke=\"#ff2d55\" stroke-width=\"3\"/>\n", lx, ly + sh + 34);
        text_printf(&b, "<text x=\"%d\" y=\"%d\">trained: %d..%d</text>\n", lx + 22, ly + sh + 45,
            train_lo, train_hi);
    } else {
        text_printf(&b, "<text x=\"%d\" y=\"%d\">trained: %d..%d</text>\n", lx, ly + sh + 45, train_lo,
            train_hi);
        text_printf(&b, "<text x=\"%d\" y=\"%d\">(outside the grid)</text>\n", lx, ly + sh + 60);
    }
    text_printf(&b, "</svg>\n");
    return text_write_atomic(&b, path);
}
