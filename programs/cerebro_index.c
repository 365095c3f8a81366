/* cerebro index: add folders to the index with a progress display, a
 * summary, every failed file with its reason, and a clean stop on Ctrl-C. */
#define _XOPEN_SOURCE 700

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cerebro_cli.h"

const char cli_help_index[] =
    "usage: cerebro index [OPTIONS] DIR|FILE...\n"
    "\n"
    "Adds the images (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF, JPEG XL\n"
    "and camera RAW: .dng .cr2 .cr3 .nef .arw .raf .orf .rw2 and the like) and\n"
    "the videos (.mp4 .m4v .mov .mkv .webm .avi) under each folder (recursively)\n"
    "to the index. Names only pick the files to open: the format is told by the\n"
    "bytes, so a misnamed picture is still read. A video is indexed as frames:\n"
    "the first, one at each scene change and at least one every --frame-interval\n"
    "seconds, less near-duplicates; search results show them as clip.mp4 @ 00:01:23.4.\n"
    "Run it again to update: unchanged files are skipped, changed ones encoded\n"
    "again, moved ones followed, and files gone from the folders dropped. A file\n"
    "that cannot be read is listed with its reason and never stops the run.\n"
    "Ctrl-C stops after the current batch, keeping what was indexed (run again\n"
    "to resume); a second Ctrl-C quits at once.\n"
    "\n"
    "options:\n"
    "  --hidden       include hidden files and folders\n"
    "  --follow-symlinks\n"
    "                 follow symbolic links to folders\n"
    "  --no-recurse   do not descend into subfolders\n"
    "  --exclude PAT  leave out files and folders matching PAT (repeatable): a\n"
    "                 name pattern (Screenshots, '*.tmp') at any depth, or with a\n"
    "                 '/' a path below the folder given (2019/raw); what an\n"
    "                 earlier run indexed there is dropped\n"
    "  --exact        decode at full size (reference preprocessing; slower)\n"
    "  --batch N      images per model call, 1..1024 (default 32)\n"
    "  --no-video     skip video files\n"
    "  --frame-interval SEC\n"
    "                 keep a video frame at least every SEC seconds (default 10)\n"
    "  --max-frames N at most N frames per video, spread over its length (default 500)\n"
    "  --scene-threshold X\n"
    "                 scene-change score (0..1] that keeps a frame (default 0.3)\n"
    "  --dedup-threshold X\n"
    "                 drop a frame whose cosine similarity to the last kept one\n"
    "                 is above X, 0..1 (default 0.98)\n"
    "  --time-limit SEC\n"
    "                 stop decoding a video after SEC seconds, keeping the frames\n"
    "                 so far (default 120)\n"
    "  --factory STR  FAISS index structure, e.g. Flat, HNSW32 (default:\n"
    "                 chosen from the collection's size)\n" CLI_COMMON_HELP
    "\n"
    "exit status: 0 when the index is up to date (files that failed are listed),\n"
    "1 when nothing could be indexed, 2 usage error, 130 interrupted.\n";

/* Options of this subcommand only (cerebro_cli.h numbers the shared ones). */
enum { OPT_NO_VIDEO = 512, OPT_FRAME_INTERVAL, OPT_MAX_FRAMES, OPT_SCENE, OPT_DEDUP, OPT_TIME_LIMIT, OPT_EXCLUDE };

/* Seconds between progress lines when stderr is not a terminal. */
#define PLAIN_INTERVAL 5.0
/* Seconds between redraws of the terminal progress bar. */
#define BAR_INTERVAL 0.1
#define BAR_WIDTH 24

typedef struct failure {
    char *path;
    char *message;
} failure;

typedef struct index_run {
    const cli *c;
    int tty;
    double start, last_shown;
    double rate_t0;    /* when encoding began (first callback) */
    uint64_t rate_done0;
    int encoding;      /* the first callback has come */
    uint64_t done, total; /* as last reported */
    int bar_shown;     /* a bar is on the terminal line */
    failure *failed;
    size_t n_failed, cap_failed;
} index_run;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    static const char msg[] =
        "\ncerebro: stopping after the current batch (press Ctrl-C again to quit at once)\n";
    ssize_t written;
    (void)sig;
    interrupted = 1;
    /* SA_RESETHAND has restored the default action for a second Ctrl-C. */
    written = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)written;
}

static void keep_failure(index_run *r, const char *path, const char *message)
{
    if (r->n_failed == r->cap_failed) {
        size_t cap = r->cap_failed ? r->cap_failed * 2 : 16;
        failure *g = realloc(r->failed, cap * sizeof *g);
        if (!g)
            return;
        r->failed = g;
        r->cap_failed = cap;
    }
    r->failed[r->n_failed].path = strdup(path);
    r->failed[r->n_failed].message = strdup(message ? message : "failed");
    if (r->failed[r->n_failed].path && r->failed[r->n_failed].message)
        r->n_failed++;
}

static void format_duration(double s, char *buf, size_t cap)
{
    unsigned long t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

/* "123/456  12.3 files/s  ETA 0:27" for the files encoded since the first
 * callback (unchanged files are counted before it and cost nothing). */
static void progress_text(const index_run *r, const cerebro_progress *p, double now, char *buf,
                          size_t cap)
{
    double elapsed = now - r->rate_t0;
    double rate = elapsed > 0.5 ? (double)(p->done - r->rate_done0) / elapsed : 0;
    char eta[32] = "--:--";

    if (rate > 0 && p->total >= p->done)
        format_duration((double)(p->total - p->done) / rate, eta, sizeof eta);
    snprintf(buf, cap, "%llu/%llu  %.1f files/s  ETA %s", (unsigned long long)p->done,
             (unsigned long long)p->total, rate, eta);
}

static void show_progress(index_run *r, const cerebro_progress *p)
{
    double now = cli_now();
    char text[128], bar[BAR_WIDTH + 1];

    if (!r->encoding) {
        r->encoding = 1;
        r->rate_t0 = now;
        r->rate_done0 = p->done;
    }
    if (r->tty) {
        if (now - r->last_shown < BAR_INTERVAL && p->done < p->total)
            return;
        size_t fill = p->total ? (size_t)(BAR_WIDTH * p->done / p->total) : 0;
        memset(bar, '#', fill);
        memset(bar + fill, '.', BAR_WIDTH - fill);
        bar[BAR_WIDTH] = '\0';
        progress_text(r, p, now, text, sizeof text);
        fprintf(stderr, "\r\033[Kindexing [%s] %s", bar, text);
        fflush(stderr);
        r->bar_shown = 1;
    } else {
        if (now - r->last_shown < PLAIN_INTERVAL)
            return;
        progress_text(r, p, now, text, sizeof text);
        fprintf(stderr, "indexing: %s\n", text);
    }
    r->last_shown = now;
}

static int on_progress(void *user, const cerebro_progress *p)
{
    index_run *r = user;
    r->done = p->done;
    r->total = p->total;
    if (p->path && p->status != CEREBRO_OK)
        keep_failure(r, p->path, p->message);
    show_progress(r, p);
    return interrupted;
}

static void clear_bar(index_run *r)
{
    if (r->bar_shown)
        fputs("\r\033[K", stderr);
    r->bar_shown = 0;
}

/* "photos/a.jpg: truncated JPEG data": messages usually begin with the
 * absolute path; print it once, relative when it can be. */
static void print_failure(const index_run *r, const failure *f)
{
    size_t n = strlen(f->path);
    const char *detail = f->message;

    if (strncmp(detail, f->path, n) == 0 && detail[n] == ':')
        detail += n + 1 + strspn(detail + n + 1, " ");
    printf("  %s: %s\n", cli_display_path(r->c, f->path), detail);
}

static void print_summary(const index_run *r, const cerebro_add_stats *s)
{
    printf("indexed %llu, updated %llu, unchanged %llu, removed %llu, failed %llu in %.1f s",
           (unsigned long long)s->added, (unsigned long long)s->updated,
           (unsigned long long)s->skipped, (unsigned long long)s->removed,
           (unsigned long long)s->failed, cli_now() - r->start);
    if (s->frames)
        printf(" (%llu video frames)", (unsigned long long)s->frames);
    putchar('\n');
    if (r->n_failed)
        printf("failed:\n");
    for (size_t i = 0; i < r->n_failed; i++)
        print_failure(r, &r->failed[i]);
}

/* Refuses a run where no path exists before creating an empty index. */
static int any_path_exists(const cli *c, char **paths, int n)
{
    struct stat st;
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (stat(paths[i], &st) == 0)
            found = 1;
        else
            cli_error(c, "%s: no such file or folder", paths[i]);
    }
    return found;
}

static int run_add(cli *c, index_run *r, const cerebro_add_options *ao, char **paths, int n)
{
    struct sigaction sa, old;
    cerebro_add_stats stats;
    cerebro_status st;
    char error[1024];

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    st = cerebro_index_add(c->index, (const char *const *)paths, (size_t)n, ao, &stats);
    snprintf(error, sizeof error, "%s", cerebro_last_error());
    sigaction(SIGINT, &old, NULL);
    clear_bar(r);
    /* Ctrl-C during the last batch: nothing is left to resume. */
    if (st == CEREBRO_E_CANCELLED && r->done >= r->total && r->total > 0)
        st = CEREBRO_OK;
    if (st == CEREBRO_E_CANCELLED) {
        print_summary(r, &stats);
        fprintf(stderr, "interrupted: %llu files indexed, run again to resume\n",
                (unsigned long long)(stats.added + stats.updated));
        return CLI_INTERRUPTED;
    }
    if (st != CEREBRO_OK) {
        print_summary(r, &stats);
        return cli_error(c, "%s", error);
    }
    print_summary(r, &stats);
    if (stats.failed > 0 && stats.added + stats.updated + stats.skipped + stats.removed == 0)
        return cli_error(c, "no file could be indexed");
    return CLI_OK;
}

int cli_index(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_COMMON_OPTIONS,
                                              {"hidden", no_argument, NULL, OPT_HIDDEN},
                                              {"follow-symlinks", no_argument, NULL, OPT_FOLLOW},
                                              {"no-recurse", no_argument, NULL, OPT_NO_RECURSE},
                                              {"exact", no_argument, NULL, OPT_EXACT},
                                              {"batch", required_argument, NULL, OPT_BATCH},
                                              {"factory", required_argument, NULL, OPT_FACTORY},
                                              {"no-video", no_argument, NULL, OPT_NO_VIDEO},
                                              {"frame-interval", required_argument, NULL, OPT_FRAME_INTERVAL},
                                              {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
                                              {"scene-threshold", required_argument, NULL, OPT_SCENE},
                                              {"dedup-threshold", required_argument, NULL, OPT_DEDUP},
                                              {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
                                              {"exclude", required_argument, NULL, OPT_EXCLUDE},
                                              {NULL, 0, NULL, 0}};
    enum { MAX_EXCLUDE = 256 };
    const char *exclude[MAX_EXCLUDE];
    cerebro_add_options ao;
    const char *factory = NULL;
    index_run r;
    uint64_t batch;
    double x;
    int opt, rc;

    cerebro_add_options_init(&ao);
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HIDDEN: ao.flags |= CEREBRO_ADD_HIDDEN; break;
        case OPT_FOLLOW: ao.flags |= CEREBRO_ADD_FOLLOW_SYMLINKS; break;
        case OPT_NO_RECURSE: ao.flags |= CEREBRO_ADD_NO_RECURSE; break;
        case OPT_EXACT: ao.mode = CEREBRO_PREPROCESS_EXACT; break;
        case OPT_FACTORY: factory = optarg; break;
        case OPT_BATCH:
            if (cli_parse_u64(optarg, 1, 1024, &batch) != 0)
                return cli_usage(c, "--batch must be a number from 1 to 1024, not '%s'", optarg);
            ao.batch_size = (uint32_t)batch;
            break;
        case OPT_NO_VIDEO: ao.flags |= CEREBRO_ADD_NO_VIDEO; break;
        case OPT_EXCLUDE:
            if (!optarg[0] || strlen(optarg) >= 1024)
                return cli_usage(c, "--exclude takes a pattern of 1 to 1023 bytes");
            if (ao.n_exclude == MAX_EXCLUDE)
                return cli_usage(c, "at most %d --exclude patterns", MAX_EXCLUDE);
            exclude[ao.n_exclude++] = optarg;
            ao.exclude = exclude;
            break;
        case OPT_FRAME_INTERVAL:
            if (cli_parse_double(optarg, 0.01, 86400, &x) != 0)
                return cli_usage(c, "--frame-interval takes seconds from 0.01 to 86400, not '%s'", optarg);
            ao.frame_interval = x;
            break;
        case OPT_MAX_FRAMES:
            if (cli_parse_u64(optarg, 1, 1000000, &batch) != 0)
                return cli_usage(c, "--max-frames must be a number from 1 to 1000000, not '%s'", optarg);
            ao.max_frames = (uint32_t)batch;
            break;
        case OPT_SCENE:
        case OPT_DEDUP:
            if (cli_parse_double(optarg, 0.0001, 1, &x) != 0)
                return cli_usage(c, "--%s takes a number in (0, 1], not '%s'",
                                 opt == OPT_SCENE ? "scene-threshold" : "dedup-threshold", optarg);
            if (opt == OPT_SCENE)
                ao.scene_threshold = (float)x;
            else
                ao.dedup_threshold = (float)x;
            break;
        case OPT_TIME_LIMIT:
            if (cli_parse_double(optarg, 0.001, 86400, &x) != 0)
                return cli_usage(c, "--time-limit takes seconds from 0.001 to 86400, not '%s'", optarg);
            ao.file_time_limit = x;
            break;
        default:
            if ((rc = cli_common_option(c, opt, optarg)) != CLI_CONTINUE)
                return rc;
        }
    }
    if (optind >= argc)
        return cli_usage(c, "which folders? e.g. cerebro index ~/Pictures");
    if (!any_path_exists(c, argv + optind, argc - optind))
        return CLI_ERROR;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.tty = isatty(STDERR_FILENO);
    r.start = r.last_shown = cli_now();
    if ((rc = cli_open(c, CEREBRO_INDEX_CREATE, factory)) != CLI_OK)
        return rc;
    ao.progress = on_progress;
    ao.user = &r;
    rc = run_add(c, &r, &ao, argv + optind, argc - optind);
    for (size_t i = 0; i < r.n_failed; i++) {
        free(r.failed[i].path);
        free(r.failed[i].message);
    }
    free(r.failed);
    return rc;
}
