/** The public surface of the pure core: rules, engine, multi-deal book, canonical outputs. */
export * from './canonical.ts';
export { apply, advanceWatermark, applyInPlace, advanceWatermarkInPlace, emptyDeal, ownedCopy, restoredState, savedState, slaViews, snapshot } from './engine.ts';
export type { DealState, Derived, FactEvent, Mark, SavedDealState, Step } from './engine.ts';
export { DealBook, RulesMismatchError } from './deal-book.ts';
export type { BookStep, DealBookOptions } from './deal-book.ts';
export { DEFAULT_RULES_PATH, loadDefaultRules, loadRulesFile, parseRules, RulesError } from './rules/load.ts';
export type { Rules, SlaDef, StageDef, FactDef } from './rules/load.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { BusinessCalendar } from './calendar.ts';
export type { Envelope } from './envelope.ts';
