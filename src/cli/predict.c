/* arith predict: a saved run answers prompts given as arguments or one per line on stdin,
 * greedily or by beam search. Every line gets its line of output, so answers stay aligned with
 * prompts: a bad prompt gets an error on stderr naming its line and an empty line (or a JSON
 * error object) in its place, and the exit code says at the end whether any failed. From
 * stdin, prompts are answered in chunks of --batch as they arrive: whatever has been read when
 * the input pauses is answered and flushed, so a program can ask one prompt at a time. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char predict_usage[] =
    "usage: arith predict RUN_DIR [PROMPT ...] [--checkpoint best|last] [--batch N] "
    "[--threads N] [--beam K] [--json | --tsv | --logits] [--scratchpad]\n\n"
    "Prints the model's answer to each prompt (e.g. \"12+34=\"; the final '=' may be left out), "
    "one line per prompt. With no prompt, reads one prompt per line from stdin and answers "
    "them as they come (in chunks of --batch when they come faster). Prompts are written "
    "plain, as `arith data` writes them: a run trained on reversed, zero-padded or hinted "
    "digits writes them so itself. A prompt the run cannot read (another task's, another "
    "style's, a character it does not know, too long) gets an error on stderr naming its line "
    "(stdin:3) and an empty line on stdout, so that answers stay in step with prompts; the "
    "exit code is then 1, after every other prompt is answered. A blank line gives a blank "
    "line.\n\n"
    "--tsv prints PROMPT<tab>ANSWER, --json one object per line: {\"prompt\": ..., "
    "\"answer\": ...}, or {\"prompt\": ..., \"error\": ...}. --beam K (K > 1) prints each "
    "prompt's K best answers by beam search, best first, one per line as "
    "ANSWER<tab>LOG-PROBABILITY (then <tab>no-eos when the answer ran to the length limit "
    "without ending) and a blank line after each prompt's answers (--tsv: the prompt first on "
    "each line; --json: \"answers\": [{\"answer\": ..., \"log_prob\": ..., \"eos\": ...}]). "
    "--scratchpad shows a scratchpad run's steps before each answer, or a --carries run's "
    "column carries after it. --logits prints JSON "
    "with the logits of the model reading the prompt and its answer (tools/arith_torch.py's "
    "reference): \"tokens\" and \"positions\" read, and a row of \"logits\" per token from "
    "index \"logits_from\" (seq2seq: its answer positions), or a regression head's "
    "\"value\".\n";

typedef enum { OUT_PLAIN, OUT_TSV, OUT_JSON } out_format;

/* ------------------------------------------------------------------------------ reading */

/* Lines of a file descriptor, read as they arrive (no stdio buffer, so that poll tells whether
 * more is waiting). */
typedef struct {
    int fd;
    char *buf;
    size_t start, len, cap;    /* unread bytes are buf[start, len) */
    bool eof;
} line_reader;

/* The next line (without its newline, malloc'd) into *line: 1; 0 at the end of the input; -1
 * when `wait` is false and no whole line has arrived yet; -2 on a read error (errno set). */
static int reader_next(line_reader *r, char **line, bool wait)
{
    for (;;) {
        char *from = r->buf + r->start;
        char *nl = r->len > r->start ? memchr(from, '\n', r->len - r->start) : NULL;
        if (nl || (r->eof && r->start < r->len)) {
            size_t n = nl ? (size_t)(nl - from) : r->len - r->start;
            *line = malloc(n + 1);
            if (!*line)
                return -2;
            memcpy(*line, from, n);
            (*line)[n] = '\0';
            r->start += n + (nl != NULL);
            return 1;
        }
        if (r->eof)
            return 0;
        struct pollfd p = {r->fd, POLLIN, 0};
        if (!wait && poll(&p, 1, 0) <= 0)
            return -1;
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->len - r->start);
            r->len -= r->start;
            r->start = 0;
        }
        if (r->cap - r->len < 4096) {
            size_t cap = r->cap ? 2 * r->cap : 65536;
            char *grown = realloc(r->buf, cap);
            if (!grown)
                return -2;
            r->buf = grown;
            r->cap = cap;
        }
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -2;
        if (got == 0)
            r->eof = true;
        r->len += (size_t)got;
    }
}

/* ---------------------------------------------------------------------------- answering */

/* One prompt as given, and what became of it. */
typedef struct {
    char *given;               /* the line or argument, as read (malloc'd) */
    long number;               /* its line (stdin) or argument number, from 1 */
    char *prompt;              /* what the model reads: trimmed, the task's ending added
                                  (malloc'd); NULL for a blank line */
    char *error;               /* why it is not answered (malloc'd), or NULL */
    bool bad_format;           /* refused by the task's grammar (a hint follows, once) */
    char **answers;            /* beam of them (malloc'd each) when answered */
    float *scores;
    bool *ended;
} item;

typedef struct {
    session *s;
    const eval_settings *f;
    out_format format;
    const char *source;        /* "stdin" or "argument" */
    bool hinted;               /* the format hint was printed */
    int failed;                /* prompts not answered */
} predictor;

static void item_free(item *it, int beam)
{
    free(it->given);
    free(it->prompt);
    free(it->error);
    for (int k = 0; it->answers && k < beam; k++)
        free(it->answers[k]);
    free(it->answers);
    free(it->scores);
    free(it->ended);
    memset(it, 0, sizeof *it);
}

/* Keeps the library's current message as the item's error. */
static void item_fail(item *it)
{
    it->error = strdup(arith_error_message());
}

/* Checks an item's prompt against the run: the task's grammar and style, the tokenizer, the
 * context. Sets prompt (NULL when blank) or error. */
static void item_prepare(predictor *pr, item *it)
{
    const session *s = pr->s;
    const char *text = it->given + strspn(it->given, " \t\r");
    size_t len = strlen(text);
    while (len > 0 && strchr(" \t\r", text[len - 1]))
        len--;
    if (len == 0)
        return; /* blank: a blank line out */
    /* a prompt may leave out the final '=' (seed 002's spaced prompts have none); prefix
     * expressions take it as a word of its own */
    const char *equals = s->task.def->equals;
    size_t le = strlen(equals);
    bool add = s->task.style == STYLE_PLAIN && text[len - 1] != '=';
    it->prompt = malloc(len + le + 1);
    if (!it->prompt) {
        item_fail(it);
        return;
    }
    memcpy(it->prompt, text, len);
    memcpy(it->prompt + len, add ? equals : "", add ? le + 1 : 1);
    if (task_check_prompt(&s->task, it->prompt) != ARITH_OK) {
        arith_error_wrap(ARITH_ERR_DATA, "\"%.*s\": ", (int)len, text);
        it->bad_format = true;
        item_fail(it);
        return;
    }
    /* any length the tokenizer takes (room to spare: zero-padding and index hints make more
     * tokens than characters), within the model's context */
    int n = 0, room = 8 * (int)strlen(it->prompt) + 64;
    if (room < 4096)
        room = 4096;
    int32_t *ids = malloc((size_t)room * sizeof *ids);
    arith_status st = ids ? tok_encode_prompt(&s->tok, it->prompt, ids, room, &n)
                          : arith_error(ARITH_ERR_MEMORY, "out of memory");
    free(ids);
    if (!st && model_has_context_limit(s->model) && n > s->model->cfg.context)
        st = arith_error(ARITH_ERR_DATA, "a prompt of %d tokens leaves no room in the model's "
                         "context of %d", n, s->model->cfg.context);
    if (st)
        item_fail(it);
}

/* Answers the good prompts of items[0..n) in one call; when that fails, one by one, so that
 * the error lands on the prompt that caused it. */
static arith_status answer_items(predictor *pr, item *items, int n)
{
    const int K = pr->f->beam;
    const char **prompts = malloc(((size_t)n + 1) * sizeof *prompts);
    int *which = malloc(((size_t)n + 1) * sizeof *which);
    char **answers = calloc((size_t)n * K + 1, sizeof *answers);
    float *scores = calloc((size_t)n * K + 1, sizeof *scores);
    bool *ended = calloc((size_t)n * K + 1, sizeof *ended);
    arith_status st = ARITH_OK;
    if (!prompts || !which || !answers || !scores || !ended)
        st = arith_error(ARITH_ERR_MEMORY, "out of memory");
    int m = 0;
    for (int i = 0; !st && i < n; i++)
        if (items[i].prompt && !items[i].error) {
            which[m] = i;
            prompts[m++] = items[i].prompt;
        }
    if (!st && m > 0)
        st = predict_beam(pr->s->model, &pr->s->tok, prompts, m, pr->f->batch, K, answers,
                          scores, ended);
    if (st && m > 1 && st != ARITH_ERR_MEMORY) {
        /* a prompt the checks let through and generation refused: find it */
        for (size_t k = 0; k < (size_t)m * K; k++)
            free(answers[k]);
        for (int j = 0; j < m; j++) {
            item *it = &items[which[j]];
            if (answer_items(pr, it, 1) != ARITH_OK)
                item_fail(it);
        }
        m = 0;
        st = ARITH_OK;
    } else if (st && m == 1) {
        item_fail(&items[which[0]]);
        m = 0;
        st = ARITH_OK;
    }
    for (int j = 0; !st && j < m; j++) {
        item *it = &items[which[j]];
        it->answers = malloc((size_t)K * sizeof *it->answers);
        it->scores = malloc((size_t)K * sizeof *it->scores);
        it->ended = malloc((size_t)K * sizeof *it->ended);
        if (!it->answers || !it->scores || !it->ended) {
            st = arith_error(ARITH_ERR_MEMORY, "out of memory");
            break;
        }
        for (int k = 0; k < K; k++) {
            it->answers[k] = answers[(size_t)j * K + k];
            answers[(size_t)j * K + k] = NULL;
            it->scores[k] = scores[(size_t)j * K + k];
            it->ended[k] = ended[(size_t)j * K + k];
        }
    }
    for (size_t k = 0; answers && k < (size_t)m * K; k++)
        free(answers[k]);
    free(prompts);
    free(which);
    free(answers);
    free(scores);
    free(ended);
    return st;
}

/* The once-per-run hint after a prompt the task's grammar refused: what the run's prompts
 * look like (its first test prompt), and that its digit format is its own to write. */
static void print_format_hint(const predictor *pr)
{
    const session *s = pr->s;
    session_description d;
    session_describe(s, &d);
    /* " (reversed, zero-padded)" -> ", reversed, zero-padded" */
    char format[sizeof d.format] = "";
    if (d.format[0])
        snprintf(format, sizeof format, ", %.*s", (int)strlen(d.format) - 3, d.format + 2);
    fprintf(stderr, "hint: this run (task %s, style %s%s) reads prompts like \"%s\"%s\n",
            s->task.def->name, task_style_name(s->task.style), format,
            s->test.count > 0 ? s->test.items[0].prompt : "",
            format[0] ? "; write them plain: the run writes them in its format itself" : "");
}

/* --logits: the fields of an answered prompt after its answer (generation_logits: the model
 * reading prompt and answer), or an "error" field. Floats as %.9g: exactly the float. */
static void print_logits(const predictor *pr, const item *it)
{
    forced_logits fl;
    if (generation_logits(pr->s->model, &pr->s->tok, it->prompt, &fl)) {
        printf(", \"error\": ");
        cli_json_string(stdout, arith_error_message());
        return;
    }
    printf(", \"tokens\": [");
    for (int i = 0; i < fl.n; i++)
        printf("%s%d", i ? ", " : "", (int)fl.tokens[i]);
    printf("], \"positions\": [");
    for (int i = 0; i < fl.n; i++)
        printf("%s%d", i ? ", " : "", (int)fl.pos[i]);
    printf("]");
    if (pr->s->model->cfg.head == HEAD_REGRESSION) {
        printf(", \"value\": %.9g", fl.value);
    } else {
        printf(", \"logits_from\": %d, \"logits\": [", fl.first);
        for (int r = 0; r < fl.rows; r++) {
            printf("%s[", r ? ", " : "");
            for (int v = 0; v < fl.vocab; v++)
                printf("%s%.9g", v ? ", " : "", fl.logits[(size_t)r * fl.vocab + v]);
            printf("]");
        }
        printf("]");
    }
    forced_logits_free(&fl);
}

/* Prints items[0..n) in order: answers, or the error on stderr and an empty line (a JSON error
 * object) in its place. */
static void print_items(predictor *pr, const item *items, int n)
{
    const int K = pr->f->beam;
    for (int i = 0; i < n; i++) {
        const item *it = &items[i];
        if (it->error) {
            fflush(stdout); /* the error beside the line it is about */
            fprintf(stderr, "arith: error: %s%s%ld: %s\n", pr->source,
                    strcmp(pr->source, "stdin") == 0 ? ":" : " ", it->number, it->error);
            if (it->bad_format && !pr->hinted) {
                print_format_hint(pr);
                pr->hinted = true;
            }
            pr->failed++;
        }
        if (pr->format == OUT_JSON) {
            printf("{\"prompt\": ");
            cli_json_string(stdout, it->given);
            if (it->error) {
                printf(", \"error\": ");
                cli_json_string(stdout, it->error);
            } else if (!it->answers) {
                printf(", \"answer\": null");
            } else if (K == 1) {
                printf(", \"answer\": ");
                cli_json_string(stdout, it->answers[0]);
                if (pr->f->logits)
                    print_logits(pr, it);
            } else {
                printf(", \"answers\": [");
                for (int k = 0, shown = 0; k < K; k++) {
                    if (!(it->scores[k] > -INFINITY))
                        continue; /* fewer hypotheses than beams */
                    printf("%s{\"answer\": ", shown++ ? ", " : "");
                    cli_json_string(stdout, it->answers[k]);
                    printf(", \"log_prob\": %.4f, \"eos\": %s}", it->scores[k],
                           it->ended[k] ? "true" : "false");
                }
                printf("]");
            }
            printf("}\n");
            continue;
        }
        if (K == 1) {
            if (pr->format == OUT_TSV && it->prompt)
                printf("%s\t", it->given);
            printf("%s\n", it->answers ? it->answers[0] : "");
            continue;
        }
        for (int k = 0; it->answers && k < K; k++) {
            if (!(it->scores[k] > -INFINITY))
                continue;
            printf("%s%s%s\t%.4f%s\n", pr->format == OUT_TSV ? it->given : "",
                   pr->format == OUT_TSV ? "\t" : "", it->answers[k], it->scores[k],
                   it->ended[k] ? "" : "\tno-eos");
        }
        printf("\n");
    }
    fflush(stdout);
}

/* Checks, answers and prints items[0..n), then frees them. */
static arith_status predict_chunk(predictor *pr, item *items, int n)
{
    for (int i = 0; i < n; i++)
        item_prepare(pr, &items[i]);
    arith_status st = answer_items(pr, items, n);
    if (!st)
        print_items(pr, items, n);
    for (int i = 0; i < n; i++)
        item_free(&items[i], pr->f->beam);
    return st;
}

/* Answers the lines of stdin as they arrive: a chunk is the lines read until --batch of them or
 * until the input pauses. */
static arith_status predict_stdin(predictor *pr)
{
    const int chunk = pr->f->batch;
    item *items = calloc((size_t)chunk, sizeof *items);
    if (!items)
        return arith_error(ARITH_ERR_MEMORY, "out of memory");
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "arith predict: reading prompts from stdin, one per line (end with "
                "Ctrl-D)\n");
    line_reader r = {.fd = STDIN_FILENO};
    arith_status st = ARITH_OK;
    long line = 0;
    bool done = false;
    while (!st && !done) {
        int n = 0;
        while (n < chunk) {
            char *text = NULL;
            int got = reader_next(&r, &text, n == 0);
            if (got == 1) {
                items[n].given = text;
                items[n++].number = ++line;
                continue;
            }
            if (got == 0)
                done = true;
            if (got == -2)
                st = arith_error(ARITH_ERR_IO, "stdin: cannot read: %s", strerror(errno));
            break;
        }
        arith_status chunk_st = predict_chunk(pr, items, n);
        if (!st)
            st = chunk_st;
    }
    free(r.buf);
    free(items);
    return st;
}

int cli_predict(int argc, char **argv)
{
    const option_table *tables[] = {&cli_predict_table};
    cli_args args;
    bool stop;
    int rc = cli_args_parse(&args, argc, argv, tables, 1, argc, predict_usage, &stop);
    if (stop)
        return rc;
    eval_settings f;
    rc = cli_eval_settings(&f, &args);
    /* the run, then the prompts (pointers into argv) */
    const char *run_dir = NULL;
    const char **given = calloc((size_t)argc + 1, sizeof *given);
    int npos = 0;
    if (!rc && !given)
        rc = cli_fail(arith_error(ARITH_ERR_MEMORY, "out of memory"));
    for (int i = 0; !rc && i < args.count; i++) {
        if (args.items[i].spec)
            continue;
        if (!run_dir)
            run_dir = args.items[i].value;
        else
            given[npos++] = args.items[i].value;
    }
    cli_args_free(&args);
    if (!rc && !run_dir)
        rc = cli_usage_error("usage: arith predict RUN_DIR [PROMPT ...] (see arith predict "
                             "--help)");
    if (!rc && f.json && f.tsv)
        rc = cli_usage_error("--json and --tsv are two ways to print; give one");
    if (!rc && f.logits && (f.json || f.tsv))
        rc = cli_usage_error("--logits prints JSON of its own; it does not combine with %s",
                             f.json ? "--json" : "--tsv");
    if (!rc && f.logits && f.beam > 1)
        rc = cli_usage_error("--logits reads the greedy answer back; it does not combine with "
                             "--beam %d", f.beam);
    if (rc) {
        free(given);
        return rc;
    }
    session s;
    arith_status st = session_load_run(&s, run_dir, f.checkpoint, !f.no_verify);
    if (!st) {
        core_set_threads(f.threads);
        st = beam_check(s.model, f.beam);
    }
    if (!st && f.scratchpad && !s.tok.scratchpad && !s.tok.carries)
        st = arith_error(ARITH_ERR_ARG, "--scratchpad: %s was trained without a scratchpad or "
                         "carries, so its answers have no steps to show", run_dir);
    s.tok.show_steps = f.scratchpad;
    if (st) {
        free(given);
        session_close(&s);
        return cli_fail(st);
    }
    predictor pr = {&s, &f, f.json || f.logits ? OUT_JSON : f.tsv ? OUT_TSV : OUT_PLAIN,
                    npos > 0 ? "argument" : "stdin", false, 0};
    if (npos > 0) {
        /* the arguments, --batch at a time */
        for (int at = 0; at < npos && !st; at += f.batch) {
            int n = npos - at < f.batch ? npos - at : f.batch;
            item *items = calloc((size_t)n, sizeof *items);
            if (!items) {
                st = arith_error(ARITH_ERR_MEMORY, "out of memory");
                break;
            }
            for (int i = 0; i < n; i++) {
                items[i].given = strdup(given[at + i]);
                items[i].number = at + i + 1;
            }
            st = predict_chunk(&pr, items, n);
            free(items);
        }
    } else {
        st = predict_stdin(&pr);
    }
    free(given);
    session_close(&s);
    if (st)
        return cli_fail(st);
    return pr.failed ? EXIT_RUNTIME : 0;
}
