/** PostgreSQL settings of the embedded store (PGlite), for the store thread and the initdb process. */

/**
 * PostgreSQL memory settings of the embedded store. PostgreSQL's defaults (128 MB of shared
 * buffers) are sized for a server of its own; the store's working set is the recent end of
 * append-only tables and their indexes (a few dozen pages), so 4 MB of buffers (512 pages) hold
 * it. The whole shared memory segment is resident from the start (PGlite's anonymous mmap
 * zero-fills it in WebAssembly memory, which never shrinks): each MB here is a MB of idle RSS
 * (16 MB -> 4 MB: -12 MiB; no CPU difference per recorded exchange in bench/recording-cost.ts).
 */
const STORE_CONF = ['shared_buffers=4MB', 'wal_buffers=1MB', 'temp_buffers=2MB', 'work_mem=4MB', 'maintenance_work_mem=16MB'];

/**
 * WAL settings of the embedded cluster. PGlite runs PostgreSQL single-user with fsync off and no
 * checkpointer, so its WAL only protects against the process dying mid-write (not power loss):
 * - `wal_level=minimal` (nothing replicates from it) and no full-page images (they exist for
 *   pages torn by a power loss, which fsync off does not survive anyway): the WAL carries the
 *   changes, not whole pages after every checkpoint — most of what a recorded event cost on disk;
 * - a checkpoint every 64 MiB of WAL (the backend runs it itself) and 32 MiB of segments kept for
 *   reuse, instead of up to 1 GiB of WAL sitting on disk.
 */
const WAL_CONF = ['wal_level=minimal', 'max_wal_senders=0', 'full_page_writes=off', 'max_wal_size=64MB', 'min_wal_size=32MB'];

/** Every setting the embedded cluster runs with (PGlite writes them to its postgresql.conf at each start). */
export const EMBEDDED_CONF: readonly string[] = [...STORE_CONF, ...WAL_CONF];
