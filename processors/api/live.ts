import type { FastifyBaseLogger } from 'fastify';

/**
 * Watches a cheap data fingerprint and tells subscribers when it changes, so every open
 * dashboard refreshes within one poll of new data. Polls only while someone listens; one
 * poller serves all of them.
 */
export class ChangeWatcher {
  private readonly listeners = new Set<(version: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;
  private polling = false;

  constructor(
    private readonly fingerprint: () => Promise<string>,
    private readonly intervalMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  subscribe(listener: (version: string) => void): () => void {
    this.listeners.add(listener);
    if (this.last !== undefined) listener(this.last);
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
      void this.poll();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.last = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const v = await this.fingerprint();
      if (v !== this.last) {
        this.last = v;
        for (const l of this.listeners) l(v);
      }
    } catch (err) {
      this.log.warn({ err }, 'live fingerprint query failed; will retry');
    } finally {
      this.polling = false;
    }
  }
}
