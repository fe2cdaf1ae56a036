/* Data sets: generating distinct examples from a task, listing small spaces in full, loading
 * (and checking against the task) and saving CSV. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "io/io.h"

/* Spaces up to this size can be listed in full (task_def.example_at) when random draws stop
 * finding new prompts. */
#define ENUMERATE_MAX ((uint64_t)1 << 25)

/* "100" or "more than 18446744073709551614" for a saturated count. */
static void format_space(uint64_t space, char *out, size_t cap)
{
    if (space == UINT64_MAX)
        snprintf(out, cap, "more than %llu", (unsigned long long)(UINT64_MAX - 1));
    else
        snprintf(out, cap, "%llu", (unsigned long long)space);
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

/* Pushes an example into train (the first n_train) or test and remembers its prompt. */
static arith_status push_distinct(example_set *train, example_set *test, int n_train, int made,
                                  string_set *seen, const char *prompt, const char *answer)
{
    example_set *dst = made < n_train ? train : test;
    arith_status st = examples_push(dst, prompt, answer);
    if (st == ARITH_OK)
        string_set_insert(seen, dst->items[dst->count - 1].prompt);
    return st;
}

/* Finishes a data set that random draws could not complete: lists every prompt of the task's
 * space not seen yet (drawn or excluded), shuffles them with the same generator and takes what
 * is still missing. Only for spaces of at most ENUMERATE_MAX prompts. */
static arith_status generate_by_enumeration(example_set *train, example_set *test,
                                            const task_config *task, int n_train, int total,
                                            int *made, string_set *seen, rng_state *rng,
                                            char *prompt, char *answer, size_t acap,
                                            int n_exclude, const char *what)
{
    uint64_t space = task->def->space(task);
    uint32_t *unseen = NULL;
    size_t n_unseen = 0, cap = 0;
    arith_status st = ARITH_OK;
    for (uint64_t i = 0; i < space && st == ARITH_OK; i++) {
        st = task->def->example_at(task, i, prompt, answer, acap);
        if (st || string_set_contains(seen, prompt))
            continue;
        if (n_unseen == cap) {
            cap = cap ? cap * 2 : 1024;
            uint32_t *grown = realloc(unseen, cap * sizeof *grown);
            if (!grown) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory listing %s's prompts", what);
                break;
            }
            unseen = grown;
        }
        unseen[n_unseen++] = (uint32_t)i;
    }
    int missing = total - *made;
    if (st == ARITH_OK && n_unseen < (size_t)missing) {
        uint64_t excluded = space - n_unseen - (uint64_t)*made;
        st = arith_error(ARITH_ERR_ARG,
                         "task %s has too few distinct prompts for %d examples: %llu possible, "
                         "%llu of them excluded (of %d excluded prompts given), so at most %llu "
                         "can be drawn\nhint: lower --n or widen the task (--digits)",
                         what, total, (unsigned long long)space, (unsigned long long)excluded,
                         n_exclude, (unsigned long long)(space - excluded));
    }
    /* a partial Fisher-Yates shuffle: position k gets a uniform pick of the rest */
    for (int k = 0; st == ARITH_OK && k < missing; k++) {
        size_t j = (size_t)k + (size_t)rng_below(rng, (uint64_t)(n_unseen - (size_t)k));
        uint32_t t = unseen[k];
        unseen[k] = unseen[j];
        unseen[j] = t;
        st = task->def->example_at(task, unseen[k], prompt, answer, acap);
        if (st == ARITH_OK)
            st = push_distinct(train, test, n_train, *made, seen, prompt, answer);
        if (st == ARITH_OK)
            ++*made;
    }
    free(unseen);
    return st;
}

arith_status dataset_generate(example_set *train, example_set *test, const task_config *task,
                              int n_train, int n_test, uint64_t seed, const example_set *exclude)
{
    if (n_train < 0 || n_test < 0)
        return arith_error(ARITH_ERR_ARG, "data set sizes must be non-negative");
    arith_status st = task_check(task);
    if (st)
        return st;
    int total = n_train + n_test;
    int n_exclude = exclude ? exclude->count : 0;
    char what[160], lengths[96];
    task_describe(task, lengths, sizeof lengths);
    snprintf(what, sizeof what, "%s (%s%s%s)", task->def->name, lengths,
             task->style != STYLE_PLAIN ? ", " : "",
             task->style != STYLE_PLAIN ? task_style_name(task->style) : "");
    uint64_t space = task->def->space(task);
    if ((uint64_t)total > space)
        return arith_error(ARITH_ERR_ARG,
                           "task %s has too few distinct prompts for %d examples: only %llu "
                           "possible\nhint: lower --n or widen the task (--digits)",
                           what, total, (unsigned long long)space);
    string_set seen;
    st = string_set_init(&seen, (size_t)total + (size_t)n_exclude);
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
    /* Draw until enough distinct prompts. When draws keep hitting prompts already taken (a
     * space nearly used up, or a small part of it drawn often, such as count's short strings),
     * a small space is listed in full and the rest taken from it; a large one gives up. */
    int made = 0;
    long misses = 0;
    while (made < total) {
        st = task_sample(task, &rng, prompt, pcap, answer, acap);
        if (st)
            break;
        if (string_set_contains(&seen, prompt)) {
            if (++misses <= 1000L + 20L * total)
                continue;
            if (space <= ENUMERATE_MAX && task->def->example_at) {
                st = generate_by_enumeration(train, test, task, n_train, total, &made, &seen,
                                             &rng, prompt, answer, acap, n_exclude, what);
                break;
            }
            char possible[48];
            format_space(space, possible, sizeof possible);
            st = arith_error(ARITH_ERR_ARG,
                             "task %s has too few distinct prompts for %d examples (found %d in "
                             "%ld draws; %s possible, %d excluded)\nhint: lower --n or widen "
                             "the task (--digits)",
                             what, total, made, (long)made + misses, possible, n_exclude);
            break;
        }
        st = push_distinct(train, test, n_train, made, &seen, prompt, answer);
        if (st)
            break;
        made++;
    }
done:
    free(prompt);
    free(answer);
    free(seen.slots);
    return st;
}

arith_status dataset_draw(example_set *out, const task_config *task, int n, uint64_t seed)
{
    if (n < 0)
        return arith_error(ARITH_ERR_ARG, "data set sizes must be non-negative");
    arith_status st = task_check(task);
    if (st)
        return st;
    rng_state rng;
    rng_seed(&rng, seed);
    size_t pcap = (size_t)task_max_prompt_chars(task) + 1;
    size_t acap = (size_t)task_max_answer_chars(task) + 1;
    char *prompt = malloc(pcap), *answer = malloc(acap);
    if (!prompt || !answer)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory generating data");
    for (int i = 0; i < n && !st; i++) {
        st = task_sample(task, &rng, prompt, pcap, answer, acap);
        if (!st)
            st = examples_push(out, prompt, answer);
    }
    free(prompt);
    free(answer);
    return st;
}

/* ------------------------------------------------------------------------ carry chains */

static bool has_carries(const task_def *def)
{
    return def->sample_carry && def->carry_chain;
}

/* The error of a task without carry chains, naming the flag that asked for them. */
static arith_status carries_missing(const task_config *task, const char *flag)
{
    char names[256];
    task_names(names, sizeof names, has_carries);
    return arith_error(ARITH_ERR_ARG, "%s: task %s has no carry chains (tasks with them: %s)",
                       flag, task->def->name, names);
}

/* Inserts every prompt of `set` (may be NULL) into `seen`. */
static void seen_add_all(string_set *seen, const example_set *set, int count)
{
    for (int i = 0; set && i < count; i++)
        string_set_insert(seen, set->items[i].prompt);
}

/* Room for one drawn example of a task. */
typedef struct {
    char *prompt, *answer;
    size_t pcap, acap;
} draw_buffers;

static arith_status draw_buffers_init(draw_buffers *b, const task_config *task)
{
    b->pcap = (size_t)task_max_prompt_chars(task) + 1;
    b->acap = (size_t)task_max_answer_chars(task) + 1;
    b->prompt = malloc(b->pcap);
    b->answer = malloc(b->acap);
    return b->prompt && b->answer
               ? ARITH_OK
               : arith_error(ARITH_ERR_MEMORY, "out of memory generating carry-heavy sums");
}

static void draw_buffers_free(draw_buffers *b)
{
    free(b->prompt);
    free(b->answer);
}

/* Draws one distinct example with a carry chain of `chain` into `out` (remembered in `seen`);
 * *found is false when `tries` draws found only prompts already taken. */
static arith_status draw_carry(example_set *out, string_set *seen, const task_config *task,
                               rng_state *rng, int chain, int tries, draw_buffers *b, bool *found)
{
    *found = false;
    for (int t = 0; t < tries; t++) {
        arith_status st = task_sample_carry(task, rng, chain, b->prompt, b->pcap, b->answer,
                                            b->acap);
        if (st)
            return st;
        if (string_set_contains(seen, b->prompt))
            continue;
        st = examples_push(out, b->prompt, b->answer);
        if (st)
            return st;
        string_set_insert(seen, out->items[out->count - 1].prompt);
        *found = true;
        return ARITH_OK;
    }
    return ARITH_OK;
}

uint64_t carry_set_seed(const task_config *task)
{
    return rng_hash(0xca77e5e7ULL, (uint64_t)task->digits);
}

arith_status carry_set_generate(example_set *out, const task_config *task, int per_chain,
                                uint64_t seed, const example_set *exclude)
{
    arith_status st = task_check(task);
    if (st)
        return st;
    if (!task_has_carries(task))
        return carries_missing(task, "--carry-n");
    if (per_chain < 1)
        return ARITH_OK;
    int n_exclude = exclude ? exclude->count : 0;
    string_set seen;
    const int chain_max = task_chain_max(task);
    st = string_set_init(&seen, (size_t)n_exclude + (size_t)per_chain * (chain_max + 1));
    if (st)
        return st;
    seen_add_all(&seen, exclude, n_exclude);
    draw_buffers b;
    st = draw_buffers_init(&b, task);
    rng_state rng;
    rng_seed(&rng, seed);
    /* a chain length whose prompts run out (few digits) keeps what it has */
    for (int chain = 0; chain <= chain_max && !st; chain++) {
        bool found = true;
        for (int k = 0; k < per_chain && found && !st; k++)
            st = draw_carry(out, &seen, task, &rng, chain, 200, &b, &found);
    }
    draw_buffers_free(&b);
    free(seen.slots);
    return st;
}

arith_status dataset_mix_carries(example_set *train, const task_config *task, double fraction,
                                 uint64_t seed, const example_set *test,
                                 const example_set *exclude)
{
    if (fraction <= 0)
        return ARITH_OK;
    arith_status st = task_check(task);
    if (st)
        return st;
    if (!task_has_carries(task))
        return carries_missing(task, "--carry-mix");
    int k = (int)(fraction * train->count + 0.5);
    if (k > train->count)
        k = train->count;
    int keep = train->count - k;
    int n_test = test ? test->count : 0, n_exclude = exclude ? exclude->count : 0;
    string_set seen;
    st = string_set_init(&seen, (size_t)train->count + n_test + n_exclude);
    if (st)
        return st;
    /* all of train: a replaced example's prompt is not drawn again either */
    seen_add_all(&seen, train, train->count);
    seen_add_all(&seen, test, n_test);
    seen_add_all(&seen, exclude, n_exclude);
    example_set fresh;
    examples_init(&fresh);
    draw_buffers b;
    st = draw_buffers_init(&b, task);
    rng_state rng;
    rng_seed(&rng, rng_hash(seed, 0xca7e1ULL));
    /* chain lengths uniform over 0..task_chain_max; a length whose prompts have run out is
     * skipped, and when every length has, the random examples stay */
    int misses = 0;
    while (!st && fresh.count < k && misses < 50) {
        int chain = (int)rng_below(&rng, (uint64_t)task_chain_max(task) + 1);
        bool found;
        st = draw_carry(&fresh, &seen, task, &rng, chain, 50, &b, &found);
        misses = found ? 0 : misses + 1;
    }
    draw_buffers_free(&b);
    free(seen.slots);
    if (st) {
        examples_free(&fresh);
        return st;
    }
    /* the new examples take the places of the last random ones */
    for (int i = 0; i < fresh.count; i++) {
        example *e = &train->items[keep + i];
        free(e->prompt);
        free(e->answer);
        *e = fresh.items[i];
    }
    free(fresh.items);
    return ARITH_OK;
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

/* Checks one row: the rules every task shares (src ends with '=' unless the task's style has
 * none; neither field empty), then the task's own (NULL: the plain rules of dataset_load_csv). */
static arith_status check_row(const char *path, int line, const char *p, const char *a,
                              const task_config *task)
{
    size_t plen = strlen(p);
    bool needs_equals = !task || task->style != STYLE_SPACED;
    if (needs_equals && (plen == 0 || p[plen - 1] != '='))
        return arith_error(ARITH_ERR_FORMAT, "%s:%d: src \"%s\" must end with '='", path, line,
                           p);
    if (plen == 0)
        return arith_error(ARITH_ERR_FORMAT, "%s:%d: src is empty", path, line);
    if (a[0] == '\0')
        return arith_error(ARITH_ERR_FORMAT, "%s:%d: tgt is empty", path, line);
    if (!task || !task->def->check_row)
        return ARITH_OK;
    arith_status st = task->def->check_row(task, p, a);
    return st ? arith_error_wrap(st, "%s:%d: ", path, line) : ARITH_OK;
}

static arith_status load_csv(example_set *set, const char *path, const task_config *task)
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
        char with_equals[4096];
        size_t plen = strlen(p);
        if (task && task->def->csv_equals_optional && (plen == 0 || p[plen - 1] != '=')) {
            /* files of prefix pairs need not carry the separator */
            const char *equals = task->def->equals;
            if (plen + strlen(equals) + 1 > sizeof with_equals) {
                st = arith_error(ARITH_ERR_FORMAT, "%s:%d: src is too long (%zu characters)",
                                 path, row->line, plen);
                break;
            }
            memcpy(with_equals, p, plen);
            memcpy(with_equals + plen, equals, strlen(equals) + 1);
            p = with_equals;
        }
        st = check_row(path, row->line, p, a, task);
        if (st == ARITH_OK)
            st = examples_push(set, p, a);
    }
    if (st == ARITH_OK && table.nrows == 0)
        st = arith_error(ARITH_ERR_FORMAT, "%s: no data rows", path);
    csv_free(&table);
    return st;
}

arith_status dataset_load_csv(example_set *set, const char *path)
{
    return load_csv(set, path, NULL);
}

arith_status dataset_load_csv_as(example_set *set, const char *path, const task_config *task)
{
    arith_status st = task_check(task);
    if (st)
        return arith_error_wrap(st, "dataset_load_csv_as: ");
    return load_csv(set, path, task);
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
