/**
 * Open SLA deadlines of many deals, earliest first: what an advancing watermark must revisit.
 * A binary min-heap of (deadline, deal) in two parallel arrays.
 */
export class DeadlineHeap {
  private readonly keys: number[] = [];
  private readonly ids: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  peekDeadline(): number {
    return this.keys[0];
  }

  push(deadline: number, id: string): void {
    const { keys, ids } = this;
    let i = keys.length;
    keys.push(deadline);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] <= deadline) break;
      keys[i] = keys[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    keys[i] = deadline;
    ids[i] = id;
  }

  /** Removes the earliest entry and returns its deal (read its deadline with peekDeadline first). */
  pop(): string {
    const { keys, ids } = this;
    const top = ids[0];
    const lastKey = keys.pop() as number;
    const lastId = ids.pop() as string;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && keys[r] < keys[l] ? r : l;
        if (keys[c] >= lastKey) break;
        keys[i] = keys[c];
        ids[i] = ids[c];
        i = c;
      }
      keys[i] = lastKey;
      ids[i] = lastId;
    }
    return top;
  }
}
