/* cerebro remove, info and rebuild: looking after an index. */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cerebro_cli.h"

const char cli_help_remove[] =
    "usage: cerebro remove [OPTIONS] PATH...\n"
    "       cerebro remove [OPTIONS] --id N...\n"
    "\n"
    "Drops files (every frame of a video) or single items from the index, all\n"
    "of them in one step. The files themselves are not touched. To drop a whole\n"
    "folder, index its parent again after deleting it, or name its files.\n"
    "\n"
    "options:\n"
    "  --id N         an item id as search prints it (repeatable)\n" CLI_COMMON_HELP
    "\n"
    "exit status: 0 when everything named was removed, 1 when something was\n"
    "not in the index, 2 usage error.\n";

const char cli_help_info[] =
    "usage: cerebro info [OPTIONS]\n"
    "\n"
    "Shows the index's model, how many vectors and files it holds (and how many\n"
    "files failed), its search structure, the memory that structure takes, the\n"
    "size of the index directory on disk and the structure's measured recall@10\n"
    "against exact search. An approximate structure shows the search parameter\n"
    "the store tuned to reach its recall target (e.g. IVF512,Flat|nprobe=37).\n"
    "\n"
    "options:\n"
    "  --json         one JSON object instead of text\n" CLI_COMMON_HELP;

const char cli_help_rebuild[] =
    "usage: cerebro rebuild [OPTIONS]\n"
    "\n"
    "Rebuilds the search structure from the stored vectors (nothing is encoded\n"
    "again). With --factory the structure is the FAISS factory string given\n"
    "(e.g. Flat, HNSW32, IVF1024,PQ32); without, libcerebro chooses one from\n"
    "the collection's size again. A structure already in use is kept as it is.\n"
    "Approximate structures get their search parameter (IVF nprobe, HNSW\n"
    "efSearch) tuned to the store's recall@10 target whenever they are built,\n"
    "unless the factory string names it (IVF1024,Flat|nprobe=16); --recall-target\n"
    "sets a new target (kept by the store; 0.95 for a new one) and retunes.\n"
    "Prints the result as info does.\n"
    "\n"
    "options:\n"
    "  --factory STR  FAISS index factory string\n"
    "  --recall-target R  recall@10 to tune for, in (0, 1]\n" CLI_COMMON_HELP;

/* ---- remove -------------------------------------------------------------- */

/* Everything named in one committed step (one rewrite of the search
 * structure, however many files); folders are refused, each absent path or
 * id is reported. */
static int remove_all(cli *c, char **paths, int n_paths, const int64_t *ids, size_t n_ids)
{
    const char **files = malloc(((size_t)n_paths + 1) * sizeof *files);
    cerebro_status *statuses = malloc(((size_t)n_paths + n_ids + 1) * sizeof *statuses);
    size_t n_files = 0;
    int rc = CLI_OK;
    struct stat st;

    if (!files || !statuses) {
        free(files);
        free(statuses);
        return cli_error(c, "out of memory");
    }
    for (int i = 0; i < n_paths; i++) {
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            rc = cli_error(c, "%s is a folder: remove takes files (see cerebro remove --help)", paths[i]);
        else
            files[n_files++] = paths[i];
    }
    if (n_files + n_ids > 0) {
        cerebro_status s = cerebro_index_remove_many(c->index, files, n_files, ids, n_ids, statuses, NULL);
        if (s != CEREBRO_OK && s != CEREBRO_E_NOT_FOUND) {
            rc = cli_error(c, "%s", cerebro_last_error());
        } else {
            for (size_t i = 0; i < n_files + n_ids; i++) {
                int found = statuses[i] == CEREBRO_OK;
                if (i < n_files && found)
                    printf("removed %s\n", files[i]);
                else if (i < n_files)
                    rc = cli_error(c, "%s: not in the index", files[i]);
                else if (found)
                    printf("removed item %lld\n", (long long)ids[i - n_files]);
                else
                    rc = cli_error(c, "item %lld: not in the index", (long long)ids[i - n_files]);
            }
        }
    }
    free(files);
    free(statuses);
    return rc;
}

int cli_remove(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_OPTIONS, {"id", required_argument, NULL, OPT_ID},
                                              {NULL, 0, NULL, 0}};
    int64_t *ids = malloc((size_t)argc * sizeof *ids);
    size_t n_ids = 0;
    uint64_t id;
    int opt, rc = CLI_CONTINUE;

    if (!ids)
        return cli_error(c, "out of memory");
    while (rc == CLI_CONTINUE && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt != OPT_ID)
            rc = cli_common_option(c, opt, optarg);
        else if (cli_parse_u64(optarg, 0, INT64_MAX, &id) != 0)
            rc = cli_usage(c, "--id takes an item id as search prints it, not '%s'", optarg);
        else
            ids[n_ids++] = (int64_t)id;
    }
    if (rc == CLI_CONTINUE && optind >= argc && n_ids == 0)
        rc = cli_usage(c, "which files? e.g. cerebro remove photos/blurry.jpg");
    if (rc == CLI_CONTINUE && (rc = cli_open(c, 0, NULL)) == CLI_OK)
        rc = remove_all(c, argv + optind, argc - optind, ids, n_ids);
    free(ids);
    return rc;
}

/* ---- info ---------------------------------------------------------------- */

/* Bytes the folder's files take on disk (allocated blocks, like du). */
static uint64_t disk_usage(const char *dir, int depth)
{
    struct dirent *e;
    struct stat st;
    uint64_t total = 0;
    DIR *d = depth < 16 ? opendir(dir) : NULL;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char *p;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!(p = malloc(strlen(dir) + strlen(e->d_name) + 2)))
            break;
        sprintf(p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0) {
            total += (uint64_t)st.st_blocks * 512;
            if (S_ISDIR(st.st_mode))
                total += disk_usage(p, depth + 1);
        }
        free(p);
    }
    closedir(d);
    return total;
}

static void print_info_json(const cli *c, const char *dir, const cerebro_index_stats *s, uint64_t disk)
{
    fputs("{\"db\": ", stdout);
    cli_json_string(stdout, dir);
    fputs(", \"model\": ", stdout);
    cli_json_string(stdout, cerebro_model_name(c->model));
    fputs(", \"model_id\": ", stdout);
    cli_json_string(stdout, s->model_id);
    fputs(", \"model_path\": ", stdout);
    cli_json_string(stdout, c->model_path);
    printf(", \"dim\": %u, \"vectors\": %llu, \"files\": %llu, \"failed\": %llu, \"structure\": ", s->dim,
           (unsigned long long)s->count, (unsigned long long)s->files, (unsigned long long)s->failed);
    cli_json_string(stdout, s->structure);
    printf(", \"memory_bytes\": %llu, \"disk_bytes\": %llu, \"recall_at_10\": ",
           (unsigned long long)s->memory_bytes, (unsigned long long)disk);
    if (s->recall_at_10 >= 0)
        printf("%.4f}\n", s->recall_at_10);
    else
        fputs("null}\n", stdout);
}

static void print_info_text(const cli *c, const char *dir, const cerebro_index_stats *s, uint64_t disk)
{
    char mem[32], size[32];

    printf("index      %s\n", dir);
    printf("model      %s (id %.12s, %u dimensions)\n", cerebro_model_name(c->model), s->model_id, s->dim);
    printf("model file %s\n", c->model_path);
    printf("vectors    %llu\n", (unsigned long long)s->count);
    printf("files      %llu indexed, %llu failed\n", (unsigned long long)s->files,
           (unsigned long long)s->failed);
    printf("structure  %s\n", s->structure);
    printf("memory     %s\n", cli_human_bytes(s->memory_bytes, mem, sizeof mem));
    printf("on disk    %s\n", cli_human_bytes(disk, size, sizeof size));
    if (s->recall_at_10 < 0)
        printf("recall@10  not measured yet\n");
    else
        printf("recall@10  %.3f\n", s->recall_at_10);
}

static int show_info(const cli *c, int json)
{
    cerebro_index_stats s;
    char dir[PATH_MAX];

    if (cerebro_index_stats_get(c->index, &s) != CEREBRO_OK)
        return cli_error(c, "%s", cerebro_last_error());
    if (!realpath(c->db, dir))
        snprintf(dir, sizeof dir, "%s", c->db);
    if (json)
        print_info_json(c, dir, &s, disk_usage(c->db, 0));
    else
        print_info_text(c, dir, &s, disk_usage(c->db, 0));
    return CLI_OK;
}

int cli_info(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_OPTIONS, {"json", no_argument, NULL, OPT_JSON},
                                              {NULL, 0, NULL, 0}};
    int opt, json = 0, rc;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_JSON)
            json = 1;
        else if ((rc = cli_common_option(c, opt, optarg)) != CLI_CONTINUE)
            return rc;
    }
    if (optind < argc)
        return cli_usage(c, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_open(c, CEREBRO_INDEX_READONLY, NULL)) != CLI_OK)
        return rc;
    return show_info(c, json);
}

/* ---- rebuild ------------------------------------------------------------- */

int cli_rebuild(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_OPTIONS,
                                              {"factory", required_argument, NULL, OPT_FACTORY},
                                              {"recall-target", required_argument, NULL, OPT_RECALL_TARGET},
                                              {NULL, 0, NULL, 0}};
    const char *factory = ""; /* "": back to the automatic choice */
    char *end;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_FACTORY) {
            factory = optarg;
        } else if (opt == OPT_RECALL_TARGET) {
            c->recall_target = strtod(optarg, &end);
            if (end == optarg || *end || !(c->recall_target > 0 && c->recall_target <= 1))
                return cli_usage(c, "--recall-target: '%s' is not a number in (0, 1]", optarg);
        } else if ((rc = cli_common_option(c, opt, optarg)) != CLI_CONTINUE)
            return rc;
    }
    if (optind < argc)
        return cli_usage(c, "unexpected argument '%s'", argv[optind]);
    /* Opening with a different factory string rebuilds the structure. */
    if ((rc = cli_open(c, 0, factory)) != CLI_OK)
        return rc;
    return show_info(c, 0);
}
