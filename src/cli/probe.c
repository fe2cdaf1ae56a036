/* arith probe: where a run's model holds the carry (or the answer's digit), by linear probes
 * on its hidden states (train/probe.c), per layer and answer digit: a table, an SVG heat map
 * and a JSON file in the run directory, which `arith report` includes. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/io.h"

typedef struct {
    int target;                /* probe_target */
    char layer[16];            /* "all" or a layer's index */
    int n;
    double test_frac;
    long long seed;
    double l2;
    int which;                 /* checkpoint_choice */
    int threads;
    bool no_verify, json;
    char out[TRAIN_PATH_MAX];
} probe_command;

static const option_spec probe_specs[] = {
    {"target", OPT_CHOICE, offsetof(probe_command, target), sizeof(int), "carry",
     probe_target_name, 0, 0, "probe", NULL, "what the probes decode at answer digit i (0: the "
     "units)", false, probe_target_summary, NULL},
    {"layer", OPT_STRING, offsetof(probe_command, layer), 16, "all", NULL, 0, 0, "probe",
     "L|all", "probe only layer L (0: the input of the first layer, L: the output of layer L)",
     false, NULL, NULL},
    {"n", OPT_INT, offsetof(probe_command, n), sizeof(int), "2000", NULL, 10, 1000000, "probe",
     NULL, "fresh examples of the run's task, drawn from --seed", false, NULL, NULL},
    {"test-frac", OPT_REAL, offsetof(probe_command, test_frac), sizeof(double), "0.2", NULL,
     0.01, 0.99, "probe", NULL, "share of them held out to score the probes (the rest fit them)",
     false, NULL, NULL},
    {"seed", OPT_INT, offsetof(probe_command, seed), sizeof(long long), "1", NULL, 0, 1e18,
     "probe", NULL, "seed of the examples", false, NULL, NULL},
    {"l2", OPT_REAL, offsetof(probe_command, l2), sizeof(double), "0.001", NULL, 0, 1000,
     "probe", NULL, "L2 penalty on the probes' weights (features standardized)", false, NULL,
     NULL},
    {"checkpoint", OPT_CHOICE, offsetof(probe_command, which), sizeof(int), "best",
     cli_checkpoint_choice, 0, 0, "options", NULL, "which checkpoint is probed", false, NULL, NULL},
    {"threads", OPT_INT, offsetof(probe_command, threads), sizeof(int), "auto", NULL, 0, 1024,
     "options", "N|auto", "threads", false, NULL, "auto"},
    {"no-verify", OPT_BOOL, offsetof(probe_command, no_verify), sizeof(bool), "false", NULL, 0,
     0, "options", NULL, "load the checkpoint without checking its data checksum", false, NULL,
     NULL},
    {"out", OPT_STRING, offsetof(probe_command, out), TRAIN_PATH_MAX, NULL, NULL, 0, 0,
     "options", "FILE", "write the SVG here (default: RUN/probe-TARGET.svg, with --layer L "
     "RUN/probe-TARGET-layerL.svg)", false, NULL, NULL},
    {"json", OPT_BOOL, offsetof(probe_command, json), sizeof(bool), "false", NULL, 0, 0,
     "options", NULL, "print the result as JSON (as RUN/probe-TARGET.json holds it)", false,
     NULL, NULL},
};
static const option_table probe_table = {"probe", probe_specs,
                                         (int)(sizeof probe_specs / sizeof *probe_specs)};

static const char probe_usage[] =
    "usage: arith probe RUN_DIR [--target carry|carry-out|sum-digit] [--layer L] [--n N] "
    "[--json]\n\n"
    "Where the model holds the carry: reads fresh examples of the run's task (add) through "
    "the model, teacher-forced, and fits a linear probe (multinomial logistic regression) per "
    "layer and answer digit to the hidden state at the column whose output predicts that "
    "digit; scores each on held-out examples, beside the majority class's score. Answer digit "
    "i is the digit of 10^i (0: the units), whatever order the run writes answers in. Layer 0 "
    "is the input of the first layer (the embeddings), layer l the output of layer l (the "
    "transformers' residual stream, the last before the final layer norm; the LSTMs' h). "
    "Prints a table (rows: layers; columns: answer digits) and writes RUN_DIR/probe-TARGET.svg "
    "and RUN_DIR/probe-TARGET.json (with --layer L: probe-TARGET-layerL.svg and .json).\n";

/* "-" for a cell without a probe, else the accuracy. */
static void print_cell(double v)
{
    if (isnan(v))
        printf(" %6s", "-");
    else
        printf(" %6.3f", v);
}

/* Layer l's mean and lowest accuracy over the digits that have a probe (NaN: none). */
static void layer_summary(const probe_result *r, int l, double *mean, double *low, int *low_at)
{
    double sum = 0;
    int n = 0;
    *low = NAN;
    *low_at = -1;
    for (int i = 0; i < r->P; i++) {
        const double v = r->accuracy[(size_t)l * r->P + i];
        if (isnan(v))
            continue;
        sum += v;
        n++;
        if (!(v >= *low)) {
            *low = v;
            *low_at = i;
        }
    }
    *mean = n ? sum / n : NAN;
}

/* The layer whose probes do best: the highest lowest accuracy over the digits (so that one
 * layer holds the target at every digit), then the highest mean; -1 when there is none. */
static int best_layer(const probe_result *r)
{
    int best = -1;
    double best_low = -1, best_mean = -1;
    for (int l = 0; l < r->nl; l++) {
        double mean, low;
        int at;
        layer_summary(r, l, &mean, &low, &at);
        if (!isnan(low) && (low > best_low || (low == best_low && mean > best_mean))) {
            best = l;
            best_low = low;
            best_mean = mean;
        }
    }
    return best;
}

static void print_table(const probe_result *r)
{
    printf("probe %s: %s\n", probe_target_name((int)r->target),
           probe_target_summary((int)r->target));
    printf("held-out accuracy of a linear probe per layer (rows) and answer digit (columns, d0 "
           "the units), read at the column that predicts the digit; %d examples fit, %d "
           "scored\n", r->n_train, r->n_test);
    printf("%-9s", "layer");
    for (int i = 0; i < r->P; i++) {
        char head[16];
        snprintf(head, sizeof head, "d%d", i);
        printf(" %6s", head);
    }
    printf(" %6s\n", "mean");
    bool blank = false;
    for (int l = 0; l < r->nl; l++) {
        printf("%-9d", r->layer[l]);
        for (int i = 0; i < r->P; i++) {
            print_cell(r->accuracy[(size_t)l * r->P + i]);
            blank = blank || isnan(r->accuracy[(size_t)l * r->P + i]);
        }
        double mean, low;
        int at;
        layer_summary(r, l, &mean, &low, &at);
        print_cell(mean);
        printf("\n");
    }
    printf("%-9s", "majority");
    for (int i = 0; i < r->P; i++)
        print_cell(r->baseline[i]);
    printf("\n");
    if (blank)
        printf("-: no probe, every training example has the same class there%s\n",
               r->target == PROBE_CARRY ? " (the carry into the units is always 0)" : "");
    const int bl = best_layer(r);
    if (bl >= 0) {
        double mean, low;
        int at;
        layer_summary(r, bl, &mean, &low, &at);
        printf("best layer: %d, at least %.4f at every digit (the lowest at d%d, whose "
               "majority class scores %.4f), mean %.4f\n", r->layer[bl], low, at,
               r->baseline[at], mean);
    }
}

static cJSON *number_or_null(double v)
{
    return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

/* The result as one JSON object (RUN/probe-TARGET.json, and --json's output). */
static char *result_json(const probe_result *r, const char *dir, const char *checkpoint,
                         const probe_command *pc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run", dir);
    cJSON_AddStringToObject(o, "checkpoint", checkpoint);
    cJSON_AddStringToObject(o, "target", probe_target_name((int)r->target));
    cJSON_AddStringToObject(o, "target_means", probe_target_summary((int)r->target));
    cJSON_AddNumberToObject(o, "classes", r->classes);
    cJSON_AddStringToObject(o, "positions_are", "answer digits, 0 = the units (the digit of "
                            "10^i), each read at the column whose output predicts it");
    cJSON_AddStringToObject(o, "layers_are", "0 = the input of the first layer, l = the output "
                            "of layer l");
    cJSON *layers = cJSON_AddArrayToObject(o, "layers"), *dims = NULL;
    for (int l = 0; l < r->nl; l++)
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(r->layer[l]));
    dims = cJSON_AddArrayToObject(o, "dim");
    for (int l = 0; l < r->nl; l++)
        cJSON_AddItemToArray(dims, cJSON_CreateNumber(r->dim[l]));
    cJSON *pos = cJSON_AddArrayToObject(o, "positions");
    for (int i = 0; i < r->P; i++)
        cJSON_AddItemToArray(pos, cJSON_CreateNumber(i));
    cJSON *acc = cJSON_AddArrayToObject(o, "accuracy");
    for (int l = 0; l < r->nl; l++) {
        cJSON *row = cJSON_CreateArray();
        for (int i = 0; i < r->P; i++)
            cJSON_AddItemToArray(row, number_or_null(r->accuracy[(size_t)l * r->P + i]));
        cJSON_AddItemToArray(acc, row);
    }
    cJSON *base = cJSON_AddArrayToObject(o, "baseline");
    cJSON *ntr = cJSON_AddArrayToObject(o, "n_train_at"), *nte = cJSON_AddArrayToObject(o, "n_test_at");
    for (int i = 0; i < r->P; i++) {
        cJSON_AddItemToArray(base, number_or_null(r->baseline[i]));
        cJSON_AddItemToArray(ntr, cJSON_CreateNumber(r->train_at[i]));
        cJSON_AddItemToArray(nte, cJSON_CreateNumber(r->test_at[i]));
    }
    cJSON *means = cJSON_AddArrayToObject(o, "layer_mean");
    for (int l = 0; l < r->nl; l++) {
        double mean, low;
        int at;
        layer_summary(r, l, &mean, &low, &at);
        cJSON_AddItemToArray(means, number_or_null(mean));
    }
    /* the layer whose lowest accuracy over the digits is highest */
    const int bl = best_layer(r);
    if (bl >= 0) {
        double mean, low;
        int at;
        layer_summary(r, bl, &mean, &low, &at);
        cJSON *best = cJSON_AddObjectToObject(o, "best_layer");
        cJSON_AddNumberToObject(best, "layer", r->layer[bl]);
        cJSON_AddNumberToObject(best, "min", low);
        cJSON_AddNumberToObject(best, "min_position", at);
        cJSON_AddNumberToObject(best, "mean", mean);
    } else {
        cJSON_AddNullToObject(o, "best_layer");
    }
    cJSON_AddNumberToObject(o, "n_train", r->n_train);
    cJSON_AddNumberToObject(o, "n_test", r->n_test);
    cJSON_AddNumberToObject(o, "seed", (double)pc->seed);
    cJSON_AddNumberToObject(o, "l2", pc->l2);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* The heat map: a row per layer (0 at the top), a column per answer digit (the units at the
 * left), the majority baseline as a last row apart. */
static arith_status write_svg(const probe_result *r, const char *path, const char *title,
                              const char *run)
{
    const int cw = 52, ch = 26, left = 90, top = 96, P = r->P, nl = r->nl;
    const int plot_w = cw * P, plot_h = ch * nl, legend_x = left + plot_w + 30;
    /* wide enough for the run's line (about 6.6 pixels a character at 12 pixels) */
    int width = legend_x + 120 > 620 ? legend_x + 120 : 620;
    if (width < 40 + (int)(6.6 * (double)strlen(run)))
        width = 40 + (int)(6.6 * (double)strlen(run));
    const int height = top + plot_h + ch + 24 + 60;
    text_buffer b = {0};
    text_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n<rect "
                "width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", width, height, width,
                height);
    text_printf(&b, "<text class=\"title\" x=\"20\" y=\"22\" font-size=\"14\" "
                "font-weight=\"bold\">");
    text_put_xml(&b, title);
    text_printf(&b, "</text>\n<text x=\"20\" y=\"42\" fill=\"#444\">");
    text_put_xml(&b, run);
    text_printf(&b, "</text>\n<text x=\"20\" y=\"60\" fill=\"#444\">probe %s: ",
                probe_target_name((int)r->target));
    text_put_xml(&b, probe_target_summary((int)r->target));
    text_printf(&b, "</text>\n<text x=\"20\" y=\"78\" fill=\"#444\">held-out accuracy of a "
                "linear probe, %d examples fit, %d scored; read where the model predicts each "
                "digit</text>\n", r->n_train, r->n_test);
    for (int l = 0; l <= nl; l++) {
        const bool base = l == nl; /* the baseline's row, a little apart */
        const int y = top + l * ch + (base ? 12 : 0);
        text_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + ch / 2 + 4);
        if (base)
            text_printf(&b, "majority");
        else
            text_printf(&b, "layer %d", r->layer[l]);
        text_printf(&b, "</text>\n");
        for (int i = 0; i < P; i++) {
            const double v = base ? r->baseline[i] : r->accuracy[(size_t)l * P + i];
            char col[8];
            heat_colour(v, col);
            const int x = left + i * cw;
            text_printf(&b, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                        "fill=\"%s\" stroke=\"white\"><title>%s, digit %d: ",
                        base ? "baseline" : "cell", x, y, cw, ch, col,
                        base ? "majority class" : "probe", i);
            if (isnan(v))
                text_printf(&b, "no probe (one class)");
            else
                text_printf(&b, "%.4f", v);
            if (!base)
                text_printf(&b, " (layer %d)", r->layer[l]);
            text_printf(&b, "</title></rect>\n<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                        "fill=\"%s\">", x + cw / 2.0, y + ch / 2 + 4,
                        !isnan(v) && v > 0.6 ? "black" : "white");
            if (isnan(v))
                text_printf(&b, "-");
            else
                text_printf(&b, "%.2f", v);
            text_printf(&b, "</text>\n");
        }
    }
    const int axis_y = top + (nl + 1) * ch + 12 + 18;
    for (int i = 0; i < P; i++)
        text_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n",
                    left + i * cw + cw / 2.0, axis_y, i);
    text_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">answer digit (0: the "
                "units)</text>\n", left + plot_w / 2.0, axis_y + 18);
    /* the colour scale */
    const int sh = plot_h > 100 ? plot_h : 100;
    text_printf(&b, "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
    for (int k = 0; k <= 4; k++) {
        char col[8];
        heat_colour(k / 4.0, col);
        text_printf(&b, "<stop offset=\"%d%%\" stop-color=\"%s\"/>", k * 25, col);
    }
    text_printf(&b, "</linearGradient></defs>\n<rect class=\"legend\" x=\"%d\" y=\"%d\" "
                "width=\"16\" height=\"%d\" fill=\"url(#scale)\" stroke=\"#333\"/>\n",
                legend_x, top, sh);
    for (int k = 0; k <= 4; k++)
        text_printf(&b, "<text x=\"%d\" y=\"%.1f\">%.2f</text>\n", legend_x + 22,
                    top + sh - k * sh / 4.0 + 4, k / 4.0);
    text_printf(&b, "<text x=\"%d\" y=\"%d\">accuracy</text>\n</svg>\n", legend_x - 4,
                top + sh + 20);
    return text_write_atomic(&b, path);
}

/* --layer: "all" (-1) or an index; its range is the run's, checked by probe_run. */
static int parse_layer(const char *text, int *layer)
{
    if (strcmp(text, "all") == 0) {
        *layer = -1;
        return 0;
    }
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 0 || v > 100000)
        return cli_usage_error("--layer %s: expected a layer's index (0, 1, ...) or all", text);
    *layer = (int)v;
    return 0;
}

int cli_probe(int argc, char **argv)
{
    const option_table *tables[] = {&probe_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, 1, probe_usage, &stop);
    if (stop)
        return rc;
    probe_command pc;
    memset(&pc, 0, sizeof pc);
    options_defaults(&probe_table, &pc);
    rc = cli_args_apply(&args, 0, &pc);
    const char *dir_arg = NULL;
    for (int i = 0; i < args.count; i++)
        if (!args.items[i].spec)
            dir_arg = args.items[i].value;
    if (!rc && !dir_arg)
        rc = cli_usage_error("usage: arith probe RUN_DIR [--target carry|carry-out|sum-digit] "
                             "(see arith probe --help)");
    probe_settings ps = {0};
    if (!rc)
        rc = parse_layer(pc.layer, &ps.layer);
    char dir[TRAIN_PATH_MAX], svg[TRAIN_PATH_MAX + 128], json[TRAIN_PATH_MAX + 128];
    if (!rc) {
        snprintf(dir, sizeof dir, "%s", dir_arg);
        /* one layer's probes go beside the whole table, not over it */
        char stem[64];
        if (ps.layer < 0)
            snprintf(stem, sizeof stem, "probe-%s", probe_target_name(pc.target));
        else
            snprintf(stem, sizeof stem, "probe-%s-layer%d", probe_target_name(pc.target),
                     ps.layer);
        snprintf(json, sizeof json, "%s/%s.json", dir, stem);
        if (pc.out[0])
            snprintf(svg, sizeof svg, "%s", pc.out);
        else
            snprintf(svg, sizeof svg, "%s/%s.svg", dir, stem);
    }
    cli_args_free(&args);
    if (rc)
        return rc;
    ps.target = (probe_target)pc.target;
    ps.n = pc.n;
    ps.test_frac = pc.test_frac;
    ps.seed = pc.seed;
    ps.l2 = pc.l2;
    core_set_threads(pc.threads);
    session s;
    arith_status st = session_load_run(&s, dir, cli_checkpoint_choice(pc.which), !pc.no_verify);
    if (st)
        return cli_fail(st);
    probe_result r;
    st = probe_run(&s, &ps, &r);
    if (st) {
        /* a flag the run cannot take (ARITH_ERR_ARG) is a usage error */
        rc = cli_fail(st);
        session_close(&s);
        return rc;
    }
    char title[TRAIN_PATH_MAX + 128], run_title[512];
    session_title(&s, run_title, sizeof run_title);
    snprintf(title, sizeof title, "probe %s: %s (%s checkpoint)", probe_target_name(pc.target),
             dir, cli_checkpoint_choice(pc.which));
    char *text = result_json(&r, dir, cli_checkpoint_choice(pc.which), &pc);
    text_buffer line = {0};
    if (!text) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory writing the probe's JSON");
    } else {
        /* the SVG first: the JSON is what a report looks for, so it comes last */
        st = write_svg(&r, svg, title, run_title);
        text_printf(&line, "%s\n", text);
        if (!st)
            st = text_write_atomic(&line, json);
    }
    if (!st && pc.json) {
        printf("%s\n", text);
    } else if (!st) {
        print_table(&r);
        printf("wrote %s and %s\n", svg, json);
    }
    free(line.text);
    cJSON_free(text);
    probe_result_free(&r);
    session_close(&s);
    return st ? cli_fail(st) : 0;
}
