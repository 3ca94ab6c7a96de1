/**
 * The event-time watermark of SPEC §4: the highest event_ts seen minus the allowed lateness.
 * Deadlines behind it are judged; it never moves back. Live idle ticks and the end of a fold move
 * it forward explicitly (`advanceTo`).
 */
export class EventTimeWatermark {
  private highest: number | null = null;
  private mark: number | null = null;

  constructor(readonly allowedLatenessMs: number) {}

  /** Null before the first event. */
  get value(): number | null {
    return this.mark;
  }

  get highestEventTs(): number | null {
    return this.highest;
  }

  /** Takes an event's time into account; returns whether the watermark moved. */
  observe(eventTs: number): boolean {
    if (this.highest === null || eventTs > this.highest) this.highest = eventTs;
    return this.advanceTo(this.highest - this.allowedLatenessMs);
  }

  /** Moves to `watermarkMs` if that is later; returns whether it moved. */
  advanceTo(watermarkMs: number): boolean {
    if (this.mark !== null && watermarkMs <= this.mark) return false;
    this.mark = watermarkMs;
    return true;
  }
}
