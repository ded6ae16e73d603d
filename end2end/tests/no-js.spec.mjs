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
