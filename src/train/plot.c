/* Plots of a run: the training loss (log scale) and the test exact match against the step, read
 * back from metrics.jsonl and drawn as one self-contained SVG file, with a dashed line where
 * the run was resumed. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "train/train.h"

typedef struct {
    double *x, *y;
    int n, cap;
} series;

static arith_status series_push(series *s, double x, double y)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx)
            return arith_error(ARITH_ERR_MEMORY, "out of memory plotting");
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny)
            return arith_error(ARITH_ERR_MEMORY, "out of memory plotting");
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return ARITH_OK;
}

/* A growing text buffer for the SVG. */
enum { WIDTH = 720, HEIGHT = 310, LEFT = 70, RIGHT = 20, TOP = 55, BOTTOM = 45 };

/* One panel at horizontal offset ox: a polyline of (x, y) per series, in its colour; log_y
 * plots log10(y); points marks every (x, y) too. */
static void draw_panel(text_buffer *b, int ox, const series *list, const char *const *colors,
                       int n_series, double x_max, bool log_y, double y_lo, double y_hi,
                       const char *title, bool points)
{
    const int w = WIDTH / 2 - LEFT - RIGHT, h = HEIGHT - TOP - BOTTOM;
    text_printf(b, "<g transform=\"translate(%d,%d)\">\n", ox + LEFT, TOP);
    text_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", w, h);
    text_printf(b, "<text x=\"%d\" y=\"-12\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n",
               w / 2, title);
    /* y ticks: every decade on a log scale (up to 8), quarters on a linear one */
    int ticks = log_y ? (int)lround(y_hi - y_lo) : 4;
    if (ticks < 1 || ticks > 8)
        ticks = 4;
    for (int i = 0; i <= ticks; i++) {
        double v = y_lo + (y_hi - y_lo) * i / ticks;
        int py = h - (int)lround(h * (double)i / ticks);
        text_printf(b, "<line x1=\"-4\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", w, py,
                   py);
        text_printf(b, "<text x=\"-8\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">%.3g</text>\n",
                   py + 4, log_y ? pow(10.0, v) : v);
    }
    /* x ticks */
    for (int i = 0; i <= 4; i++) {
        int px = (int)lround(w * i / 4.0);
        text_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%.0f</text>\n",
                   px, h + 16, x_max * i / 4.0);
    }
    text_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">step</text>\n",
               w / 2, h + 34);
    for (int k = 0; k < n_series; k++) {
        const series *s = &list[k];
        if (s->n == 0)
            continue;
        text_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                    colors[k]);
        for (int i = 0; i < s->n; i++) {
            double y = log_y ? log10(s->y[i] > 1e-12 ? s->y[i] : 1e-12) : s->y[i];
            double fx = x_max > 0 ? s->x[i] / x_max : 0;
            double fy = y_hi > y_lo ? (y - y_lo) / (y_hi - y_lo) : 0;
            text_printf(b, "%.1f,%.1f ", w * fx, h - h * fy);
        }
        text_printf(b, "\"/>\n");
        for (int i = 0; points && i < s->n; i++) {
            double fx = x_max > 0 ? s->x[i] / x_max : 0;
            double fy = y_hi > y_lo ? (s->y[i] - y_lo) / (y_hi - y_lo) : 0;
            text_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", w * fx,
                        h - h * fy, colors[k]);
        }
    }
    text_printf(b, "</g>\n");
}

/* One run's curves, read from its metrics.jsonl. */
typedef struct {
    series loss, acc, resumes;
} run_curves;

static void run_curves_free(run_curves *c)
{
    series *all[] = {&c->loss, &c->acc, &c->resumes};
    for (int i = 0; i < 3; i++) {
        free(all[i]->x);
        free(all[i]->y);
    }
}

static arith_status read_curves(const char *metrics_path, run_curves *c)
{
    memset(c, 0, sizeof *c);
    char *text = NULL;
    size_t size = 0;
    arith_status st = io_read_file(metrics_path, &text, &size);
    if (st)
        return st;
    int line_no = 0;
    for (char *line = text; st == ARITH_OK && line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        if (*line) {
            cJSON *obj = cJSON_Parse(line);
            const cJSON *step = cJSON_GetObjectItemCaseSensitive(obj, "step");
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, "loss");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, "accuracy");
            const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
            if (!obj || !cJSON_IsNumber(step))
                st = arith_error(ARITH_ERR_FORMAT, "%s:%d: not a metrics line", metrics_path,
                                 line_no);
            else if (cJSON_IsNumber(l))
                st = series_push(&c->loss, step->valuedouble, l->valuedouble);
            else if (cJSON_IsNumber(a))
                st = series_push(&c->acc, step->valuedouble, a->valuedouble);
            else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "resume") == 0)
                st = series_push(&c->resumes, step->valuedouble, 0.0);
            cJSON_Delete(obj);
        }
        line = next;
    }
    free(text);
    if (st)
        run_curves_free(c);
    return st;
}

/* Text for XML: the characters markup would take, replaced. */
static void xml_safe(char *out, size_t cap, const char *text)
{
    snprintf(out, cap, "%s", text);
    for (char *c = out; *c; c++)
        if (*c == '<' || *c == '>' || *c == '&' || *c == '"')
            *c = ' ';
}

/* The figure: loss and exact match of every run, one colour each (a legend when there are
 * several), dashed lines where a single run was resumed. */
static arith_status draw_runs(const run_curves *runs, const char *const *labels, int n,
                              const char *svg_path, const char *title)
{
    static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    enum { N_PALETTE = sizeof palette / sizeof *palette };
    series *loss = calloc((size_t)n, sizeof *loss), *acc = calloc((size_t)n, sizeof *acc);
    const char **loss_colors = calloc((size_t)n, sizeof *loss_colors);
    const char **acc_colors = calloc((size_t)n, sizeof *acc_colors);
    if (!loss || !acc || !loss_colors || !acc_colors) {
        free(loss);
        free(acc);
        free(loss_colors);
        free(acc_colors);
        return arith_error(ARITH_ERR_MEMORY, "out of memory plotting");
    }
    double x_max = 1;
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < n; k++) {
        loss[k] = runs[k].loss;
        acc[k] = runs[k].acc;
        /* one run keeps the familiar blue loss and red accuracy; several get a colour each */
        loss_colors[k] = n == 1 ? palette[0] : palette[k % N_PALETTE];
        acc_colors[k] = n == 1 ? palette[1] : palette[k % N_PALETTE];
        for (int i = 0; i < loss[k].n; i++) {
            x_max = fmax(x_max, loss[k].x[i]);
            double v = log10(loss[k].y[i] > 1e-12 ? loss[k].y[i] : 1e-12);
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        for (int i = 0; i < acc[k].n; i++)
            x_max = fmax(x_max, acc[k].x[i]);
    }
    if (!(hi > lo)) {
        lo = isfinite(lo) ? lo - 1 : -1;
        hi = lo + 2;
    }
    char safe[256];
    xml_safe(safe, sizeof safe, title);
    const int legend = n > 1 ? 18 * n + 10 : 0;
    text_buffer b = {0};
    text_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
               "fill=\"white\"/>\n<text x=\"%d\" y=\"18\" text-anchor=\"middle\" "
               "font-size=\"13\" fill=\"#444\">%s</text>\n", WIDTH, HEIGHT + legend, WIDTH / 2,
               safe);
    draw_panel(&b, 0, loss, loss_colors, n, x_max, true, floor(lo), ceil(hi),
               "training loss (log scale)", false);
    draw_panel(&b, WIDTH / 2, acc, acc_colors, n, x_max, false, 0.0, 1.0, "test exact match",
               true);
    /* where the run was resumed: a dashed line across both panels */
    const int w = WIDTH / 2 - LEFT - RIGHT, h = HEIGHT - TOP - BOTTOM;
    for (int i = 0; n == 1 && i < runs[0].resumes.n; i++)
        for (int ox = 0; ox < WIDTH; ox += WIDTH / 2)
            text_printf(&b, "<line class=\"resume\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" "
                        "y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4,3\"><title>resumed "
                        "at step %.0f</title></line>\n", ox + LEFT + w * runs[0].resumes.x[i] / x_max,
                        ox + LEFT + w * runs[0].resumes.x[i] / x_max, TOP, TOP + h,
                        runs[0].resumes.x[i]);
    for (int k = 0; n > 1 && k < n; k++) {
        char label[256];
        xml_safe(label, sizeof label, labels[k]);
        const int y = HEIGHT + 18 * k + 4;
        text_printf(&b, "<g class=\"legend\"><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" "
                    "stroke=\"%s\" stroke-width=\"3\"/><text x=\"%d\" y=\"%d\" "
                    "font-size=\"12\">%s</text></g>\n", LEFT, LEFT + 24, y, y,
                    palette[k % N_PALETTE], LEFT + 30, y + 4, label);
    }
    text_printf(&b, "</svg>\n");
    free(loss);
    free(acc);
    free(loss_colors);
    free(acc_colors);
    return text_write_atomic(&b, svg_path);
}

arith_status plot_training_curves(const char *metrics_path, const char *svg_path,
                                  const char *title)
{
    run_curves c;
    arith_status st = read_curves(metrics_path, &c);
    if (st)
        return st;
    const char *label = metrics_path;
    st = draw_runs(&c, &label, 1, svg_path, title);
    run_curves_free(&c);
    return st;
}

arith_status plot_runs(const char *const *metrics_paths, const char *const *labels, int n,
                       const char *svg_path, const char *title)
{
    run_curves *runs = calloc((size_t)(n > 0 ? n : 1), sizeof *runs);
    if (!runs)
        return arith_error(ARITH_ERR_MEMORY, "out of memory plotting");
    arith_status st = ARITH_OK;
    int read = 0;
    for (; read < n && !st; read++)
        st = read_curves(metrics_paths[read], &runs[read]);
    if (st)
        read--; /* the one that failed freed its own */
    if (!st)
        st = draw_runs(runs, labels, n, svg_path, title);
    for (int k = 0; k < read; k++)
        run_curves_free(&runs[k]);
    free(runs);
    return st;
}
