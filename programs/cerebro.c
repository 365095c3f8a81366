/* cerebro: index a photo collection and search it in plain words.
 *
 *   cerebro index ~/Pictures
 *   cerebro search "a heron fishing at dawn"
 *
 * This file holds main(), the options every subcommand shares, finding the
 * model and opening the index; cerebro_index.c, cerebro_search.c and
 * cerebro_manage.c hold the subcommands. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cerebro_cli.h"

#ifndef CEREBRO_DEFAULT_MODEL
#define CEREBRO_DEFAULT_MODEL "models/default.pt"
#endif

/* Beside the index: the model `cerebro index` used, so later commands
 * reuse it (the store records the model's id, not where it lives). */
#define MODEL_PATH_FILE "model-path"

static const char program_help[] =
    "usage: cerebro [--db DIR] [--model PATH] COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Natural-language search over a photo collection, on this machine.\n"
    "\n"
    "commands:\n"
    "  index DIR...     add folders (and files) to the index; run again to update\n"
    "  search TEXT      images that match a description\n"
    "  similar IMAGE    images that look like IMAGE (or --id N, an indexed item)\n"
    "  remove PATH...   drop files from the index (or --id N)\n"
    "  info             model, counts, index structure and size\n"
    "  rebuild          rebuild the search structure (--factory STR, --recall-target R)\n"
    "  serve [ROOT...]  search from a web browser: an HTTP server and JSON API\n"
    "  help COMMAND     help for one command (same as COMMAND --help)\n"
    "\n"
    "options (accepted before or after the command):\n" CLI_COMMON_HELP
    "  --version      print the program and library versions\n"
    "\n"
    "Paths are printed relative to the current folder when they lie under it,\n"
    "absolute otherwise; --json output always has absolute paths.\n"
    "\n"
    "exit status: 0 success (also when some files could not be indexed),\n"
    "             1 error (nothing could be done: no model, no such folder,\n"
    "               model mismatch, ...), 2 usage error, 130 interrupted.\n";

typedef struct command {
    const char *name;
    cli_command_fn run;
    const char *help;
} command;

static const command commands[] = {
    {"index", cli_index, cli_help_index},       {"search", cli_search, cli_help_search},
    {"similar", cli_similar, cli_help_similar}, {"remove", cli_remove, cli_help_remove},
    {"info", cli_info, cli_help_info},          {"rebuild", cli_rebuild, cli_help_rebuild},
    {"serve", cli_serve, cli_help_serve},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* ---- messages and small helpers ------------------------------------------ */

static void vmessage(const cli *c, const char *fmt, va_list ap)
{
    fprintf(stderr, "cerebro%s%s: ", c && c->command ? " " : "", c && c->command ? c->command : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_error(const cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(c, fmt, ap);
    va_end(ap);
    return CLI_ERROR;
}

int cli_usage(const cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(c, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'cerebro %s%s--help'.\n", c && c->command ? c->command : "",
            c && c->command ? " " : "");
    return CLI_USAGE;
}

void cli_print_help(const char *help, FILE *f)
{
    const char *at;
    cerebro_search_options so;

    cerebro_search_options_init(&so);
    while ((at = strstr(help, CLI_MIN_RELEVANCE_TOKEN))) {
        fwrite(help, 1, (size_t)(at - help), f);
        fprintf(f, "%g", (double)so.min_relevance);
        help = at + strlen(CLI_MIN_RELEVANCE_TOKEN);
    }
    fputs(help, f);
}

int cli_common_option(cli *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_DB: c->db = arg; return CLI_CONTINUE;
    case OPT_MODEL: c->model_arg = arg; return CLI_CONTINUE;
    case OPT_HELP: cli_print_help(c->help, stdout); return CLI_OK;
    default: /* getopt already said what was wrong */
        fprintf(stderr, "Try 'cerebro %s --help'.\n", c->command);
        return CLI_USAGE;
    }
}

const char *cli_display_path(const cli *c, const char *path)
{
    size_t n;

    /* From "/" everything is "under" the current folder: keep it absolute. */
    if (!c->cwd || path[0] != '/' || strcmp(c->cwd, "/") == 0)
        return path;
    n = strlen(c->cwd);
    if (strncmp(path, c->cwd, n) == 0 && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return path;
}

void cli_json_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str, *run = s;

    /* Runs of bytes that need no escape go out in one write: the server
     * writes thousands of these a second. */
    fputc('"', f);
    while (*s) {
        size_t n = cli_utf8_length(s);
        if (n != 0 && *s >= 0x20 && *s != '"' && *s != '\\') {
            s += n;
            continue;
        }
        fwrite(run, 1, (size_t)(s - run), f);
        if (n == 0)
            fputs("\\ufffd", f);
        else if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else
            fprintf(f, "\\u%04x", *s);
        run = ++s;
    }
    fwrite(run, 1, (size_t)(s - run), f);
    fputc('"', f);
}

const char *cli_human_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- finding the model ----------------------------------------------------- */

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (p)
        sprintf(p, "%s/%s", dir, name);
    return p;
}

/* The model path recorded by `cerebro index`, or NULL. */
static char *recorded_model(const char *db)
{
    char line[PATH_MAX + 2], *file = join(db, MODEL_PATH_FILE), *out = NULL;
    FILE *f = file ? fopen(file, "r") : NULL;

    if (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            out = strdup(line);
    }
    if (f)
        fclose(f);
    free(file);
    return out;
}

/* share/cerebro/default.pt beside the bin/ folder holding this program, so
 * an installed tree can move. */
static char *installed_default_model(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;

    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    if (!(slash = strrchr(exe, '/')))
        return NULL;
    *slash = '\0';
    return join(exe, "../share/cerebro/default.pt");
}

/* Chooses the model: --model, the one recorded beside the index,
 * $CEREBRO_MODEL, the bundled default. NULL (error printed) if none. */
static char *choose_model(const cli *c)
{
    const char *env = getenv("CEREBRO_MODEL");
    char *recorded, *installed;

    if (c->model_arg)
        return strdup(c->model_arg);
    if ((recorded = recorded_model(c->db))) {
        if (is_file(recorded))
            return recorded;
        fprintf(stderr, "cerebro: warning: the model recorded in %s/%s, %s, is gone\n", c->db,
                MODEL_PATH_FILE, recorded);
        free(recorded);
    }
    if (env && env[0])
        return strdup(env);
    if ((installed = installed_default_model())) {
        if (is_file(installed))
            return installed;
        free(installed);
    }
    if (is_file(CEREBRO_DEFAULT_MODEL))
        return strdup(CEREBRO_DEFAULT_MODEL);
    cli_error(c, "no model: pass --model PATH or set CEREBRO_MODEL (the bundled default model %s "
                 "is not installed)",
              CEREBRO_DEFAULT_MODEL);
    return NULL;
}

/* Writes DIR/model-path when it does not already name this model. */
static void record_model(const cli *c)
{
    char *file = join(c->db, MODEL_PATH_FILE), *tmp = join(c->db, MODEL_PATH_FILE ".tmp");
    char *old = recorded_model(c->db);
    FILE *f;

    if (file && tmp && !(old && strcmp(old, c->model_path) == 0)) {
        /* The first failure's errno, named with the file it hit: a full disk
         * says so instead of failing silently or with remove()'s errno. */
        const char *failed = NULL;
        int err = 0;
        if (!(f = fopen(tmp, "w"))) {
            failed = tmp, err = errno;
        } else {
            int ok = fprintf(f, "%s\n", c->model_path) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
            if (!ok)
                failed = tmp, err = errno;
            if (fclose(f) != 0 && !failed)
                failed = tmp, err = errno;
            if (!failed && rename(tmp, file) != 0)
                failed = file, err = errno;
            if (failed)
                remove(tmp);
        }
        if (failed)
            fprintf(stderr, "cerebro: warning: cannot write %s: %s\n", failed, strerror(err ? err : EIO));
    }
    free(old);
    free(file);
    free(tmp);
}

int cli_open(cli *c, uint32_t flags, const char *factory)
{
    cerebro_index_options io;
    cerebro_model_options mo;
    char resolved[PATH_MAX];
    char *path = choose_model(c);

    if (!path)
        return CLI_ERROR;
    /* Recorded absolute, so the index works from any folder. */
    if (realpath(path, resolved)) {
        free(path);
        path = strdup(resolved);
    }
    c->model_path = path;
    cerebro_model_options_init(&mo);
    mo.n_threads = c->model_threads;
    if (!path || cerebro_model_open(&c->model, path, &mo) != CEREBRO_OK)
        return cli_error(c, "cannot load the model: %s", cerebro_last_error());
    cerebro_index_options_init(&io);
    io.flags = flags;
    io.factory = factory;
    io.recall_target = c->recall_target;
    if (cerebro_index_open(&c->index, c->db, c->model, &io) != CEREBRO_OK) {
        int missing = !(flags & CEREBRO_INDEX_CREATE) && access(c->db, F_OK) != 0;
        cli_error(c, "%s", cerebro_last_error());
        if (missing)
            fprintf(stderr, "(create an index with 'cerebro index FOLDER', or pass --db DIR)\n");
        return CLI_ERROR;
    }
    if (flags & CEREBRO_INDEX_CREATE)
        record_model(c);
    return CLI_OK;
}

/* ---- main -------------------------------------------------------------------- */

static int run_command(cli *c, const command *cmd, int argc, char **argv)
{
    char name[64];

    c->command = cmd->name;
    c->help = cmd->help;
    /* getopt names argv[0] in its messages: "cerebro search: unrecognized option" */
    snprintf(name, sizeof name, "cerebro %s", cmd->name);
    argv[0] = name;
    optind = 0; /* glibc: restart getopt on a new argument vector */
    return cmd->run(c, argc, argv);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_OPTIONS,
                                              {"version", no_argument, NULL, 'V'},
                                              {NULL, 0, NULL, 0}};
    char cwd[PATH_MAX];
    cli c;
    const command *cmd;
    int opt, rc;

    argv[0] = (char *)"cerebro";
    memset(&c, 0, sizeof c);
    c.help = program_help;
    c.command = NULL;
    c.db = getenv("CEREBRO_DB") && getenv("CEREBRO_DB")[0] ? getenv("CEREBRO_DB") : "./.cerebro";
    /* "+": stop at the command; its own options are parsed by it. */
    while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (opt == 'V') {
            printf("cerebro %s (libcerebro %s)\n", CEREBRO_VERSION_STRING, cerebro_version_string());
            return CLI_OK;
        }
        if (opt == OPT_HELP) {
            fputs(program_help, stdout);
            return CLI_OK;
        }
        if (opt == OPT_DB || opt == OPT_MODEL) {
            cli_common_option(&c, opt, optarg);
            continue;
        }
        fputs("Try 'cerebro --help'.\n", stderr);
        return CLI_USAGE;
    }
    if (optind >= argc) {
        fputs(program_help, stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[optind], "help") == 0) {
        if (optind + 1 >= argc) {
            fputs(program_help, stdout);
            return CLI_OK;
        }
        if (!(cmd = find_command(argv[optind + 1])))
            return cli_usage(&c, "no such command: '%s'", argv[optind + 1]);
        cli_print_help(cmd->help, stdout);
        return CLI_OK;
    }
    if (!(cmd = find_command(argv[optind])))
        return cli_usage(&c, "no such command: '%s'", argv[optind]);
    if (getcwd(cwd, sizeof cwd))
        c.cwd = cwd;
    rc = run_command(&c, cmd, argc - optind, argv + optind);
    cerebro_index_free(c.index);
    cerebro_model_free(c.model);
    free(c.model_path);
    return rc;
}
