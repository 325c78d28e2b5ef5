/** Test support: reading a SQLite database's WAL file. */
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The checkpoint sequence number in the header of the WAL of the database at `path` (bytes 12-15 of
 * `<path>-wal`, big-endian): SQLite adds one each time the WAL restarts from its start (sqlite.org/fileformat.html, 4.1).
 */
export function walRestarts(path: string): number {
  const header = Buffer.alloc(16);
  const fd = openSync(`${path}-wal`, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  return header.readUInt32BE(12);
}
