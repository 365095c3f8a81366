/* cerebro.db: schema, SQLite helpers, metadata and the reader pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "index/store.h"

/* files: one row per file seen (failed ones too, with their error).
 * items: one vector per image or video frame; its id is what the ANN and
 * search results carry, never reused (AUTOINCREMENT). */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS files("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  path TEXT NOT NULL UNIQUE,"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  hash BLOB,"
    "  kind INTEGER NOT NULL DEFAULT 0,"
    "  width INTEGER NOT NULL DEFAULT 0,"
    "  height INTEGER NOT NULL DEFAULT 0,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT,"
    "  indexed_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS files_size ON files(size);"
    "CREATE TABLE IF NOT EXISTS items("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,"
    "  timestamp REAL NOT NULL DEFAULT -1,"
    "  vector BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS items_file ON items(file_id);";

/* A full disk or a failed read/write/fsync of the database, its WAL or its
 * shared-memory file: E_IO naming the database file and the system's
 * reason ("No space left on device"), not SQLite's bare "database or disk
 * is full" under the name of whatever was being stored. */
static cerebro_status io_fail(sqlite3 *db, int code, const char *what)
{
    const char *file = sqlite3_db_filename(db, "main");
    int err = (code & 0xff) == SQLITE_FULL ? ENOSPC : sqlite3_system_errno(db);
    return cb_fail(CEREBRO_E_IO, "%s: %s (SQLite: %s; at %s)", file && *file ? file : "cerebro.db",
                   err ? strerror(err) : "input/output error", sqlite3_errmsg(db), what);
}

cerebro_status cb_sql_fail(sqlite3 *db, const char *what)
{
    int code = sqlite3_extended_errcode(db);
    cerebro_status st = CEREBRO_E_STORE;
    if (code == SQLITE_NOMEM)
        st = CEREBRO_E_NOMEM;
    else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
        st = CEREBRO_E_CORRUPT;
    else if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR)
        return io_fail(db, code, what);
    return cb_fail(st, "%s: %s", what, sqlite3_errmsg(db));
}

void cb_sql_rollback(sqlite3 *db)
{
    /* SQLite may already have rolled back by itself (SQLITE_FULL, some
     * I/O errors); a ROLLBACK then fails with "no transaction is active",
     * a message that must not replace the one that says what went wrong. */
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

cerebro_status cb_sql_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        cerebro_status st = cb_sql_fail(db, "store");
        sqlite3_free(err);
        return st;
    }
    return CEREBRO_OK;
}

cerebro_status cb_sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return cb_sql_fail(db, "store");
    return CEREBRO_OK;
}

cerebro_status cb_store_open_db(const char *dir, int readonly, int create, sqlite3 **out)
{
    char *path;
    sqlite3 *db = NULL;
    cerebro_status st;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;

    *out = NULL;
    if (!(path = malloc(strlen(dir) + sizeof "/cerebro.db")))
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    sprintf(path, "%s/cerebro.db", dir);
    if (create && !readonly)
        flags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        st = cb_fail(db && !create ? CEREBRO_E_NOT_FOUND : CEREBRO_E_STORE, "%s: %s", path,
                     db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        free(path);
        return st;
    }
    free(path);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    st = cb_sql_exec(db, "PRAGMA foreign_keys=ON;");
    if (st == CEREBRO_OK && !readonly)
        st = cb_sql_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    if (st == CEREBRO_OK && !readonly)
        st = cb_sql_exec(db, schema);
    if (st != CEREBRO_OK) {
        if (st != CEREBRO_E_IO) /* an I/O error names the database file already */
            cb_error_prefix(dir);
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return CEREBRO_OK;
}

cerebro_status cb_meta_get(sqlite3 *db, const char *key, char *buf, size_t cap, int *found)
{
    sqlite3_stmt *q;
    cerebro_status st = cb_sql_prepare(db, "SELECT value FROM meta WHERE key = ?", &q);
    *found = 0;
    if (st != CEREBRO_OK)
        return st;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(q, 0));
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        st = cb_sql_fail(db, "store meta");
    }
    sqlite3_finalize(q);
    return st;
}

cerebro_status cb_meta_set(sqlite3 *db, const char *key, const char *value)
{
    sqlite3_stmt *q;
    cerebro_status st = cb_sql_prepare(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &q);
    if (st != CEREBRO_OK)
        return st;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE)
        st = cb_sql_fail(db, "store meta");
    sqlite3_finalize(q);
    return st;
}

cerebro_status cb_index_reader(cerebro_index *idx, sqlite3 **db)
{
    pthread_mutex_lock(&idx->pool_lock);
    if (idx->pool_n > 0) {
        *db = idx->pool[--idx->pool_n];
        pthread_mutex_unlock(&idx->pool_lock);
        return CEREBRO_OK;
    }
    pthread_mutex_unlock(&idx->pool_lock);
    return cb_store_open_db(idx->dir, 1, 0, db);
}

void cb_index_reader_done(cerebro_index *idx, sqlite3 *db)
{
    pthread_mutex_lock(&idx->pool_lock);
    if (idx->pool_n < CB_READ_POOL) {
        idx->pool[idx->pool_n++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&idx->pool_lock);
    sqlite3_close(db);
}
