/* Option tables: the one parser behind every command's flags, JSON config files, checkpoint
 * metadata and `--help`. A table describes each option once (name, type, field, default,
 * range or choices, help); everything here walks a table, so the same flag gets the same
 * message wherever it is written. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

_Static_assert(sizeof(sym_kind) == sizeof(int) && sizeof(model_kind) == sizeof(int),
               "OPT_CHOICE fields are enums stored as int");

arith_status int_range_parse(int_range *out, const char *text, const char *flag, int min,
                             int max)
{
    long long lo = 0, hi = 0;
    char *end = NULL;
    errno = 0;
    lo = strtoll(text, &end, 10);
    bool ok = errno == 0 && end != text;
    if (ok && strncmp(end, "..", 2) == 0) {
        const char *rest = end + 2;
        hi = strtoll(rest, &end, 10);
        ok = errno == 0 && end != rest;
    } else {
        hi = lo;
    }
    if (!ok || *end != '\0' || lo > hi || lo < 0)
        return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not a length or a range (valid: N or "
                           "A..B with A <= B)", flag, text);
    if (lo < min || hi > max)
        return arith_error(ARITH_ERR_ARG, "--%s: %s is out of range (%d..%d)", flag, text, min,
                           max);
    out->lo = (int)lo;
    out->hi = (int)hi;
    return ARITH_OK;
}

const option_spec *options_find(const option_table *t, const char *name)
{
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->specs[i].name, name) == 0)
            return &t->specs[i];
    return NULL;
}

/* "a,b,c": an OPT_CHOICE option's names, for messages and help. */
static void choices_text(const option_spec *o, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; o->choices(i); i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? "," : "", o->choices(i));
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

/* Whether a and b are the same word but for case. */
static bool same_word(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

int option_bool_word(const option_spec *o, const char *text)
{
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    for (int i = 0; i < 3; i++) {
        if (same_word(text, yes[i]))
            return 1;
        if (same_word(text, no[i]))
            return 0;
    }
    if (o->auto_word && same_word(text, o->auto_word))
        return -1;
    return OPTION_NOT_BOOL;
}

/* "; did you mean X?" (or "X or Y?") for a mistyped name among names[0..n-1] (suggest_names),
 * or ""; each name between `before` and `after` ("--" before a flag, quotes around a key). */
static void did_you_mean(const char *typed, const char *const *names, int n, const char *before,
                         const char *after, char *out, size_t cap)
{
    int near[4];
    int k = suggest_names(typed, names, n, near, 4);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < k && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s%s%s", i == 0 ? "; did you mean "
                         : i == k - 1 ? " or " : ", ", before, names[near[i]], after);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (k && len < cap)
        snprintf(out + len, cap - len, "?");
}

/* did_you_mean over a table's option names. */
static void did_you_mean_option(const option_table *t, const char *typed, const char *before,
                                const char *after, char *out, size_t cap)
{
    const char *names[256];
    int n = 0;
    for (int i = 0; i < t->count && n < 256; i++)
        names[n++] = t->specs[i].name;
    did_you_mean(typed, names, n, before, after, out, cap);
}

arith_status option_set(const option_spec *o, void *settings, const char *value)
{
    char *field = (char *)settings + o->offset;
    char *end = NULL;
    switch (o->type) {
    case OPT_CHOICE:
        for (int i = 0; o->choices(i); i++) {
            if (strcmp(o->choices(i), value) == 0) {
                *(int *)field = i;
                return ARITH_OK;
            }
        }
        char valid[512], near[256];
        choices_text(o, valid, sizeof valid);
        const char *names[256];
        int n = 0;
        while (n < 256 && (names[n] = o->choices(n)) != NULL)
            n++;
        did_you_mean(value, names, n, "", "", near, sizeof near);
        return arith_error(ARITH_ERR_ARG, "--%s: unknown value '%s' (valid: %s)%s", o->name,
                           value, valid, near);
    case OPT_STRING:
        if (strlen(value) >= o->size)
            return arith_error(ARITH_ERR_ARG, "--%s: value too long (at most %zu characters)",
                               o->name, o->size - 1);
        memcpy(field, value, strlen(value) + 1);
        return ARITH_OK;
    case OPT_BOOL: {
        /* a bool, or with auto_word an int: 1, 0, or -1 for the word */
        int v = option_bool_word(o, value);
        if (v == OPTION_NOT_BOOL)
            return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not a boolean (valid: true, false, "
                               "yes, no, 1, 0%s%s)", o->name, value, o->auto_word ? ", " : "",
                               o->auto_word ? o->auto_word : "");
        if (o->auto_word)
            *(int *)field = v;
        else
            *(bool *)field = v == 1;
        return ARITH_OK;
    }
    case OPT_INT: {
        errno = 0;
        if (o->auto_word && strcmp(value, o->auto_word) == 0)
            value = "0";
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0')
            return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not an integer%s%s", o->name, value,
                               o->auto_word ? " or " : "", o->auto_word ? o->auto_word : "");
        if ((double)v < o->min || (double)v > o->max)
            return arith_error(ARITH_ERR_ARG, "--%s: %lld is out of range (%.0f..%.0f)", o->name,
                               v, o->min, o->max);
        if (o->size == sizeof(long long))
            *(long long *)field = v;
        else
            *(int *)field = (int)v;
        return ARITH_OK;
    }
    case OPT_RANGE:
        return int_range_parse((int_range *)field, value, o->name, (int)o->min, (int)o->max);
    case OPT_REAL: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v))
            return arith_error(ARITH_ERR_ARG, "--%s: '%s' is not a number", o->name, value);
        if (v < o->min || v > o->max)
            return arith_error(ARITH_ERR_ARG, "--%s: %g is out of range (%g..%g)", o->name, v,
                               o->min, o->max);
        *(double *)field = v;
        return ARITH_OK;
    }
    }
    return arith_error(ARITH_ERR_ARG, "--%s: bad option type", o->name);
}

arith_status options_set(const option_table *t, void *settings, const char *name,
                         const char *value)
{
    const option_spec *o = options_find(t, name);
    if (!o) {
        char near[256];
        did_you_mean_option(t, name, "--", "", near, sizeof near);
        return arith_error(ARITH_ERR_ARG, "unknown option --%s%s\nhint: arith %s --help lists "
                           "every option", name, near, t->command);
    }
    return option_set(o, settings, value);
}

void options_defaults(const option_table *t, void *settings)
{
    for (int i = 0; i < t->count; i++) {
        const option_spec *o = &t->specs[i];
        memset((char *)settings + o->offset, 0, o->size);
        if (o->default_value && option_set(o, settings, o->default_value) != ARITH_OK)
            abort(); /* a default that does not parse is a bug in the table */
    }
}

/* Line and column (1-based) of json + offset, for messages. */
static void text_place(const char *json, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && json[i]; i++) {
        if (json[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* The offset of the first \u0000 escape inside a string of json, or -1: cJSON would end the
 * string there and keep what precedes it ("add\u0000evil" read as "add"). */
static long nul_escape(const char *json)
{
    bool in_string = false;
    for (size_t i = 0; json[i]; i++) {
        if (!in_string) {
            in_string = json[i] == '"';
            continue;
        }
        if (json[i] == '"') {
            in_string = false;
        } else if (json[i] == '\\' && json[i + 1]) {
            if (json[i + 1] == 'u' && strncmp(json + i + 2, "0000", 4) == 0)
                return (long)i;
            i++;
        }
    }
    return -1;
}

arith_status options_from_json(const option_table *t, void *settings, const char *json,
                               const char *source)
{
    int line, col;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, true);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t offset = at && at >= json ? (size_t)(at - json) : 0;
        text_place(json, offset, &line, &col);
        char near[24];
        size_t n = 0;
        for (; n + 1 < sizeof near && at && at[n] && at[n] != '\n'; n++)
            near[n] = at[n];
        near[n] = '\0';
        return arith_error(ARITH_ERR_FORMAT, "%s:%d:%d: not valid JSON%s%s%s", source, line, col,
                           n ? " (at \"" : "", near, n ? "\")" : "");
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return arith_error(ARITH_ERR_FORMAT, "%s: not a JSON object of options", source);
    }
    long nul = nul_escape(json);
    if (nul >= 0) {
        cJSON_Delete(root);
        text_place(json, (size_t)nul, &line, &col);
        return arith_error(ARITH_ERR_FORMAT, "%s:%d:%d: a string holds \\u0000, which no option "
                           "takes", source, line, col);
    }
    arith_status st = ARITH_OK;
    for (cJSON *item = root->child; item && st == ARITH_OK; item = item->next) {
        for (cJSON *before = root->child; before != item; before = before->next)
            if (strcmp(before->string, item->string) == 0) {
                st = arith_error(ARITH_ERR_FORMAT, "%s: \"%s\" is given twice", source,
                                 item->string);
                break;
            }
        if (st)
            break;
        const option_spec *o = options_find(t, item->string);
        if (!o) {
            char near[256];
            did_you_mean_option(t, item->string, "\"", "\"", near, sizeof near);
            st = arith_error(ARITH_ERR_ARG, "%s: unknown option \"%s\"%s\nhint: the keys are the "
                             "flag names of arith %s --help, without --", source, item->string,
                             near, t->command);
            break;
        }
        char text[64];
        const char *value = text;
        if (cJSON_IsString(item))
            value = item->valuestring;
        else if (cJSON_IsBool(item))
            value = cJSON_IsTrue(item) ? "true" : "false";
        else if (cJSON_IsNumber(item)) {
            if (o->type == OPT_INT || o->type == OPT_RANGE)
                snprintf(text, sizeof text, "%.0f", item->valuedouble);
            else
                snprintf(text, sizeof text, "%.17g", item->valuedouble);
            if ((o->type == OPT_INT || o->type == OPT_RANGE) &&
                item->valuedouble != floor(item->valuedouble)) {
                st = arith_error(ARITH_ERR_ARG, "%s: \"%s\" must be an integer (got %g)", source,
                                 item->string, item->valuedouble);
                break;
            }
        } else {
            st = arith_error(ARITH_ERR_ARG, "%s: \"%s\" must be a string, number or boolean",
                             source, item->string);
            break;
        }
        st = option_set(o, settings, value);
        if (st)
            arith_error_wrap(st, "%s: ", source);
    }
    cJSON_Delete(root);
    return st;
}

void option_format(const option_spec *o, const void *settings, char *out, size_t cap)
{
    const char *field = (const char *)settings + o->offset;
    switch (o->type) {
    case OPT_STRING:
        snprintf(out, cap, "%s", field);
        return;
    case OPT_BOOL:
        if (o->auto_word)
            snprintf(out, cap, "%s", *(const int *)field < 0 ? o->auto_word
                                     : *(const int *)field ? "true" : "false");
        else
            snprintf(out, cap, "%s", *(const bool *)field ? "true" : "false");
        return;
    case OPT_INT: {
        const long long v = o->size == sizeof(long long) ? *(const long long *)field
                                                         : (long long)*(const int *)field;
        if (v == 0 && o->auto_word)
            snprintf(out, cap, "%s", o->auto_word);
        else
            snprintf(out, cap, "%lld", v);
        return;
    }
    case OPT_REAL:
        snprintf(out, cap, "%.17g", *(const double *)field);
        return;
    case OPT_RANGE: {
        const int_range *r = (const int_range *)field;
        if (r->lo == r->hi)
            snprintf(out, cap, "%d", r->lo);
        else
            snprintf(out, cap, "%d..%d", r->lo, r->hi);
        return;
    }
    case OPT_CHOICE: {
        const char *name = o->choices(*(const int *)field);
        snprintf(out, cap, "%s", name ? name : "?");
        return;
    }
    }
    snprintf(out, cap, "?");
}

char *options_to_json(const option_table *t, const void *settings)
{
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; i < t->count; i++) {
        const option_spec *o = &t->specs[i];
        const char *field = (const char *)settings + o->offset;
        char text[TRAIN_PATH_MAX];
        switch (o->type) {
        case OPT_STRING:
        case OPT_CHOICE:
            option_format(o, settings, text, sizeof text);
            cJSON_AddStringToObject(root, o->name, text);
            break;
        case OPT_BOOL:
            if (o->auto_word && *(const int *)field < 0)
                cJSON_AddStringToObject(root, o->name, o->auto_word);
            else if (o->auto_word)
                cJSON_AddBoolToObject(root, o->name, *(const int *)field != 0);
            else
                cJSON_AddBoolToObject(root, o->name, *(const bool *)field);
            break;
        case OPT_INT: {
            const double v = o->size == sizeof(long long) ? (double)*(const long long *)field
                                                          : (double)*(const int *)field;
            if (v == 0 && o->auto_word)
                cJSON_AddStringToObject(root, o->name, o->auto_word);
            else
                cJSON_AddNumberToObject(root, o->name, v);
            break;
        }
        case OPT_REAL:
            cJSON_AddNumberToObject(root, o->name, *(const double *)field);
            break;
        case OPT_RANGE: {
            /* a single length stays a number, as configs have always written it */
            const int_range *r = (const int_range *)field;
            if (r->lo == r->hi) {
                cJSON_AddNumberToObject(root, o->name, r->lo);
            } else {
                option_format(o, settings, text, sizeof text);
                cJSON_AddStringToObject(root, o->name, text);
            }
            break;
        }
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

void options_write_wrapped(FILE *out, const char *text, int col, int indent, int width)
{
    while (*text) {
        int room = width - col;
        if (room < 10)
            room = 10;
        /* the most of text that fits: up to a newline, or broken at the last space that fits,
         * else (one long word) after its last comma that fits, else where it must */
        int n = (int)strcspn(text, "\n");
        if (n > room) {
            int cut = room;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0) {
                cut = room;
                while (cut > 0 && text[cut - 1] != ',')
                    cut--;
                if (cut == 0)
                    cut = room;
            }
            n = cut;
        }
        while (n > 0 && text[n - 1] == ' ')
            n--;
        for (int i = 0; i < n; i++)
            fputc(text[i] == OPTIONS_NBSP ? ' ' : text[i], out);
        fputc('\n', out);
        text += n;
        text += strspn(text, " ");
        if (*text == '\n')
            text++;
        if (*text) {
            fprintf(out, "%*s", indent, "");
            col = indent;
        }
    }
}

/* The placeholder --help shows after a flag: the table's, else one for the type (FILE, DIR
 * and the like are the table's to say). */
static const char *option_placeholder(const option_spec *o)
{
    return o->placeholder ? o->placeholder
           : o->type == OPT_BOOL && o->auto_word ? "[BOOL|auto]"
           : o->type == OPT_BOOL   ? "[BOOL]"
           : o->type == OPT_INT    ? "N"
           : o->type == OPT_RANGE  ? "N|A..B"
           : o->type == OPT_REAL   ? "X"
           : o->type == OPT_CHOICE ? "NAME"
                                   : "TEXT";
}

void options_print_help(const option_table *t, FILE *out, int width)
{
    enum { FLAG_WIDTH = 24, DESC_COL = 2 + FLAG_WIDTH + 1, NAME_MAX = 16 };
    const char *group = "";
    for (int i = 0; i < t->count; i++) {
        const option_spec *o = &t->specs[i];
        if (o->group && strcmp(group, o->group) != 0) {
            group = o->group;
            fprintf(out, "\n%s:\n", group);
        }
        const char *placeholder = option_placeholder(o);
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s%s", o->name, placeholder[0] ? " " : "", placeholder);
        /* a flag too long for its column puts its description on the next line */
        if ((int)strlen(flag) > FLAG_WIDTH)
            fprintf(out, "  %s\n%*s", flag, DESC_COL, "");
        else
            fprintf(out, "  %-*s ", FLAG_WIDTH, flag);
        /* help, the choices (unless listed below with their summaries), one default: the
         * table's, unless the help already says it */
        char text[2048];
        snprintf(text, sizeof text, "%s", o->help);
        if (o->type == OPT_CHOICE && !o->summaries) {
            char valid[512];
            choices_text(o, valid, sizeof valid);
            snprintf(text + strlen(text), sizeof text - strlen(text), " {%s}", valid);
        }
        if (o->default_value && !strstr(o->help, "default"))
            snprintf(text + strlen(text), sizeof text - strlen(text), " (default: %s)",
                     o->default_value[0] ? o->default_value : "none");
        for (char *d = text; (d = strstr(d, "(default: ")) != NULL; d++)
            d[9] = OPTIONS_NBSP; /* "(default: X)" on one line, the help's own too */
        options_write_wrapped(out, text, DESC_COL, DESC_COL, width);
        /* the choices' summaries in a column after the longest name (up to NAME_MAX), the
         * names under the help, or nearer the margin when that leaves too little room */
        int name_width = 0;
        for (int k = 0; o->type == OPT_CHOICE && o->summaries && o->choices(k); k++)
            if ((int)strlen(o->choices(k)) > name_width)
                name_width = (int)strlen(o->choices(k));
        if (name_width > NAME_MAX)
            name_width = NAME_MAX;
        int left = width - (DESC_COL + 2 + name_width + 1) >= 40 ? DESC_COL + 2 : 4;
        for (int k = 0; o->type == OPT_CHOICE && o->summaries && o->choices(k); k++) {
            int col = fprintf(out, "%*s%-*s ", left, "", name_width, o->choices(k));
            options_write_wrapped(out, o->summaries(k), col, left + name_width + 1, width);
        }
    }
}
