/* Tasks and data sets: generating examples, keeping them distinct, loading and saving CSV. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "io/io.h"

/* ----------------------------------------------------------------------------------- tasks */

static const char *const task_names[] = {"add"};
#define TASK_COUNT ((int)(sizeof task_names / sizeof task_names[0]))

arith_status task_parse(task_kind *kind, const char *name)
{
    for (int i = 0; i < TASK_COUNT; i++) {
        if (strcmp(name, task_names[i]) == 0) {
            *kind = (task_kind)i;
            return ARITH_OK;
        }
    }
    return arith_error(ARITH_ERR_ARG, "unknown task '%s' (valid: add)", name);
}

const char *task_name(task_kind kind)
{
    return (int)kind < TASK_COUNT ? task_names[kind] : "?";
}

int task_max_prompt_chars(const task_config *task)
{
    return 2 * task->digits + 2; /* a + b = */
}

int task_max_answer_chars(const task_config *task)
{
    return task->digits + 1;
}

/* out = a + b for digit strings of explicit lengths (column addition from the right; the
 * sum is written reversed, then flipped). */
static void decimal_add_digits(char *out, size_t out_cap, const char *a, size_t la, const char *b,
                               size_t lb)
{
    size_t n = 0;
    int carry = 0;
    for (size_t i = 0; (i < la || i < lb || carry) && n + 1 < out_cap; i++) {
        int d = carry;
        if (i < la)
            d += a[la - 1 - i] - '0';
        if (i < lb)
            d += b[lb - 1 - i] - '0';
        out[n++] = (char)('0' + d % 10);
        carry = d / 10;
    }
    while (n > 1 && out[n - 1] == '0')
        n--;
    if (n == 0)
        out[n++] = '0';
    out[n] = '\0';
    for (size_t i = 0; i < n / 2; i++) {
        char t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
}

void decimal_add(char *out, size_t out_cap, const char *a, const char *b)
{
    decimal_add_digits(out, out_cap, a, strlen(a), b, strlen(b));
}

/* N random digits as a number: leading zeros vanish, all zeros give "0". */
static void random_number(char *out, int digits, rng_state *rng)
{
    int n = 0;
    for (int i = 0; i < digits; i++) {
        char d = (char)('0' + rng_below(rng, 10));
        if (n == 0 && d == '0')
            continue;
        out[n++] = d;
    }
    if (n == 0)
        out[n++] = '0';
    out[n] = '\0';
}

arith_status task_sample(const task_config *task, rng_state *rng, char *prompt, size_t prompt_cap,
                         char *answer, size_t answer_cap)
{
    if (task->digits < 1)
        return arith_error(ARITH_ERR_ARG, "--digits must be at least 1 (got %d)", task->digits);
    if (prompt_cap < (size_t)task_max_prompt_chars(task) + 1 ||
        answer_cap < (size_t)task_max_answer_chars(task) + 1)
        return arith_error(ARITH_ERR_ARG, "task_sample: buffers too small for %d digits",
                           task->digits);
    switch (task->kind) {
    case TASK_ADD: {
        /* prompt = "a+b=", built in place; the sum is read off the prompt's operands. */
        random_number(prompt, task->digits, rng);
        size_t la = strlen(prompt);
        prompt[la] = '+';
        random_number(prompt + la + 1, task->digits, rng);
        size_t lb = strlen(prompt + la + 1);
        prompt[la + 1 + lb] = '=';
        prompt[la + 2 + lb] = '\0';
        decimal_add_digits(answer, answer_cap, prompt, la, prompt + la + 1, lb);
        return ARITH_OK;
    }
    }
    return arith_error(ARITH_ERR_ARG, "task_sample: unknown task %d", (int)task->kind);
}

/* ------------------------------------------------------------------------------- data sets */

void examples_init(example_set *set)
{
    memset(set, 0, sizeof *set);
}

arith_status examples_push(example_set *set, const char *prompt, const char *answer)
{
    if (set->count == set->capacity) {
        int cap = set->capacity ? set->capacity * 2 : 1024;
        example *items = realloc(set->items, (size_t)cap * sizeof *items);
        if (!items)
            return arith_error(ARITH_ERR_MEMORY, "out of memory growing a data set");
        set->items = items;
        set->capacity = cap;
    }
    example *e = &set->items[set->count];
    e->prompt = strdup(prompt);
    e->answer = strdup(answer);
    if (!e->prompt || !e->answer) {
        free(e->prompt);
        free(e->answer);
        return arith_error(ARITH_ERR_MEMORY, "out of memory storing an example");
    }
    set->count++;
    return ARITH_OK;
}

void examples_free(example_set *set)
{
    for (int i = 0; i < set->count; i++) {
        free(set->items[i].prompt);
        free(set->items[i].answer);
    }
    free(set->items);
    memset(set, 0, sizeof *set);
}

/* A set of strings by open addressing (FNV-1a), only to keep prompts distinct. */
typedef struct {
    const char **slots;
    size_t capacity; /* power of two */
} string_set;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static arith_status string_set_init(string_set *set, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    set->slots = calloc(cap, sizeof *set->slots);
    set->capacity = cap;
    return set->slots ? ARITH_OK : arith_error(ARITH_ERR_MEMORY, "out of memory (prompt set)");
}

/* Inserts s (not copied: it must outlive the set); returns false when already present. */
static bool string_set_insert(string_set *set, const char *s)
{
    size_t mask = set->capacity - 1;
    for (size_t i = fnv1a(s) & mask;; i = (i + 1) & mask) {
        if (!set->slots[i]) {
            set->slots[i] = s;
            return true;
        }
        if (strcmp(set->slots[i], s) == 0)
            return false;
    }
}

static bool string_set_contains(const string_set *set, const char *s)
{
    size_t mask = set->capacity - 1;
    for (size_t i = fnv1a(s) & mask; set->slots[i]; i = (i + 1) & mask)
        if (strcmp(set->slots[i], s) == 0)
            return true;
    return false;
}

arith_status dataset_generate(example_set *train, example_set *test, const task_config *task,
                              int n_train, int n_test, uint64_t seed, const example_set *exclude)
{
    if (n_train < 0 || n_test < 0)
        return arith_error(ARITH_ERR_ARG, "data set sizes must be non-negative");
    int total = n_train + n_test;
    int n_exclude = exclude ? exclude->count : 0;
    string_set seen;
    arith_status st = string_set_init(&seen, (size_t)total + (size_t)n_exclude);
    if (st)
        return st;
    for (int i = 0; i < n_exclude; i++)
        string_set_insert(&seen, exclude->items[i].prompt);

    rng_state rng;
    rng_seed(&rng, seed);
    size_t pcap = (size_t)task_max_prompt_chars(task) + 1;
    size_t acap = (size_t)task_max_answer_chars(task) + 1;
    char *prompt = malloc(pcap), *answer = malloc(acap);
    if (!prompt || !answer) {
        st = arith_error(ARITH_ERR_MEMORY, "out of memory generating data");
        goto done;
    }
    /* Draw until enough distinct prompts; a task too small for the request gives up after
     * many fruitless draws instead of looping forever. */
    int made = 0;
    long misses = 0;
    while (made < total && st == ARITH_OK) {
        st = task_sample(task, &rng, prompt, pcap, answer, acap);
        if (st)
            break;
        if (string_set_contains(&seen, prompt)) {
            if (++misses > 1000L + 20L * total) {
                st = arith_error(ARITH_ERR_ARG,
                                 "task %s with %d digits has too few distinct prompts for %d "
                                 "examples (found %d)\nhint: lower --n or raise --digits",
                                 task_name(task->kind), task->digits, total, made);
            }
            continue;
        }
        example_set *dst = made < n_train ? train : test;
        st = examples_push(dst, prompt, answer);
        if (st)
            break;
        string_set_insert(&seen, dst->items[dst->count - 1].prompt);
        made++;
    }
done:
    free(prompt);
    free(answer);
    free(seen.slots);
    return st;
}

int dataset_count_overlap(const example_set *train, const example_set *test)
{
    string_set seen;
    if (string_set_init(&seen, (size_t)train->count) != ARITH_OK)
        return -1;
    for (int i = 0; i < train->count; i++)
        string_set_insert(&seen, train->items[i].prompt);
    int overlap = 0;
    for (int i = 0; i < test->count; i++)
        overlap += string_set_contains(&seen, test->items[i].prompt);
    free(seen.slots);
    return overlap;
}

arith_status dataset_load_csv(example_set *set, const char *path)
{
    csv_table table;
    arith_status st = csv_read(&table, path);
    if (st)
        return st;
    int src = csv_column(&table, "src"), tgt = csv_column(&table, "tgt");
    if (src < 0 || tgt < 0) {
        st = arith_error(ARITH_ERR_FORMAT,
                         "%s:1: the header needs columns 'src' and 'tgt' (e.g. \"src,tgt\")",
                         path);
        csv_free(&table);
        return st;
    }
    for (int i = 0; i < table.nrows && st == ARITH_OK; i++) {
        const csv_row *row = &table.rows[i];
        const char *p = row->fields[src], *a = row->fields[tgt];
        size_t plen = strlen(p);
        if (plen == 0 || p[plen - 1] != '=')
            st = arith_error(ARITH_ERR_FORMAT, "%s:%d: src \"%s\" must end with '='", path,
                             row->line, p);
        else if (a[0] == '\0')
            st = arith_error(ARITH_ERR_FORMAT, "%s:%d: tgt is empty", path, row->line);
        else
            st = examples_push(set, p, a);
    }
    if (st == ARITH_OK && table.nrows == 0)
        st = arith_error(ARITH_ERR_FORMAT, "%s: no data rows", path);
    csv_free(&table);
    return st;
}

/* Appends raw text to a growing buffer. */
static arith_status append_text(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        size_t new_cap = (*len + n + 1) * 2;
        char *grown = realloc(*buf, new_cap);
        if (!grown)
            return arith_error(ARITH_ERR_MEMORY, "out of memory formatting CSV");
        *buf = grown;
        *cap = new_cap;
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
    return ARITH_OK;
}

arith_status dataset_save_csv(const example_set *set, const char *path)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf)
        return arith_error(ARITH_ERR_MEMORY, "out of memory writing %s", path);
    buf[0] = '\0';
    arith_status st = append_text(&buf, &len, &cap, "src,tgt\n");
    for (int i = 0; i < set->count && st == ARITH_OK; i++) {
        csv_format_field(&buf, &len, &cap, set->items[i].prompt);
        st = buf ? append_text(&buf, &len, &cap, ",") : ARITH_ERR_MEMORY;
        if (st)
            break;
        csv_format_field(&buf, &len, &cap, set->items[i].answer);
        st = buf ? append_text(&buf, &len, &cap, "\n") : ARITH_ERR_MEMORY;
    }
    if (st == ARITH_ERR_MEMORY && !buf)
        return arith_error(ARITH_ERR_MEMORY, "out of memory writing %s", path);
    if (st == ARITH_OK)
        st = io_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}
