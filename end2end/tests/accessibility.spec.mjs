// Automated accessibility scan (axe-core) of every page: no serious or critical violation.
import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

const pages = ['/events', '/sources', '/audit', '/settings', '/alerts', '/rules', '/rules/new', '/rules/new?mode=sigma', '/destinations', '/investigate?tab=map'];

for (const path of pages) {
  test(`${path} has no serious or critical accessibility violation`, async ({ page }) => {
    await page.goto(path);
    await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    expect(bad, bad.join('\n')).toEqual([]);
  });
}

test('an event page has no serious or critical accessibility violation', async ({ page }) => {
  await page.goto('/events');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#events-table tbody tr').first().locator('td.time a').click();
  await expect(page).toHaveURL(/\/events\/\d+$/);
  await expect(page.locator('#event-title')).toBeVisible();
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, bad.join('\n')).toEqual([]);
});

test('an alert page has no serious or critical accessibility violation', async ({ page }) => {
  await page.goto('/alerts?hunting=all');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  const links = page.locator('#alerts-table a.alert-link');
  test.skip(await links.count() === 0, 'no alert has been raised yet');
  await links.first().click();
  await expect(page).toHaveURL(/\/alerts\/\d+$/);
  await expect(page.locator('#alert-title')).toBeVisible();
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  expect(bad, bad.join('\n')).toEqual([]);
});

test.describe('dark theme', () => {
  test.use({ colorScheme: 'dark' });
  for (const path of ['/events', '/sources', '/alerts', '/rules', '/rules/new']) {
    test(`${path} keeps its contrast in the dark theme`, async ({ page }) => {
      await page.goto(path);
      await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
      const results = await new AxeBuilder({ page }).analyze();
      const bad = results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
      expect(bad, bad.join('\n')).toEqual([]);
    });
  }
});
