/* The `cerebro` command line program: what its subcommands share. Each
 * cerebro_*.c file holds one group of subcommands; cerebro.c holds main(),
 * option handling, finding the model and opening the index; cli_text.c the
 * parsing helpers that need nothing else (the HTTP fuzzer links it alone). */
#ifndef CEREBRO_CLI_H
#define CEREBRO_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <cerebro/cerebro.h>

/* Exit statuses (documented in `cerebro --help`). */
enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };
/* Not an exit status: "option handled, go on parsing". */
#define CLI_CONTINUE (-1)

/* Option codes shared by every subcommand (long options only). */
enum { OPT_DB = 256, OPT_MODEL, OPT_HELP, OPT_JSON, OPT_PREFIX, OPT_ID, OPT_FACTORY, OPT_HIDDEN,
       OPT_FOLLOW, OPT_NO_RECURSE, OPT_EXACT, OPT_BATCH, OPT_RECALL_TARGET, OPT_MIN_RELEVANCE };

/* The largest minimum relevance the CLI and the server take: far above any
 * hit's (a store's own vector stands about sqrt(dim) above the rest). */
#define CLI_MAX_MIN_RELEVANCE 100.0

/* Help texts write the library's default minimum relevance as this token;
 * cli_print_help() puts the number in its place. */
#define CLI_MIN_RELEVANCE_TOKEN "@MIN_RELEVANCE@"
void cli_print_help(const char *help, FILE *f);

#define CLI_COMMON_OPTIONS                                                                  \
    {"db", required_argument, NULL, OPT_DB}, {"model", required_argument, NULL, OPT_MODEL}, \
        {"help", no_argument, NULL, OPT_HELP}

#define CLI_COMMON_HELP                                                                     \
    "  --db DIR       index directory (default: $CEREBRO_DB, else ./.cerebro)\n"            \
    "  --model PATH   model bundle (default: the one recorded in DIR/model-path,\n"         \
    "                 else $CEREBRO_MODEL, else the bundled default model)\n"               \
    "  --help         show this help\n"

/* The state of one run: which index and model, opened on demand. */
typedef struct cli {
    const char *command; /* subcommand name, for messages */
    const char *help;    /* its --help text */
    const char *db;
    const char *model_arg;
    char *model_path; /* the model actually loaded (absolute) */
    cerebro_model *model;
    cerebro_index *index;
    const char *cwd; /* for printing paths relative to it (NULL: unknown) */
    uint32_t model_threads; /* intra-op threads of the model (0: online CPUs) */
    double recall_target;   /* cerebro_index_options.recall_target (0: the store's) */
} cli;

typedef int (*cli_command_fn)(cli *c, int argc, char **argv);

int cli_index(cli *c, int argc, char **argv);
int cli_search(cli *c, int argc, char **argv);
int cli_similar(cli *c, int argc, char **argv);
int cli_remove(cli *c, int argc, char **argv);
int cli_info(cli *c, int argc, char **argv);
int cli_rebuild(cli *c, int argc, char **argv);
int cli_serve(cli *c, int argc, char **argv);

extern const char cli_help_index[], cli_help_search[], cli_help_similar[], cli_help_remove[],
    cli_help_info[], cli_help_rebuild[], cli_help_serve[];

/* Handles an option no subcommand handles itself: --db and --model give
 * CLI_CONTINUE; --help prints c->help and gives CLI_OK; anything else
 * (getopt's '?' or ':') gives CLI_USAGE, to exit with. */
int cli_common_option(cli *c, int opt, const char *arg);

/* Loads the model and opens the index with `flags` (CEREBRO_INDEX_*) and
 * the FAISS factory string (NULL: keep the stored one). Errors are printed;
 * returns CLI_OK or CLI_ERROR. */
int cli_open(cli *c, uint32_t flags, const char *factory);

/* `path` relative to the current folder when it lies under it, else as
 * given. Points into `path`. */
const char *cli_display_path(const cli *c, const char *path);

/* "cerebro CMD: message" on stderr; returns CLI_ERROR. */
int cli_error(const cli *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The same plus a hint to --help; returns CLI_USAGE. */
int cli_usage(const cli *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Parses a decimal integer in [lo, hi]; 0 on success. */
int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Parses a decimal number in [lo, hi] (not inf, nan or hex); 0 on success. */
int cli_parse_double(const char *s, double lo, double hi, double *out);

/* Length of the valid UTF-8 sequence at s (NUL-terminated), or 0. */
size_t cli_utf8_length(const unsigned char *s);

/* Writes `s` as a JSON string (invalid UTF-8 bytes become U+FFFD). */
void cli_json_string(FILE *f, const char *s);

/* "1.5 MiB" into buf. */
const char *cli_human_bytes(uint64_t n, char *buf, size_t cap);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
