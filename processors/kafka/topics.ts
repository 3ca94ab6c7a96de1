import type { Domain } from '../core/envelope.ts';
import { EVENT_TYPES_BY_DOMAIN } from '../core/envelope.ts';

/**
 * Topic names and layouts. Raw topics are co-partitioned (same partition count, same
 * default partitioner, key = master_deal_id) so partition N of every raw topic holds the
 * same deals; the changelog and the canonical outputs reuse partition N explicitly.
 */
export const DOMAINS = Object.keys(EVENT_TYPES_BY_DOMAIN) as Domain[];

/**
 * Every topic name starts with this prefix (MASTERDEAL_TOPIC_PREFIX, default `masterdeal`), so
 * tests and parallel environments can share one broker without seeing each other's traffic.
 */
export function topicPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return env.MASTERDEAL_TOPIC_PREFIX || 'masterdeal';
}

export function rawTopic(domain: Domain, prefix = topicPrefix()): string {
  return `${prefix}.raw.${domain}`;
}

export const CANONICAL_KINDS = ['stage.changed', 'sla.updated', 'sla.breached', 'closed', 'snapshot'] as const;
export type CanonicalKind = (typeof CANONICAL_KINDS)[number];

/**
 * A namespace separates a live run from a replay: replays read the same raw topics but write
 * their own canonical, changelog and dead-letter topics (`<prefix>.replay-<id>.…`), so the
 * live ones are never touched.
 */
export interface TopicLayout {
  namespace: string;
  raw: Record<Domain, string>;
  canonical: Record<CanonicalKind, string>;
  changelog: string;
  deadLetter: string;
}

export function topicLayout(namespace = topicPrefix(), prefix = topicPrefix()): TopicLayout {
  const raw = Object.fromEntries(DOMAINS.map((d) => [d, rawTopic(d, prefix)])) as Record<Domain, string>;
  const canonical = Object.fromEntries(CANONICAL_KINDS.map((k) => [k, `${namespace}.${k}`])) as Record<
    CanonicalKind,
    string
  >;
  return {
    namespace,
    raw,
    canonical,
    changelog: `${namespace}.processor.changelog`,
    deadLetter: `${namespace}.dead-letter`,
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
