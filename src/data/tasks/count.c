/* Task count (seed 004): a binary string and the number of its ones, "0110=" -> "2". */
#include <stdio.h>
#include <string.h>

#include "data/tasks/shared.h"

/* Decimal characters needed for numbers up to n. */
static int decimal_width(long long n)
{
    int w = 1;
    for (; n >= 10; n /= 10)
        w++;
    return w;
}

static int count_max_prompt_chars(const task_config *task)
{
    return task->digits + 1; /* bits then = */
}

static int count_max_answer_chars(const task_config *task)
{
    return decimal_width(task->digits > 0 ? task->digits : 0);
}

/* Writes the count answer: the number of '1' characters in bits[0..len). */
static void count_finish(char *prompt, int len, char *answer, size_t answer_cap)
{
    int ones = 0;
    for (int i = 0; i < len; i++)
        ones += prompt[i] == '1';
    prompt[len] = '=';
    prompt[len + 1] = '\0';
    snprintf(answer, answer_cap, "%d", ones);
}

static arith_status count_sample(const task_config *task, rng_state *rng, char *prompt,
                                 size_t prompt_cap, char *answer, size_t answer_cap)
{
    int len = task_random_length(task, rng);
    uint64_t bits = 0;
    for (int i = 0; i < len; i++) {
        if (i % 64 == 0)
            bits = rng_u64(rng);
        prompt[i] = (char)('0' + (bits & 1));
        bits >>= 1;
    }
    count_finish(prompt, len, answer, answer_cap);
    return ARITH_OK;
}

/* 2^len strings of each length. */
static uint64_t count_space(const task_config *task)
{
    uint64_t total = 0;
    int lo = task->digits_min > 0 ? task->digits_min : task->digits;
    for (int len = lo; len <= task->digits && total != UINT64_MAX; len++)
        total = sat_add(total, len >= 64 ? UINT64_MAX : (uint64_t)1 << len);
    return total;
}

static arith_status count_example_at(const task_config *task, uint64_t index, char *prompt,
                                     char *answer, size_t answer_cap)
{
    int len = task->digits_min > 0 ? task->digits_min : task->digits;
    for (; index >= (uint64_t)1 << len; len++)
        index -= (uint64_t)1 << len;
    for (int i = 0; i < len; i++)
        prompt[i] = (char)('0' + ((index >> (len - 1 - i)) & 1));
    count_finish(prompt, len, answer, answer_cap);
    return ARITH_OK;
}

/* "0110=": bits, then '=' */
static arith_status count_check_prompt(const task_config *task, const char *prompt)
{
    size_t n = strspn(prompt, "01");
    if (strcmp(prompt + n, "=") != 0)
        return arith_error(ARITH_ERR_DATA, "task count reads a string of bits (0 and "
                           "1) and '=' after");
    return ARITH_OK;
}

static arith_status count_check_row(const task_config *task, const char *src, const char *tgt)
{
    size_t plen = strlen(src);
    for (size_t i = 0; i + 1 < plen; i++)
        if (src[i] != '0' && src[i] != '1')
            return arith_error(ARITH_ERR_FORMAT, "src \"%s\" has '%c' at position %zu (task "
                               "count reads bits: [01]*=)", src, src[i], i + 1);
    const char *digits = tgt + (tgt[0] == '-');
    size_t n = strspn(digits, "0123456789");
    if (n == 0 || digits[n] != '\0')
        return arith_error(ARITH_ERR_FORMAT,
                           "tgt \"%s\" is not an integer (an optional '-' and digits)", tgt);
    return ARITH_OK;
}

static int count_prompt_length(const char *prompt)
{
    return (int)strspn(prompt, "01");
}

const task_def count_task = {
    .name = "count",
    .summary = "seed 004's counter: a binary string, the number of its ones; --test-digits "
               "gives the test set lengths of its own",
    .unit = "bits",
    .unit_one = "bit",
    .tokenizer = TOK_CHAR,
    .tokenizers = 1u << TOK_CHAR,
    .equals = "=",
    .check = task_check_lengths,
    .max_prompt_chars = count_max_prompt_chars,
    .max_answer_chars = count_max_answer_chars,
    .sample = count_sample,
    .space = count_space,
    .example_at = count_example_at,
    .check_prompt = count_check_prompt,
    .check_row = count_check_row,
    .prompt_length = count_prompt_length,
};
