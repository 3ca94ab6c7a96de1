import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUDGET_SEGMENT_BOUNDS_RUB, budgetSegment, budgetSegmentSql } from '../../processors/api/model.ts';
import { PROJECT_ROOT } from '../../processors/shared/config.ts';
import { embeddedClickhouse } from './harness.ts';

/**
 * One definition of budget segments: dbt's var `budget_segment_bounds_rub` (fact_deal, fact_nps)
 * and the API's constant, SQL and labels must cut budgets at the same places.
 */
const dbtProject = parse(readFileSync(join(PROJECT_ROOT, 'dbt', 'dbt_project.yml'), 'utf8')) as { vars?: Record<string, unknown> };
const macro = readFileSync(join(PROJECT_ROOT, 'dbt', 'macros', 'segments.sql'), 'utf8');
const client = embeddedClickhouse();
afterAll(() => client.close());

/** dbt's budget_segment macro rendered with the project's var (its only Jinja is the var and the argument). */
function dbtSegmentSql(column: string): string {
  const body = /\{% macro budget_segment\(budget_rub\) -%\}([\s\S]*?)\{%- endmacro %\}/.exec(macro)![1];
  const bounds = dbtProject.vars!.budget_segment_bounds_rub as number[];
  return body
    .replace(/\{%-? set bounds = [^%]*%\}/, '')
    .replace(/\{\{ budget_rub \}\}/g, column)
    .replace(/\{\{ bounds\[(\d)\] \}\}/g, (_, i: string) => String(bounds[Number(i)]))
    .trim();
}

describe('budget segments: dbt and the API agree', () => {
  it('the API bounds equal the dbt var in dbt_project.yml', () => {
    expect(dbtProject.vars?.budget_segment_bounds_rub).toEqual([...BUDGET_SEGMENT_BOUNDS_RUB]);
  });

  it('the dbt macro takes its bounds only from the project var (no second default)', () => {
    expect(macro).toMatch(/var\('budget_segment_bounds_rub'\)/);
    expect(macro).not.toMatch(/var\('budget_segment_bounds_rub',/);
  });

  it('the dbt macro, the API SQL and the API function segment the same budgets the same way', async () => {
    const [low, high] = BUDGET_SEGMENT_BOUNDS_RUB;
    const budgets = [0, 1, 999_999, 1_000_000, low - 0.01, low, low + 1, 9_999_999, 10_000_000, high - 0.01, high, high * 10, null];
    const rows = budgets.map((b) => `(${b === null ? 'NULL' : b})`).join(', ');
    const result = await client.query({
      query: `SELECT b, ${dbtSegmentSql('b')} AS dbt, ${budgetSegmentSql('b')} AS api
              FROM values('b Nullable(Float64)', ${rows})`,
      format: 'JSONEachRow',
    });
    const got = await result.json<{ b: number | null; dbt: string; api: string }>();
    expect(got).toHaveLength(budgets.length);
    for (const r of got) {
      expect(r.dbt, `budget ${r.b}`).toBe(r.api);
      expect(r.api, `budget ${r.b}`).toBe(budgetSegment(r.b));
    }
    expect(new Set(got.map((r) => r.api))).toEqual(new Set(['small', 'medium', 'large', 'unknown']));
  });
});
