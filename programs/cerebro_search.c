/* cerebro search and cerebro similar: k nearest images to a description,
 * an image file or an indexed item, as text or JSON lines. */
#define _XOPEN_SOURCE 700

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cerebro_cli.h"

#define MAX_TEXT 1000

#define QUERY_HELP                                                                           \
    "  -k N           number of results, 1..10000 (default 10)\n"                            \
    "  --prefix P     only files whose path starts with P (a folder: files under it)\n"      \
    "  --min-relevance X\n"                                                                  \
    "                 leave out hits less relevant than X (default " CLI_MIN_RELEVANCE_TOKEN \
    ");\n"                                                                                   \
    "                 0 shows every hit. Relevance is how far a hit's score stands\n"        \
    "                 above the query's scores over the whole index, in standard\n"          \
    "                 deviations, adjusted for the index's size so that X means\n"          \
    "                 the same in 50 items as in 100,000; an index of fewer than\n"         \
    "                 50 items has none, and then nothing is left out\n"                    \
    "  --json         one JSON object per line: path (absolute), score, id,\n"               \
    "                 timestamp (seconds into a video; null for still images),\n"            \
    "                 relevance (null without)\n"

const char cli_help_search[] =
    "usage: cerebro search [OPTIONS] TEXT...\n"
    "\n"
    "Lists the indexed images that best match a description, best first, with\n"
    "their cosine similarity to it and their relevance (see --min-relevance):\n"
    "\n"
    "  0.312  photos/heron.jpg  (id 42, relevance 7.3)\n"
    "\n"
    "A video frame shows as clip.mp4 @ 00:01:23.4 (hours:minutes:seconds into\n"
    "the video). Hits less relevant than --min-relevance are left out; when none\n"
    "is left, a line on stderr says so and names the best relevance (exit status\n"
    "0). Words after TEXT are joined with spaces; the text is at most 1000 bytes.\n"
    "\n"
    "options:\n" QUERY_HELP CLI_COMMON_HELP;

const char cli_help_similar[] =
    "usage: cerebro similar [OPTIONS] IMAGE\n"
    "       cerebro similar [OPTIONS] --id N\n"
    "\n"
    "Lists the indexed images that look most like IMAGE (a file in any format\n"
    "cerebro index reads, indexed or not: an indexed one comes first with score\n"
    "1), or like the indexed item N (the id that search prints; the item itself\n"
    "is left out). Lines as cerebro search prints them, with the same cutoff.\n"
    "\n"
    "options:\n"
    "  --id N         an indexed item instead of a file\n" QUERY_HELP CLI_COMMON_HELP;

typedef struct query_options {
    cerebro_search_options so;
    int json;
    char *prefix; /* owned */
} query_options;

/* What to search for: text, an image file, or an indexed item. */
typedef struct query {
    const char *text;
    const char *image;
    int64_t id;
} query;

static cerebro_status run_query(cli *c, const query *qr, const cerebro_search_options *so,
                                cerebro_results **res)
{
    if (qr->text)
        return cerebro_index_search_text(c->index, qr->text, so, res);
    if (qr->image)
        return cerebro_index_search_image_file(c->index, qr->image, so, res);
    return cerebro_index_search_id(c->index, qr->id, so, res);
}

/* A folder given as --prefix means the files under it, not every path
 * that starts with the same letters ("photos" would match "photos-old"). */
static int set_prefix(query_options *q, const char *p)
{
    struct stat st;
    size_t n = strlen(p);

    free(q->prefix);
    q->prefix = malloc(n + 2);
    if (!q->prefix)
        return -1;
    memcpy(q->prefix, p, n + 1);
    if (n > 0 && p[n - 1] != '/' && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        strcpy(q->prefix + n, "/");
    q->so.prefix = q->prefix;
    return 0;
}

/* Handles -k, --prefix, --min-relevance and --json; CLI_CONTINUE or a
 * status to exit with. */
static int query_option(cli *c, query_options *q, int opt, const char *arg)
{
    uint64_t k;
    double min;
    switch (opt) {
    case OPT_MIN_RELEVANCE:
        if (cli_parse_double(arg, 0, CLI_MAX_MIN_RELEVANCE, &min) != 0)
            return cli_usage(c, "--min-relevance must be a number from 0 to %g, not '%s'",
                             CLI_MAX_MIN_RELEVANCE, arg);
        q->so.min_relevance = (float)min;
        return CLI_CONTINUE;
    case 'k':
        if (cli_parse_u64(arg, 1, CEREBRO_MAX_K, &k) != 0)
            return cli_usage(c, "-k must be a number from 1 to %d, not '%s'", CEREBRO_MAX_K, arg);
        q->so.k = (uint32_t)k;
        return CLI_CONTINUE;
    case OPT_PREFIX: return set_prefix(q, arg) == 0 ? CLI_CONTINUE : cli_error(c, "out of memory");
    case OPT_JSON: q->json = 1; return CLI_CONTINUE;
    default: return cli_common_option(c, opt, arg);
    }
}

static void print_hit_json(const cerebro_hit *h, float relevance)
{
    fputs("{\"path\": ", stdout);
    cli_json_string(stdout, h->path);
    printf(", \"score\": %.6f, \"id\": %lld, \"timestamp\": ", (double)h->score, (long long)h->id);
    if (h->timestamp >= 0)
        printf("%.3f", h->timestamp);
    else
        fputs("null", stdout);
    if (isnan(relevance))
        fputs(", \"relevance\": null}\n", stdout);
    else
        printf(", \"relevance\": %.3f}\n", (double)relevance);
}

/* A video frame's time as hours:minutes:seconds.tenths, "00:01:23.4". */
static void print_timestamp(double t)
{
    long tenths = (long)(t * 10 + 0.5);
    printf(" @ %02ld:%02ld:%02ld.%ld", tenths / 36000, tenths / 600 % 60, tenths / 10 % 60, tenths % 10);
}

/* "score  path  (id N, relevance R)"; without a relevance (an index of
 * fewer than 50 items), "score  path  (id N)". */
static void print_hit_text(const cli *c, const cerebro_hit *h, float relevance)
{
    printf("%.3f  %s", (double)h->score, cli_display_path(c, h->path));
    if (h->timestamp >= 0)
        print_timestamp(h->timestamp);
    if (isnan(relevance))
        printf("  (id %lld)\n", (long long)h->id);
    else
        printf("  (id %lld, relevance %.1f)\n", (long long)h->id, (double)relevance);
}

/* Nothing was left: says why on stderr. When the cutoff hid every hit, asks
 * again for the best one without it, to tell how relevant that was. */
static void report_empty(cli *c, const query_options *q, const query *qr)
{
    const char *where = q->so.prefix ? " under that prefix" : "";
    cerebro_search_options all = q->so;
    cerebro_results *best = NULL;
    float rel = NAN;

    all.k = 1;
    all.min_relevance = 0;
    if (q->so.min_relevance > 0 && run_query(c, qr, &all, &best) == CEREBRO_OK)
        rel = cerebro_results_count(best) ? cerebro_results_relevance(best, 0) : NAN;
    cerebro_results_free(best);
    if (isnan(rel))
        fprintf(stderr, "no results%s\n", where);
    else
        fprintf(stderr, "no close match%s (best relevance %.1f < %g; --min-relevance 0 shows all)\n", where,
                (double)rel, (double)q->so.min_relevance);
}

static int print_results(cli *c, const query_options *q, const query *qr, cerebro_results *res)
{
    cerebro_hit h;
    size_t n = cerebro_results_count(res);

    for (size_t i = 0; i < n; i++) {
        if (cerebro_results_get(res, i, &h) != CEREBRO_OK)
            break;
        if (q->json)
            print_hit_json(&h, cerebro_results_relevance(res, i));
        else
            print_hit_text(c, &h, cerebro_results_relevance(res, i));
    }
    cerebro_results_free(res);
    if (n == 0)
        report_empty(c, q, qr);
    return fflush(stdout) == 0 ? CLI_OK : cli_error(c, "cannot write the results");
}

/* The words of the query joined with spaces; NULL (reported) if too long. */
static char *join_text(cli *c, char **words, int n, int *rc)
{
    size_t len = 0;
    char *text;

    for (int i = 0; i < n; i++)
        len += strlen(words[i]) + (i > 0);
    if (len > MAX_TEXT) {
        *rc = cli_usage(c, "the search text is %zu bytes long; the limit is %d", len, MAX_TEXT);
        return NULL;
    }
    if (!(text = malloc(len + 1))) {
        *rc = cli_error(c, "out of memory");
        return NULL;
    }
    text[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strcat(text, " ");
        strcat(text, words[i]);
    }
    if (strspn(text, " \t\n") == len) {
        free(text);
        *rc = cli_usage(c, "the search text is empty");
        return NULL;
    }
    return text;
}

#define QUERY_LONGOPTS                                                                            \
    CLI_COMMON_OPTIONS, {"json", no_argument, NULL, OPT_JSON},                                    \
        {"prefix", required_argument, NULL, OPT_PREFIX}, {"k", required_argument, NULL, 'k'},      \
        {"min-relevance", required_argument, NULL, OPT_MIN_RELEVANCE}

int cli_search(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {QUERY_LONGOPTS, {NULL, 0, NULL, 0}};
    query_options q = {CEREBRO_SEARCH_OPTIONS_INIT, 0, NULL};
    cerebro_results *res = NULL;
    char *text = NULL;
    query qr = {NULL, NULL, 0};
    int opt, rc = CLI_CONTINUE;

    while (rc == CLI_CONTINUE && (opt = getopt_long(argc, argv, "k:", longopts, NULL)) != -1)
        rc = query_option(c, &q, opt, optarg);
    if (rc != CLI_CONTINUE)
        goto done;
    if (optind >= argc) {
        rc = cli_usage(c, "what to search for? e.g. cerebro search \"a red boat\"");
        goto done;
    }
    if (!(text = join_text(c, argv + optind, argc - optind, &rc)))
        goto done;
    if ((rc = cli_open(c, CEREBRO_INDEX_READONLY, NULL)) != CLI_OK)
        goto done;
    qr.text = text;
    if (run_query(c, &qr, &q.so, &res) != CEREBRO_OK)
        rc = cli_error(c, "%s", cerebro_last_error());
    else
        rc = print_results(c, &q, &qr, res);
done:
    free(text);
    free(q.prefix);
    return rc;
}

int cli_similar(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {QUERY_LONGOPTS, {"id", required_argument, NULL, OPT_ID},
                                              {NULL, 0, NULL, 0}};
    query_options q = {CEREBRO_SEARCH_OPTIONS_INIT, 0, NULL};
    cerebro_results *res = NULL;
    cerebro_status st;
    query qr = {NULL, NULL, 0};
    uint64_t id = 0;
    int opt, by_id = 0, rc = CLI_CONTINUE;

    while (rc == CLI_CONTINUE && (opt = getopt_long(argc, argv, "k:", longopts, NULL)) != -1) {
        if (opt != OPT_ID) {
            rc = query_option(c, &q, opt, optarg);
        } else if (cli_parse_u64(optarg, 0, INT64_MAX, &id) != 0) {
            rc = cli_usage(c, "--id takes an item id as search prints it, not '%s'", optarg);
        } else {
            by_id = 1;
        }
    }
    if (rc != CLI_CONTINUE)
        goto done;
    if (by_id == (optind < argc) || argc - optind > 1) {
        rc = cli_usage(c, "give one IMAGE or --id N");
        goto done;
    }
    if ((rc = cli_open(c, CEREBRO_INDEX_READONLY, NULL)) != CLI_OK)
        goto done;
    qr.image = by_id ? NULL : argv[optind];
    qr.id = (int64_t)id;
    st = run_query(c, &qr, &q.so, &res);
    rc = st == CEREBRO_OK ? print_results(c, &q, &qr, res) : cli_error(c, "%s", cerebro_last_error());
done:
    free(q.prefix);
    return rc;
}
