// The one error type every loader throws for bad data on disk: it carries the file and the byte offset
// of the problem so that a user can find it (and a test can assert it) without parsing the message.

/**
 * A data file is malformed: wrong magic number, truncated, wrong length, a label out of range, a bad tar
 * header, an undecodable image, ... `file` names the file (for a member of a .tar.gz archive,
 * `archive.tar.gz:member/name`), `offset` is the byte offset of the problem inside it (in the
 * decompressed stream for gzipped files), or null when the problem is not at one place.
 */
export class DataFormatError extends Error {
  /** The file (or `archive:member`) that is malformed. */
  readonly file: string;
  /** Byte offset of the problem in the (decompressed) file, or null. */
  readonly offset: number | null;

  /** Builds the message `<file>: at byte offset <offset>: <problem>` (without the offset part when null). */
  constructor(file: string, offset: number | null, problem: string) {
    super(offset === null ? `${file}: ${problem}` : `${file}: at byte offset ${offset}: ${problem}`);
    this.name = 'DataFormatError';
    this.file = file;
    this.offset = offset;
  }
}
