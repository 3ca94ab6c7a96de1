/**
 * The DealBook as it was before the in-place path: every step goes through the pure `apply` /
 * `advanceWatermark` (new state objects). Kept as the reference the in-place DealBook must match.
 */
import type { CanonicalEvent, Snapshot } from '../../processors/core/canonical.ts';
import { DeadlineHeap } from '../../processors/core/deadline-heap.ts';
import { EventTimeWatermark } from '../../processors/core/watermark.ts';
import { advanceWatermark, apply, emptyDeal, snapshot, type DealState } from '../../processors/core/engine.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import type { Rules } from '../../processors/core/rules/load.ts';

/**
 * Many deals and one event-time watermark (SPEC §4): watermark = highest event_ts seen minus
 * the allowed lateness. Open SLA deadlines sit in a min-heap so advancing the watermark touches
 * only the deals whose deadline it passes. Used by `masterdeal fold`, the live processor (which
 * also calls `advanceTo` from the wall clock when idle, and `restore` from its changelog) and replay.
 */
interface BookStep {
  outputs: CanonicalEvent[];
  /** Deals whose state changed (to persist to a changelog, or to publish a new snapshot). */
  changed: string[];
}

interface DealBookOptions {
  /** Overrides the rules' allowed_lateness. */
  allowedLatenessMs?: number;
}

export class ReferenceBook {
  readonly deals = new Map<string, DealState>();
  readonly allowedLatenessMs: number;
  private readonly clock: EventTimeWatermark;
  private readonly timers = new DeadlineHeap();

  constructor(
    readonly rules: Rules,
    options: DealBookOptions = {},
  ) {
    this.allowedLatenessMs = options.allowedLatenessMs ?? rules.allowedLatenessMs;
    this.clock = new EventTimeWatermark(this.allowedLatenessMs);
  }

  /** The current event-time watermark (null before the first event). */
  get watermark(): number | null {
    return this.clock.value;
  }

  get highestEventTs(): number | null {
    return this.clock.highestEventTs;
  }

  apply(env: Envelope): BookStep {
    const moved = this.clock.observe(env.event_ts);

    const before = this.deals.get(env.master_deal_id) ?? emptyDeal(env.master_deal_id, this.rules);
    const step = apply(before, env, this.rules, this.watermark);
    const outputs = step.outputs;
    const changed: string[] = [];
    if (step.state !== before) {
      this.store(step.state, before);
      changed.push(env.master_deal_id);
    }
    if (moved) this.fireTimers(outputs, changed);
    return { outputs, changed };
  }

  /**
   * Moves the watermark to `watermarkMs` if that is later (live idle ticks from the wall clock;
   * the end of a fold). Never moves it back.
   */
  advanceTo(watermarkMs: number): BookStep {
    const outputs: CanonicalEvent[] = [];
    const changed: string[] = [];
    if (this.clock.advanceTo(watermarkMs)) this.fireTimers(outputs, changed);
    return { outputs, changed };
  }

  /** Puts back a deal state read from a changelog (keeps the book's watermark). */
  restore(state: DealState): void {
    this.store(state, this.deals.get(state.master_deal_id));
  }

  get(masterDealId: string): DealState | undefined {
    return this.deals.get(masterDealId);
  }

  snapshot(masterDealId: string): Snapshot | undefined {
    const state = this.deals.get(masterDealId);
    return state && snapshot(this.current(state), this.rules);
  }

  /** Snapshots of every deal, in master_deal_id order. */
  *snapshots(): IterableIterator<Snapshot> {
    for (const id of [...this.deals.keys()].sort()) yield snapshot(this.current(this.deals.get(id) as DealState), this.rules);
  }

  /** The state as of the book's watermark (deals without due timers are not revisited eagerly). */
  private current(state: DealState): DealState {
    return this.watermark === null ? state : advanceWatermark(state, this.watermark, this.rules).state;
  }

  private store(state: DealState, before: DealState | undefined): void {
    this.deals.set(state.master_deal_id, state);
    if (state.next_deadline !== null && state.next_deadline !== before?.next_deadline) {
      this.timers.push(state.next_deadline, state.master_deal_id);
    }
  }

  private fireTimers(outputs: CanonicalEvent[], changed: string[]): void {
    const mark = this.watermark as number;
    while (this.timers.size > 0 && this.timers.peekDeadline() < mark) {
      const deadline = this.timers.peekDeadline();
      const id = this.timers.pop();
      const state = this.deals.get(id);
      if (!state || state.next_deadline !== deadline) continue; // stale entry: the deal moved on
      const step = advanceWatermark(state, mark, this.rules);
      if (step.state === state) continue;
      this.store(step.state, state);
      outputs.push(...step.outputs);
      if (!changed.includes(id)) changed.push(id);
    }
  }
}
