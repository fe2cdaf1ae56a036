/* arith predict: a saved run answers prompts given as arguments or one per line on stdin,
 * greedily or by beam search. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli/cli.h"

static const char predict_usage[] =
    "usage: arith predict RUN_DIR [PROMPT ...] [--checkpoint best|last] [--batch N] "
    "[--threads N] [--beam K]\n\n"
    "Prints the model's answer to each prompt (e.g. \"12+34=\"), one per line. With no prompt, "
    "reads one prompt per line from stdin. --beam K (K > 1) prints each prompt's K best answers "
    "by beam search, best first, one per line as ANSWER<tab>LOG-PROBABILITY (then <tab>no-eos "
    "when the answer ran to the length limit without ending), a blank line after each "
    "prompt's answers.\n";

int cli_predict(int argc, char **argv)
{
    const option_table *tables[] = {&cli_predict_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, argc, predict_usage, &stop);
    if (stop)
        return rc;
    eval_settings f;
    rc = cli_eval_settings(&f, &args);
    /* the run, then the prompts (pointers into argv) */
    const char *run_dir = NULL;
    const char **prompts_in = calloc((size_t)argc + 1, sizeof *prompts_in);
    int npos = 0;
    if (!rc && !prompts_in)
        rc = cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    for (int i = 0; !rc && i < args.count; i++) {
        if (args.items[i].spec)
            continue;
        if (!run_dir)
            run_dir = args.items[i].value;
        else
            prompts_in[npos++] = args.items[i].value;
    }
    cli_args_free(&args);
    if (!rc && !run_dir)
        rc = cli_usage_error("usage: arith predict RUN_DIR [PROMPT ...]");
    if (rc) {
        free(prompts_in);
        return rc;
    }
    session s;
    arith_status st = session_load_run(&s, run_dir, f.checkpoint);
    if (!st) {
        core_set_threads(f.threads);
        st = beam_check(s.model, f.beam);
    }
    if (st) {
        free(prompts_in);
        session_close(&s);
        return cli_fail(st);
    }
    /* prompts from the arguments, or from stdin */
    int n = npos, cap = n > 0 ? n : 64;
    char **prompts = malloc((size_t)cap * sizeof *prompts);
    const char *source = "argument";
    if (n > 0) {
        for (int i = 0; i < n; i++)
            prompts[i] = strdup(prompts_in[i]);
    } else {
        source = "stdin";
        char *line = NULL;
        size_t len = 0;
        ssize_t got;
        while ((got = getline(&line, &len, stdin)) > 0) {
            while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
                line[--got] = '\0';
            if (n == cap) {
                cap *= 2;
                prompts = realloc(prompts, (size_t)cap * sizeof *prompts);
            }
            prompts[n++] = strdup(line);
        }
        free(line);
    }
    /* a prompt may leave out the final '=' (seed 002's spaced prompts have none); prefix
     * expressions take it as a word of its own */
    const char *equals = s.task.def->equals;
    for (int i = 0; i < n && s.task.style == STYLE_PLAIN; i++) {
        size_t len = strlen(prompts[i]);
        if (len == 0 || prompts[i][len - 1] != '=') {
            char *with = malloc(len + 3);
            memcpy(with, prompts[i], len);
            memcpy(with + len, equals, strlen(equals) + 1);
            free(prompts[i]);
            prompts[i] = with;
        }
    }
    /* check every prompt first, so that an error names the one at fault; any length (room to
     * spare: zero-padding and index hints make more tokens than characters) */
    for (int i = 0; i < n && !st; i++) {
        int len = 0, room = 8 * (int)strlen(prompts[i]) + 64;
        if (room < 4096)
            room = 4096;
        int32_t *ids = malloc((size_t)room * sizeof *ids);
        st = ids ? tok_encode_prompt(&s.tok, prompts[i], ids, room, &len)
                 : arith_error(ARITH_ERR_MEMORY, "out of memory");
        free(ids);
        if (st)
            arith_error_wrap(st, "%s %d: ", source, i + 1);
    }
    const int K = f.beam;
    char **answers = calloc((size_t)n * K + 1, sizeof *answers);
    float *scores = calloc((size_t)n * K + 1, sizeof *scores);
    bool *ended = calloc((size_t)n * K + 1, sizeof *ended);
    if (!st && (!answers || !scores || !ended))
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    if (!st && n > 0)
        st = predict_beam(s.model, &s.tok, (const char *const *)prompts, n, f.batch, K, answers,
                          scores, ended);
    for (int i = 0; !st && i < n; i++) {
        if (K == 1) {
            printf("%s\n", answers[i]);
            continue;
        }
        for (int k = 0; k < K; k++) {
            size_t at = (size_t)i * K + k;
            if (!(scores[at] > -INFINITY))
                continue; /* fewer hypotheses than beams */
            printf("%s\t%.4f%s\n", answers[at], scores[at], ended[at] ? "" : "\tno-eos");
        }
        printf("\n");
    }
    for (int i = 0; i < n; i++)
        free(prompts[i]);
    for (size_t i = 0; answers && i < (size_t)n * K; i++)
        free(answers[i]);
    free(prompts);
    free(answers);
    free(scores);
    free(ended);
    free(prompts_in);
    session_close(&s);
    return st ? cli_fail(st) : 0;
}
