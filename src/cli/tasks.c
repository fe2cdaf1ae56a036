/* arith tasks: every task of the registry (data/tasks/registry.c) with its summary, what
 * --digits counts, the tokenizers that read it, its formats and what `arith eval` measures. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

enum { NAME_WIDTH = 10, LINE_WIDTH = 96 };

/* Prints text from column NAME_WIDTH + 2, broken at spaces before LINE_WIDTH; the first line
 * continues the current one. */
static void print_wrapped(const char *text)
{
    const int room = LINE_WIDTH - NAME_WIDTH - 2;
    bool first = true;
    while (*text) {
        int n = (int)strlen(text);
        if (n > room) {
            n = room;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = (int)strcspn(text, " ");
        }
        printf("%*s%.*s\n", first ? 0 : NAME_WIDTH + 2, "", n, text);
        first = false;
        text += n;
        while (*text == ' ')
            text++;
    }
}

/* Appends "; " and printf-style text to out (cap bytes). */
static void add_part(char *out, size_t cap, const char *text)
{
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s%s", len ? "; " : "", text);
}

/* The task's properties in one paragraph. */
static void describe_properties(const task_def *def, char *out, size_t cap)
{
    char part[256];
    out[0] = '\0';
    if (def->unit)
        snprintf(part, sizeof part, "--digits N|A..B counts %s", def->unit);
    else
        snprintf(part, sizeof part, "--digits unused");
    add_part(out, cap, part);
    snprintf(part, sizeof part, "tokenizers: %s (auto)", tokenizer_name(def->tokenizer));
    for (int k = 0; tokenizer_name((tokenizer_kind)k); k++)
        if (k != (int)def->tokenizer && def->tokenizers & 1u << k)
            snprintf(part + strlen(part), sizeof part - strlen(part), ", %s",
                     tokenizer_name((tokenizer_kind)k));
    add_part(out, cap, part);
    if (def->format) {
        snprintf(part, sizeof part, "digit formats \"a%cb=\": --reverse, --zero-pad, "
                 "--index-hints%s%s%s, --pos abacus and coupling", def->format->op,
                 def->format->scratch_steps ? ", --scratchpad" : "",
                 def->format->column_sum ? ", --carries" : "",
                 def->format->signed_answers ? " (a sign token before the answer)" : "");
        add_part(out, cap, part);
    }
    if (def->spaced)
        add_part(out, cap, "--style spaced");
    part[0] = '\0';
    if (def->edge_cases)
        snprintf(part, sizeof part, "edge cases");
    if (def->sample_carry && def->carry_chain)
        snprintf(part + strlen(part), sizeof part - strlen(part),
                 "%sthe carry-heavy set (--carry-n; --carry-mix in training)", part[0] ? ", " : "");
    if (def->sample_lengths)
        snprintf(part + strlen(part), sizeof part - strlen(part), "%s--grid", part[0] ? ", " : "");
    if (def->prompt_length)
        snprintf(part + strlen(part), sizeof part - strlen(part), "%sa table per length",
                 part[0] ? ", " : "");
    if (def->equivalent)
        snprintf(part + strlen(part), sizeof part - strlen(part), "%sanswers up to equivalence",
                 part[0] ? ", " : "");
    if (part[0]) {
        char eval[300];
        snprintf(eval, sizeof eval, "arith eval: %s", part);
        add_part(out, cap, eval);
    }
}

static const char tasks_usage[] =
    "usage: arith tasks\n\nLists every task (arith train --task NAME, arith data --task NAME) "
    "with what a problem is, what --digits counts, the tokenizers that read it, its formats "
    "and what arith eval measures.\n";

int cli_tasks(int argc, char **argv)
{
    /* no options of its own: only --help */
    static const option_table none = {"tasks", NULL, 0};
    const option_table *tables[] = {&none};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, 0, tasks_usage, &stop);
    if (stop)
        return rc;
    cli_args_free(&args);
    printf("tasks (arith train --task NAME, arith data --task NAME):\n");
    for (int i = 0; i < task_count(); i++) {
        const task_def *def = task_at(i);
        printf("\n");
        char properties[1024];
        describe_properties(def, properties, sizeof properties);
        printf("%-*s  ", NAME_WIDTH, def->name);
        print_wrapped(def->summary);
        printf("%*s", NAME_WIDTH + 2, "");
        print_wrapped(properties);
    }
    return 0;
}
