/* What the option parser tells a user: suggestions for mistyped names (edit distances by hand,
 * the rules in order, PyTorch's spellings that are a word away), booleans in every spelling,
 * "did you mean" for choices and config keys, and --help broken to the width asked with
 * continuations under the help's column, one default per flag and its placeholder. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train/train.h"

static void test_distance(void)
{
    CHECK_EQ_INT(suggest_distance("train", "train"), 0);
    CHECK_EQ_INT(suggest_distance("trian", "train"), 1); /* a swap is one edit */
    CHECK_EQ_INT(suggest_distance("tarin", "train"), 1);
    CHECK_EQ_INT(suggest_distance("Batch", "batch"), 0); /* case */
    CHECK_EQ_INT(suggest_distance("d_model", "d-model"), 0);
    CHECK_EQ_INT(suggest_distance("epoch", "epochs"), 1);
    CHECK_EQ_INT(suggest_distance("kitten", "sitting"), 3);
    CHECK_EQ_INT(suggest_distance("", "abc"), 3);
    CHECK_EQ_INT(suggest_distance("abc", ""), 3);
    CHECK_EQ_INT(suggest_distance("ca", "abc"), 3); /* optimal string alignment, not full DL */
    char long_name[80];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_EQ_INT(suggest_distance(long_name, "a"), 64);
}

/* The names suggest_names gives for typed, joined by spaces. */
static const char *suggested(const char *typed, const char *const *names, int n)
{
    static char out[256];
    int near[4], k = suggest_names(typed, names, n, near, 4);
    out[0] = '\0';
    for (int i = 0; i < k; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "",
                 names[near[i]]);
    return out;
}

static void test_suggest(void)
{
    static const char *const flags[] = {"layers", "lr", "eps", "epochs", "batch", "eval-every",
                                        "eval-n", "eval-batch", "head", "heads", "n", "seed",
                                        "seeds", "d-model"};
    const int n = (int)(sizeof flags / sizeof *flags);
    CHECK_STR(suggested("epoch", flags, n), "epochs");
    CHECK_STR(suggested("EPOCHS", flags, n), "epochs");      /* case alone */
    CHECK_STR(suggested("d_model", flags, n), "d-model");    /* '_' alone */
    CHECK_STR(suggested("hed", flags, n), "head");           /* 1 edit beats 2 */
    CHECK_STR(suggested("lay", flags, n), "layers");         /* a prefix */
    CHECK_STR(suggested("eval", flags, n), "eval-every eval-n eval-batch"); /* every prefix */
    CHECK_STR(suggested("ep", flags, n), "eps");             /* 1 edit beats a prefix */
    CHECK_STR(suggested("batch-size", flags, n), "batch");   /* a word of it */
    CHECK_STR(suggested("num_layers", flags, n), "layers");
    CHECK_STR(suggested("sed", flags, n), "seed");
    CHECK_STR(suggested("x", flags, n), "");                 /* one letter is not a typo of n */
    CHECK_STR(suggested("", flags, n), "");
    CHECK_STR(suggested("completely-different", flags, n), "");
    static const char *const commands[] = {"train", "eval", "predict", "data", "tasks",
                                           "version"};
    CHECK_STR(suggested("trian", commands, 6), "train");
    CHECK_STR(suggested("predcit", commands, 6), "predict");
    CHECK_STR(suggested("task", commands, 6), "tasks");
    CHECK_STR(suggested("evaluate", commands, 6), ""); /* an alias, for the command line */
    int one;
    CHECK_EQ_INT(suggest_names("epoch", flags, n, &one, 1), 1);
    CHECK_EQ_INT(suggest_names("eval", flags, n, &one, 1), 1); /* at most max_out */
}

static void test_booleans(void)
{
    const option_spec *reverse = options_find(&train_option_table, "reverse");
    const option_spec *zero_pad = options_find(&train_option_table, "zero-pad");
    CHECK(reverse && zero_pad && zero_pad->auto_word);
    if (!reverse || !zero_pad)
        return;
    const char *yes[] = {"true", "True", "YES", "yes", "1"}, *no[] = {"false", "FALSE", "no",
                                                                    "No", "0"};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(option_bool_word(reverse, yes[i]), 1);
        CHECK_EQ_INT(option_bool_word(reverse, no[i]), 0);
    }
    CHECK_EQ_INT(option_bool_word(reverse, "auto"), OPTION_NOT_BOOL);
    CHECK_EQ_INT(option_bool_word(zero_pad, "auto"), -1);
    CHECK_EQ_INT(option_bool_word(zero_pad, "AUTO"), -1);
    CHECK_EQ_INT(option_bool_word(reverse, "12+34="), OPTION_NOT_BOOL);
    CHECK_EQ_INT(option_bool_word(reverse, ""), OPTION_NOT_BOOL);
    train_config cfg;
    train_config_defaults(&cfg);
    CHECK_OK(train_config_set(&cfg, "reverse", "Yes"));
    CHECK(cfg.data.reverse);
    CHECK_OK(train_config_set(&cfg, "reverse", "0"));
    CHECK(!cfg.data.reverse);
    CHECK_OK(train_config_set(&cfg, "zero-pad", "no"));
    CHECK_EQ_INT(cfg.data.zero_pad, 0);
    CHECK_EQ_INT(train_config_set(&cfg, "reverse", "maybe"), ARITH_ERR_ARG);
    CHECK_MSG(strstr(arith_error_message(), "--reverse: 'maybe' is not a boolean (valid: true, "
                                            "false, yes, no, 1, 0)"),
              "%s", arith_error_message());
}

static void test_did_you_mean(void)
{
    train_config cfg;
    train_config_defaults(&cfg);
    CHECK_EQ_INT(train_config_set(&cfg, "pos", "alibo"), ARITH_ERR_ARG);
    CHECK_MSG(strstr(arith_error_message(), "(valid: none,") &&
                  strstr(arith_error_message(), "); did you mean alibi?"),
              "%s", arith_error_message());
    CHECK_EQ_INT(train_config_set(&cfg, "task", "ad"), ARITH_ERR_ARG);
    CHECK_MSG(strstr(arith_error_message(), "did you mean add?"), "%s", arith_error_message());
    CHECK_EQ_INT(train_config_set(&cfg, "epoch", "3"), ARITH_ERR_ARG);
    CHECK_MSG(strstr(arith_error_message(), "unknown option --epoch; did you mean --epochs?"),
              "%s", arith_error_message());
    CHECK_EQ_INT(train_config_from_json(&cfg, "{\"batch_size\": 8}", "c.json"), ARITH_ERR_ARG);
    CHECK_MSG(strstr(arith_error_message(),
                     "c.json: unknown option \"batch_size\"; did you mean \"batch\"?"),
              "%s", arith_error_message());
    CHECK_EQ_INT(train_config_from_json(&cfg, "{\"zzzz\": 8}", "c.json"), ARITH_ERR_ARG);
    CHECK_MSG(!strstr(arith_error_message(), "did you mean"), "%s", arith_error_message());
}

/* --help of train's table at `width` into a malloc'd string. */
static char *help_text(int width)
{
    FILE *f = tmpfile();
    if (!f)
        return NULL;
    options_print_help(&train_option_table, f, width);
    long size = ftell(f);
    rewind(f);
    char *text = calloc((size_t)size + 1, 1);
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

static void test_help(void)
{
    const int widths[] = {60, 72, 100};
    for (int w = 0; w < 3; w++) {
        char *text = help_text(widths[w]);
        CHECK(text != NULL);
        if (!text)
            return;
        int defaults = 0, options = 0, lines = 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            lines++;
            CHECK_MSG((int)strlen(line) <= widths[w], "width %d: %s", widths[w], line);
            bool option = strncmp(line, "  --", 4) == 0;
            bool heading = line[0] != ' ';
            options += option;
            /* a continuation starts under the help (27) or a choice's summary (4 or more) */
            if (!option && !heading)
                CHECK_MSG(strspn(line, " ") >= 4, "width %d: %s", widths[w], line);
            CHECK_MSG(!strstr(line, "TEXT"), "a TEXT placeholder: %s", line);
            for (const char *p = line; (p = strstr(p, "(default")) != NULL; p++)
                defaults++;
            /* "(default: 0)" stays on one line */
            size_t len = strlen(line);
            CHECK_MSG(len < 9 || strcmp(line + len - 9, "(default:") != 0, "%s", line);
        }
        CHECK_EQ_INT(options, train_option_table.count);
        /* one default per option at most: --run's is its help's, not "none" beside it */
        CHECK_MSG(defaults <= train_option_table.count, "%d defaults", defaults);
        free(text);
    }
    char *text = help_text(100);
    if (!text)
        return;
    const char *shown[] = {"--train-csv FILE ", "--test-csv FILE ", "--init FILE ",
                           "--train PATTERNS ", "--run DIR ", "--lr X ", "--batch N ",
                           "--digits N|A..B ", "--task NAME ", "--reverse [BOOL] ",
                           "--zero-pad [BOOL|auto] ", "--threads N|auto "};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
        CHECK_MSG(strstr(text, shown[i]), "train --help lacks '%s'", shown[i]);
    const char *run = strstr(text, "--run DIR");
    CHECK(run && strstr(run, "(default: runs/") && !strstr(run, "(default: none)"));
    free(text);
}

static void test_wrap(void)
{
    FILE *f = tmpfile();
    if (!f)
        return;
    /* "(default: 0)" never breaks; a long comma list breaks after a comma; newlines kept */
    options_write_wrapped(f, "aaaa bbbb (default:\x1f" "0) {one,two,three,four,five}\nnext", 4, 2,
                          22);
    rewind(f);
    char buf[512] = "";
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    buf[got] = '\0';
    fclose(f);
    CHECK_STR(buf, "aaaa bbbb\n  (default: 0)\n  {one,two,three,four,\n  five}\n  next\n");
}

int main(void)
{
    test_distance();
    test_suggest();
    test_booleans();
    test_did_you_mean();
    test_help();
    test_wrap();
    return check_summary("test_options");
}
