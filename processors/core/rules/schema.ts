import { z } from 'zod';
import { WEEKDAYS } from '../calendar.ts';

/** The shape of a rules file; meaning (names resolve, events exist) is checked in load.ts. */
const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a snake_case name');
const eventType = z.string().min(1);
const duration = z.union([z.string(), z.number().int().nonnegative()]);
const isoDate = z.preprocess(
  (v) => (v instanceof Date ? v.toISOString().slice(0, 10) : v),
  z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD'),
);

const factSpec = z.strictObject({
  label: z.string().optional(),
  set_by: z.array(eventType).min(1),
});

export const rulesFileSchema = z.strictObject({
  version: z.literal(1),
  allowed_lateness: duration.default('0s'),
  gates: z.record(name, factSpec),
  compensations: z
    .array(z.strictObject({ event_type: eventType, resets: z.array(name).min(1) }))
    .default([]),
  terminals: z.record(name, factSpec).default({}),
  markers: z.record(name, factSpec).default({}),
  milestones: z.record(name, z.strictObject({ all_of: z.array(name).min(1) })).default({}),
  stages: z
    .array(z.strictObject({ name, when: z.string().min(1), final: z.boolean().default(false) }))
    .min(1),
  sla: z
    .array(
      z.strictObject({
        name,
        start: name,
        stop: name,
        target: duration,
        calendar: name.optional(),
      }),
    )
    .default([]),
  calendars: z
    .record(
      name,
      z.strictObject({
        zone: z.string().min(1),
        hours: z.partialRecord(z.enum(WEEKDAYS), z.string()),
        holidays: z.array(isoDate).default([]),
      }),
    )
    .default({}),
});

export type RulesFile = z.infer<typeof rulesFileSchema>;
