import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../processors/shared/config.ts';
import { dealEnvelopes, syntheticDeals, type EnvelopeJson } from '../api/fixtures.ts';
import { eventually, startLiveApi, type LiveApi } from '../api/live-stack.ts';

// End to end as a person sees it: events POSTed to the API go through Kafka, the processor and
// the ClickHouse sink; the United Stage Dashboard in Debian's Chromium shows them, filtered, and
// updates by itself when more events arrive. Any console error in the page fails the test.
const CHROMIUM = process.env.MASTERDEAL_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT = resolve(PROJECT_ROOT, 'test-results/dashboard.png');

let api: LiveApi;
let pipeline: { stop(): Promise<void> } | undefined;
let browser: Browser | undefined;
const consoleErrors: string[] = [];

async function send(events: EnvelopeJson[]): Promise<void> {
  for (let i = 0; i < events.length; i += 200) {
    const res = await fetch(`${api.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': api.apiKey },
      body: JSON.stringify(events.slice(i, i + 200)),
    });
    expect(res.status, await res.clone().text()).toBe(202);
  }
}

async function dealsInWarehouse(query = ''): Promise<number> {
  const s = await (await fetch(`${api.url}/pipeline/summary${query}`)).json();
  return s.totals.deals as number;
}

const industryOf = (events: EnvelopeJson[]) =>
  new Map(events.filter((e) => e.event_type === 'crm.deal.created').map((e) => [e.master_deal_id, e.payload.industry as string]));

beforeAll(async () => {
  api = await startLiveApi('dashit');
  pipeline = await api.startPipeline();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});
afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
  await api?.stop();
});

describe('United Stage Dashboard', () => {
  it('shows the funnel for a chosen industry and updates live when new events flow through the pipeline', async () => {
    const first = syntheticDeals(60, 5, Date.parse('2026-03-02T09:00:00.000Z'), 3 * 3_600_000, 'MD-A');
    await send(first);
    await eventually(async () => ((await dealsInWarehouse()) === 60 ? true : undefined), 120_000, '60 deals in the warehouse');

    const page: Page = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(`${api.url}/`);
    await expect.poll(() => page.textContent('#kpi-deals'), { timeout: 20_000 }).toBe('60');
    await expect.poll(() => page.getAttribute('#live', 'data-state'), { timeout: 20_000 }).toBe('live');

    // Filter: the industry with most deals; the tiles show that segment only.
    const byIndustry = new Map<string, number>();
    for (const ind of industryOf(first).values()) byIndustry.set(ind, (byIndustry.get(ind) ?? 0) + 1);
    const [industry, count] = [...byIndustry].sort((a, b) => b[1] - a[1])[0];
    await page.selectOption('#f-industry', industry);
    await expect.poll(() => page.textContent('#kpi-deals'), { timeout: 20_000 }).toBe(String(count));
    expect(page.url()).toContain(`industry=${industry}`);
    const funnelBefore = await page.evaluate(() => (window as any).Chart.getChart('funnel-chart').data.datasets[0].data as number[]);
    expect(funnelBefore[0]).toBe(count);

    // New events for that industry arrive; the page refreshes itself (no reload).
    const more = Array.from({ length: 5 }, (_, i) =>
      dealEnvelopes({ id: `MD-B-${i}`, industry, clientType: 'direct', budgetRub: 5_000_000, createdAt: Date.parse('2026-04-20T09:00:00.000Z') + i * 3_600_000, depth: 7 }),
    ).flat();
    await send(more);
    await expect.poll(() => page.textContent('#kpi-deals'), { timeout: 90_000 }).toBe(String(count + 5));
    await expect.poll(() => page.textContent('#kpi-closed'), { timeout: 20_000 }).not.toBe('–');
    // The processor coalesces snapshots (a deal's first state may show before its last): wait for
    // the page to show all five new deals at "closed".
    const funnel = () => page.evaluate(() => (window as any).Chart.getChart('funnel-chart').data.datasets[0].data as number[]);
    await expect.poll(async () => (await funnel())[6], { timeout: 30_000 }).toBeGreaterThanOrEqual(funnelBefore[6] + 5); // five more reached "closed"
    expect((await funnel())[0]).toBe(count + 5);
    expect(await page.locator('#sla-table tbody tr').count()).toBe(5);
    expect(await page.textContent('#kpi-bottleneck')).not.toBe('–');

    // Let Chart.js finish its update animation so the picture shows the final figures.
    await page.waitForFunction(() => !['funnel-chart', 'trend-chart'].some((id) => (window as any).Chart.getChart(id)?.animating));
    await page.waitForTimeout(500);
    mkdirSync(resolve(PROJECT_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(consoleErrors).toEqual([]);
  });
});
