// The rule editor's stateful kinds without JavaScript (this file runs in the no-javascript
// project): the chosen kind's fields show by the style sheet alone, a sequence rule is backtested
// and saved through plain form posts, suppressed and unsuppressed, and deleted; a mistake is
// answered on the page with the form as it was sent.
import { test, expect } from '@playwright/test';

test('a sequence rule is written, suppressed and deleted without JavaScript', async ({ page }) => {
  test.setTimeout(90_000);
  const name = `No-JS sequence ${Date.now()}`;
  await page.goto('/rules/new');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'false');
  await expect(page.locator('#rule-then')).toBeHidden();
  await page.locator('#rule-kind-choice').selectOption('sequence');
  await expect(page.locator('#rule-then')).toBeVisible();
  await expect(page.locator('#rule-threshold')).toBeHidden();
  await page.locator('#rule-name').fill(name);
  await page.locator('#field-0').fill('operation');
  await page.locator('#op-0').selectOption('exists');
  await page.locator('#then-field-0').fill('result');
  await page.locator('#then-op-0').selectOption('exists');
  await page.locator('#backtest-range').selectOption('30d');
  await page.locator('#rule-backtest').click();
  await expect(page).toHaveURL(/\/rules\/new\?mode=form&backtest=30d&draft=/);
  await expect(page.locator('#backtest-summary')).toBeVisible({ timeout: 30_000 });
  // The form holds the draft again, kind and second step included.
  await expect(page.locator('#rule-kind-choice')).toHaveValue('sequence');
  await expect(page.locator('#then-field-0')).toHaveValue('result');
  await page.locator('#rule-enabled').uncheck();
  await page.locator('#rule-save').click();
  await expect(page).toHaveURL(/\/rules\/\d+\?saved=1$/);
  await expect(page.locator('#rule-kind')).toHaveText('sequence rule');
  await expect(page.locator('#then-op-0')).toHaveValue('exists');

  await page.locator('#rule-suppress-reason').fill('no-js check');
  await page.locator('#rule-suppress-save').click();
  await expect(page.locator('#suppressions li')).toHaveCount(1);
  await expect(page.locator('#suppressions li')).toContainText('every entity');
  await page.locator('#suppressions li .end-suppression').click();
  await expect(page.locator('#suppressions')).toHaveText('The rule is not suppressed.');

  await page.locator('#rule-delete-open').click();
  await page.locator('#rule-delete-confirm').check();
  await page.locator('#rule-delete-button').click();
  await expect(page).toHaveURL(/\/rules\?deleted=\d+$/);
  await expect(page.locator('#rule-deleted')).toBeVisible();
  await expect(page.locator(`#rules-table tr[data-rule-name="${name}"]`)).toHaveCount(0);
});

test('a threshold rule without its count is refused with the reason without JavaScript', async ({ page }) => {
  await page.goto('/rules/new');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'false');
  await page.locator('#rule-name').fill(`No-JS refused ${Date.now()}`);
  await page.locator('#rule-kind-choice').selectOption('threshold');
  await page.locator('#field-0').fill('operation');
  await page.locator('#op-0').selectOption('exists');
  await page.locator('#rule-distinct').fill('actor');
  await page.locator('#rule-group-by').fill('ip, actor');
  await page.locator('#rule-save').click();
  await expect(page.locator('#rule-error')).toContainText('a threshold rule needs the number of events');
  // Nothing typed is lost: the form comes back as it was sent.
  await expect(page).toHaveURL(/\/rules\/new\?mode=form&refused=/);
  await expect(page.locator('#rule-name')).toHaveValue(/^No-JS refused /);
  await expect(page.locator('#rule-kind-choice')).toHaveValue('threshold');
  await expect(page.locator('#field-0')).toHaveValue('operation');
  await expect(page.locator('#op-0')).toHaveValue('exists');
  await expect(page.locator('#rule-distinct')).toHaveValue('actor');
  await expect(page.locator('#rule-group-by')).toHaveValue('ip, actor');
  // Completed, it saves.
  await page.locator('#rule-count').fill('2');
  await page.locator('#rule-save').click();
  await expect(page).toHaveURL(/\/rules\/\d+\?saved=1$/);
  await expect(page.locator('#rule-group-by')).toHaveValue('ip, actor');
  await page.locator('#rule-delete-open').click();
  await page.locator('#rule-delete-confirm').check();
  await page.locator('#rule-delete-button').click();
  await expect(page).toHaveURL(/\/rules\?deleted=\d+$/);
});
