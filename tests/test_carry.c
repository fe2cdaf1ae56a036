/* Carry chains: the longest chain of a sum is counted right on hand-made sums; add's carry
 * sampler gives every chain length it is asked for, with right answers, lengths of the task's
 * range (and apart), no leading zeros, and zeros; the carry-aware test set holds each chain
 * length per_chain times, distinct and clear of what it must exclude; --carry-mix replaces the
 * share it names and nothing else; tasks without carries have neither; sub's borrow chains
 * likewise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/data.h"

/* The operands of "a+b=" or "a + b". */
static void split(const char *prompt, char *a, char *b)
{
    size_t la = strspn(prompt, "0123456789");
    memcpy(a, prompt, la);
    a[la] = '\0';
    const char *rest = prompt + la + strspn(prompt + la, " +");
    size_t lb = strspn(rest, "0123456789");
    memcpy(b, rest, lb);
    b[lb] = '\0';
}

static void test_chain_count(void)
{
    task_config add = {.def = task_find("add"), .digits = 9};
    const struct {
        const char *prompt;
        int chain;
    } cases[] = {
        {"0+0=", 0},           {"12+34=", 0},       {"15+5=", 1},         {"5+5=", 1},
        {"1+999999999=", 9},   {"999999999+1=", 9}, {"19+1=", 1},         {"199+1=", 2},
        {"99+99=", 1},         {"555+555=", 1},     {"4445+5555=", 4},    {"909+191=", 2},
        {"45+55=", 2},         {"91+9=", 2},        {"123 + 877", 3},     {"abc", -1},
        {"978558+999021442=", 9}, {"1234+5=", 0},   {"5+4=", 0},          {"95+4=", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(task_carry_chain(&add, cases[i].prompt) == cases[i].chain, "%s: %d, want %d",
                  cases[i].prompt, task_carry_chain(&add, cases[i].prompt), cases[i].chain);
    task_config mul = {.def = task_find("mul"), .digits = 3};
    CHECK(!task_has_carries(&mul));
    CHECK_EQ_INT(task_chain_max(&mul), -1);
    CHECK_EQ_INT(task_carry_chain(&mul, "12*34="), -1);
    CHECK(task_has_carries(&add));
}

/* Every chain length of three task shapes: seed 001's 9 digits digit by digit, a length range
 * 1..20, and seed 002's spaced 3 digits (distinct operands). */
static void test_sampler(void)
{
    const task_config tasks[] = {
        {.def = task_find("add"), .digits = 9},
        {.def = task_find("add"), .digits = 20, .digits_min = 1},
        {.def = task_find("add"), .digits = 12, .digits_min = 4},
        {.def = task_find("add"), .digits = 3, .style = STYLE_SPACED},
    };
    rng_state rng;
    rng_seed(&rng, 11);
    char prompt[128], answer[128], a[64], b[64], sum[128];
    for (size_t t = 0; t < sizeof tasks / sizeof tasks[0]; t++) {
        const task_config *task = &tasks[t];
        const int lo = task->digits_min ? task->digits_min : 1;
        int zeros = 0, apart = 0, ripples = 0;
        for (int chain = 0; chain <= task->digits; chain++) {
            for (int k = 0; k < 300; k++) {
                CHECK_OK(task_sample_carry(task, &rng, chain, prompt, sizeof prompt, answer,
                                           sizeof answer));
                CHECK_MSG(task_carry_chain(task, prompt) == chain, "%s: chain %d, want %d", prompt,
                          task_carry_chain(task, prompt), chain);
                split(prompt, a, b);
                int la = (int)strlen(a), lb = (int)strlen(b);
                bool zero = strcmp(a, "0") == 0 || strcmp(b, "0") == 0;
                zeros += zero;
                apart += la != lb;
                CHECK_MSG(zero || (la >= lo && la <= task->digits && lb >= lo &&
                                   lb <= task->digits), "%s: lengths out of %d..%d", prompt, lo,
                          task->digits);
                CHECK_MSG((la == 1 || a[0] != '0') && (lb == 1 || b[0] != '0'),
                          "%s: leading zero", prompt);
                decimal_add(sum, sizeof sum, a, b);
                CHECK_MSG(strcmp(sum, answer) == 0, "%s %s, want %s", prompt, answer, sum);
                if (task->style == STYLE_SPACED)
                    CHECK_MSG(strcmp(a, b) != 0 && strstr(prompt, " + ") && !strchr(prompt, '='),
                              "%s: not seed 002's style", prompt);
                /* a chain through a lone operand's 9s, as in 1+999999999 */
                if (chain >= 3 && la != lb && !zero)
                    ripples++;
            }
        }
        CHECK_MSG(zeros > 0 || lo > 1, "task %zu: no zero operand in %d draws", t,
                  300 * (task->digits + 1));
        CHECK_MSG(lo > 1 || apart > 100, "task %zu: only %d sums with lengths apart", t, apart);
        CHECK(task->digits < 3 || ripples > 0);
        if (lo > 1)
            CHECK_EQ_INT(zeros, 0);
    }
    /* out of range, and tasks without carries */
    CHECK(task_sample_carry(&tasks[0], &rng, 10, prompt, sizeof prompt, answer, sizeof answer) ==
          ARITH_ERR_ARG);
    CHECK(task_sample_carry(&tasks[0], &rng, -1, prompt, sizeof prompt, answer, sizeof answer) ==
          ARITH_ERR_ARG);
    task_config mul = {.def = task_find("mul"), .digits = 3};
    CHECK(task_sample_carry(&mul, &rng, 1, prompt, sizeof prompt, answer, sizeof answer) ==
          ARITH_ERR_ARG);
    CHECK(task_sample_carry(&tasks[0], &rng, 1, prompt, 8, answer, sizeof answer) ==
          ARITH_ERR_ARG);
}

static bool has_prompt(const example_set *set, const char *prompt)
{
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].prompt, prompt) == 0)
            return true;
    return false;
}

static void test_carry_set(void)
{
    task_config add = {.def = task_find("add"), .digits = 9};
    example_set exclude, set, again;
    examples_init(&exclude);
    examples_init(&set);
    examples_init(&again);
    /* what the set must leave out: the first sums the same draw gives */
    CHECK_OK(carry_set_generate(&exclude, &add, 5, 42, NULL));
    CHECK_EQ_INT(exclude.count, 50);
    CHECK_OK(carry_set_generate(&set, &add, 40, 42, &exclude));
    CHECK_OK(carry_set_generate(&again, &add, 40, 42, &exclude));
    CHECK_EQ_INT(set.count, 400);
    int per[10] = {0};
    for (int i = 0; i < set.count; i++) {
        int c = task_carry_chain(&add, set.items[i].prompt);
        CHECK(c >= 0 && c <= 9);
        if (c >= 0 && c <= 9)
            per[c]++;
        /* in order of chain length, deterministic, clear of exclude, each prompt once */
        CHECK(i == 0 || c >= task_carry_chain(&add, set.items[i - 1].prompt));
        CHECK_STR(set.items[i].prompt, again.items[i].prompt);
        CHECK(!has_prompt(&exclude, set.items[i].prompt));
        for (int j = i + 1; j < set.count && j < i + 40; j++)
            CHECK(strcmp(set.items[i].prompt, set.items[j].prompt) != 0);
    }
    for (int c = 0; c <= 9; c++)
        CHECK_EQ_INT(per[c], 40);
    examples_free(&set);
    /* one digit: chains 0 and 1 only, and fewer prompts than asked (55 and 45 pairs): all of
     * them, and no endless search */
    task_config one = {.def = task_find("add"), .digits = 1};
    CHECK_OK(carry_set_generate(&set, &one, 100, 3, NULL));
    int c0 = 0, c1 = 0;
    for (int i = 0; i < set.count; i++)
        task_carry_chain(&one, set.items[i].prompt) ? c1++ : c0++;
    CHECK_MSG(c0 >= 50 && c0 <= 55 && c1 >= 40 && c1 <= 45, "one digit: %d and %d", c0, c1);
    examples_free(&set);
    task_config mul = {.def = task_find("mul"), .digits = 3};
    CHECK(carry_set_generate(&set, &mul, 10, 1, NULL) == ARITH_ERR_ARG);
    examples_free(&exclude);
    examples_free(&again);
}

static void test_mix(void)
{
    task_config add = {.def = task_find("add"), .digits = 9};
    example_set train, test, held, before;
    examples_init(&train);
    examples_init(&test);
    examples_init(&held);
    examples_init(&before);
    CHECK_OK(dataset_generate(&train, &test, &add, 4000, 400, 5, NULL));
    CHECK_OK(dataset_generate(&before, &held, &add, 4000, 0, 5, NULL));
    CHECK_OK(carry_set_generate(&held, &add, 20, 9, &train));
    CHECK_OK(dataset_mix_carries(&train, &add, 0.25, 5, &test, &held));
    CHECK_EQ_INT(train.count, 4000);
    /* the first 3000 as drawn, the last 1000 carry-heavy: long chains, which random sums
     * almost never have, about as often as short ones */
    int long_chains_head = 0, long_chains_tail = 0, per[10] = {0};
    for (int i = 0; i < 4000; i++) {
        int c = task_carry_chain(&add, train.items[i].prompt);
        if (i < 3000) {
            CHECK_STR(train.items[i].prompt, before.items[i].prompt);
            long_chains_head += c >= 5;
        } else {
            long_chains_tail += c >= 5;
            per[c]++;
            CHECK(!has_prompt(&test, train.items[i].prompt));
            CHECK(!has_prompt(&held, train.items[i].prompt));
        }
        char a[32], b[32], sum[32];
        split(train.items[i].prompt, a, b);
        decimal_add(sum, sizeof sum, a, b);
        CHECK_STR(sum, train.items[i].answer);
    }
    CHECK_MSG(long_chains_head < 10, "%d random sums with chains of 5+", long_chains_head);
    CHECK_MSG(long_chains_tail > 400, "%d carry-heavy sums with chains of 5+", long_chains_tail);
    for (int c = 0; c <= 9; c++)
        CHECK_MSG(per[c] > 60 && per[c] < 150, "chain %d: %d of 1000", c, per[c]);
    CHECK_EQ_INT(dataset_count_overlap(&train, &test), 0);
    /* nothing to do at 0; an error for a task without carries */
    CHECK_OK(dataset_mix_carries(&train, &add, 0, 5, &test, NULL));
    task_config mul = {.def = task_find("mul"), .digits = 3};
    CHECK(dataset_mix_carries(&train, &mul, 0.5, 5, NULL, NULL) == ARITH_ERR_ARG);
    examples_free(&train);
    examples_free(&test);
    examples_free(&held);
    examples_free(&before);
}

/* Subtraction's borrow chains: counted on hand-made differences either way round, drawn at
 * every length 0..digits-1 with right (and negative) answers, in the carry-aware set and
 * --carry-mix. */
static void test_sub_chains(void)
{
    task_config sub = {.def = task_find("sub"), .digits = 9};
    CHECK(task_has_carries(&sub));
    CHECK_EQ_INT(task_chain_max(&sub), 8);
    task_config add9 = {.def = task_find("add"), .digits = 9};
    CHECK_EQ_INT(task_chain_max(&add9), 9);
    const struct {
        const char *prompt;
        int chain;
    } cases[] = {
        {"0-0=", 0},      {"5-3=", 0},       {"3-5=", 0},        {"10-1=", 1},
        {"1-10=", 1},     {"100-1=", 2},     {"1000-1=", 3},     {"1-1000=", 3},
        {"21-19=", 1},    {"200-199=", 1},   {"5000-4001=", 3},  {"4001-5000=", 3},
        {"12-12=", 0},    {"100000000-1=", 8}, {"910-901=", 1},  {"1010-11=", 3},
        {"910-810=", 0},
        {"abc", -1},      {"12+34=", -1},    {"-5=", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(task_carry_chain(&sub, cases[i].prompt) == cases[i].chain, "%s: %d, want %d",
                  cases[i].prompt, task_carry_chain(&sub, cases[i].prompt), cases[i].chain);

    const task_config tasks[] = {
        {.def = task_find("sub"), .digits = 9},
        {.def = task_find("sub"), .digits = 20, .digits_min = 1},
        {.def = task_find("sub"), .digits = 12, .digits_min = 4},
    };
    rng_state rng;
    rng_seed(&rng, 12);
    char prompt[128], answer[128], check[128];
    for (size_t t = 0; t < sizeof tasks / sizeof tasks[0]; t++) {
        const task_config *task = &tasks[t];
        const int lo = task->digits_min ? task->digits_min : 1;
        int negative = 0, apart = 0;
        for (int chain = 0; chain < task->digits; chain++)
            for (int k = 0; k < 300; k++) {
                CHECK_OK(task_sample_carry(task, &rng, chain, prompt, sizeof prompt, answer,
                                           sizeof answer));
                CHECK_MSG(task_carry_chain(task, prompt) == chain, "%s: chain %d, want %d",
                          prompt, task_carry_chain(task, prompt), chain);
                char a[64], b[64];
                size_t la = strspn(prompt, "0123456789");
                memcpy(a, prompt, la);
                a[la] = '\0';
                size_t lb = strspn(prompt + la + 1, "0123456789");
                memcpy(b, prompt + la + 1, lb);
                b[lb] = '\0';
                CHECK_MSG(prompt[la] == '-' && strcmp(prompt + la + 1 + lb, "=") == 0,
                          "%s: not a-b=", prompt);
                CHECK_MSG((int)la >= lo && (int)la <= task->digits && (int)lb >= lo &&
                              (int)lb <= task->digits, "%s: lengths out of %d..%d", prompt, lo,
                          task->digits);
                CHECK_MSG((la == 1 || a[0] != '0') && (lb == 1 || b[0] != '0'),
                          "%s: leading zero", prompt);
                /* a - b = answer: answer + b is a, or for a negative answer |answer| + a is b */
                if (answer[0] == '-') {
                    negative++;
                    decimal_add(check, sizeof check, answer + 1, a);
                    CHECK_MSG(strcmp(check, b) == 0, "%s%s: %s + %s is not %s", prompt, answer,
                              answer + 1, a, b);
                } else {
                    decimal_add(check, sizeof check, answer, b);
                    CHECK_MSG(strcmp(check, a) == 0, "%s%s: %s + %s is not %s", prompt, answer,
                              answer, b, a);
                }
                apart += la != lb;
            }
        const int draws = 300 * task->digits;
        CHECK_MSG(negative > draws / 3 && negative < 2 * draws / 3, "task %zu: %d of %d negative",
                  t, negative, draws);
        CHECK_MSG(apart > draws / 5, "task %zu: only %d of %d with lengths apart", t, apart,
                  draws);
    }
    /* a chain as long as the operands is refused: the top column never borrows */
    CHECK(task_sample_carry(&sub, &rng, 9, prompt, sizeof prompt, answer, sizeof answer) ==
          ARITH_ERR_ARG);

    /* the carry-aware set: each length 0..8 per_chain times; --carry-mix draws borrow chains */
    example_set set;
    examples_init(&set);
    CHECK_OK(carry_set_generate(&set, &sub, 20, 4, NULL));
    CHECK_EQ_INT(set.count, 9 * 20);
    int per[10] = {0};
    for (int i = 0; i < set.count; i++) {
        int c = task_carry_chain(&sub, set.items[i].prompt);
        CHECK(c >= 0 && c <= 8);
        if (c >= 0 && c <= 8)
            per[c]++;
    }
    for (int c = 0; c <= 8; c++)
        CHECK_EQ_INT(per[c], 20);
    examples_free(&set);
    example_set train, test;
    examples_init(&train);
    examples_init(&test);
    CHECK_OK(dataset_generate(&train, &test, &sub, 2000, 200, 5, NULL));
    int long_before = 0, long_after = 0;
    for (int i = 0; i < train.count; i++)
        long_before += task_carry_chain(&sub, train.items[i].prompt) >= 5;
    CHECK_OK(dataset_mix_carries(&train, &sub, 0.5, 5, &test, NULL));
    CHECK_EQ_INT(train.count, 2000);
    for (int i = 0; i < train.count; i++)
        long_after += task_carry_chain(&sub, train.items[i].prompt) >= 5;
    CHECK_MSG(long_before < 10 && long_after > 300, "chains of 5+: %d random, %d mixed",
              long_before, long_after);
    CHECK_EQ_INT(dataset_count_overlap(&train, &test), 0);
    examples_free(&train);
    examples_free(&test);
}

int main(void)
{
    test_chain_count();
    test_sampler();
    test_carry_set();
    test_mix();
    test_sub_chains();
    return check_summary("test_carry");
}
