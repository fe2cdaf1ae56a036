/* What the option parser tells a user: --help broken to the width asked with continuations
 * under the help's column, one default per flag and its placeholder. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train/train.h"

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
    test_help();
    test_wrap();
    return check_summary("test_options");
}
