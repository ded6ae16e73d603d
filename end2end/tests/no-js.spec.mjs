// Without JavaScript the server-rendered page is complete and paging still works (plain links).
import { test, expect } from '@playwright/test';

test('events render and page without JavaScript', async ({ page }) => {
  await page.goto('/events');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'false');
  await expect(page.locator('#events-table tbody tr')).toHaveCount(50);
  await page.locator('#page-older').click();
  await expect(page).toHaveURL(/\/events\?cursor=/);
  await expect(page.locator('#events-table tbody tr').first()).toBeVisible();
});

test('a rule is backtested and saved without JavaScript', async ({ page }) => {
  const name = `No-JS rule ${Date.now()}`;
  await page.goto('/rules/new');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'false');
  await page.locator('#rule-name').fill(name);
  await page.locator('#field-0').fill('operation');
  await page.locator('#op-0').selectOption('exists');
  await page.locator('#backtest-range').selectOption('30d');
  await page.locator('#rule-backtest').click();
  await expect(page).toHaveURL(/\/rules\/new\?mode=form&backtest=30d&draft=/);
  await expect(page.locator('#backtest-summary')).toBeVisible({ timeout: 30_000 });
  // The form holds the draft again.
  await expect(page.locator('#rule-name')).toHaveValue(name);
  await expect(page.locator('#op-0')).toHaveValue('exists');
  await page.locator('#rule-enabled').uncheck();
  await page.locator('#rule-save').click();
  await expect(page).toHaveURL(/\/rules\/\d+\?saved=1$/);
  await expect(page.locator('#rule-title')).toHaveText(name);
  await expect(page.locator('#rule-enabled')).not.toBeChecked();
});

test('destinations are added, tested and deleted without JavaScript', async ({ page }) => {
  const http = await import('node:http');
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(body);
      res.end('ok from the no-js receiver');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const name = `nojs-hook-${Date.now()}`;
  try {
    await page.goto('/destinations');
    await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'false');
    await page.locator('#add-webhook summary').click();
    const form = page.locator('#new-webhook');
    await form.locator('input[name=name]').fill(name);
    await form.locator('input[name=endpoint]').fill(`http://127.0.0.1:${server.address().port}/hook`);
    await form.locator('select[name=receives]').selectOption('min_severity');
    await form.locator('select[name=min_severity]').selectOption('critical');
    await form.getByRole('button', { name: /^Add HTTPS webhook/ }).click();
    const card = page.locator(`section.destination-card[data-destination="${name}"]`);
    await expect(card).toBeVisible();
    await card.locator('button[data-action=test]').click();
    await expect(card.locator('.test-result')).toHaveAttribute('data-delivered', 'true');
    await expect(card.locator('.test-result pre')).toHaveText('ok from the no-js receiver');
    expect(received.some((b) => b.includes('AOC.DestinationTest'))).toBe(true);
    await card.locator('button[data-action=delete]').click();
    await expect(page.locator(`section.destination-card[data-destination="${name}"]`)).toHaveCount(0);
  } finally {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
  }
});

test('the AI summary is asked for and shown without JavaScript', async ({ page }) => {
  test.skip(process.env.AOC_E2E_LLM !== 'true', 'no language model stand-in is running (AOC_E2E_LLM)');
  await page.goto('/investigate');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'false');
  await page.locator('#summarize').click();
  await expect(page).toHaveURL(/\/investigate\?(.*&)?summarize=1/);
  await expect(page.locator('#ai-summary')).toBeVisible();
  await expect(page.locator('#summary-text')).toContainText('Stand-in summary');
  await expect(page.locator('#cited-events a.cited-event').first()).toBeVisible();
});
