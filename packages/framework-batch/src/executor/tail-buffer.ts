/**
 * The last bytes of a stream, kept in a bounded buffer: how the batch executor captures a command
 * task's stdout and stderr tails without holding all of their output.
 *
 * @example
 * ```ts
 * const tail = new TailBuffer(16 * 1024);
 * child.stdout.on('data', (chunk) => tail.push(chunk));
 * tail.text();   // the last 16 KiB, as UTF-8
 * ```
 * @module
 */

/** Keeps the last `limit` bytes pushed into it. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** How many bytes were pushed in all. */
  total = 0;

  /** @param limit how many bytes to keep */
  constructor(readonly limit: number) {}

  /** Adds bytes, dropping the oldest beyond the limit. */
  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.total += buf.length;
    if (this.limit <= 0) return;
    if (buf.length >= this.limit) {
      this.chunks = [buf.subarray(buf.length - this.limit)];
      this.size = this.limit;
      return;
    }
    this.chunks.push(buf);
    this.size += buf.length;
    while (this.size - this.chunks[0]!.length >= this.limit) this.size -= this.chunks.shift()!.length;
  }

  /** The kept bytes as UTF-8 (a character cut at the start is dropped). */
  text(): string {
    let buf = Buffer.concat(this.chunks, this.size);
    if (buf.length > this.limit) buf = buf.subarray(buf.length - this.limit);
    // Skip continuation bytes of a character whose start was dropped.
    let start = 0;
    if (this.total > buf.length) while (start < buf.length && start < 4 && (buf[start]! & 0xc0) === 0x80) start++;
    return buf.subarray(start).toString('utf8');
  }
}
