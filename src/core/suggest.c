/* Suggestions for mistyped names: which command, flag, config key or choice a user most likely
 * meant. One function behind every "did you mean" of the command line and the option parser. */
#include "core/core.h"

#include <ctype.h>
#include <string.h>

/* A character as names compare: lower case, '_' as '-' (--batch_size, --Batch). */
static int fold(char c)
{
    return c == '_' ? '-' : tolower((unsigned char)c);
}

int suggest_distance(const char *a, const char *b)
{
    enum { MAX = 63 };
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > MAX || lb > MAX)
        return MAX + 1;
    /* optimal string alignment: Levenshtein plus a swap of two neighbours, over three rows */
    int rows[3][MAX + 2];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int same = fold(a[i - 1]) == fold(b[j - 1]);
            int best = prev[j - 1] + !same;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
                fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* Whether `name` starts with `prefix`, folded. */
static bool starts_with(const char *name, const char *prefix)
{
    for (; *prefix; prefix++, name++)
        if (!*name || fold(*name) != fold(*prefix))
            return false;
    return true;
}

/* Whether `word` is one of the '-'- or '_'-separated words of `typed` ("batch" in
 * "batch-size", "layers" in "num_layers"), folded. */
static bool has_word(const char *typed, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = typed; *p; p++) {
        if (p != typed && fold(p[-1]) != '-')
            continue;
        if (strlen(p) >= n && starts_with(p, word) && (p[n] == '\0' || fold(p[n]) == '-'))
            return true;
    }
    return false;
}

/* Appends i to out (at most max) unless it is there. */
static void keep(int *out, int *count, int max, int i)
{
    for (int k = 0; k < *count; k++)
        if (out[k] == i)
            return;
    if (*count < max)
        out[(*count)++] = i;
}

int suggest_names(const char *typed, const char *const *names, int n, int *out, int max_out)
{
    int count = 0, len = (int)strlen(typed);
    if (len == 0 || max_out < 1)
        return 0;
    /* the same name but for case and '_' */
    for (int i = 0; i < n; i++)
        if (suggest_distance(typed, names[i]) == 0)
            keep(out, &count, max_out, i);
    if (count)
        return count;
    /* the nearest by edit distance, when one or two edits away and not all of a short word */
    int best = 3;
    for (int i = 0; i < n; i++) {
        int d = suggest_distance(typed, names[i]);
        if (d < best && d < len)
            best = d;
    }
    for (int i = 0; i < n && best == 1; i++)
        if (suggest_distance(typed, names[i]) == 1)
            keep(out, &count, max_out, i);
    if (count)
        return count;
    /* names that start with what was typed (--lay: --layers; --eval: each --eval-*) */
    for (int i = 0; i < n && len >= 2; i++)
        if (starts_with(names[i], typed))
            keep(out, &count, max_out, i);
    if (count)
        return count;
    for (int i = 0; i < n && best == 2; i++)
        if (suggest_distance(typed, names[i]) == 2)
            keep(out, &count, max_out, i);
    if (count)
        return count;
    /* a name that is a word of what was typed (--batch-size: --batch; --num-layers: --layers),
     * the longest first */
    int longest = 0;
    for (int i = 0; i < n; i++)
        if (has_word(typed, names[i]) && (int)strlen(names[i]) > longest)
            longest = (int)strlen(names[i]);
    for (int i = 0; i < n && longest >= 2; i++)
        if ((int)strlen(names[i]) == longest && has_word(typed, names[i]))
            keep(out, &count, max_out, i);
    return count;
}
