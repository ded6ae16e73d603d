// The Events page, hydrated: server-rendered rows, then client-side paging through the
// list_events server function without a full page load.
import { test, expect } from '@playwright/test';

function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return errors;
}

test('the events page hydrates and lists events newest first', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/events');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('heading', { name: 'Events' })).toBeVisible();

  const times = await page.locator('#events-table tbody time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
  expect(times.length).toBe(50);
  const sorted = [...times].sort().reverse();
  expect(times).toEqual(sorted);
  expect(errors).toEqual([]);
});

test('paging to older events happens in the browser after hydration', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/events');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  // A marker on window survives client-side navigation but not a full page load.
  await page.evaluate(() => { window.__aocNoReload = true; });

  const firstPageLastTime = await page.locator('#events-table tbody time').last().getAttribute('datetime');
  const serverFnCall = page.waitForResponse((r) => r.url().includes('/api/list_events') && r.status() === 200);
  await page.locator('#page-older').click();
  await serverFnCall;
  await expect(page).toHaveURL(/\/events\?cursor=/);
  await expect(page.locator('#page-newest')).toBeVisible();

  const secondPageFirstTime = await page.locator('#events-table tbody time').first().getAttribute('datetime');
  expect(secondPageFirstTime <= firstPageLastTime).toBeTruthy();
  expect(await page.evaluate(() => window.__aocNoReload)).toBe(true);
  expect(errors).toEqual([]);
});

test('the navigation reaches every section', async ({ page }) => {
  await page.goto('/events');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const section of ['Alerts', 'Rules', 'Sources', 'Settings']) {
    await nav.getByRole('link', { name: section, exact: true }).click();
    await expect(page.getByRole('heading', { level: 1, name: section })).toBeVisible();
  }
  await expect(page.locator('#caller-role')).toHaveText('admin');
});

test('demo data is labelled as such', async ({ page }) => {
  test.skip(process.env.AOC_E2E_DEMO !== 'true', 'only when the server runs in demo mode');
  await page.goto('/events');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#demo-banner')).toContainText('Demo data');
  await expect(page.locator('#events-table tbody tr')).toHaveCount(50);
});
