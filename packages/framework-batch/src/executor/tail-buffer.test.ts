import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TailBuffer } from './tail-buffer.js';

describe('TailBuffer', () => {
  it('keeps the last bytes of whatever is pushed', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 30 }), fc.integer({ min: 1, max: 64 }), (chunks, limit) => {
        const tail = new TailBuffer(limit);
        for (const c of chunks) tail.push(Buffer.from(c, 'latin1'));
        const all = Buffer.from(chunks.join(''), 'latin1');
        expect(tail.total).toBe(all.length);
        const kept = all.subarray(Math.max(0, all.length - limit));
        // Latin-1 bytes ≥ 0x80 are not UTF-8; compare the bytes kept, as text() would decode them.
        expect(tail.text()).toBe(kept.subarray(skipContinuation(kept, all.length > limit)).toString('utf8'));
      }),
    );
  });

  it('drops a character cut at the start', () => {
    const tail = new TailBuffer(4);
    tail.push('aé€'); // 1 + 2 + 3 bytes
    expect(tail.text()).toBe('€');
    const whole = new TailBuffer(100);
    whole.push('é€');
    expect(whole.text()).toBe('é€');
  });
});

function skipContinuation(buf: Buffer, cut: boolean): number {
  let i = 0;
  if (cut) while (i < buf.length && i < 4 && (buf[i]! & 0xc0) === 0x80) i++;
  return i;
}
