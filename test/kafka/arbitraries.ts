import fc from 'fast-check';

/** Kafka message keys, values and header values as kafkajs accepts them: bytes or text. */
export const bytesOrString = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), fc.string({ unit: 'grapheme', maxLength: 80 }));

/** Record headers: a value or several per name. */
export const recordHeaders = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.oneof(bytesOrString, fc.array(bytesOrString, { minLength: 1, maxLength: 3 })),
  { maxKeys: 3 },
);
