import type { Domain } from '../core/envelope.ts';
import { EVENT_TYPES_BY_DOMAIN } from '../core/envelope.ts';

/**
 * Topic names and layouts. Raw topics are co-partitioned (same partition count, same
 * default partitioner, key = master_deal_id) so partition N of every raw topic holds the
 * same deals; the changelog and the canonical outputs reuse partition N explicitly.
 */
export const DOMAINS = Object.keys(EVENT_TYPES_BY_DOMAIN) as Domain[];

export function rawTopic(domain: Domain, prefix = 'masterdeal'): string {
  return `${prefix}.raw.${domain}`;
}

export const CANONICAL_KINDS = ['stage.changed', 'sla.updated', 'sla.breached', 'closed', 'snapshot'] as const;
export type CanonicalKind = (typeof CANONICAL_KINDS)[number];

/**
 * A namespace separates a live run from a replay: replays write to their own canonical
 * and changelog topics (`masterdeal.replay-<id>.…`) so the live ones are never touched.
 */
export interface TopicLayout {
  raw: Record<Domain, string>;
  canonical: Record<CanonicalKind, string>;
  changelog: string;
  deadLetter: string;
}

export function topicLayout(namespace = 'masterdeal'): TopicLayout {
  const raw = Object.fromEntries(DOMAINS.map((d) => [d, rawTopic(d)])) as Record<Domain, string>;
  const canonical = Object.fromEntries(CANONICAL_KINDS.map((k) => [k, `${namespace}.${k}`])) as Record<
    CanonicalKind,
    string
  >;
  return {
    raw,
    canonical,
    changelog: `${namespace}.processor.changelog`,
    deadLetter: 'masterdeal.dead-letter',
  };
}

/** Canonical output `type` (SPEC §6, e.g. `masterdeal.sla.breached`) → its topic kind. */
export function canonicalKindOf(type: string): CanonicalKind | undefined {
  const kind = type.replace(/^masterdeal\./, '');
  return (CANONICAL_KINDS as readonly string[]).includes(kind) ? (kind as CanonicalKind) : undefined;
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries: { name: string; value: string }[];
}

const COMPACTED = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'min.compaction.lag.ms', value: '60000' },
];

/** Every topic the pipeline needs in one namespace, all with the same partition count. */
export function topicSpecs(layout: TopicLayout, partitions: number): TopicSpec[] {
  const plain = (topic: string): TopicSpec => ({ topic, numPartitions: partitions, configEntries: [] });
  const compacted = (topic: string): TopicSpec => ({ topic, numPartitions: partitions, configEntries: COMPACTED });
  return [
    ...Object.values(layout.raw).map(plain),
    ...CANONICAL_KINDS.map((k) => (k === 'snapshot' ? compacted(layout.canonical[k]) : plain(layout.canonical[k]))),
    compacted(layout.changelog),
    plain(layout.deadLetter),
  ];
}
