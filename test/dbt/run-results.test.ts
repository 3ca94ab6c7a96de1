import { describe, expect, it } from 'vitest';
import { runResultRows } from '../../processors/dbt/run-results.ts';

describe('runResultRows', () => {
  it('turns each dbt node result into a dbt_run_results row', () => {
    const rows = runResultRows({
      metadata: { invocation_id: 'inv-1', dbt_version: '1.10.15', generated_at: '2026-03-02T10:00:05.000000Z' },
      args: { which: 'build' },
      results: [
        {
          unique_id: 'model.masterdeal.fact_deal',
          status: 'success',
          execution_time: 1.25,
          message: 'OK',
          adapter_response: { rows_affected: 42 },
          timing: [
            { name: 'compile', started_at: '2026-03-02T10:00:00.100000Z', completed_at: '2026-03-02T10:00:00.200000Z' },
            { name: 'execute', started_at: '2026-03-02T10:00:00.200000Z', completed_at: '2026-03-02T10:00:01.350000Z' },
          ],
        },
        { unique_id: 'test.masterdeal.unique_fact_deal_master_deal_id.abc', status: 'fail', execution_time: 0.1, message: null, timing: [] },
      ],
    });
    expect(rows[0]).toEqual({
      invocation_id: 'inv-1', command: 'build', unique_id: 'model.masterdeal.fact_deal', model: 'fact_deal', resource_type: 'model',
      status: 'success', rows_affected: 42, execution_seconds: 1.25, started_at: '2026-03-02 10:00:00.100',
      completed_at: '2026-03-02 10:00:01.350', message: 'OK', dbt_version: '1.10.15',
    });
    expect(rows[1]).toMatchObject({ model: 'unique_fact_deal_master_deal_id', resource_type: 'test', status: 'fail', rows_affected: null, message: '', started_at: '2026-03-02 10:00:05.000' });
  });

  it('rejects a file that is not run_results.json', () => {
    expect(() => runResultRows({ nodes: {} })).toThrow(/no "results" array/);
  });
});
