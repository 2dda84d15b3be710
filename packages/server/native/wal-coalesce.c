/*
 * wal-coalesce: a SQLite VFS shim that writes each commit to the WAL with one write call, and
 * paces the checkpoints' writes to the database file (see WRITEBACK_EVERY_BYTES).
 *
 * Why: SQLite appends a commit to the WAL frame by frame, two pwrite() calls per page (a 24-byte
 * frame header, then the page). A Tally batch commits 50-200 pages, so 100-400 system calls per
 * commit, which on a virtual machine cost more than copying the bytes (measured: pwrite was 11% of
 * the server's main thread under the deduct benchmark). This shim keeps a connection's consecutive
 * WAL writes in a buffer and hands them to the real file in one call before SQLite publishes the
 * commit: when the page of the frame that commits has been written (a frame header's bytes 4..7
 * are non-zero only in that frame), so a failure to write still fails the commit.
 *
 * What must hold (everything else is passed through unchanged):
 *  - Nothing buffered is ever visible as committed. SQLite publishes a commit by writing the
 *    wal-index header (shared memory) in two copies with a memory barrier between them, and a
 *    reader accepts a header only when both copies agree; the barrier is a call on the database
 *    file (xShmBarrier). The shim wraps each main database file too, links it to its connection's
 *    WAL file (sqlite3_database_file_object), and flushes the WAL buffer in that barrier, so every
 *    frame of a commit is in the file before any other connection (the reader, the checkpointer,
 *    another process) can see the commit. It flushes again, belt and braces, when the write lock
 *    is released (xShmLock) and after the commit (SQLITE_FCNTL_COMMIT_PHASETWO). (A flush there
 *    is rare: the commit frame's write normally empties the buffer. What can remain is headers
 *    SQLite rewrote in place after it, when a transaction wrote a page twice.)
 *  - Every other operation on the WAL file (read, sync, truncate, size, close, file control) and
 *    every write that does not extend the buffer first flushes it, so the file as seen through the
 *    handle is exactly what SQLite wrote, in SQLite's order.
 *  - A failed flush fails the operation that triggered it with the real file's error (e.g.
 *    SQLITE_FULL) and drops the buffer, as a failed write would; only the barrier, which cannot
 *    report an error, keeps the buffer for the next flush to retry and report.
 *  - Durability is unchanged: Tally syncs the WAL after COMMIT returns, by which time the commit
 *    was flushed; a flush also precedes any sync SQLite makes itself.
 *
 * Built by scripts/build-native.mjs; loaded once per process by the SQLite store, which falls back
 * to SQLite's own VFS when the library is missing (no C compiler at install).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#define SHIM_VFS_NAME "tally-wal-coalesce"
/* A WAL frame header; the WAL header is 32 bytes and a page at least 512, so a write of exactly
 * this size is a frame header (https://www.sqlite.org/fileformat.html#walformat). */
#define FRAME_HEADER_BYTES 24
/*
 * Checkpoint pacing. In WAL mode only checkpoints write the database file: they copy thousands of
 * pages into the page cache in milliseconds, then fsync, and the disk's queue fills with those
 * writes just when the writer needs its small WAL fdatasync (measured: WAL sync p99 6-8 ms, max
 * 15-25 ms while a checkpoint flushed, against 0.8 ms p50). Writing back and waiting for every
 * 256 KiB as the checkpoint goes (Linux sync_file_range, what PostgreSQL's
 * checkpoint_flush_after does) keeps at most that much of a checkpoint in the disk's queue at a
 * time, and leaves little for the fsync that ends it. It runs on the checkpoint's thread and
 * changes no guarantee: durability still comes from the fsync. Measured effect on the
 * benchmark's half-load p99 is mixed (17.5-18 -> 8.9-9.3 ms with W7 run right after W1, no clear
 * change with W5 run in between; docs/performance.md), peak throughput unchanged.
 */
#define WRITEBACK_EVERY_BYTES (256 * 1024)
/* A buffer past this many bytes is written out before it grows further (a large transaction
 * spilling pages); it only bounds memory, correctness does not depend on it. */
#define BUFFER_BYTES_MAX (8 * 1024 * 1024)

typedef struct WalFile WalFile;
typedef struct DbFile DbFile;

/* A connection's WAL file. */
struct WalFile {
  sqlite3_file base;
  sqlite3_file *real;     /* the real file, stored right after this struct */
  DbFile *db;             /* the connection's main database file, while both are open */
  int passthrough;        /* write straight through (no database file to flush from) */
  int commitHeaderWritten; /* the last write was the header of a frame that commits */
  unsigned char *buffer;  /* bytes for [bufferOffset, bufferOffset + bufferBytes) of the file */
  sqlite3_int64 bufferOffset;
  int bufferBytes;
  int bufferCapacity;
};

/* A connection's main database file: passes everything through, flushing its WAL first where
 * SQLite publishes or ends a commit, and pacing the writeback of what checkpoints write. */
struct DbFile {
  sqlite3_file base;
  sqlite3_file *real;
  WalFile *wal;
  const char *path;       /* valid until close (SQLite's guarantee for xOpen's name) */
  int writebackFd;        /* our own descriptor for sync_file_range, -1 until first needed */
  sqlite3_int64 bytesSinceWriteback;
};


static sqlite3_vfs *realVfs = 0;
static sqlite3_vfs shimVfs;
static sqlite3_io_methods walMethods;
static sqlite3_io_methods dbMethods;

/* Counters for tests and diagnostics (process-wide, approximate under threads). */
static sqlite3_int64 statWrites = 0;  /* writes SQLite asked for on WAL files */
static sqlite3_int64 statFlushes = 0; /* writes handed to the real WAL files */
static sqlite3_int64 statWritebacks = 0; /* paced writebacks of database files (checkpoints) */

/* The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the length with 0x1ffff). */
#define WRITE_CHUNK_BYTES (124 * 1024)

static int writeChunked(sqlite3_file *real, const unsigned char *data, int bytes, sqlite3_int64 offset) {
  for (int done = 0; done < bytes;) {
    int amount = bytes - done < WRITE_CHUNK_BYTES ? bytes - done : WRITE_CHUNK_BYTES;
    int rc = real->pMethods->xWrite(real, data + done, amount, offset + done);
    statFlushes++;
    if (rc != SQLITE_OK) return rc;
    done += amount;
  }
  return SQLITE_OK;
}

static int flushBuffer(WalFile *f) {
  if (f->bufferBytes == 0) return SQLITE_OK;
  int rc = writeChunked(f->real, f->buffer, f->bufferBytes, f->bufferOffset);
  f->bufferBytes = 0;
  return rc;
}

/* Bytes 4..7 of a frame header: the database size in pages after a commit, zero for other frames. */
static int isCommitFrameHeader(const unsigned char *header) {
  return (header[4] | header[5] | header[6] | header[7]) != 0;
}

static int flushWalOf(DbFile *d) {
  return d->wal == 0 ? SQLITE_OK : flushBuffer(d->wal);
}

static int appendToBuffer(WalFile *f, const void *data, int amount, sqlite3_int64 offset) {
  if (f->bufferBytes + amount > f->bufferCapacity) {
    int capacity = f->bufferCapacity == 0 ? 256 * 1024 : f->bufferCapacity;
    while (capacity < f->bufferBytes + amount) capacity *= 2;
    unsigned char *grown = (unsigned char *)realloc(f->buffer, (size_t)capacity);
    if (grown == 0) return SQLITE_NOMEM;
    f->buffer = grown;
    f->bufferCapacity = capacity;
  }
  if (f->bufferBytes == 0) f->bufferOffset = offset;
  memcpy(f->buffer + f->bufferBytes, data, (size_t)amount);
  f->bufferBytes += amount;
  return SQLITE_OK;
}

static int walWrite(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
  WalFile *f = (WalFile *)file;
  statWrites++;
  if (f->passthrough) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  int extendsBuffer = f->bufferBytes > 0 && offset == f->bufferOffset + f->bufferBytes;
  if (!extendsBuffer || f->bufferBytes + amount > BUFFER_BYTES_MAX) {
    int rc = flushBuffer(f);
    if (rc != SQLITE_OK) return rc;
  }
  int completesCommitFrame = f->commitHeaderWritten && amount != FRAME_HEADER_BYTES;
  f->commitHeaderWritten = amount == FRAME_HEADER_BYTES && isCommitFrameHeader((const unsigned char *)data);
  if (appendToBuffer(f, data, amount, offset) != SQLITE_OK) {
    /* No memory for the buffer: write what it holds, then this write, directly. */
    int rc = flushBuffer(f);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  /* The commit frame is the last frame SQLite appends for a commit: write the commit out here,
   * where a failure (a full disk) still fails the commit before SQLite publishes it. */
  return completesCommitFrame ? flushBuffer(f) : SQLITE_OK;
}

#define FLUSH_OR_RETURN(flush)          \
  do {                                  \
    int flushRc = (flush);              \
    if (flushRc != SQLITE_OK) return flushRc; \
  } while (0)

static int walClose(sqlite3_file *file) {
  WalFile *f = (WalFile *)file;
  int flushRc = flushBuffer(f);
  if (f->db != 0) f->db->wal = 0;
  f->db = 0;
  int rc = f->real->pMethods->xClose(f->real);
  free(f->buffer);
  f->buffer = 0;
  f->bufferCapacity = 0;
  return flushRc != SQLITE_OK ? flushRc : rc;
}
static int walRead(sqlite3_file *file, void *out, int amount, sqlite3_int64 offset) {
  WalFile *f = (WalFile *)file;
  FLUSH_OR_RETURN(flushBuffer(f));
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}
static int walTruncate(sqlite3_file *file, sqlite3_int64 size) {
  WalFile *f = (WalFile *)file;
  FLUSH_OR_RETURN(flushBuffer(f));
  return f->real->pMethods->xTruncate(f->real, size);
}
static int walSync(sqlite3_file *file, int flags) {
  WalFile *f = (WalFile *)file;
  FLUSH_OR_RETURN(flushBuffer(f));
  return f->real->pMethods->xSync(f->real, flags);
}
static int walFileSize(sqlite3_file *file, sqlite3_int64 *size) {
  WalFile *f = (WalFile *)file;
  FLUSH_OR_RETURN(flushBuffer(f));
  return f->real->pMethods->xFileSize(f->real, size);
}
static int walLock(sqlite3_file *file, int level) {
  WalFile *f = (WalFile *)file;
  return f->real->pMethods->xLock(f->real, level);
}
static int walUnlock(sqlite3_file *file, int level) {
  WalFile *f = (WalFile *)file;
  FLUSH_OR_RETURN(flushBuffer(f));
  return f->real->pMethods->xUnlock(f->real, level);
}
static int walCheckReservedLock(sqlite3_file *file, int *out) {
  WalFile *f = (WalFile *)file;
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}
static int walFileControl(sqlite3_file *file, int op, void *arg) {
  WalFile *f = (WalFile *)file;
  FLUSH_OR_RETURN(flushBuffer(f));
  return f->real->pMethods->xFileControl(f->real, op, arg);
}
static int walSectorSize(sqlite3_file *file) {
  WalFile *f = (WalFile *)file;
  return f->real->pMethods->xSectorSize(f->real);
}
static int walDeviceCharacteristics(sqlite3_file *file) {
  WalFile *f = (WalFile *)file;
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* The main database file: everything passes through; the WAL is flushed where noted. */
#define REAL(file) (((DbFile *)(file))->real)
static int dbClose(sqlite3_file *file) {
  DbFile *d = (DbFile *)file;
  int flushRc = flushWalOf(d);
  if (d->writebackFd >= 0) close(d->writebackFd);
  d->writebackFd = -1;
  if (d->wal != 0) d->wal->db = 0;
  d->wal = 0;
  int rc = d->real->pMethods->xClose(d->real);
  return flushRc != SQLITE_OK ? flushRc : rc;
}
static int dbRead(sqlite3_file *f, void *o, int n, sqlite3_int64 off) { return REAL(f)->pMethods->xRead(REAL(f), o, n, off); }
static int dbWrite(sqlite3_file *f, const void *o, int n, sqlite3_int64 off) {
  int rc = REAL(f)->pMethods->xWrite(REAL(f), o, n, off);
#ifdef __linux__
  DbFile *d = (DbFile *)f;
  if (rc == SQLITE_OK && d->path != 0) {
    d->bytesSinceWriteback += n;
    if (d->bytesSinceWriteback >= WRITEBACK_EVERY_BYTES) {
      d->bytesSinceWriteback = 0;
      if (d->writebackFd < 0) d->writebackFd = open(d->path, O_RDONLY | O_CLOEXEC);
      if (d->writebackFd >= 0 &&
          sync_file_range(d->writebackFd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0) {
        statWritebacks++;
      }
    }
  }
#endif
  return rc;
}
static int dbTruncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int dbSync(sqlite3_file *f, int flags) {
  FLUSH_OR_RETURN(flushWalOf((DbFile *)f));
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int dbFileSize(sqlite3_file *f, sqlite3_int64 *o) { return REAL(f)->pMethods->xFileSize(REAL(f), o); }
static int dbLock(sqlite3_file *f, int level) { return REAL(f)->pMethods->xLock(REAL(f), level); }
static int dbUnlock(sqlite3_file *f, int level) {
  FLUSH_OR_RETURN(flushWalOf((DbFile *)f));
  return REAL(f)->pMethods->xUnlock(REAL(f), level);
}
static int dbCheckReservedLock(sqlite3_file *f, int *o) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), o); }
static int dbFileControl(sqlite3_file *f, int op, void *arg) {
  if (op == SQLITE_FCNTL_COMMIT_PHASETWO) FLUSH_OR_RETURN(flushWalOf((DbFile *)f));
  int rc = REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
  if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK) *(char **)arg = sqlite3_mprintf("%s/%z", SHIM_VFS_NAME, *(char **)arg);
  return rc;
}
static int dbSectorSize(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int dbDeviceCharacteristics(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int dbShmMap(sqlite3_file *f, int page, int bytes, int extend, void volatile **o) {
  return REAL(f)->pMethods->xShmMap(REAL(f), page, bytes, extend, o);
}
static int dbShmLock(sqlite3_file *f, int offset, int n, int flags) {
  FLUSH_OR_RETURN(flushWalOf((DbFile *)f));
  return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void dbShmBarrier(sqlite3_file *f) {
  /* The point of the shim: a commit's frames reach the file before its wal-index header is
   * published. A barrier cannot report an error; on a failed write the buffer is kept, and the
   * next flush (at the latest the shared-memory unlock that ends the transaction) retries and
   * reports it. */
  DbFile *d = (DbFile *)f;
  if (d->wal != 0 && d->wal->bufferBytes > 0) {
    WalFile *w = d->wal;
    if (writeChunked(w->real, w->buffer, w->bufferBytes, w->bufferOffset) == SQLITE_OK) w->bufferBytes = 0;
  }
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int dbShmUnmap(sqlite3_file *f, int deleteFlag) { return REAL(f)->pMethods->xShmUnmap(REAL(f), deleteFlag); }
static int dbFetch(sqlite3_file *f, sqlite3_int64 off, int n, void **o) { return REAL(f)->pMethods->xFetch(REAL(f), off, n, o); }
static int dbUnfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), off, p); }

/*
 * Main database files and WAL files are wrapped; every other file (journals, temporary files) is
 * opened by the real VFS in place, at the start of the (larger) sqlite3_file SQLite allocated for
 * this VFS, and keeps the real methods.
 */
static int shimOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
  (void)vfs;
  int isWal = (flags & SQLITE_OPEN_WAL) != 0;
  int isMainDb = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  if (!isWal && !isMainDb) return realVfs->xOpen(realVfs, name, file, flags, outFlags);
  sqlite3_file *real = isWal ? (sqlite3_file *)&((WalFile *)file)[1] : (sqlite3_file *)&((DbFile *)file)[1];
  memset(file, 0, isWal ? sizeof(WalFile) : sizeof(DbFile));
  int rc = realVfs->xOpen(realVfs, name, real, flags, outFlags);
  if (rc != SQLITE_OK || real->pMethods == 0) {
    /* Close what the real open left half-open; SQLite will not call ours (pMethods is unset). */
    if (real->pMethods != 0) real->pMethods->xClose(real);
    file->pMethods = 0;
    return rc;
  }
  if (isMainDb) {
    DbFile *d = (DbFile *)file;
    d->real = real;
    d->path = name;
    d->writebackFd = -1;
    file->pMethods = &dbMethods;
    return rc;
  }
  WalFile *w = (WalFile *)file;
  w->real = real;
  file->pMethods = &walMethods;
  sqlite3_file *dbFile = name == 0 ? 0 : sqlite3_database_file_object(name);
  if (dbFile != 0 && dbFile->pMethods == &dbMethods) {
    w->db = (DbFile *)dbFile;
    w->db->wal = w;
  } else {
    /* No database file of ours to publish through: buffering could hide frames, so do not. */
    w->passthrough = 1;
  }
  return rc;
}

static int shimDelete(sqlite3_vfs *v, const char *n, int s) { (void)v; return realVfs->xDelete(realVfs, n, s); }
static int shimAccess(sqlite3_vfs *v, const char *n, int fl, int *o) { (void)v; return realVfs->xAccess(realVfs, n, fl, o); }
static int shimFullPathname(sqlite3_vfs *v, const char *n, int no, char *o) { (void)v; return realVfs->xFullPathname(realVfs, n, no, o); }
static void *shimDlOpen(sqlite3_vfs *v, const char *p) { (void)v; return realVfs->xDlOpen(realVfs, p); }
static void shimDlError(sqlite3_vfs *v, int n, char *m) { (void)v; realVfs->xDlError(realVfs, n, m); }
static void (*shimDlSym(sqlite3_vfs *v, void *p, const char *s))(void) { (void)v; return realVfs->xDlSym(realVfs, p, s); }
static void shimDlClose(sqlite3_vfs *v, void *p) { (void)v; realVfs->xDlClose(realVfs, p); }
static int shimRandomness(sqlite3_vfs *v, int n, char *o) { (void)v; return realVfs->xRandomness(realVfs, n, o); }
static int shimSleep(sqlite3_vfs *v, int us) { (void)v; return realVfs->xSleep(realVfs, us); }
static int shimCurrentTime(sqlite3_vfs *v, double *o) { (void)v; return realVfs->xCurrentTime(realVfs, o); }
static int shimGetLastError(sqlite3_vfs *v, int n, char *o) { (void)v; return realVfs->xGetLastError(realVfs, n, o); }
static int shimCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *o) { (void)v; return realVfs->xCurrentTimeInt64(realVfs, o); }
static int shimSetSystemCall(sqlite3_vfs *v, const char *n, sqlite3_syscall_ptr p) { (void)v; return realVfs->xSetSystemCall(realVfs, n, p); }
static sqlite3_syscall_ptr shimGetSystemCall(sqlite3_vfs *v, const char *n) { (void)v; return realVfs->xGetSystemCall(realVfs, n); }
static const char *shimNextSystemCall(sqlite3_vfs *v, const char *n) { (void)v; return realVfs->xNextSystemCall(realVfs, n); }

/* SELECT tally_wal_coalesce_stats() → 'writes,flushes,writebacks' (WAL writes asked for, writes
 * made, paced writebacks of database files). */
static void statsFunction(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  char *text = sqlite3_mprintf("%lld,%lld,%lld", statWrites, statFlushes, statWritebacks);
  sqlite3_result_text(ctx, text, -1, sqlite3_free);
}

static int registerVfsOnce(void);

static int registerStats(sqlite3 *db, char **errorMessage, const sqlite3_api_routines *api) {
  (void)errorMessage;
  (void)api;
  return sqlite3_create_function(db, "tally_wal_coalesce_stats", 0, SQLITE_UTF8, 0, statsFunction, 0, 0);
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_walcoalesce_init(sqlite3 *db, char **errorMessage, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  (void)errorMessage;
  int rc = registerStats(db, errorMessage, api);
  if (rc != SQLITE_OK) return rc;
  /* Several threads of one process (worker threads) may load it at once: register once. */
  sqlite3_mutex *mutex = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
  sqlite3_mutex_enter(mutex);
  rc = registerVfsOnce();
  sqlite3_mutex_leave(mutex);
  return rc == SQLITE_OK ? SQLITE_OK_LOAD_PERMANENTLY : rc;
}

static int registerVfsOnce(void) {
  if (sqlite3_vfs_find(SHIM_VFS_NAME) != 0) return SQLITE_OK;
  /* Every connection opened from now on gets the stats function too. */
  int rc = sqlite3_auto_extension((void (*)(void))registerStats);
  if (rc != SQLITE_OK) return rc;
  realVfs = sqlite3_vfs_find(0);
  if (realVfs == 0 || realVfs->iVersion < 3) return SQLITE_ERROR;
  if (realVfs->szOsFile <= 0) return SQLITE_ERROR;
  walMethods = (sqlite3_io_methods){
      1, walClose, walRead, walWrite, walTruncate, walSync, walFileSize, walLock, walUnlock,
      walCheckReservedLock, walFileControl, walSectorSize, walDeviceCharacteristics, 0, 0, 0, 0, 0, 0};
  dbMethods = (sqlite3_io_methods){
      3, dbClose, dbRead, dbWrite, dbTruncate, dbSync, dbFileSize, dbLock, dbUnlock,
      dbCheckReservedLock, dbFileControl, dbSectorSize, dbDeviceCharacteristics, dbShmMap,
      dbShmLock, dbShmBarrier, dbShmUnmap, dbFetch, dbUnfetch};
  shimVfs = *realVfs;
  shimVfs.szOsFile = (int)(sizeof(WalFile) > sizeof(DbFile) ? sizeof(WalFile) : sizeof(DbFile)) + realVfs->szOsFile;
  shimVfs.zName = SHIM_VFS_NAME;
  shimVfs.pNext = 0;
  shimVfs.pAppData = 0;
  shimVfs.xOpen = shimOpen;
  shimVfs.xDelete = shimDelete;
  shimVfs.xAccess = shimAccess;
  shimVfs.xFullPathname = shimFullPathname;
  shimVfs.xDlOpen = shimDlOpen;
  shimVfs.xDlError = shimDlError;
  shimVfs.xDlSym = shimDlSym;
  shimVfs.xDlClose = shimDlClose;
  shimVfs.xRandomness = shimRandomness;
  shimVfs.xSleep = shimSleep;
  shimVfs.xCurrentTime = shimCurrentTime;
  shimVfs.xGetLastError = shimGetLastError;
  shimVfs.xCurrentTimeInt64 = shimCurrentTimeInt64;
  shimVfs.xSetSystemCall = shimSetSystemCall;
  shimVfs.xGetSystemCall = shimGetSystemCall;
  shimVfs.xNextSystemCall = shimNextSystemCall;
  return sqlite3_vfs_register(&shimVfs, 1);
}
