/* arith data: a generated data set as CSV (src,tgt), from train's own data options. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* data's settings: a run config (for its data options and seed) and the output file */
typedef struct {
    train_config cfg;          /* first: train's option offsets hold here */
    char out[TRAIN_PATH_MAX];
} data_command;

/* train's options that data takes, as train defines them (same ranges, choices, messages) */
static const char *const data_option_names[] = {"task",      "subtask", "digits",  "digits-b",
                                                "style",     "carry-mix", "carry-n", "repeats",
                                                "n",         "seed"};
enum { DATA_TRAIN_OPTIONS = sizeof data_option_names / sizeof *data_option_names };

/* data's table: train's entries above (n defaults to 1000 here), then --out */
static void data_table(option_spec *specs, option_table *table)
{
    for (int i = 0; i < DATA_TRAIN_OPTIONS; i++) {
        specs[i] = *options_find(&train_option_table, data_option_names[i]);
        specs[i].group = "options";
        if (strcmp(specs[i].name, "seed") == 0)
            specs[i].help = "seed of the examples";
        if (strcmp(specs[i].name, "n") == 0) {
            specs[i].default_value = "1000";
            specs[i].min = 1;
            specs[i].help = "examples to generate";
        }
        /* random sums unless asked: --carry-mix as train mixes them, --carry-n the
         * carry-aware test set train scores */
        if (strcmp(specs[i].name, "carry-mix") == 0) {
            specs[i].default_value = "0";
            specs[i].help = "add, sub: replace this share of the examples with carry-heavy "
                            "ones (sub: borrow chains), as train's --carry-mix does";
        }
        if (strcmp(specs[i].name, "repeats") == 0)
            specs[i].help = "draw the examples independently, repeats allowed, as train's "
                            "--repeats draws its training set (every operand length pair keeps "
                            "its share)";
        if (strcmp(specs[i].name, "carry-n") == 0) {
            specs[i].default_value = "0";
            specs[i].help = "add, sub: write the carry-aware test set instead, this many per "
                            "longest carry chain 0..digits (as train's carry.csv, seed 0xca77e5e7)";
        }
    }
    specs[DATA_TRAIN_OPTIONS] = (option_spec){
        "out", OPT_STRING, offsetof(data_command, out), TRAIN_PATH_MAX, NULL, NULL, 0, 0,
        "options", "FILE", "write the CSV here, atomically (a FIFO or device is written into; - or none: stdout)", false, NULL, NULL};
    *table = (option_table){"data", specs, DATA_TRAIN_OPTIONS + 1};
}

static const char data_usage[] =
    "usage: arith data [--task NAME] [--digits N|A..B] [--digits-b N|A..B] [--style plain|spaced] "
    "[--subtask derivative|integral] [--n N] [--seed S] [--carry-mix P] [--carry-n N] "
    "[--repeats] [--out FILE]\n\n"
    "Writes N distinct examples (with --repeats, N independent draws) as CSV with columns src,tgt (to stdout without --out). add "
    "and sub: --carry-n writes the carry-aware test set instead (long carry or borrow chains, "
    "lengths apart, zeros), --carry-mix mixes such examples into the random ones. Prompts are written plain "
    "(12+34=): a run trained with --reverse, --zero-pad or --index-hints writes them in its "
    "format as it reads them. `arith tasks` describes every task.\n";

int cli_data(int argc, char **argv)
{
    option_spec specs[DATA_TRAIN_OPTIONS + 1];
    option_table table;
    data_table(specs, &table);
    const option_table *tables[] = {&table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, 0, data_usage, &stop);
    if (stop)
        return rc;
    data_command dc;
    memset(&dc, 0, sizeof dc);
    train_config_defaults(&dc.cfg);
    options_defaults(&table, &dc);
    rc = cli_args_apply(&args, 0, &dc);
    cli_args_free(&args);
    if (rc)
        return rc;
    task_config task;
    arith_status st = train_task_config(&task, &dc.cfg.data, dc.cfg.data.digits);
    example_set set, none;
    examples_init(&set);
    examples_init(&none);
    if (!st && dc.cfg.data.carry_n > 0) {
        /* the set train draws for a run (less that run's training prompts) */
        st = carry_set_generate(&set, &task, dc.cfg.data.carry_n,
                                carry_set_seed(&task), NULL);
    } else if (!st) {
        /* the training set train draws for a run of n examples (then its test set) */
        uint64_t seed = (uint64_t)dc.cfg.run.seed;
        st = dc.cfg.data.repeats ? dataset_draw(&set, &task, dc.cfg.data.n, seed)
                                 : dataset_generate(&set, &none, &task, dc.cfg.data.n, 0, seed,
                                                    NULL);
        if (!st && dc.cfg.data.carry_mix > 0)
            st = dataset_mix_carries(&set, &task, dc.cfg.data.carry_mix,
                                     (uint64_t)dc.cfg.run.seed, NULL, NULL);
    }
    bool to_stdout = !dc.out[0] || strcmp(dc.out, "-") == 0;
    if (!st && !to_stdout) {
        st = dataset_save_csv(&set, dc.out);
        if (!st)
            fprintf(stderr, "wrote %d examples to %s\n", set.count, dc.out);
    } else if (!st) {
        printf("src,tgt\n");
        for (int i = 0; i < set.count; i++)
            printf("%s,%s\n", set.items[i].prompt, set.items[i].answer);
        /* (main checks that standard output took it all) */
    }
    examples_free(&set);
    examples_free(&none);
    return st ? cli_fail(st) : 0;
}
