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
