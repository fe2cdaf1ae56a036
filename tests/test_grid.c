/* Length grids and edge cases: task_sample_lengths draws operands of exactly the asked lengths
 * with right answers (add and mul), the edge-case list holds what it promises with right
 * answers, the grid's CSV and SVG are well formed, grid_evaluate fills every cell (and refuses
 * cells beyond the tokenizer or the context before doing any work), the summary statistics
 * match hand-computed numbers, and seed runs are found in order. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "support.h"
#include "io/io.h"
#include "train/train.h"

/* Splits "a+b=" / "a*b=" / "a + b" into its operands. */
static bool split_operands(const char *prompt, char *a, char *b, size_t cap)
{
    size_t la = strspn(prompt, "0123456789");
    const char *rest = prompt + la;
    while (*rest == ' ' || *rest == '+' || *rest == '*')
        rest++;
    size_t lb = strspn(rest, "0123456789");
    if (la == 0 || lb == 0 || la >= cap || lb >= cap)
        return false;
    memcpy(a, prompt, la);
    a[la] = '\0';
    memcpy(b, rest, lb);
    b[lb] = '\0';
    return true;
}

static unsigned long long to_u64(const char *s)
{
    return strtoull(s, NULL, 10);
}

static void test_sample_lengths(void)
{
    task_config add = {.def = task_find("add"), .digits = 9}, mul = {.def = task_find("mul"), .digits = 9};
    rng_state rng;
    rng_seed(&rng, 7);
    char prompt[64], answer[64], a[32], b[32];
    int checked = 0;
    for (int la = 1; la <= 9; la++) {
        for (int lb = 1; lb <= 9; lb++) {
            for (int k = 0; k < 5; k++) {
                for (int t = 0; t < 2; t++) {
                    const task_config *task = t ? &mul : &add;
                    CHECK_OK(task_sample_lengths(task, &rng, la, lb, prompt, sizeof prompt,
                                                 answer, sizeof answer));
                    CHECK_MSG(split_operands(prompt, a, b, sizeof a), "%s", prompt);
                    CHECK_MSG((int)strlen(a) == la && (int)strlen(b) == lb,
                              "%s: lengths %d, %d wanted", prompt, la, lb);
                    CHECK_MSG(la == 1 || a[0] != '0', "%s: leading zero", prompt);
                    CHECK_MSG(lb == 1 || b[0] != '0', "%s: leading zero", prompt);
                    CHECK(strchr(prompt, t ? '*' : '+') != NULL);
                    CHECK(prompt[strlen(prompt) - 1] == '=');
                    unsigned long long x = to_u64(a), y = to_u64(b);
                    char want[32];
                    snprintf(want, sizeof want, "%llu", t ? x * y : x + y);
                    CHECK_STR(answer, want);
                    checked++;
                }
            }
        }
    }
    CHECK_EQ_INT(checked, 9 * 9 * 5 * 2);
    /* long operands: the sum checked against decimal_add */
    char big[256], big_answer[256], want[256], ba[200], bb[200];
    CHECK_OK(task_sample_lengths(&add, &rng, 120, 3, big, sizeof big, big_answer,
                                 sizeof big_answer));
    CHECK(split_operands(big, ba, bb, sizeof ba));
    CHECK_EQ_INT(strlen(ba), 120);
    CHECK_EQ_INT(strlen(bb), 3);
    decimal_add(want, sizeof want, ba, bb);
    CHECK_STR(big_answer, want);
    /* seed 002's spaced style */
    task_config spaced = add;
    spaced.style = STYLE_SPACED;
    CHECK_OK(task_sample_lengths(&spaced, &rng, 2, 3, prompt, sizeof prompt, answer,
                                 sizeof answer));
    CHECK(strstr(prompt, " + ") != NULL && strchr(prompt, '=') == NULL);
    /* the same seed gives the same draw */
    rng_state r1, r2;
    rng_seed(&r1, 99);
    rng_seed(&r2, 99);
    char p2[64], a2[64];
    CHECK_OK(task_sample_lengths(&add, &r1, 4, 6, prompt, sizeof prompt, answer, sizeof answer));
    CHECK_OK(task_sample_lengths(&add, &r2, 4, 6, p2, sizeof p2, a2, sizeof a2));
    CHECK_STR(prompt, p2);
    /* errors */
    task_config xor_task = {.def = task_find("xor"), .digits = 4};
    CHECK(task_sample_lengths(&xor_task, &rng, 2, 2, prompt, sizeof prompt, answer,
                              sizeof answer) == ARITH_ERR_ARG);
    CHECK(task_sample_lengths(&add, &rng, 0, 2, prompt, sizeof prompt, answer, sizeof answer) ==
          ARITH_ERR_ARG);
    CHECK(task_sample_lengths(&add, &rng, 30, 30, prompt, 20, answer, sizeof answer) ==
          ARITH_ERR_ARG);
}

static const example *find_prompt(const example_set *set, const char *prompt)
{
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].prompt, prompt) == 0)
            return &set->items[i];
    return NULL;
}

static void test_edge_cases(void)
{
    task_config add = {.def = task_find("add"), .digits = 5};
    example_set set, again;
    examples_init(&set);
    examples_init(&again);
    CHECK_OK(task_edge_cases(&add, &set));
    CHECK_OK(task_edge_cases(&add, &again));
    CHECK_MSG(set.count >= 14, "%d edge cases", set.count);
    CHECK_EQ_INT(again.count, set.count);
    for (int i = 0; i < set.count && i < again.count; i++)
        CHECK_STR(set.items[i].prompt, again.items[i].prompt); /* deterministic */
    const char *expected[][2] = {
        {"0+0=", "0"},           {"0+12345=", "12345"},   {"12345+0=", "12345"},
        {"99999+1=", "100000"},  {"1+99999=", "100000"},  {"99999+99999=", "199998"},
        {"8+12345=", "12353"},   {"12345+8=", "12353"},   {"19999+1=", "20000"},
        {"10000+0=", "10000"},   {"10000+10000=", "20000"}, {"55555+55555=", "111110"},
        {"44445+55555=", "100000"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        const example *ex = find_prompt(&set, expected[i][0]);
        CHECK_MSG(ex != NULL, "edge case %s missing", expected[i][0]);
        if (ex)
            CHECK_STR(ex->answer, expected[i][1]);
    }
    /* every answer right, every prompt once */
    for (int i = 0; i < set.count; i++) {
        char a[32], b[32], want[32];
        CHECK(split_operands(set.items[i].prompt, a, b, sizeof a));
        snprintf(want, sizeof want, "%llu", to_u64(a) + to_u64(b));
        CHECK_STR(set.items[i].answer, want);
        CHECK_MSG((int)strlen(a) <= 5 && (int)strlen(b) <= 5, "%s", set.items[i].prompt);
        for (int k = 0; k < i; k++)
            CHECK(strcmp(set.items[k].prompt, set.items[i].prompt) != 0);
    }
    /* a range adds the shortest length's cases */
    task_config range = {.def = task_find("add"), .digits = 5, .digits_min = 2};
    example_set ranged;
    examples_init(&ranged);
    CHECK_OK(task_edge_cases(&range, &ranged));
    CHECK(find_prompt(&ranged, "99+1=") != NULL);
    CHECK(find_prompt(&ranged, "99999+99=") != NULL);
    /* one digit: the list collapses to distinct prompts */
    task_config one = {.def = task_find("add"), .digits = 1};
    example_set ones;
    examples_init(&ones);
    CHECK_OK(task_edge_cases(&one, &ones));
    CHECK(ones.count >= 5 && ones.count < set.count);
    CHECK(find_prompt(&ones, "9+1=") && find_prompt(&ones, "9+9="));
    /* mul: the same operands, products */
    task_config mul = {.def = task_find("mul"), .digits = 4};
    example_set muls;
    examples_init(&muls);
    CHECK_OK(task_edge_cases(&mul, &muls));
    CHECK(muls.count >= 10);
    for (int i = 0; i < muls.count; i++) {
        char a[32], b[32], want[32];
        CHECK(split_operands(muls.items[i].prompt, a, b, sizeof a));
        CHECK(strchr(muls.items[i].prompt, '*') != NULL);
        snprintf(want, sizeof want, "%llu", to_u64(a) * to_u64(b));
        CHECK_STR(muls.items[i].answer, want);
    }
    const example *sq = find_prompt(&muls, "9999*9999=");
    CHECK(sq && strcmp(sq->answer, "99980001") == 0);
    /* other tasks: none */
    task_config cnt = {.def = task_find("count"), .digits = 4};
    example_set none;
    examples_init(&none);
    CHECK_OK(task_edge_cases(&cnt, &none));
    CHECK_EQ_INT(none.count, 0);

    /* edge_cases_build keeps what the tokenizer encodes and the context holds */
    tokenizer pairs3, chars;
    CHECK_OK(tokenizer_init(&pairs3, TOK_PAIRS, 3, false));
    CHECK_OK(tokenizer_init(&chars, TOK_CHAR, 5, false));
    model lstm = {0}, small = {0};
    lstm.cfg.kind = family_named("lstm");
    small.cfg.kind = family_named("transformer");
    small.cfg.context = 9; /* "1+99999=" (8) + "100000" and EOS (7) need 14 */
    example_set kept;
    examples_init(&kept);
    CHECK_OK(edge_cases_build(&lstm, &pairs3, &add, &kept));
    CHECK(kept.count > 0 && kept.count < set.count);
    for (int i = 0; i < kept.count; i++) {
        char a[32], b[32];
        CHECK(split_operands(kept.items[i].prompt, a, b, sizeof a));
        CHECK_MSG(strlen(a) <= 3 && strlen(b) <= 3, "kept %s", kept.items[i].prompt);
    }
    CHECK(find_prompt(&kept, "0+0=") != NULL);
    examples_free(&kept);
    examples_init(&kept);
    CHECK_OK(edge_cases_build(&lstm, &chars, &add, &kept));
    CHECK_EQ_INT(kept.count, set.count);
    examples_free(&kept);
    examples_init(&kept);
    CHECK_OK(edge_cases_build(&small, &chars, &add, &kept));
    CHECK(kept.count > 0 && kept.count < set.count);
    CHECK(find_prompt(&kept, "0+0=") != NULL && find_prompt(&kept, "1+99999=") == NULL);
    examples_free(&kept);
    examples_free(&set);
    examples_free(&again);
    examples_free(&ranged);
    examples_free(&ones);
    examples_free(&muls);
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Task mul with a second operand of its own length (--digits-b): n x k products. */
static void test_digits_b(void)
{
    task_config mul = {.def = task_find("mul"), .digits = 12, .digits_min = 1, .digits_b = 2};
    CHECK_OK(task_check(&mul));
    rng_state rng;
    rng_seed(&rng, 11);
    char prompt[64], answer[64], a[32], b[32];
    int longest_a = 0, longest_b = 0, b_small = 0;
    for (int k = 0; k < 2000; k++) {
        CHECK_OK(task_sample(&mul, &rng, prompt, sizeof prompt, answer, sizeof answer));
        CHECK_MSG(split_operands(prompt, a, b, sizeof a), "%s", prompt);
        int la = (int)strlen(a), lb = (int)strlen(b);
        longest_a = la > longest_a ? la : longest_a;
        longest_b = lb > longest_b ? lb : longest_b;
        b_small += atoi(b) < 10; /* digit by digit: 0..99, a tenth below 10 */
        CHECK_MSG(la >= 1 && la <= 12 && lb >= 1 && lb <= 2, "%s", prompt);
        char want[64];
        snprintf(want, sizeof want, "%llu", to_u64(a) * to_u64(b));
        CHECK_STR(answer, want);
        CHECK((int)strlen(prompt) <= task_max_prompt_chars(&mul));
        CHECK((int)strlen(answer) <= task_max_answer_chars(&mul));
    }
    CHECK_EQ_INT(longest_a, 12);
    CHECK_EQ_INT(longest_b, 2);
    CHECK_MSG(b_small > 120 && b_small < 280, "%d of 2000 below 10", b_small);
    CHECK_EQ_INT(task_max_prompt_chars(&mul), 12 + 2 + 2);
    CHECK_EQ_INT(task_max_answer_chars(&mul), 14);
    /* the second operand longer than the first: the buffers follow */
    task_config wide = {.def = task_find("mul"), .digits = 2, .digits_b = 30, .digits_b_min = 30};
    CHECK_EQ_INT(task_max_prompt_chars(&wide), 34);
    CHECK_OK(task_sample(&wide, &rng, prompt, sizeof prompt, answer, sizeof answer));
    CHECK(split_operands(prompt, a, b, sizeof a));
    CHECK_EQ_INT(strlen(b), 30);
    /* the space and its enumeration: 1..2-digit a (0..99) times a 1-digit b (0..9) */
    task_config small = {.def = task_find("mul"), .digits = 2, .digits_b = 1};
    CHECK(small.def->space(&small) == 1000);
    CHECK_OK(small.def->example_at(&small, 0, prompt, answer, sizeof answer));
    CHECK_STR(prompt, "0*0=");
    CHECK_OK(small.def->example_at(&small, 999, prompt, answer, sizeof answer));
    CHECK_STR(prompt, "99*9=");
    CHECK_STR(answer, "891");
    CHECK_OK(small.def->example_at(&small, 123, prompt, answer, sizeof answer));
    CHECK_STR(prompt, "12*3=");
    /* a distinct data set of the whole space lists every product once */
    example_set train, test;
    examples_init(&train);
    examples_init(&test);
    CHECK_OK(dataset_generate(&train, &test, &small, 900, 100, 5, NULL));
    CHECK_EQ_INT(train.count + test.count, 1000);
    for (int i = 0; i < test.count; i++) {
        CHECK(split_operands(test.items[i].prompt, a, b, sizeof a));
        CHECK_MSG(strlen(a) <= 2 && strlen(b) == 1, "%s", test.items[i].prompt);
    }
    examples_free(&train);
    examples_free(&test);
    /* edge cases keep the second operand's lengths */
    example_set edges;
    examples_init(&edges);
    task_config e = {.def = task_find("mul"), .digits = 6, .digits_min = 1, .digits_b = 2,
                     .digits_b_min = 1};
    CHECK_OK(task_edge_cases(&e, &edges));
    CHECK(edges.count >= 10);
    CHECK(find_prompt(&edges, "999999*99=") != NULL);
    CHECK(find_prompt(&edges, "1*99=") != NULL);
    CHECK(find_prompt(&edges, "123456*8=") != NULL);
    for (int i = 0; i < edges.count; i++) {
        CHECK(split_operands(edges.items[i].prompt, a, b, sizeof a));
        CHECK_MSG(strlen(b) <= 2 && strlen(a) <= 6, "%s", edges.items[i].prompt);
        char want[64];
        snprintf(want, sizeof want, "%llu", to_u64(a) * to_u64(b));
        CHECK_STR(edges.items[i].answer, want);
    }
    examples_free(&edges);
    /* only mul takes it; an empty range is refused */
    task_config add = {.def = task_find("add"), .digits = 5, .digits_b = 2};
    CHECK(task_check(&add) == ARITH_ERR_ARG);
    CHECK_MSG(strstr(arith_error_message(), "--digits-b") != NULL, "%s", arith_error_message());
    task_config empty = {.def = task_find("mul"), .digits = 5, .digits_b = 2, .digits_b_min = 3};
    CHECK(task_check(&empty) == ARITH_ERR_ARG);
    char what[64];
    task_describe(&e, what, sizeof what);
    CHECK_STR(what, "1..6 digits x 1..2");
}

static void test_grid_files(const char *base)
{
    length_grid g;
    CHECK(grid_init(&g, 0, 3, 1, 5, 1) == ARITH_ERR_ARG);
    CHECK(grid_init(&g, 3, 2, 1, 5, 1) == ARITH_ERR_ARG);
    CHECK(grid_init(&g, 1, 3, 0, 5, 1) == ARITH_ERR_ARG);
    CHECK(strstr(arith_error_message(), "--grid-step") != NULL);
    CHECK(grid_init(&g, 1, 100000, 1, 5, 1) == ARITH_ERR_ARG);
    /* 20..100 step 20: 20, 40, 60, 80, 100 */
    CHECK_OK(grid_init(&g, 20, 100, 20, 4, 1));
    CHECK_EQ_INT(g.count, 5);
    CHECK_EQ_INT(grid_length(&g, 4), 100);
    grid_free(&g);
    CHECK_OK(grid_init(&g, 1, 4, 1, 10, 42));
    CHECK_EQ_INT(g.count, 4);
    /* accuracy falls with length: diagonal 1.0, 1.0, 0.5, 1.0 */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            size_t c = (size_t)i * 4 + j;
            g.n[c] = 10;
            g.correct[c] = i == j ? (i == 2 ? 5 : 10) : 10 - i - j;
            g.accuracy[c] = g.correct[c] / 10.0;
        }
    int prefix, any;
    grid_largest_at(&g, 0.99, &prefix, &any);
    CHECK_EQ_INT(prefix, 2);
    CHECK_EQ_INT(any, 4);
    char csv[512], svg[512];
    snprintf(csv, sizeof csv, "%s/grid.csv", base);
    snprintf(svg, sizeof svg, "%s/grid.svg", base);
    CHECK_OK(grid_write_csv(&g, csv));
    CHECK_OK(grid_write_svg(&g, svg, "run <x> & \"y\": add", 1, 2, 1, 2));
    char *text = NULL;
    size_t size = 0;
    CHECK_OK(io_read_file(csv, &text, &size));
    if (text) {
        CHECK_EQ_INT(count_of(text, "\n"), 1 + 16);
        CHECK(strncmp(text, "la,lb,n,correct,accuracy\n", 25) == 0);
        CHECK(strstr(text, "\n3,3,10,5,0.500000\n") != NULL);
        CHECK(strstr(text, "\n1,2,10,9,0.900000\n") != NULL);
    }
    free(text);
    CHECK_OK(io_read_file(svg, &text, &size));
    if (text) {
        CHECK(strncmp(text, "<svg ", 5) == 0);
        CHECK(strstr(text, "</svg>\n") != NULL);
        CHECK_EQ_INT(count_of(text, "class=\"cell\""), 16);
        CHECK_EQ_INT(count_of(text, "class=\"train-region\""), 1);
        CHECK_EQ_INT(count_of(text, "<text"), count_of(text, "</text>"));
        CHECK_EQ_INT(count_of(text, "<rect"), 16 + 5); /* background, frame, region, legends */
        CHECK(strstr(text, "run &lt;x&gt; &amp; &quot;y&quot;: add") != NULL);
        CHECK(strstr(text, "linearGradient") != NULL);
        CHECK(strstr(text, ">0.50</text>") != NULL); /* cells are large: values shown */
        /* the training region 1..2 covers the first two cells both ways */
        CHECK(strstr(text, "<rect class=\"train-region\" x=\"78.0\"") != NULL);
    }
    free(text);
    /* a region outside the grid is named, not drawn */
    CHECK_OK(grid_write_svg(&g, svg, "t", 50, 60, 50, 60));
    CHECK_OK(io_read_file(svg, &text, &size));
    if (text) {
        CHECK_EQ_INT(count_of(text, "class=\"train-region\""), 0);
        CHECK(strstr(text, "outside the grid") != NULL);
    }
    free(text);

    /* combined: mean, std, min, max per cell */
    length_grid two[2], c;
    CHECK_OK(grid_init(&two[0], 1, 2, 1, 4, 1));
    CHECK_OK(grid_init(&two[1], 1, 2, 1, 4, 1));
    for (int k = 0; k < 4; k++) {
        two[0].accuracy[k] = 1.0;
        two[1].accuracy[k] = k * 0.25;
    }
    CHECK_OK(grid_combine(&c, two, 2));
    CHECK_EQ_INT(c.runs, 2);
    CHECK(fabs(c.accuracy[2] - 0.75) < 1e-12);
    CHECK(fabs(c.acc_std[2] - sqrt(0.125)) < 1e-12);
    CHECK(c.acc_min[0] == 0.0 && c.acc_max[0] == 1.0);
    CHECK_OK(grid_write_csv(&c, csv));
    CHECK_OK(io_read_file(csv, &text, &size));
    if (text) {
        CHECK(strncmp(text, "la,lb,runs,accuracy,std,min,max\n", 32) == 0);
        CHECK_EQ_INT(count_of(text, "\n"), 5);
    }
    free(text);
    CHECK_OK(grid_write_svg(&c, svg, "mean", 1, 1, 1, 1));
    grid_free(&c);
    grid_free(&two[0]);
    grid_free(&two[1]);
    grid_free(&g);
    /* a big grid: small cells, no values written in them */
    CHECK_OK(grid_init(&g, 1, 100, 1, 1, 1));
    CHECK_OK(grid_write_svg(&g, svg, "big", 1, 20, 1, 20));
    CHECK_OK(io_read_file(svg, &text, &size));
    if (text) {
        CHECK_EQ_INT(count_of(text, "class=\"cell\""), 10000);
        CHECK_EQ_INT(count_of(text, "class=\"train-region\""), 1);
    }
    free(text);
    grid_free(&g);
    unlink(csv);
    unlink(svg);
}

/* A grid whose lb axis has lengths of its own (n x k products): its cells, CSV, largest length
 * and SVG. */
static void test_grid_rect(const char *base)
{
    length_grid g;
    CHECK_OK(grid_init(&g, 5, 25, 5, 4, 3));
    CHECK(grid_set_b(&g, 0, 2) == ARITH_ERR_ARG);
    CHECK(strstr(arith_error_message(), "--grid-b") != NULL);
    CHECK(grid_set_b(&g, 3, 2) == ARITH_ERR_ARG);
    CHECK_OK(grid_set_b(&g, 1, 3));
    CHECK(!grid_square(&g));
    CHECK_EQ_INT(g.count, 5);
    CHECK_EQ_INT(g.count_b, 3);
    CHECK_EQ_INT(grid_length(&g, 4), 25);
    CHECK_EQ_INT(grid_length_b(&g, 2), 3);
    /* la 5..25 by 5, lb 1..3: everything right up to la 15 but (20, 3), then (25, 1) */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) {
            size_t c = (size_t)i * 3 + j;
            g.n[c] = 4;
            g.correct[c] = (i < 3 || (i == 3 && j < 2) || (i == 4 && j == 0)) ? 4 : 1;
            g.accuracy[c] = g.correct[c] / 4.0;
        }
    int prefix, any;
    grid_largest_at(&g, 0.99, &prefix, &any);
    CHECK_EQ_INT(prefix, 15); /* la 20 fails at lb 3 */
    CHECK_EQ_INT(any, 15);
    char csv[512], svg[512];
    snprintf(csv, sizeof csv, "%s/rect.csv", base);
    snprintf(svg, sizeof svg, "%s/rect.svg", base);
    CHECK_OK(grid_write_csv(&g, csv));
    CHECK_OK(grid_write_svg(&g, svg, "n x k", 1, 10, 1, 3));
    char *text = NULL;
    size_t size = 0;
    CHECK_OK(io_read_file(csv, &text, &size));
    int lines = 0;
    for (size_t k = 0; k < size; k++)
        lines += text[k] == '\n';
    CHECK_EQ_INT(lines, 1 + 15);
    CHECK(strstr(text, "\n20,3,4,1,0.250000\n") != NULL);
    CHECK(strstr(text, "\n25,1,4,4,1.000000\n") != NULL);
    free(text);
    CHECK_OK(io_read_file(svg, &text, &size));
    int cells = 0;
    for (const char *p = text; (p = strstr(p, "class=\"cell\"")); p++)
        cells++;
    CHECK_EQ_INT(cells, 15);
    CHECK(strstr(text, "la 20, lb 3: 0.2500") != NULL);
    CHECK(strstr(text, "train-region") != NULL);
    free(text);
    /* grids of different lb axes do not combine */
    length_grid two[2], out;
    CHECK_OK(grid_init(&two[0], 1, 2, 1, 4, 1));
    CHECK_OK(grid_init(&two[1], 1, 2, 1, 4, 1));
    CHECK_OK(grid_set_b(&two[1], 1, 1));
    CHECK(grid_combine(&out, two, 2) == ARITH_ERR_ARG);
    grid_free(&two[0]);
    grid_free(&two[1]);
    grid_free(&g);
    unlink(csv);
    unlink(svg);
}

static void test_stats(void)
{
    stats_summary s;
    const double x[] = {0.9, 0.5, 1.0, 0.6};
    stats_summarize(x, 4, &s);
    CHECK(fabs(s.mean - 0.75) < 1e-12);
    /* deviations 0.15 -0.25 0.25 -0.15: squares sum 0.17; / 3 */
    CHECK(fabs(s.std - sqrt(0.17 / 3)) < 1e-12);
    CHECK(s.min == 0.5 && s.argmin == 1);
    CHECK(s.max == 1.0 && s.argmax == 2);
    const double one[] = {0.25};
    stats_summarize(one, 1, &s);
    CHECK(s.mean == 0.25 && s.std == 0.0 && s.argmin == 0 && s.argmax == 0);
    const double ties[] = {2, 1, 2, 1};
    stats_summarize(ties, 4, &s);
    CHECK(s.argmax == 0 && s.argmin == 1);
    stats_summarize(NULL, 0, &s);
    CHECK(isnan(s.mean));
}

/* A random (untrained) transformer: every cell gets its examples, the grid is reproducible,
 * and prompts beyond the tokenizer or the context are refused before any work. */
static void test_grid_evaluate(const char *base)
{
    char run[512];
    snprintf(run, sizeof run, "%s/gridrun", base);
    train_config cfg;
    train_config_defaults(&cfg);
    CHECK_OK(train_config_set(&cfg, "digits", "1..3"));
    CHECK_OK(train_config_set(&cfg, "n", "200"));
    CHECK_OK(train_config_set(&cfg, "tokenizer", "char"));
    CHECK_OK(train_config_set(&cfg, "layers", "1"));
    CHECK_OK(train_config_set(&cfg, "d-model", "16"));
    CHECK_OK(train_config_set(&cfg, "heads", "2"));
    CHECK_OK(train_config_set(&cfg, "ffn", "16"));
    CHECK_OK(train_config_set(&cfg, "threads", "1"));
    CHECK_OK(train_config_set(&cfg, "run", run));
    session s;
    CHECK_OK(session_open(&s, &cfg, NULL));
    if (!s.model) {
        session_close(&s);
        return;
    }
    length_grid g, h;
    CHECK_OK(grid_init(&g, 1, 3, 1, 6, 5));
    CHECK_OK(grid_evaluate(s.model, &s.tok, &s.task, 4, 1, &g, NULL, NULL));
    for (int c = 0; c < 9; c++) {
        CHECK_EQ_INT(g.n[c], 6);
        CHECK(g.correct[c] >= 0 && g.correct[c] <= 6);
    }
    CHECK_OK(grid_init(&h, 1, 3, 1, 6, 5));
    CHECK_OK(grid_evaluate(s.model, &s.tok, &s.task, 64, 1, &h, NULL, NULL));
    for (int c = 0; c < 9; c++)
        CHECK_EQ_INT(h.correct[c], g.correct[c]); /* batching does not change answers */
    grid_free(&h);
    /* an lb axis of its own, 2..3: the same prompts per (la, lb) as the square grid */
    CHECK_OK(grid_init(&h, 1, 3, 1, 6, 5));
    CHECK_OK(grid_set_b(&h, 2, 3));
    CHECK_EQ_INT(h.count_b, 2);
    CHECK_OK(grid_evaluate(s.model, &s.tok, &s.task, 8, 1, &h, NULL, NULL));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            CHECK_EQ_INT(h.n[i * 2 + j], 6);
            CHECK_EQ_INT(h.correct[i * 2 + j], g.correct[i * 3 + j + 1]);
        }
    grid_free(&h);
    /* cell (2, 3) alone, step 1 from 2: the same prompts, so the same count */
    CHECK_OK(grid_init(&h, 2, 3, 1, 6, 5));
    CHECK_OK(grid_evaluate(s.model, &s.tok, &s.task, 8, 1, &h, NULL, NULL));
    CHECK_EQ_INT(h.correct[0 * 2 + 1], g.correct[1 * 3 + 2]);
    grid_free(&h);
    grid_free(&g);
    /* the context (3+3 digits: 8 prompt + 5 answer tokens) is too short for 6 digits */
    CHECK_OK(grid_init(&g, 1, 6, 1, 2, 5));
    arith_status st = grid_evaluate(s.model, &s.tok, &s.task, 8, 1, &g, NULL, NULL);
    CHECK(st == ARITH_ERR_DATA);
    CHECK_MSG(strstr(arith_error_message(), "context of") &&
                  strstr(arith_error_message(), "--grid 1..6"),
              "%s", arith_error_message());
    grid_free(&g);
    /* not for other tasks */
    task_config cnt = {.def = task_find("count"), .digits = 3};
    CHECK_OK(grid_init(&g, 1, 2, 1, 2, 5));
    CHECK(grid_evaluate(s.model, &s.tok, &cnt, 8, 1, &g, NULL, NULL) == ARITH_ERR_ARG);
    /* the pairs tokenizer's fixed width */
    tokenizer pairs2;
    CHECK_OK(tokenizer_init(&pairs2, TOK_PAIRS, 2, false));
    grid_free(&g);
    CHECK_OK(grid_init(&g, 1, 3, 1, 2, 5));
    st = grid_evaluate(s.model, &pairs2, &s.task, 8, 1, &g, NULL, NULL);
    CHECK(st == ARITH_ERR_DATA);
    CHECK_MSG(strstr(arith_error_message(), "operands of"), "%s", arith_error_message());
    grid_free(&g);
    session_close(&s);
}

static void touch(const char *dir, const char *name)
{
    mkdir(dir, 0777);
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static void test_seed_runs(const char *base)
{
    char parent[512], d[600];
    snprintf(parent, sizeof parent, "%s/seeds", base);
    mkdir(parent, 0777);
    const char *names[] = {"seed-10", "seed-2", "seed-x", "seed-3", "other"};
    for (int i = 0; i < 5; i++) {
        snprintf(d, sizeof d, "%s/%s", parent, names[i]);
        if (i != 3) /* seed-3 has no config.json: not a run */
            touch(d, "config.json");
        else
            mkdir(d, 0777);
    }
    char **dirs = NULL;
    long long *seeds = NULL;
    int count = 0;
    CHECK_OK(seed_runs_find(parent, &dirs, &seeds, &count));
    CHECK_EQ_INT(count, 2);
    if (count == 2) {
        CHECK_EQ_INT(seeds[0], 2);
        CHECK_EQ_INT(seeds[1], 10);
        snprintf(d, sizeof d, "%s/seed-2", parent);
        CHECK_STR(dirs[0], d);
    }
    for (int i = 0; i < count; i++)
        free(dirs[i]);
    free(dirs);
    free(seeds);
    CHECK(seed_runs_find("/nonexistent/arith", &dirs, &seeds, &count) == ARITH_ERR_IO);
    for (int i = 0; i < 5; i++) {
        snprintf(d, sizeof d, "%s/%s/config.json", parent, names[i]);
        unlink(d);
        snprintf(d, sizeof d, "%s/%s", parent, names[i]);
        rmdir(d);
    }
    rmdir(parent);
}

int main(void)
{
    char base[] = "/tmp/arith_test_grid_XXXXXX";
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    test_sample_lengths();
    test_edge_cases();
    test_digits_b();
    test_grid_files(base);
    test_grid_rect(base);
    test_stats();
    test_grid_evaluate(base);
    test_seed_runs(base);
    rmdir(base);
    return check_summary("test_grid");
}
