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

/* One panel: a polyline of (x, y) in a box at horizontal offset ox; log_y plots log10(y). */
static void draw_panel(text_buffer *b, int ox, const series *s, double x_max, bool log_y,
                       double y_lo, double y_hi, const char *title, const char *color,
                       bool points)
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
    if (s->n > 0) {
        text_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
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
                       h - h * fy, color);
        }
    }
    text_printf(b, "</g>\n");
}

arith_status plot_training_curves(const char *metrics_path, const char *svg_path,
                                  const char *title)
{
    char *text = NULL;
    size_t size = 0;
    arith_status st = io_read_file(metrics_path, &text, &size);
    if (st)
        return st;
    series loss = {0}, acc = {0}, resumes = {0};
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
                st = series_push(&loss, step->valuedouble, l->valuedouble);
            else if (cJSON_IsNumber(a))
                st = series_push(&acc, step->valuedouble, a->valuedouble);
            else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "resume") == 0)
                st = series_push(&resumes, step->valuedouble, 0.0);
            cJSON_Delete(obj);
        }
        line = next;
    }
    free(text);
    if (st == ARITH_OK) {
        double x_max = 1;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < loss.n; i++) {
            x_max = fmax(x_max, loss.x[i]);
            double v = log10(loss.y[i] > 1e-12 ? loss.y[i] : 1e-12);
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        for (int i = 0; i < acc.n; i++)
            x_max = fmax(x_max, acc.x[i]);
        if (!(hi > lo)) {
            lo = isfinite(lo) ? lo - 1 : -1;
            hi = lo + 2;
        }
        char safe[256];
        snprintf(safe, sizeof safe, "%s", title);
        for (char *c = safe; *c; c++) /* the title is text in XML */
            if (*c == '<' || *c == '>' || *c == '&' || *c == '"')
                *c = ' ';
        text_buffer b = {0};
        text_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                   "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
                   "fill=\"white\"/>\n<text x=\"%d\" y=\"18\" text-anchor=\"middle\" "
                   "font-size=\"13\" fill=\"#444\">%s</text>\n", WIDTH, HEIGHT, WIDTH / 2,
                   safe);
        draw_panel(&b, 0, &loss, x_max, true, floor(lo), ceil(hi),
                   "training loss (log scale)", "#1f77b4", false);
        draw_panel(&b, WIDTH / 2, &acc, x_max, false, 0.0, 1.0, "test exact match", "#d62728",
                   true);
        /* where the run was resumed: a dashed line across both panels */
        const int w = WIDTH / 2 - LEFT - RIGHT, h = HEIGHT - TOP - BOTTOM;
        for (int i = 0; i < resumes.n; i++)
            for (int ox = 0; ox < WIDTH; ox += WIDTH / 2)
                text_printf(&b, "<line class=\"resume\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" "
                            "y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4,3\"><title>resumed "
                            "at step %.0f</title></line>\n", ox + LEFT + w * resumes.x[i] / x_max,
                            ox + LEFT + w * resumes.x[i] / x_max, TOP, TOP + h, resumes.x[i]);
        text_printf(&b, "</svg>\n");
        st = text_write_atomic(&b, svg_path);
    }
    free(loss.x);
    free(loss.y);
    free(acc.x);
    free(acc.y);
    free(resumes.x);
    free(resumes.y);
    return st;
}
