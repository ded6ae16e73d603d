// The sign-in map (Investigate, Map tab), hydrated in Chromium: reached from the Events page with
// its filters, the world outline and the places drawn as SVG, the counts of what could not be
// placed, the DB-IP attribution, the table alternative, and a place that opens its events.
// Works on the generated data (synthetic sign-ins carry locations) and on the demo tenant.
import { test, expect } from '@playwright/test';

const shots = process.env.AOC_SCREENSHOT_DIR || 'test-results/screenshots';

// The demo tenant's sign-ins arrive while it collects: wait until some are stored.
async function waitForSignIns(request) {
  await expect.poll(async () => {
    const r = await request.get('/api/events/map?source=signin');
    return r.ok() ? (await r.json()).located : 0;
  }, { timeout: 90_000, intervals: [1_000] }).toBeGreaterThan(0);
}

function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return errors;
}

test('the sign-in map draws the places of a search and a place opens its events', async ({ page }, testInfo) => {
  test.setTimeout(150_000);
  await waitForSignIns(page.request);
  const errors = watchErrors(page);
  await page.goto('/events?source=signin');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#map-link').click();
  await expect(page).toHaveURL(/\/investigate\?source=signin&tab=map/);
  await expect(page.locator('#tab-map')).toHaveClass(/active/);
  const map = page.locator('#signin-map');
  await expect(map.locator('svg.map-canvas')).toBeVisible();
  await expect(map.locator('svg image')).toHaveAttribute('href', '/world-110m.svg');
  await expect(page.locator('#map-counts')).toContainText('placed on the map');
  await expect(page.locator('#map-counts')).toContainText('private or reserved');
  await expect(page.locator('#dbip-attribution')).toHaveAttribute('href', 'https://db-ip.com');
  await expect(page.locator('#dbip-attribution')).toHaveText('IP Geolocation by DB-IP');
  // Sign-ins carry their location, so places are drawn and listed in the table alternative.
  const points = map.locator('g.map-point');
  expect(await points.count()).toBeGreaterThan(0);
  await expect(page.locator('#map-places tbody tr')).toHaveCount(await points.count());
  await expect(page.locator('#map-places a.place-link').first()).toBeVisible();
  // Hover titles carry the counts.
  await expect(points.first().locator('circle.map-all title')).toContainText('events');
  await page.screenshot({ path: `${shots}/map.png` });
  await page.screenshot({ path: testInfo.outputPath('investigate-map.png'), fullPage: true });

  // The busiest place opens the sign-ins from there.
  const link = page.locator('#map-places a.place-link').first();
  const place = await link.innerText();
  await points.first().locator('a').click();
  await expect(page).toHaveURL(/\/events\?.*source=signin.*location\.countryOrRegion/);
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  const rows = page.locator('#events-table tbody tr');
  await expect(rows.first()).toBeVisible();
  const services = await page.locator('#events-table tbody td.service').allInnerTexts();
  expect(new Set(services.map((s) => s.trim()))).toEqual(new Set(['Sign-ins']));
  expect(place.length).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});

test('the map answers on the REST API with the same shape', async ({ request }) => {
  test.setTimeout(150_000);
  await waitForSignIns(request);
  const response = await request.get('/api/events/map?source=signin');
  expect(response.status()).toBe(200);
  const map = await response.json();
  expect(map.located).toBeGreaterThan(0);
  expect(map.points.length).toBeGreaterThan(0);
  for (const p of map.points) {
    expect(p.count).toBeGreaterThanOrEqual(p.failures);
    expect(p.x).toBeGreaterThanOrEqual(0);
    expect(p.x).toBeLessThanOrEqual(1000);
  }
  expect(map.located + map.private + map.unlocated + map.no_location).toBe(map.events);
  const bad = await request.get('/api/events/map?last=never');
  expect(bad.status()).toBe(400);
});
