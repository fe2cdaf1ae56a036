/* Task xor (seed 003): two bit strings of one length and their bitwise XOR, leading zeros
 * kept: "0110 0011=" -> "0101". */
#include <string.h>

#include "data/tasks/shared.h"

static int xor_max_prompt_chars(const task_config *task)
{
    return 2 * task->digits + 2; /* a b= */
}

static int xor_max_answer_chars(const task_config *task)
{
    return task->digits;
}

static int xor_answer_digits(int width)
{
    return width;
}

/* "a b=" with the space as the operator: the digit formats write a and b bit by bit (--reverse:
 * least significant first), and --pos coupling gives a_i, b_i and answer bit i one id, which
 * puts the two bits an answer bit needs at the position it reads (Cho et al. 2024). */
static const digit_format xor_format = {.op = ' ', .answer_digits = xor_answer_digits,
                                        .fixed_width = true};

/* Writes "a b=" and a XOR b for two bit strings of equal length (leading zeros kept). */
static void xor_finish(const char *a, const char *b, int len, char *prompt, char *answer)
{
    for (int i = 0; i < len; i++)
        answer[i] = a[i] == b[i] ? '0' : '1';
    answer[len] = '\0';
    memmove(prompt + len + 1, b, (size_t)len);
    memmove(prompt, a, (size_t)len);
    prompt[len] = ' ';
    prompt[2 * len + 1] = '=';
    prompt[2 * len + 2] = '\0';
}

static arith_status xor_sample(const task_config *task, rng_state *rng, char *prompt,
                               size_t prompt_cap, char *answer, size_t answer_cap)
{
    /* both strings drawn into the prompt: a, then b after the room for a and the space */
    int len = task_random_length(task, rng);
    char *a = prompt, *b = prompt + len + 1;
    uint64_t bits = 0;
    for (int i = 0; i < 2 * len; i++) {
        if (i % 64 == 0)
            bits = rng_u64(rng);
        (i < len ? a : b)[i < len ? i : i - len] = (char)('0' + (bits & 1));
        bits >>= 1;
    }
    xor_finish(a, b, len, prompt, answer);
    return ARITH_OK;
}

/* 4^len pairs of strings of each length. */
static uint64_t xor_space(const task_config *task)
{
    uint64_t total = 0;
    int lo = task->digits_min > 0 ? task->digits_min : task->digits;
    for (int len = lo; len <= task->digits && total != UINT64_MAX; len++)
        total = sat_add(total, 2 * len >= 64 ? UINT64_MAX : (uint64_t)1 << (2 * len));
    return total;
}

static arith_status xor_example_at(const task_config *task, uint64_t index, char *prompt,
                                   char *answer, size_t answer_cap)
{
    int len = task->digits_min > 0 ? task->digits_min : task->digits;
    for (; index >= (uint64_t)1 << (2 * len); len++)
        index -= (uint64_t)1 << (2 * len);
    char a[32], b[32]; /* listed spaces have len <= 12 */
    for (int i = 0; i < len; i++) {
        a[i] = (char)('0' + ((index >> (2 * len - 1 - i)) & 1));
        b[i] = (char)('0' + ((index >> (len - 1 - i)) & 1));
    }
    xor_finish(a, b, len, prompt, answer);
    return ARITH_OK;
}

/* "a b=": a and b bit strings of one length */
static arith_status xor_check_prompt(const task_config *task, const char *prompt)
{
    size_t la = strspn(prompt, "01");
    bool ok = la > 0 && prompt[la] == ' ' && strspn(prompt + la + 1, "01") == la &&
              strcmp(prompt + 2 * la + 1, "=") == 0;
    if (!ok)
        return arith_error(ARITH_ERR_DATA, "task xor reads two bit strings of one "
                           "length with a space between them and '=' after");
    return ARITH_OK;
}

/* "a b=" with a, b bits of one length; tgt that many bits */
static arith_status xor_check_row(const task_config *task, const char *src, const char *tgt)
{
    size_t plen = strlen(src);
    const char *space = strchr(src, ' ');
    size_t la = space ? (size_t)(space - src) : 0;
    bool ok = space && la > 0 && plen == 2 * la + 2 && strlen(tgt) == la;
    for (size_t i = 0; ok && i < la; i++)
        ok = (src[i] == '0' || src[i] == '1') &&
             (src[la + 1 + i] == '0' || src[la + 1 + i] == '1') &&
             (tgt[i] == '0' || tgt[i] == '1');
    if (!ok)
        return arith_error(ARITH_ERR_FORMAT, "\"%s\" -> \"%s\" is not a bit-XOR row (src: two "
                           "bit strings of one length, a space between, then '='; tgt: as many "
                           "bits)", src, tgt);
    return ARITH_OK;
}

const task_def xor_task = {
    .name = "xor",
    .summary = "seed 003's bit-XOR: two bit strings of --digits bits, \"0110 0011=\", their "
               "XOR \"0101\" with leading zeros kept",
    .unit = "bits",
    .unit_one = "bit",
    .tokenizer = TOK_CHAR,
    .tokenizers = 1u << TOK_CHAR | 1u << TOK_PAIRS,
    .format = &xor_format,
    .equals = "=",
    .check = task_check_lengths,
    .max_prompt_chars = xor_max_prompt_chars,
    .max_answer_chars = xor_max_answer_chars,
    .sample = xor_sample,
    .space = xor_space,
    .example_at = xor_example_at,
    .check_prompt = xor_check_prompt,
    .check_row = xor_check_row,
    .prompt_length = operands_prompt_length,
};
