/* Plots of a run, or of several: the training loss (and the test loss where recorded), the
 * test exact match, the learning rate and the gradient norm against the step, read back from
 * metrics.jsonl and drawn as one self-contained SVG file with labelled axes and round ticks,
 * and a dashed line where a run was resumed. */
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

/* The figure: panels of PW x PH in a grid of two columns. */
enum { PW = 360, PH = 300, LEFT = 78, RIGHT = 20, TOP = 55, BOTTOM = 45 };

/* A round step for about n ticks over [0, span]: 1, 2 or 5 times a power of ten. */
static double nice_step(double span, int n)
{
    double raw = span > 0 ? span / n : 1.0;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* One panel with its top-left corner at (ox, oy): a polyline of (x, y) per series in its
 * colour (dashed[k]: dashed), axes with round ticks and a label on each; log_y plots log10(y)
 * with a tick per decade; points marks every (x, y) too. */
typedef struct {
    const char *title, *y_label, *cls;
    bool log_y, points;
    double y_lo, y_hi;         /* linear: the range; log: decades */
} panel;

static double panel_y(const panel *p, double y)
{
    double v = p->log_y ? log10(y > 1e-12 ? y : 1e-12) : y;
    return p->y_hi > p->y_lo ? (v - p->y_lo) / (p->y_hi - p->y_lo) : 0;
}

static void draw_panel(text_buffer *b, int ox, int oy, const panel *p, const series *const *list,
                       const char *const *colors, const bool *dashed, int n_series,
                       double x_max, double x_step)
{
    const int w = PW - LEFT - RIGHT, h = PH - TOP - BOTTOM;
    text_printf(b, "<g transform=\"translate(%d,%d)\">\n", ox + LEFT, oy + TOP);
    text_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", w, h);
    text_printf(b, "<text x=\"%d\" y=\"-12\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n",
                w / 2, p->title);
    /* y ticks: every decade on a log scale (up to 8), round steps on a linear one */
    if (p->log_y) {
        int decades = (int)lround(p->y_hi - p->y_lo), every = decades > 8 ? (decades + 7) / 8 : 1;
        for (int i = 0; i <= decades; i += every) {
            int py = h - (int)lround(h * (double)i / (decades > 0 ? decades : 1));
            text_printf(b, "<line x1=\"-4\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                        "<text x=\"-8\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">%g"
                        "</text>\n", w, py, py, py + 4, pow(10.0, p->y_lo + i));
        }
    } else {
        double step = nice_step(p->y_hi - p->y_lo, 4);
        for (double v = ceil(p->y_lo / step) * step; v <= p->y_hi + step * 1e-9; v += step) {
            int py = h - (int)lround(h * panel_y(p, v));
            text_printf(b, "<line x1=\"-4\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                        "<text x=\"-8\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">%.3g"
                        "</text>\n", w, py, py, py + 4, fabs(v) < step * 1e-9 ? 0.0 : v);
        }
    }
    text_printf(b, "<text transform=\"translate(-56,%d) rotate(-90)\" text-anchor=\"middle\" "
                "font-size=\"12\">%s</text>\n", h / 2, p->y_label);
    /* x ticks at round steps */
    for (double v = 0; v <= x_max + x_step * 1e-9; v += x_step) {
        int px = (int)lround(w * v / x_max);
        text_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n"
                    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%.0f"
                    "</text>\n", px, px, h, h + 4, px, h + 16, v);
    }
    text_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">step</text>\n",
                w / 2, h + 34);
    for (int k = 0; k < n_series; k++) {
        const series *s = list[k];
        if (!s || s->n == 0)
            continue;
        text_printf(b, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                    "points=\"", p->cls, colors[k],
                    dashed && dashed[k] ? " stroke-dasharray=\"5,3\"" : "");
        for (int i = 0; i < s->n; i++)
            text_printf(b, "%.1f,%.1f ", w * s->x[i] / x_max, h - h * panel_y(p, s->y[i]));
        text_printf(b, "\"/>\n");
        for (int i = 0; p->points && i < s->n; i++)
            text_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        w * s->x[i] / x_max, h - h * panel_y(p, s->y[i]), colors[k]);
    }
    text_printf(b, "</g>\n");
}

/* One run's curves, read from its metrics.jsonl. */
typedef struct {
    series loss, acc, resumes, lr, norm, test_loss;
} run_curves;

static void run_curves_free(run_curves *c)
{
    series *all[] = {&c->loss, &c->acc, &c->resumes, &c->lr, &c->norm, &c->test_loss};
    for (int i = 0; i < 6; i++) {
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
            else if (cJSON_IsNumber(l)) {
                const cJSON *lr = cJSON_GetObjectItemCaseSensitive(obj, "lr");
                const cJSON *gn = cJSON_GetObjectItemCaseSensitive(obj, "grad_norm");
                st = series_push(&c->loss, step->valuedouble, l->valuedouble);
                if (!st && cJSON_IsNumber(lr))
                    st = series_push(&c->lr, step->valuedouble, lr->valuedouble);
                if (!st && cJSON_IsNumber(gn))
                    st = series_push(&c->norm, step->valuedouble, gn->valuedouble);
            } else if (cJSON_IsNumber(a)) {
                const cJSON *tl = cJSON_GetObjectItemCaseSensitive(obj, "test_loss");
                st = series_push(&c->acc, step->valuedouble, a->valuedouble);
                if (!st && cJSON_IsNumber(tl))
                    st = series_push(&c->test_loss, step->valuedouble, tl->valuedouble);
            }
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

/* The log10 range of every series' positive values, widened to whole decades. */
static void log_range(const series *const *list, int n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int k = 0; k < n; k++)
        for (int i = 0; list[k] && i < list[k]->n; i++) {
            double v = log10(list[k]->y[i] > 1e-12 ? list[k]->y[i] : 1e-12);
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
    if (!(*hi > *lo)) {
        *lo = isfinite(*lo) ? *lo - 1 : -1;
        *hi = *lo + 2;
    }
    *lo = floor(*lo);
    *hi = ceil(*hi);
}

/* The figure, four panels: the training loss (the test loss dashed, where the run records
 * it), the test exact match, the learning rate and the gradient norm, every run in a colour
 * of its own (a legend when there are several), dashed lines where a single run was resumed. */
static arith_status draw_runs(const run_curves *runs, const char *const *labels, int n,
                              const char *title, text_buffer *svg)
{
    static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    enum { N_PALETTE = sizeof palette / sizeof *palette, PANELS = 4 };
    /* per panel, per run (the loss panel: training then test loss of each run) */
    const series **list = calloc((size_t)(2 * n) * PANELS, sizeof *list);
    const char **colors = calloc((size_t)(2 * n) * PANELS, sizeof *colors);
    bool *dashed = calloc((size_t)(2 * n) * PANELS, sizeof *dashed);
    if (!list || !colors || !dashed) {
        free(list);
        free(colors);
        free(dashed);
        return arith_error(ARITH_ERR_MEMORY, "out of memory plotting");
    }
    int count[PANELS] = {0};
    double x_max = 1, lr_max = 0;
    for (int k = 0; k < n; k++) {
        const run_curves *r = &runs[k];
        const series *per[PANELS][2] = {{&r->loss, &r->test_loss}, {&r->acc, NULL},
                                        {&r->lr, NULL}, {&r->norm, NULL}};
        for (int p = 0; p < PANELS; p++)
            for (int j = 0; j < 2 && per[p][j]; j++) {
                const int at = p * 2 * n + count[p]++;
                list[at] = per[p][j];
                /* one run keeps the familiar blue loss and red accuracy */
                colors[at] = n == 1 ? palette[p == 1 ? 1 : j == 1 ? 3 : 0] : palette[k % N_PALETTE];
                dashed[at] = j == 1;
                for (int i = 0; i < per[p][j]->n; i++)
                    x_max = fmax(x_max, per[p][j]->x[i]);
            }
        for (int i = 0; i < r->lr.n; i++)
            lr_max = fmax(lr_max, r->lr.y[i]);
    }
    const double x_step = nice_step(x_max, 4);
    x_max = ceil(x_max / x_step - 1e-9) * x_step;
    panel panels[PANELS] = {
        {"loss (log scale)", "training loss", "loss", true, false, 0, 0},
        {"test exact match", "exact match", "accuracy", false, true, 0.0, 1.0},
        {"learning rate", "learning rate", "lr", false, false, 0.0, 0.0},
        {"gradient norm (log scale)", "gradient norm", "grad-norm", true, false, 0, 0},
    };
    log_range(list, count[0], &panels[0].y_lo, &panels[0].y_hi);
    log_range(list + 3 * 2 * n, count[3], &panels[3].y_lo, &panels[3].y_hi);
    panels[2].y_hi = lr_max > 0 ? ceil(lr_max / nice_step(lr_max, 4) - 1e-9) * nice_step(lr_max, 4)
                                : 1.0;
    bool test_loss = false;
    for (int k = 0; k < n; k++)
        test_loss = test_loss || runs[k].test_loss.n > 0;
    if (test_loss)
        panels[0].title = "training loss, test loss dashed (log scale)";
    const int legend = n > 1 ? 18 * n + 10 : 0, width = 2 * PW, height = 2 * PH + legend;
    text_buffer b = {0};
    /* the viewBox lets a page (arith report) scale the figure to its column */
    text_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n<rect width=\"100%%\" "
               "height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"18\" "
               "text-anchor=\"middle\" font-size=\"13\" fill=\"#444\">", width, height, width,
               height, width / 2);
    text_put_xml(&b, title);
    text_printf(&b, "</text>\n");
    const int w = PW - LEFT - RIGHT, h = PH - TOP - BOTTOM;
    for (int p = 0; p < PANELS; p++) {
        const int ox = (p % 2) * PW, oy = (p / 2) * PH;
        draw_panel(&b, ox, oy, &panels[p], list + p * 2 * n, colors + p * 2 * n,
                   dashed + p * 2 * n, count[p], x_max, x_step);
        /* where the run was resumed: a dashed line across the panel */
        for (int i = 0; n == 1 && i < runs[0].resumes.n; i++) {
            const double x = ox + LEFT + w * runs[0].resumes.x[i] / x_max;
            text_printf(&b, "<line class=\"resume\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" "
                        "y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4,3\"><title>resumed "
                        "at step %.0f</title></line>\n", x, x, oy + TOP, oy + TOP + h,
                        runs[0].resumes.x[i]);
        }
    }
    for (int k = 0; n > 1 && k < n; k++) {
        const int y = 2 * PH + 18 * k + 4;
        text_printf(&b, "<g class=\"legend\"><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" "
                    "stroke=\"%s\" stroke-width=\"3\"/><text x=\"%d\" y=\"%d\" "
                    "font-size=\"12\">", LEFT, LEFT + 24, y, y, palette[k % N_PALETTE],
                    LEFT + 30, y + 4);
        text_put_xml(&b, labels[k]);
        text_printf(&b, "</text></g>\n");
    }
    text_printf(&b, "</svg>\n");
    free(list);
    free(colors);
    free(dashed);
    if (b.failed) {
        free(b.text);
        return arith_error(ARITH_ERR_MEMORY, "out of memory plotting");
    }
    *svg = b;
    return ARITH_OK;
}

arith_status plot_training_curves(const char *metrics_path, const char *svg_path,
                                  const char *title)
{
    run_curves c;
    arith_status st = read_curves(metrics_path, &c);
    if (st)
        return st;
    const char *label = metrics_path;
    text_buffer svg = {0};
    st = draw_runs(&c, &label, 1, title, &svg);
    run_curves_free(&c);
    return st ? st : text_write_atomic(&svg, svg_path);
}

arith_status plot_runs_svg(const char *const *metrics_paths, const char *const *labels, int n,
                           const char *title, text_buffer *svg)
{
    *svg = (text_buffer){0};
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
        st = draw_runs(runs, labels, n, title, svg);
    for (int k = 0; k < read; k++)
        run_curves_free(&runs[k]);
    free(runs);
    return st;
}

arith_status plot_runs(const char *const *metrics_paths, const char *const *labels, int n,
                       const char *svg_path, const char *title)
{
    text_buffer svg;
    arith_status st = plot_runs_svg(metrics_paths, labels, n, title, &svg);
    return st ? st : text_write_atomic(&svg, svg_path);
}
