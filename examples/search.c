/* cerebro-search: index folders and search them with a sentence, the whole
 * life of a libcerebro application in one file.
 *
 *   cerebro-search MODEL.pt INDEX_DIR "TEXT" [FOLDER...]
 *
 * Opens the model, opens (or creates) the index in INDEX_DIR, adds the
 * folders (incremental: a second run skips unchanged files) while printing
 * progress on stderr, then prints the five best matches for TEXT as
 * "score path", best first. Exit status 0 on success, 1 on an error, 2 on
 * a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cerebro/cerebro.h>

/* Called after each file, and during a long video with partial = 1.
 * Returning non-zero would cancel the run (committing what is done). */
static int on_progress(void *user, const cerebro_progress *p)
{
    (void)user;
    if (p->partial || !p->path)
        return 0;
    if (p->status != CEREBRO_OK)
        fprintf(stderr, "skipped %s: %s\n", p->path, p->message ? p->message : "");
    else
        fprintf(stderr, "[%llu/%llu] %s\n", (unsigned long long)p->done,
                (unsigned long long)p->total, p->path);
    return 0;
}

/* Prints what went wrong: the thread-local detail (it names the file) and
 * the status's name. */
static int fail(const char *doing, cerebro_status status)
{
    fprintf(stderr, "cerebro-search: %s: %s (%s)\n", doing, cerebro_last_error(),
            cerebro_status_string(status));
    return 1;
}

int main(int argc, char **argv)
{
    cerebro_model *model = NULL;
    cerebro_index *index = NULL;
    cerebro_results *hits = NULL;
    cerebro_add_options add = CEREBRO_ADD_OPTIONS_INIT;
    cerebro_search_options search = CEREBRO_SEARCH_OPTIONS_INIT;
    cerebro_add_stats stats;
    cerebro_status st;
    int rc = 1;

    if (argc < 4) {
        fprintf(stderr, "usage: cerebro-search MODEL.pt INDEX_DIR \"TEXT\" [FOLDER...]\n");
        return 2;
    }
    if ((st = cerebro_model_open(&model, argv[1], NULL)) != CEREBRO_OK) {
        rc = fail("opening the model", st);
        goto done;
    }
    /* NULL options: create the index if missing, open it for writing. */
    if ((st = cerebro_index_open(&index, argv[2], model, NULL)) != CEREBRO_OK) {
        rc = fail("opening the index", st);
        goto done;
    }
    if (argc > 4) {
        add.progress = on_progress;
        st = cerebro_index_add(index, (const char *const *)argv + 4, (size_t)(argc - 4), &add,
                               &stats);
        if (st != CEREBRO_OK) {
            rc = fail("indexing", st);
            goto done;
        }
        fprintf(stderr, "indexed %llu, updated %llu, unchanged %llu, failed %llu\n",
                (unsigned long long)stats.added, (unsigned long long)stats.updated,
                (unsigned long long)stats.skipped, (unsigned long long)stats.failed);
    }

    search.k = 5;
    if ((st = cerebro_index_search_text(index, argv[3], &search, &hits)) != CEREBRO_OK) {
        rc = fail("searching", st);
        goto done;
    }
    for (size_t i = 0; i < cerebro_results_count(hits); i++) {
        cerebro_hit hit;
        if (cerebro_results_get(hits, i, &hit) != CEREBRO_OK)
            continue;
        if (hit.kind == CEREBRO_ITEM_VIDEO_FRAME)
            printf("%.3f  %s  @%.1fs\n", hit.score, hit.path, hit.timestamp);
        else
            printf("%.3f  %s\n", hit.score, hit.path);
    }
    rc = 0;

done:
    /* Every free accepts NULL, so one cleanup path serves every failure. */
    cerebro_results_free(hits);
    cerebro_index_free(index);
    cerebro_model_free(model);
    return rc;
}
