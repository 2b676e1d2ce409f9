// A small seeded PRNG for reproducible shuffling: xoshiro128** (Blackman & Vigna) in 32-bit integer
// arithmetic, so the same seed gives the same numbers on every platform and node version. The state is
// derived from a key of any number of integers (e.g. seed and epoch) by hashing them (MurmurHash3's
// finaliser) and expanding with splitmix32, so stream (seed, epoch) needs no replay of earlier epochs.

function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const TWO32 = 4294967296;

/** A seeded pseudo-random generator (xoshiro128**). Not for cryptography. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * A generator keyed by non-negative safe integers, e.g. `new Rng(seed, epoch)`; equal keys give equal
   * sequences, different keys independent-looking ones.
   */
  constructor(...key: number[]) {
    let h = 0x6a09e667;
    key.forEach((k, i) => {
      if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`Rng: key[${i}] must be a non-negative safe integer; got ${k}`);
      h = (fmix32(h ^ (k >>> 0)) + 0x9e3779b9) | 0;
      h = (fmix32(h ^ Math.floor(k / TWO32)) + 0x9e3779b9) | 0;
    });
    let z = h >>> 0;
    const next = () => {
      z = (z + 0x9e3779b9) >>> 0;
      return fmix32(z);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** The next uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / TWO32;
  }

  /** A uniform integer in [0, n), without modulo bias (rejection sampling); n in [1, 2^32]. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO32) throw new RangeError(`Rng.nextInt: n must be an integer in [1, 2^32]; got ${n}`);
    const limit = TWO32 - (TWO32 % n);
    let r = this.nextUint32();
    while (r >= limit) r = this.nextUint32();
    return r % n;
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: number }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }
}
