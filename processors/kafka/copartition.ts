/**
 * Co-partitioning assignment, pure: partition number p of every subscribed topic goes to
 * the same member, so one member sees all events of a deal whatever domain sent them.
 * Members are ordered by id so every member computes the same plan.
 */
export interface AssignmentInput {
  memberIds: string[];
  /** topic → its partition ids */
  partitions: Record<string, number[]>;
}

export type Assignment = Record<string, Record<string, number[]>>;

export function assignCoPartitioned({ memberIds, partitions }: AssignmentInput): Assignment {
  const members = [...memberIds].sort();
  const plan: Assignment = Object.fromEntries(members.map((m) => [m, {}]));
  if (members.length === 0) return plan;
  const numbers = [...new Set(Object.values(partitions).flat())].sort((a, b) => a - b);
  numbers.forEach((p, i) => {
    const owner = members[i % members.length]!;
    for (const [topic, ids] of Object.entries(partitions)) {
      if (!ids.includes(p)) continue;
      (plan[owner]![topic] ??= []).push(p);
    }
  });
  return plan;
}

/** Partition numbers a member owns, whatever the topic. */
export function ownedPartitions(assignment: Record<string, number[]>): number[] {
  return [...new Set(Object.values(assignment).flat())].sort((a, b) => a - b);
}
