/**
 * dbt's target/run_results.json -> rows of `dbt_run_results` (clickhouse/0005). Pure.
 */
export interface DbtRunResultRow {
  invocation_id: string;
  command: string;
  unique_id: string;
  model: string;
  resource_type: string;
  status: string;
  rows_affected: number | null;
  execution_seconds: number;
  started_at: string;
  completed_at: string;
  message: string;
  dbt_version: string;
}

interface RunResultsJson {
  metadata?: { invocation_id?: string; dbt_version?: string; generated_at?: string };
  args?: { which?: string };
  results?: Array<{
    unique_id?: string;
    status?: string;
    execution_time?: number;
    message?: string | null;
    adapter_response?: { rows_affected?: number | null };
    timing?: Array<{ name?: string; started_at?: string | null; completed_at?: string | null }>;
  }>;
}

/** ClickHouse DateTime64(3) text; dbt writes ISO timestamps, sometimes without a zone (UTC). */
function chTime(iso: string | null | undefined, fallback: string): string {
  const source = iso ?? fallback;
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(source) ? source : `${source}Z`);
  return new Date(Number.isFinite(ms) ? ms : 0).toISOString().replace('T', ' ').replace('Z', '');
}

export function runResultRows(json: unknown): DbtRunResultRow[] {
  const doc = json as RunResultsJson;
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.results)) {
    throw new Error('not a dbt run_results.json: no "results" array');
  }
  const invocationId = doc.metadata?.invocation_id ?? '';
  const generatedAt = doc.metadata?.generated_at ?? new Date().toISOString();
  return doc.results.map((r) => {
    const uniqueId = r.unique_id ?? '';
    const parts = uniqueId.split('.');
    // Whole-node timing: compile start to execute end.
    const starts = (r.timing ?? []).map((t) => t.started_at).filter((t): t is string => !!t).sort();
    const ends = (r.timing ?? []).map((t) => t.completed_at).filter((t): t is string => !!t).sort();
    const rows = r.adapter_response?.rows_affected;
    return {
      invocation_id: invocationId,
      command: doc.args?.which ?? '',
      unique_id: uniqueId,
      model: parts[2] ?? uniqueId,
      resource_type: parts[0] ?? '',
      status: r.status ?? '',
      rows_affected: typeof rows === 'number' && rows >= 0 ? rows : null,
      execution_seconds: r.execution_time ?? 0,
      started_at: chTime(starts[0], generatedAt),
      completed_at: chTime(ends[ends.length - 1], generatedAt),
      message: r.message ?? '',
      dbt_version: doc.metadata?.dbt_version ?? '',
    };
  });
}
