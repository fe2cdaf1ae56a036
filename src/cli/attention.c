/* arith attention: where every layer's and head's attention goes while a run answers one
 * prompt, as one SVG of heat maps (rows: layers; columns: heads). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/io.h"

typedef struct {
    int which;                 /* checkpoint_choice */
    int threads;
    bool no_verify;
    char out[TRAIN_PATH_MAX];
} attention_command;

static const option_spec attention_specs[] = {
    {"checkpoint", OPT_CHOICE, offsetof(attention_command, which), sizeof(int), "best",
     cli_checkpoint_choice, 0, 0, "options", NULL, "which checkpoint answers", false, NULL, NULL},
    {"threads", OPT_INT, offsetof(attention_command, threads), sizeof(int), "auto", NULL, 0, 1024,
     "options", "N|auto", "threads", false, NULL, "auto"},
    {"no-verify", OPT_BOOL, offsetof(attention_command, no_verify), sizeof(bool), "false", NULL,
     0, 0, "options", NULL, "load the checkpoint without checking its data checksum", false,
     NULL, NULL},
    {"out", OPT_STRING, offsetof(attention_command, out), TRAIN_PATH_MAX, NULL, NULL, 0, 0,
     "options", "FILE", "write the SVG here (default: RUN/attention.svg)", false, NULL, NULL},
};
static const option_table attention_table = {
    "attention", attention_specs, (int)(sizeof attention_specs / sizeof *attention_specs)};

static const char attention_usage[] =
    "usage: arith attention RUN_DIR PROMPT [--out FILE.svg] [--checkpoint best|last]\n\n"
    "Answers PROMPT as arith predict does, then reads the answer back through the model and "
    "draws every layer's and head's attention over the prompt and answer tokens: one heat map "
    "per (layer, head), a row per query token (which predicts the token after it), a column "
    "per key token, darker where the weight is larger. Transformers and GPT-2 only.\n";

/* The figure: L x H heat maps of the (T, T) probabilities of row 0, tokens named. */
static arith_status draw_attention(const session *s, const batch *b, const char *path,
                                   const char *title)
{
    const model *m = s->model;
    int H = 0;
    const int L = m->cfg.layers, T = b->T;
    const int cell = T <= 12 ? 14 : T <= 30 ? 9 : T <= 80 ? 4 : 2;
    const int label_w = 60, map = cell * T, gap = 24, top = 60;
    const bool labels = cell >= 9;
    text_buffer svg = {0};
    if (!m->ops->attention(m, 0, &H))
        return arith_error(ARITH_ERR_STATE, "no attention from the last forward");
    const int width = label_w + H * (map + gap), height = top + L * (map + gap + 14) + 10;
    text_printf(&svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
                "fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"13\" fill=\"#333\">",
                width, height);
    text_put_xml(&svg, title);
    text_printf(&svg, "</text>\n");
    for (int l = 0; l < L; l++) {
        int heads = 0;
        const float *att = m->ops->attention(m, l, &heads);
        for (int h = 0; att && h < heads; h++) {
            const int ox = label_w + h * (map + gap), oy = top + l * (map + gap + 14);
            text_printf(&svg, "<g class=\"map\" transform=\"translate(%d,%d)\"><text x=\"0\" "
                        "y=\"-4\" font-size=\"11\">layer %d, head %d</text>\n", ox, oy, l + 1,
                        h + 1);
            const float *a = att + (size_t)h * T * T; /* row 0 of the batch */
            for (int t = 0; t < T; t++)
                for (int j = 0; j <= t; j++) {
                    const float p = a[(size_t)t * T + j];
                    const int shade = (int)lround(255.0 * (1.0 - (p < 0 ? 0 : p > 1 ? 1 : p)));
                    text_printf(&svg, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                                "fill=\"rgb(%d,%d,255)\"><title>%.3f</title></rect>\n", j * cell,
                                t * cell, cell, cell, shade, shade, p);
                }
            text_printf(&svg, "<rect width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#aaa\"/>"
                        "</g>\n", map, map);
        }
        /* the tokens, as queries, beside the layer's first map */
        for (int t = 0; labels && t < T; t++) {
            text_printf(&svg, "<text x=\"%d\" y=\"%d\" font-size=\"%d\" text-anchor=\"end\">",
                        label_w - 4, top + l * (map + gap + 14) + t * cell + cell - 1, cell - 1);
            text_put_xml(&svg, s->tok.names[b->tokens[t]]);
            text_printf(&svg, "</text>\n");
        }
    }
    text_printf(&svg, "</svg>\n");
    return text_write_atomic(&svg, path);
}

int cli_attention(int argc, char **argv)
{
    const option_table *tables[] = {&attention_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, 2, attention_usage, &stop);
    if (stop)
        return rc;
    attention_command ac;
    memset(&ac, 0, sizeof ac);
    options_defaults(&attention_table, &ac);
    rc = cli_args_apply(&args, 0, &ac);
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 0; i < args.count; i++)
        if (!args.items[i].spec && npos < 2)
            pos[npos++] = args.items[i].value;
    if (!rc && npos != 2)
        rc = cli_usage_error("usage: arith attention RUN_DIR PROMPT (see arith attention --help)");
    char dir[TRAIN_PATH_MAX], out[TRAIN_PATH_MAX + 32], *prompt = NULL;
    if (!rc) {
        snprintf(dir, sizeof dir, "%s", pos[0]);
        if (ac.out[0])
            snprintf(out, sizeof out, "%s", ac.out);
        else
            snprintf(out, sizeof out, "%s/attention.svg", dir);
        prompt = malloc(strlen(pos[1]) + 8);
        if (!prompt)
            rc = cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
        else
            strcpy(prompt, pos[1]);
    }
    cli_args_free(&args);
    if (rc) {
        free(prompt);
        return rc;
    }
    core_set_threads(ac.threads);
    session s;
    arith_status st = session_load_run(&s, dir, cli_checkpoint_choice(ac.which), !ac.no_verify);
    if (!st && !s.model->ops->attention)
        st = arith_error(ARITH_ERR_ARG, "%s: a %s has no attention to draw (transformers and "
                         "gpt2 have)", dir, model_kind_name(s.model->cfg.kind));
    /* a prompt may leave out its final '=', as predict's may */
    const char *equals = st ? "" : s.task.def->equals;
    size_t len = strlen(prompt), le = strlen(equals);
    if (!st && s.task.style == STYLE_PLAIN && len > 0 && prompt[len - 1] != '=') {
        char *longer = realloc(prompt, len + le + 1);
        if (!longer)
            st = arith_error(ARITH_ERR_MEMORY, "out of memory");
        else {
            prompt = longer;
            memcpy(prompt + len, equals, le + 1);
        }
    }
    if (!st && task_check_prompt(&s.task, prompt) != ARITH_OK)
        arith_error_wrap(st = ARITH_ERR_DATA, "\"%s\": ", prompt);
    /* the answer, then the whole sequence read back (teacher-forced) for its attention */
    char *answer = NULL;
    float score = 0;
    bool ended = false;
    const char *prompts[1] = {prompt};
    if (!st)
        st = predict_beam(s.model, &s.tok, prompts, 1, 1, 1, &answer, &score, &ended);
    example_set one;
    examples_init(&one);
    encoded_set enc;
    memset(&enc, 0, sizeof enc);
    batch b = {0};
    if (!st)
        st = examples_push(&one, prompt, answer ? answer : "");
    if (!st && (st = encoded_build(&enc, &one, &s.tok, "the prompt")) != ARITH_OK)
        arith_error_wrap(st, "%s's answer \"%s\" cannot be read back through the model, so "
                         "there is no attention to draw: ", prompt, answer ? answer : "");
    if (!st)
        st = batch_alloc(&b, 1, enc.max_prompt + enc.max_answer);
    int32_t first = 0;
    if (!st)
        st = batch_fill_train(&b, &enc, &first, 1, s.tok.pad_id);
    if (!st)
        st = model_reserve(s.model, 1, b.T);
    if (!st)
        st = model_forward(s.model, &b, false, 0, NULL, NULL);
    char title[TRAIN_PATH_MAX + 256];
    snprintf(title, sizeof title, "%s %s%s (%s, %s checkpoint): attention per layer and head",
             prompt, answer ? answer : "", ended ? "" : " (no end)", dir,
             cli_checkpoint_choice(ac.which));
    if (!st)
        st = draw_attention(&s, &b, out, title);
    if (!st)
        printf("%s%s\nwrote %s: %d layer%s x %d heads over %d tokens\n", prompt,
               answer ? answer : "", out, s.model->cfg.layers, s.model->cfg.layers == 1 ? "" : "s",
               s.model->cfg.heads, b.T);
    batch_free(&b);
    encoded_free(&enc);
    examples_free(&one);
    free(answer);
    free(prompt);
    session_close(&s);
    return st ? cli_fail(st) : 0;
}
