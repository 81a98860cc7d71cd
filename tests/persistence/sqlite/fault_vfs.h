// A SQLite VFS over the default one that can fail every write to a WAL file: a disk that fills up
// (SQLITE_FULL) exactly when a transaction commits, since in WAL mode a small transaction's pages
// stay in the page cache until COMMIT writes them to the WAL. Open the store with
// SqliteOptions.vfs = fault_vfs::Name() after Register().
#ifndef MUSIC_TESTS_PERSISTENCE_SQLITE_FAULT_VFS_H_
#define MUSIC_TESTS_PERSISTENCE_SQLITE_FAULT_VFS_H_

#include <sqlite3.h>

#include <atomic>
#include <string>

namespace music::persistence::fault_vfs {

/// While true, writes to WAL files fail with SQLITE_FULL (other files are untouched).
inline std::atomic<bool>& FailWalWrites() {
  static std::atomic<bool> fail{false};
  return fail;
}

namespace internal {

// The default VFS, found before this one is registered (this one is never the default).
inline sqlite3_vfs* Real() {
  static sqlite3_vfs* const real = sqlite3_vfs_find(nullptr);
  return real;
}

// SQLite allocates vfs.szOsFile bytes: this header, then the real VFS's file.
struct File {
  sqlite3_file base;  // First: SQLite sees a File* as a sqlite3_file*.
  sqlite3_file* real;
  bool wal;
};

inline sqlite3_file* RealOf(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

inline int Close(sqlite3_file* f) { return RealOf(f)->pMethods->xClose(RealOf(f)); }
inline int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 offset) {
  return RealOf(f)->pMethods->xRead(RealOf(f), buf, n, offset);
}
inline int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 offset) {
  if (reinterpret_cast<File*>(f)->wal && FailWalWrites().load()) return SQLITE_FULL;
  return RealOf(f)->pMethods->xWrite(RealOf(f), buf, n, offset);
}
inline int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  return RealOf(f)->pMethods->xTruncate(RealOf(f), size);
}
inline int Sync(sqlite3_file* f, int flags) { return RealOf(f)->pMethods->xSync(RealOf(f), flags); }
inline int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return RealOf(f)->pMethods->xFileSize(RealOf(f), size);
}
inline int Lock(sqlite3_file* f, int level) { return RealOf(f)->pMethods->xLock(RealOf(f), level); }
inline int Unlock(sqlite3_file* f, int level) {
  return RealOf(f)->pMethods->xUnlock(RealOf(f), level);
}
inline int CheckReservedLock(sqlite3_file* f, int* out) {
  return RealOf(f)->pMethods->xCheckReservedLock(RealOf(f), out);
}
inline int FileControl(sqlite3_file* f, int op, void* arg) {
  return RealOf(f)->pMethods->xFileControl(RealOf(f), op, arg);
}
inline int SectorSize(sqlite3_file* f) { return RealOf(f)->pMethods->xSectorSize(RealOf(f)); }
inline int DeviceCharacteristics(sqlite3_file* f) {
  return RealOf(f)->pMethods->xDeviceCharacteristics(RealOf(f));
}
inline int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return RealOf(f)->pMethods->xShmMap(RealOf(f), region, size, extend, out);
}
inline int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return RealOf(f)->pMethods->xShmLock(RealOf(f), offset, n, flags);
}
inline void ShmBarrier(sqlite3_file* f) { RealOf(f)->pMethods->xShmBarrier(RealOf(f)); }
inline int ShmUnmap(sqlite3_file* f, int delete_flag) {
  return RealOf(f)->pMethods->xShmUnmap(RealOf(f), delete_flag);
}
inline int Fetch(sqlite3_file* f, sqlite3_int64 offset, int n, void** out) {
  return RealOf(f)->pMethods->xFetch(RealOf(f), offset, n, out);
}
inline int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return RealOf(f)->pMethods->xUnfetch(RealOf(f), offset, p);
}

// Version 3 (shared memory and memory mapping): what the unix VFS offers and WAL needs.
inline const sqlite3_io_methods kMethods = {
    3,
    &Close,
    &Read,
    &Write,
    &Truncate,
    &Sync,
    &FileSize,
    &Lock,
    &Unlock,
    &CheckReservedLock,
    &FileControl,
    &SectorSize,
    &DeviceCharacteristics,
    &ShmMap,
    &ShmLock,
    &ShmBarrier,
    &ShmUnmap,
    &Fetch,
    &Unfetch,
};

inline int Open(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* f, int flags,
                int* out_flags) {
  File* file = reinterpret_cast<File*>(f);
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  file->wal = (flags & SQLITE_OPEN_WAL) != 0;
  const int rc = Real()->xOpen(Real(), name, file->real, flags, out_flags);
  // SQLite closes a file whose pMethods is set, even when the open failed.
  file->base.pMethods = file->real->pMethods != nullptr ? &kMethods : nullptr;
  return rc;
}

}  // namespace internal

/// The VFS name to put in SqliteOptions.vfs.
inline const char* Name() { return "music_fault"; }

/// Registers the VFS (once; not as the default). False when SQLite refused it.
inline bool Register() {
  static const bool registered = [] {
    // A copy of the default VFS with another name and file size, and our xOpen: every other
    // method (paths, access, randomness, time) is the default's own.
    static sqlite3_vfs vfs = *internal::Real();
    vfs.szOsFile = static_cast<int>(sizeof(internal::File)) + internal::Real()->szOsFile;
    vfs.zName = Name();
    vfs.xOpen = &internal::Open;
    vfs.pNext = nullptr;
    return sqlite3_vfs_register(&vfs, /*makeDflt=*/0) == SQLITE_OK;
  }();
  return registered;
}

}  // namespace music::persistence::fault_vfs

#endif  // MUSIC_TESTS_PERSISTENCE_SQLITE_FAULT_VFS_H_
