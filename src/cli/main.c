/* arith: the command line's entry point. It dispatches to the commands in this folder; their
 * list below gives the usage text and the valid names in messages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;         /* "train [--OPTION VALUE ...]" */
    const char *summary;
} command;

static int cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("arith %s\n", ARITH_VERSION);
    return 0;
}

static const command commands[] = {
    {"train", cli_train, "train [--OPTION VALUE ...]",
     "train a model (arith train --help lists options)"},
    {"sweep", cli_sweep, "sweep CONFIG --vary KEY=V1,V2 ...",
     "train every point of a grid of configs, under several seeds, and summarize them"},
    {"eval", cli_eval, "eval RUN_DIR [OPTIONS]",
     "exact-match accuracy by greedy generation (or --beam K)"},
    {"predict", cli_predict, "predict RUN_DIR [PROMPT ...]",
     "answer prompts (or one per line from stdin)"},
    {"data", cli_data, "data --task T --n N [--out FILE]", "write a data set as CSV"},
    {"plot", cli_plot, "plot RUN [RUN ...] [--out FILE]",
     "loss and exact match of several runs (or a --seeds directory) in one SVG"},
    {"attention", cli_attention, "attention RUN_DIR PROMPT [--out FILE]",
     "every layer's and head's attention while the run answers PROMPT, as an SVG"},
    {"probe", cli_probe, "probe RUN_DIR [--target T]",
     "where the model holds the carry: linear probes per layer and answer digit"},
    {"report", cli_report, "report RUN [RUN ...] [--out FILE]",
     "one HTML page of runs: settings, curves, evaluation, grids, probes, attention"},
    {"tasks", cli_tasks, "tasks", "list the tasks, their formats and tokenizers"},
    {"version", cli_version, "version", "print the version"},
};
enum { N_COMMANDS = sizeof commands / sizeof *commands };

/* How other tools name what these commands do. */
static const cli_alias command_aliases[] = {
    {"fit", "train"},        {"finetune", "train"},    {"evaluate", "eval"},
    {"test", "eval"},        {"score", "eval"},        {"generate", "predict"},
    {"infer", "predict"},    {"inference", "predict"}, {"ask", "predict"},
    {"answer", "predict"},   {"dataset", "data"},      {"gen", "data"},
    {"generate-data", "data"}, {"make-data", "data"},  {"list", "tasks"},
    {"list-tasks", "tasks"}, {"grid", "sweep"},        {"grid-search", "sweep"},
    {"hparams", "sweep"},    {"curves", "plot"},       {"chart", "plot"},
    {"attn", "attention"},   {"attention-map", "attention"},
    {"probing", "probe"},    {"linear-probe", "probe"},
    {"html", "report"},      {"summary", "report"},
    {NULL, NULL},
};

static void print_usage(FILE *out)
{
    char head[256];
    snprintf(head, sizeof head, "arith %s: teach neural networks arithmetic, and measure how "
             "well they learned it\n\nusage: arith COMMAND [OPTIONS]\n\ncommands:\n",
             ARITH_VERSION);
    cli_print_text(out, head, cli_width(out));
    for (int i = 0; i < N_COMMANDS; i++) {
        int col = fprintf(out, "  %-32s ", commands[i].usage);
        options_write_wrapped(out, commands[i].summary, col, 35, cli_width(out));
    }
    fprintf(out, "\nRun `arith COMMAND --help` for a command's options.\n");
}

/* Results go to standard output: a write that failed there (a full disk, a closed descriptor)
 * fails the command, as any other write does. */
static int checked_exit(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "arith: error: standard output: cannot write: %s\n",
                errno ? strerror(errno) : "write error");
        return rc ? rc : EXIT_RUNTIME;
    }
    return rc;
}

int main(int argc, char **argv)
{
    core_bound_spinning(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return checked_exit(argc < 2 ? EXIT_USAGE : 0);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0)
        cmd = "version";
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return checked_exit(commands[i].run(argc - 2, argv + 2));
    const char *names[N_COMMANDS];
    for (int i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    fprintf(stderr, "arith: error: unknown command '%s'", cmd);
    cli_print_suggestion(stderr, cmd, names, N_COMMANDS, "", command_aliases);
    fprintf(stderr, " (valid:");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(stderr, "%s %s", i ? "," : "", commands[i].name);
    fprintf(stderr, ")\n");
    if (cmd[0] == '-')
        fprintf(stderr, "hint: options follow a command, as in arith train --epochs 3; "
                "arith --help lists the commands\n");
    return EXIT_USAGE;
}
