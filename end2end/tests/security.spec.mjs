// What a real browser enforces and sends: the page's Content-Security-Policy lets the hydrated
// app run (no violations), and a form posted from another site cannot change anything.
import { test, expect } from '@playwright/test';

test('the hydrated app runs under its Content-Security-Policy', async ({ page }) => {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  const response = await page.goto('/events');
  const csp = response.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self' 'nonce-");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(response.headers()['x-content-type-options']).toBe('nosniff');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  // Client-side work after hydration (a server function call) is allowed by connect-src.
  const call = page.waitForResponse((r) => r.url().includes('/api/event_table') && r.status() === 200);
  await page.locator('#page-older').click();
  await call;
  expect(problems).toEqual([]);
});

test('a form posted from another site cannot tag an event', async ({ page, baseURL }) => {
  const first = await (await page.request.post('/api/list_events', { form: { page_size: '1' } })).json();
  const id = String(first.items[0].id);
  // Another site's page (served by Playwright itself, no network) posts a form to AOC.
  const own = new URL(baseURL);
  const target = `${own.origin}/api/tag_event`;
  await page.route('http://attacker.test/**', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<form id="f" method="POST" action="${target}"><input name="id" value="${id}"><input name="tag" value="cross-site"></form>`,
  }));
  await page.goto('http://attacker.test/');
  const answer = page.waitForResponse((r) => r.url().startsWith(target));
  await page.evaluate(() => document.getElementById('f').submit());
  expect((await answer).status()).toBe(403);

  const detail = await (await page.request.post('/api/get_event', { form: { id } })).json();
  expect(detail.tags.map((t) => t.tag)).not.toContain('cross-site');
});
