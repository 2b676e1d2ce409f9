// A bounded read-ahead queue: loads the next `depth` items of a sequence while the consumer works on the
// current one (decoding overlaps the training step), and never more, so memory stays bounded whatever
// the dataset size.

/** Loads items of `keys` ahead of the consumer, at most `depth` at a time. */
export class Prefetcher<K, V> {
  private readonly queue: { key: K; value: Promise<V> }[] = [];
  private done = false;

  constructor(
    private readonly keys: Iterator<K>,
    private readonly load: (key: K) => Promise<V>,
    private readonly depth: number,
  ) {
    this.fill();
  }

  private fill(): void {
    while (!this.done && this.queue.length < this.depth) {
      const n = this.keys.next();
      if (n.done) {
        this.done = true;
        break;
      }
      const value = this.load(n.value);
      // A rejection is seen when the item is taken; until then it must not count as unhandled.
      value.catch(() => undefined);
      this.queue.push({ key: n.value, value });
    }
  }

  /** The next item (key and loaded value), or null at the end; starts loading the one after. */
  async next(): Promise<{ key: K; value: V } | null> {
    const head = this.queue.shift();
    this.fill();
    if (!head) return null;
    return { key: head.key, value: await head.value };
  }

  /** The key of the next item, without taking it (undefined at the end). */
  peekKey(): K | undefined {
    return this.queue[0]?.key;
  }

  /** Stops reading ahead; loads in flight finish and are dropped. */
  close(): void {
    this.done = true;
    this.queue.length = 0;
  }
}
