import { describe, expect, it } from 'vitest';
import { availableJavas, javaMajor } from '../../processors/stack/java.ts';
import { COMPONENT_ORDER, formatStatusTable, loadComponents } from '../../processors/stack/stack.ts';

describe('stack components', () => {
  it('loads the components present, in start order kafka, registry, clickhouse, dbt', async () => {
    const names = (await loadComponents()).map((c) => c.name);
    expect(names.slice(0, 2)).toEqual(['kafka', 'registry']);
    expect(names).toEqual(COMPONENT_ORDER.filter((n) => names.includes(n)));
  });

  it('--only narrows the set and rejects unknown names with the known ones listed', async () => {
    expect((await loadComponents(['registry'])).map((c) => c.name)).toEqual(['registry']);
    await expect(loadComponents(['kafak'])).rejects.toThrow(/unknown component\(s\): kafak \(known: kafka, registry/);
  });

  it('formats the status table with one aligned row per component', () => {
    const table = formatStatusTable([
      { name: 'kafka', running: true, healthy: true, endpoint: 'localhost:9092', pid: 42, logFile: '/s/logs/kafka.log', detail: 'Kafka 4.1.1 (KRaft)' },
      { name: 'registry', running: false, healthy: false, endpoint: 'http://localhost:8081/apis/ccompat/v7' },
    ]).split('\n');
    expect(table[0]).toMatch(/^COMPONENT\s+STATE\s+ENDPOINT\s+PID\s+LOG\s+DETAIL$/);
    expect(table[1]).toMatch(/^kafka\s+healthy\s+localhost:9092\s+42\s+\/s\/logs\/kafka.log\s+Kafka 4.1.1/);
    expect(table[2]).toMatch(/^registry\s+stopped\s+http:\/\/localhost:8081\S+\s+-\s+-$/);
    expect(table[1].indexOf('localhost')).toBe(table[2].indexOf('http'));
  });
});

describe('java discovery', () => {
  it('finds at least one Java 17+ (the stack needs it) and reads its major version', () => {
    const javas = availableJavas();
    expect(javas.length).toBeGreaterThan(0);
    expect(javas[0].major).toBeGreaterThanOrEqual(17);
    expect(javaMajor(javas[0].bin)).toBe(javas[0].major);
    expect(javaMajor('/nonexistent/java')).toBeUndefined();
  });
});
