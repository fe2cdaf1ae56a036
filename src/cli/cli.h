/* cli: the `arith` command line. One file per command (train.c, sweep.c, eval.c, predict.c,
 * data.c, plot.c, attention.c, report.c, tasks.c), main.c to dispatch, and what they share here: flags parsed against option tables
 * (train/options.c), progress on stderr, JSON and summary printing. Only cli/ prints and
 * exits: 2 for usage errors, 1 for runtime errors, each with a message naming the flag, file
 * or value at fault. */
#ifndef ARITH_CLI_H
#define ARITH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "train/train.h"

enum { EXIT_USAGE = 2, EXIT_RUNTIME = 1 };

/* Prints the library's message; returns the exit code for `st`. */
int cli_fail(arith_status st);
/* Prints "arith: error: " and the message; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) ARITH_PRINTF(1, 2);

/* ------------------------------------------------------------------------------ arguments */

/* Columns for help and lists on f: $COLUMNS, else the terminal's width when f is one, else
 * 100; kept within 60..100. */
int cli_width(FILE *f);

/* Prints text in lines of at most `width` columns: each of its lines is a paragraph, broken at
 * spaces; a synopsis ("usage: arith ...", "       arith ...") breaks only between its
 * [groups], and goes on under the command. */
void cli_print_text(FILE *out, const char *text, int width);

/* Another tool's spelling of a name (--batch-size) and the name arith uses for it (batch). */
typedef struct {
    const char *typed, *meant;
} cli_alias;
/* Prints "; did you mean --batch?" (or "--a or --b?") after a message about `typed`, when it
 * is an alias of names[0..n-1] (aliases: may be NULL) or near one of them (suggest_names);
 * nothing otherwise. `before` goes before each name ("--" for flags). */
void cli_print_suggestion(FILE *out, const char *typed, const char *const *names, int n,
                          const char *before, const cli_alias *aliases);
/* Other tools' names for train's options (--batch-size for --batch), {NULL, NULL} at the end. */
extern const cli_alias cli_flag_aliases[];

/* One command-line argument: an option of one of the command's tables (--name value,
 * --name=value, or a boolean standing alone) or a positional argument (spec NULL). */
typedef struct {
    const option_spec *spec;
    int table;                 /* index of the table that holds spec */
    const char *value;         /* the option's value ("true" for a bare boolean), or the
                                  positional argument */
} cli_arg;

/* The arguments of one command, in order. */
typedef struct {
    cli_arg *items;
    int count;
} cli_args;

/* Splits argv into options of `tables` and positional arguments. A boolean option stands
 * alone (true) or takes the next argument when that is a boolean's word (option_bool_word), or
 * --name=value. "--help" or "-h" anywhere prints `usage` (cli_print_text), the tables' options
 * and --help, wrapped to cli_width, and stops. An unknown option (with the nearest valid ones,
 * another command's flag named as such, and the command's flags in a compact list), an option
 * without its value, or more than max_positional positional arguments is a usage error,
 * printed, and stops. Returns the exit code when *stop (a is then freed), else 0: free a with
 * cli_args_free. */
int cli_args_parse(cli_args *a, int argc, char **argv, const option_table *const *tables,
                   int ntables, int max_positional, const char *usage, bool *stop);
void cli_args_free(cli_args *a);
/* Sets every option argument of table `table` into settings; prints the first error. */
int cli_args_apply(const cli_args *a, int table, void *settings);

/* ------------------------------------------------------------------------------ printing */

/* "42s", "3m05s", "1h02m"; "--" when unknown. */
void cli_format_duration(char *out, size_t cap, double seconds);
/* s as a JSON string (quotes, backslashes and control characters escaped). */
void cli_json_string(FILE *out, const char *s);
/* "key": {"mean": ..., "std": ..., "max": ..., "max_seed": ..., "min": ..., "min_seed": ...} */
void cli_json_stats(FILE *out, const char *key, const stats_summary *st, const long long *seeds);
/* "what over N seeds: mean, std, best (seed), worst (seed)"; higher is better unless
 * lower_better. */
void cli_print_seed_stats(const char *what, const double *x, const long long *seeds, int n,
                          bool lower_better);

/* Progress of training on stderr: a line redrawn on a terminal, a line per 5% in a log. */
typedef struct {
    bool tty;
    double t_start;
    long long last_line_step;
    double last_draw;
    bool line_open;
} cli_progress;
void cli_progress_end_line(cli_progress *pv);
/* train_callbacks / eval_example_fn with a cli_progress as ctx. */
void cli_on_step(void *ctx, long long step, long long total, int epoch, double loss, double lr,
                 double steps_per_sec);
void cli_on_sample(void *ctx, int index, const example *ex, const char *predicted, bool correct);
void cli_on_eval(void *ctx, long long step, long long total, const eval_result *r, bool is_best);

/* ---------------------------------------------------------------------- eval and predict */

typedef enum { CHECKPOINT_BEST = 0, CHECKPOINT_LAST } checkpoint_choice;

/* The options of eval and predict (cli_eval_table, cli_predict_table: the checkpoint, batch,
 * threads and beam options of both, then each command's own). */
typedef struct {
    int which;                 /* checkpoint_choice: --checkpoint */
    int batch, threads, beam;
    bool no_verify;            /* --no-verify: the checkpoint's checksum is not checked */
    int_range digits;          /* {0, 0}: the run's test set */
    int_range digits_b;        /* --digits-b: {0, 0}: the run's second-operand lengths */
    int n;                     /* 0: as many as the test set */
    long long seed;
    char csv[TRAIN_PATH_MAX];  /* "": none */
    char predictions[TRAIN_PATH_MAX]; /* eval --predictions: every example's answer, as CSV */
    int samples;
    bool teacher_forced, json;
    bool tsv;                  /* predict: PROMPT<tab>ANSWER lines */
    bool scratchpad;           /* predict: a scratchpad run's steps shown before the answer */
    bool logits;               /* predict: JSON with the teacher-forced logits of each answer */
    int_range grid;            /* {0, 0}: no grid */
    int_range grid_b;          /* {0, 0}: lb as la */
    int grid_step, grid_n;     /* 0: 1 and 20 */
    const char *checkpoint;    /* "best" or "last", from which */
    bool nested;               /* one seed run of several: JSON without its newline, the grid's
                                  summary in one line */
} eval_settings;
extern const option_table cli_eval_table, cli_predict_table;
/* eval_settings from defaults and the parsed arguments; sets checkpoint. */
int cli_eval_settings(eval_settings *f, const cli_args *args);

/* Exact match per answer digit and per longest carry chain (arith eval --predictions, arith
 * report). Digits count from the right (1: units), where a sum's columns are, whatever order
 * the model wrote them in; an answer's first wrong digit is its lowest wrong one. */
enum { CLI_TALLY_MAX = 4096 };
typedef struct {
    const task_config *task;
    int pos_n[CLI_TALLY_MAX + 1], pos_right[CLI_TALLY_MAX + 1], pos_hi;
    int chain_n[CLI_TALLY_MAX + 1], chain_right[CLI_TALLY_MAX + 1];
    int chain_hi;              /* -1: the task has no carry chains */
} cli_answer_tally;
void cli_answer_tally_init(cli_answer_tally *t, const task_config *task);
/* The lowest digit position (from the right, 1: units) where got differs from want; 0: none. */
int cli_first_wrong_digit(const char *want, const char *got);
/* Counts one answer (an eval_example_fn's arguments); *chain (-1: none) and *first_wrong (0:
 * right) receive its longest carry chain and its lowest wrong digit (either may be NULL). */
void cli_answer_tally_add(cli_answer_tally *t, const example *ex, const char *predicted,
                          bool correct, int *chain, int *first_wrong);

/* ------------------------------------------------------------------------- training runs */

/* What one training run ended with (for the summaries over seeds and sweep points). */
typedef struct {
    double final;              /* final test exact match */
    int correct, total;
    int edge_correct, edge_total;
    int carry_correct, carry_total;
    bool by_loss;              /* best is the lowest test loss, not the best exact match */
    bool have_best;
    double best;
    long long best_step;
} train_outcome;

/* One run of a sweep (train.c): a new run of cfg in cfg.run.dir, or that run continued. */
typedef struct {
    train_config cfg;          /* run.dir: its directory; run.seeds 1 */
    bool resume;               /* continue run.dir from its last checkpoint (from step 0 when it
                                  has none) up to cfg's --steps/--epochs, on cfg's --threads */
    char label[192];           /* its heading: "seed 3" */
} cli_train_job;

/* Ctrl-C and SIGTERM, taken by a thread of arith's own (train.c); called before any other
 * thread exists. cli_stop_signal: the signal that asked training to stop (0: none). */
void cli_install_stop_handlers(void);
int cli_stop_signal(void);

/* Trains jobs[0..n): in one process in order, stopping at the first that fails or a signal,
 * calling on_done(ctx, k) after each that finished; under mpirun rank r trains jobs r, r + R,
 * ... and rank 0 gathers every rank's results (on_done is not called). Every rank calls it with
 * the same jobs. On return (rank 0, or the one process) status[k] is job k's exit code, -1 when
 * it was not run, and out[k] its outcome where status[k] is 0. threads_given: the user chose
 * the thread count, so a resume on another count is warned of, not refused. Returns the first
 * failure's exit code, 128 + the signal when one stopped jobs from running, else 0. */
int cli_train_jobs(const cli_train_job *jobs, int n, bool threads_given, train_outcome *out,
                   int *status, void (*on_done)(void *ctx, int k), void *ctx);

/* PARENT/seeds.json, atomically: the finished seed runs o[0..done) (of `planned`) and the
 * summary over them. */
arith_status cli_seeds_json_write(const char *parent, const train_config *cfg,
                                  const train_outcome *o, const long long *seeds, int done,
                                  int planned);
/* The table of a sweep's finished seeds, and their mean, sd, best and worst, on stdout. */
void cli_seeds_summary_print(const char *parent, const train_outcome *out,
                             const long long *seeds, int done, int N);

/* ------------------------------------------------------------------------------ commands */

/* The choices of every command's --checkpoint: "best", "last" (NULL past the last). */
const char *cli_checkpoint_choice(int i);

int cli_train(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_data(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_attention(int argc, char **argv);
int cli_probe(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_tasks(int argc, char **argv);

#endif
