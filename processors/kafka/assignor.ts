import './kafkajs-patches.ts'; // before kafkajs loads
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { assignCoPartitioned } from './copartition.ts';

/** kafkajs adapter of the co-partitioning plan (see copartition.ts). */
export const CO_PARTITIONING_ASSIGNER = 'MasterdealCoPartitioning';

export const coPartitioningAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONING_ASSIGNER,
  version: 0,
  async assign({ members, topics }) {
    const partitions: Record<string, number[]> = {};
    for (const topic of topics) {
      partitions[topic] = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
    }
    const plan = assignCoPartitioned({ memberIds: members.map((m) => m.memberId), partitions });
    return Object.entries(plan).map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return {
      name: CO_PARTITIONING_ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
