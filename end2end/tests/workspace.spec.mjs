// The analyst's workspace: every filter survives Apply, paging and reload; facets filter and
// exclude; the histogram narrows the time range; exports; prefix search; the event page's JSON
// tree, value links and comment editing; keyboard use; and the same forms without JavaScript.
// Works on generated data (sqlite) and on the demo tenant (postgres): the values it uses are read
// from the page, never assumed. Screenshots go to AOC_SCREENSHOT_DIR (or test-results/screenshots).
import { test, expect } from '@playwright/test';

const shots = process.env.AOC_SCREENSHOT_DIR || 'test-results/screenshots';

function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return errors;
}

async function hydrated(page, url) {
  await page.goto(url);
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
}

test('every filter survives Apply, paging and reload', async ({ page }) => {
  const errors = watchErrors(page);
  await hydrated(page, '/events');
  await page.locator('#filter-min_severity').selectOption('info');
  await page.locator('#filter-start').fill('2000-01-01T00:00');
  await page.locator('#filter-target').fill('');
  await page.locator('#filter-apply').click();
  await expect(page).toHaveURL(/min_severity=info/);
  await expect(page).toHaveURL(/start=2000-01-01T00%3A00/);
  await expect(page.locator('#filter-min_severity')).toHaveValue('info');
  await expect(page.locator('#filter-start')).toHaveValue('2000-01-01T00:00');
  // Paging keeps them.
  await page.locator('#page-older').click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(page).toHaveURL(/min_severity=info/);
  await expect(page).toHaveURL(/start=2000-01-01T00%3A00/);
  // So does a reload.
  await page.reload();
  await expect(page.locator('#filter-min_severity')).toHaveValue('info');
  await expect(page.locator('#filter-start')).toHaveValue('2000-01-01T00:00');
  await page.screenshot({ path: `${shots}/events.png` });
  expect(errors).toEqual([]);
});

test('a chosen service does not shrink the service list, and facets filter and exclude', async ({ page }) => {
  await hydrated(page, '/events');
  const services = page.locator('#facet-service li');
  const offered = await services.count();
  expect(offered).toBeGreaterThan(0);
  const first = await services.first().locator('.facet-value').textContent();
  await services.first().locator('.facet-value').click();
  await expect(page).toHaveURL(/service=/);
  await expect(page.locator('#facet-service li.active')).toHaveCount(1);
  await expect(page.locator('#facet-service li')).toHaveCount(offered);
  expect(await page.locator('#filter-service option').count()).toBe(offered + 1);
  const shown = await page.locator('#events-table tbody tr td.service').allTextContents();
  expect(new Set(shown)).toEqual(new Set([first]));

  // Exclude the most common operation: it leaves the list and the query says so.
  await page.goto('/events');
  const operation = await page.locator('#facet-operation li .facet-value').first().textContent();
  await page.locator('#facet-operation li .facet-exclude').first().click();
  await expect(page).toHaveURL(/search=-operation/);
  await expect(page.locator('#filter-search')).toHaveValue(/^-operation:/);
  const operations = await page.locator('#events-table tbody td.operation').allTextContents();
  expect(operations).not.toContain(operation);
});

test('a facet list searches within its values and goes back to the top values', async ({ page }) => {
  const errors = watchErrors(page);
  await hydrated(page, '/events');
  // Search the operations for a part of the most common one, in another case.
  const top = (await page.locator('#facet-operation li .facet-value').first().getAttribute('title')) ?? '';
  const part = top.slice(1, 5).toUpperCase();
  await page.locator('#facet-operation-search').fill(part);
  await page.locator('#facet-operation-search').press('Enter');
  await expect(page).toHaveURL(new RegExp(`facet=operation&facet_q=${encodeURIComponent(part)}`));
  await expect(page.locator('#facet-operation .facet-searching')).toContainText(part);
  const found = await page.locator('#facet-operation li .facet-value').evaluateAll((els) => els.map((e) => e.title));
  expect(found.length).toBeGreaterThan(0);
  for (const value of found) expect(value.toUpperCase()).toContain(part);
  expect(found).toContain(top);
  await page.locator('#facet-operation .facet-clear').click();
  await expect(page).not.toHaveURL(/facet_q=/);
  await expect(page.locator('#facet-operation .facet-searching')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a histogram bar narrows the time range and shows its count', async ({ page }) => {
  await hydrated(page, '/events');
  const bar = page.locator('#event-histogram a.bar:not([data-count="0"])').first();
  await expect(bar).toHaveAttribute('title', /\d+ events$/);
  const count = Number(await bar.getAttribute('data-count'));
  await bar.click();
  await expect(page).toHaveURL(/start=.*end=/);
  await expect(page.locator('#filter-start')).not.toHaveValue('');
  const rows = await page.locator('#events-table tbody tr').count();
  expect(rows).toBe(Math.min(count, 50));
});

test('exports of the current search download CSV and JSON lines', async ({ page }) => {
  await hydrated(page, '/events?min_severity=info');
  const csv = await page.locator('#export-csv').getAttribute('href');
  expect(csv).toContain('min_severity=info');
  const response = await page.request.get(csv);
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toContain('text/csv');
  const jsonl = await page.request.get(await page.locator('#export-jsonl').getAttribute('href'));
  expect(jsonl.headers()['content-type']).toBe('application/x-ndjson');
  const first = JSON.parse((await jsonl.text()).split('\n')[0]);
  expect(first.id).toBeTruthy();
});

test('a prefix finds the words it starts', async ({ page }) => {
  await hydrated(page, '/events');
  const operation = await page.locator('#events-table tbody td.operation').first().textContent();
  const word = operation.match(/[A-Za-z]{3,}/)[0];
  await page.locator('#filter-search').fill(`${word.slice(0, 3)}*`);
  await page.locator('#filter-apply').click();
  await expect(page).toHaveURL(/search=/);
  expect(await page.locator('#events-table tbody tr').count()).toBeGreaterThan(0);
});

test('an event shows its raw record as a tree, filters by a value and edits and deletes a comment', async ({ page }) => {
  const errors = watchErrors(page);
  await hydrated(page, '/events');
  await page.locator('#events-table tbody tr').first().locator('td.time a').click();
  await expect(page).toHaveURL(/\/events\/\d+$/);
  const url = page.url();
  await expect(page.locator('#event-raw-tree details').first()).toBeVisible();
  await page.screenshot({ path: `${shots}/event.png`, fullPage: true });

  // A value of the tree, and the whole record, copy to the clipboard.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const scalar = page.locator('#event-raw-tree .json-scalar').first();
  const value = await scalar.locator('.json-string, .json-number, .json-literal').first().textContent();
  await scalar.locator('.copy-button').click();
  await expect(scalar.locator('.copy-button')).toHaveText('copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(value);
  await page.locator('h2 .copy-button').click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(JSON.parse(copied)).toBeTruthy();

  // Comment, edit, delete (the local administrator may do all three).
  const text = `workspace check ${Date.now()}`;
  await page.locator('#comment-input').fill(text);
  await page.locator('#comment-add').click();
  const mine = page.locator('#event-comments li', { hasText: text });
  await expect(mine).toBeVisible();
  await mine.locator('.comment-edit summary').click();
  await mine.locator('textarea').fill(`${text} (corrected)`);
  await mine.locator('.comment-save').click();
  const edited = page.locator('#event-comments li', { hasText: `${text} (corrected)` });
  await expect(edited).toContainText('(edited)');
  await edited.locator('.comment-delete').click();
  await expect(page.locator('#event-comments li', { hasText: text })).toHaveCount(0);
  await expect(page.locator('#event-history')).toContainText('event.comment.delete');

  // A flattened field's value filters the list.
  await page.goto(url);
  const filter = page.locator('#event-flattened .value-filter').first();
  if (await filter.count()) {
    await filter.click({ force: true });
    await expect(page).toHaveURL(/\/events\?search=/);
    // The list may still be loading right after the navigation: wait for its first row.
    await expect(page.locator('#events-table tbody tr').first()).toBeVisible();
  }
  expect(errors).toEqual([]);
});

test('a search is saved under a name, shared, opened by its link and deleted', async ({ page }) => {
  const errors = watchErrors(page);
  await hydrated(page, '/events?min_severity=low&last=30d');
  const name = `saved check ${Date.now()}`;
  await page.locator('#save-search-name').fill(name);
  await page.locator('#save-search-shared').check();
  await page.locator('#save-search').click();
  const saved = page.locator('#saved-search-list li', { hasText: name });
  await expect(saved).toBeVisible();
  await expect(saved.locator('.tag')).toHaveText('shared');
  const link = saved.locator('a.saved-link');
  await expect(link).toHaveAttribute('href', /min_severity=low/);
  await expect(link).toHaveAttribute('href', /last=30d/);
  // Opening it from the plain list restores the search.
  await page.goto('/events');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#saved-search-list a.saved-link', { hasText: name }).click();
  await expect(page).toHaveURL(/min_severity=low/);
  await expect(page.locator('#filter-min_severity')).toHaveValue('low');
  // The REST API lists it; deleting it removes it from the list.
  const listed = await (await page.request.get('/api/saved-searches')).json();
  expect(listed.map((s) => s.name)).toContain(name);
  await page.locator('#saved-search-list li', { hasText: name }).locator('.saved-delete').click();
  await expect(page.locator('#saved-search-list li', { hasText: name })).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('checked rows are tagged together, `t` tags the row the keyboard is on, and a row expands in place', async ({ page }) => {
  const errors = watchErrors(page);
  await hydrated(page, '/events');
  const tag = `bulk-${Date.now()}`;
  const ids = [
    await page.locator('#event-row-0').getAttribute('data-event-id'),
    await page.locator('#event-row-1').getAttribute('data-event-id'),
  ];
  await page.locator('#event-select-0').check();
  await page.locator('#event-select-1').check();
  await page.locator('#bulk-tag-input').fill(tag);
  await page.locator('#bulk-tag-apply').click();
  await expect(page.locator('#bulk-tag-result')).toHaveText('Tagged 2 event(s).');
  for (const id of ids) {
    const event = await (await page.request.get(`/api/events/${id}`)).json();
    expect(event.tags).toContain(tag);
  }

  // Keyboard: `j` moves to the first row, `t` checks it and focuses the tag field.
  await hydrated(page, '/events');
  const first = await page.locator('#event-row-0').getAttribute('data-event-id');
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('j');
  await expect(page.locator('#event-link-0')).toBeFocused();
  await page.keyboard.press('t');
  await expect(page.locator('#bulk-tag-input')).toBeFocused();
  await expect(page.locator('#event-select-0')).toBeChecked();
  await page.keyboard.type(`${tag}-key`);
  await page.keyboard.press('Enter');
  await expect(page.locator('#bulk-tag-result')).toHaveText('Tagged 1 event(s).');
  expect((await (await page.request.get(`/api/events/${first}`)).json()).tags).toContain(`${tag}-key`);

  // A row's details open in place, with its flattened fields loaded.
  const row = page.locator('#event-row-0');
  await row.locator('.row-more summary').click();
  await expect(row.locator('.row-fields').first()).toBeVisible();
  await expect(row.locator('.row-flattened')).toHaveCount(1);
  await expect(row.locator('a.row-open')).toHaveAttribute('href', /\/events\/\d+$/);
  await expect(page).toHaveURL(/\/events$/);
  expect(errors).toEqual([]);
});

// A flattened field the chooser offers (normalized columns are lower-case names).
async function offeredField(page) {
  const offered = await page.locator('#column-choices option').evaluateAll((os) => os.map((o) => o.value));
  const field = offered.find((v) => /^[A-Z]/.test(v) || v.includes('.'));
  expect(field, `a flattened field among ${offered.join(', ')}`).toBeTruthy();
  return field;
}

async function headings(page) {
  return page.locator('#events-table thead th[data-column]').evaluateAll((ths) => ths.map((t) => t.dataset.column));
}

test('columns are added, moved, removed, remembered and reset', async ({ page }) => {
  const errors = watchErrors(page);
  await page.request.put('/api/me/columns', { data: { columns: null } });
  await hydrated(page, '/events');
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.locator('#column-chooser summary').click();
  const field = await offeredField(page);
  await page.locator('#column-add-input').fill(field);
  await page.locator('#column-add').click();
  await expect(page.locator(`#events-table thead th[data-column="${field}"]`)).toBeVisible();
  expect(await headings(page)).toEqual(['severity', 'service', 'operation', 'actor', 'result', 'summary', field]);
  // The cells hold the field's values (at least one row has it: it was offered from this page).
  const cells = page.locator(`#events-table tbody td.field[data-column="${field}"]`);
  expect(await cells.count()).toBeGreaterThan(0);
  expect((await cells.allTextContents()).some((t) => t.trim() !== '')).toBe(true);
  // The chooser stays open across the change; moving and removing need no reload either.
  await expect(page.locator('#column-chooser')).toHaveAttribute('open', '');
  await page.locator(`#column-list li[data-column="${field}"] button[aria-label^="Move"][aria-label$="left"]`).click();
  await expect.poll(() => headings(page)).toEqual(['severity', 'service', 'operation', 'actor', 'result', field, 'summary']);
  await page.locator('#column-list li[data-column="severity"] button[aria-label="Remove Severity"]').click();
  await expect(page.locator('#events-table thead th[data-column="severity"]')).toHaveCount(0);
  expect(await page.evaluate(() => window.__sameDocument)).toBe(true);
  // Remembered: a reload and the REST API show the same columns.
  await hydrated(page, '/events');
  expect(await headings(page)).toEqual(['service', 'operation', 'actor', 'result', field, 'summary']);
  const mine = await (await page.request.get('/api/me/columns')).json();
  expect(mine).toEqual({ columns: ['service', 'operation', 'actor', 'result', field, 'summary'], default: false });
  await page.screenshot({ path: `${shots}/events-columns.png`, fullPage: false });
  expect(errors).toEqual([]);
  // A bad name is refused with its reason (the browser logs the 400); reset goes back to the
  // defaults.
  await page.locator('#column-chooser summary').click();
  await page.locator('#column-add-input').fill('a,b');
  await page.locator('#column-add').click();
  await expect(page.locator('#column-error')).toContainText('commas');
  await page.locator('#column-reset').click();
  await expect.poll(() => headings(page)).toEqual(['severity', 'service', 'operation', 'actor', 'result', 'summary']);
  expect(errors.filter((e) => !e.includes('status of 400'))).toEqual([]);
});

test('the keyboard alone searches and opens an event', async ({ page }) => {
  await hydrated(page, '/events');
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('/');
  await expect(page.locator('#filter-search')).toBeFocused();
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  await expect(page.locator('#event-link-0')).toBeFocused();
  await page.keyboard.press('j');
  await expect(page.locator('#event-link-1')).toBeFocused();
  await expect(page.locator('#event-row-1')).toHaveAttribute('data-selected', 'true');
  await page.keyboard.press('k');
  await expect(page.locator('#event-link-0')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/events\/\d+$/);
});

test('the sources page shows health and coverage and collects on demand', async ({ page }) => {
  const errors = watchErrors(page);
  await hydrated(page, '/sources');
  await expect(page.getByRole('heading', { level: 1, name: 'Sources' })).toBeVisible();
  await expect(page.locator('#source-health')).toBeVisible();
  await expect(page.locator('#coverage-timeline')).toBeVisible();
  if (process.env.AOC_E2E_DEMO === 'true') {
    // The demo tenant's four sources, each with a row of hours.
    await expect(page.locator('#source-health tbody tr')).toHaveCount(4);
    await expect(page.locator('#coverage-timeline .coverage-row').first()).toBeVisible();
    expect(await page.locator('#coverage-timeline .cell.done').count()).toBeGreaterThan(0);
  }
  await page.locator('#collect-hours').selectOption('24');
  await page.locator('#collect-now').click();
  await expect(page.locator('#collect-result')).toContainText('Collection of');
  if (process.env.AOC_E2E_DEMO === 'true') {
    // The runs show up with their look-back and move to their end without a reload...
    const runs = page.locator('#collection-runs tbody tr[data-source]');
    await expect(runs.filter({ hasText: '24 h' })).toHaveCount(4, { timeout: 30_000 });
    await expect(page.locator('#collection-runs tbody tr[data-state="running"]')).toHaveCount(0, { timeout: 60_000 });
    const unified = page.locator('#collection-runs tr[data-source="unified"]');
    await expect(unified.locator('progress')).toBeVisible();
    const windows = await unified.locator('.run-windows').innerText();
    const [, done, planned] = windows.match(/(\d+) of (\d+)/).map(Number);
    expect(planned).toBeGreaterThanOrEqual(24);
    expect(done).toBe(planned);
    // ...and are still there after one.
    await page.reload();
    await expect(page.locator('#collection-runs tbody tr[data-source]').filter({ hasText: '24 h' })).toHaveCount(4);
  } else {
    await expect(page.locator('#collection-runs')).toContainText('No collection has run');
  }
  await expect(page.locator('#tenants')).toBeVisible();
  await page.screenshot({ path: `${shots}/sources.png`, fullPage: true });
  expect(errors).toEqual([]);
});

test('the audit trail lists and searches what people did', async ({ page }) => {
  await hydrated(page, '/audit');
  await expect(page.getByRole('heading', { level: 1, name: 'Audit trail' })).toBeVisible();
  await page.locator('#audit-search').fill('collection');
  await page.locator('#audit-apply').click();
  await expect(page).toHaveURL(/search=collection/);
  await expect(page.locator('#audit-table')).toBeVisible();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the filter form, facets and histogram work as plain links and forms', async ({ page }) => {
    await page.goto('/events');
    await page.locator('#filter-min_severity').selectOption('info');
    await page.locator('#filter-end').fill('2100-01-01T00:00');
    await page.locator('#filter-apply').click();
    await expect(page).toHaveURL(/min_severity=info/);
    await expect(page.locator('#filter-end')).toHaveValue('2100-01-01T00:00');
    await page.locator('#facet-service li .facet-value').first().click();
    await expect(page).toHaveURL(/service=.*min_severity=info|min_severity=info.*service=/);
    await page.locator('#event-histogram a.bar:not([data-count="0"])').first().click();
    await expect(page).toHaveURL(/start=/);
    expect(await page.locator('#events-table tbody tr').count()).toBeGreaterThan(0);
  });

  test('checked rows are tagged with the plain form', async ({ page, request }) => {
    await page.goto('/events');
    const id = await page.locator('#event-row-0').getAttribute('data-event-id');
    const tag = `nojs-bulk-${Date.now()}`;
    await page.locator('#event-select-0').check();
    await page.locator('#bulk-tag-input').fill(tag);
    await page.locator('#bulk-tag-apply').click();
    await expect(page).toHaveURL(/\/events/);
    expect((await (await request.get(`/api/events/${id}`)).json()).tags).toContain(tag);
  });

  test('columns are chosen with the plain form', async ({ page }) => {
    await page.request.put('/api/me/columns', { data: { columns: null } });
    await page.goto('/events');
    await page.locator('#column-chooser summary').click();
    const field = await offeredField(page);
    await page.locator('#column-add-input').fill(field);
    await page.locator('#column-add').click();
    await expect(page).toHaveURL(/\/events/);
    await expect(page.locator(`#events-table thead th[data-column="${field}"]`)).toHaveCount(1);
    await page.locator('#column-chooser summary').click();
    await page.locator('#column-reset').click();
    await expect(page.locator(`#events-table thead th[data-column="${field}"]`)).toHaveCount(0);
    await expect(page.locator('#events-table thead th[data-column="severity"]')).toHaveCount(1);
  });

  test('a search is saved and deleted with plain forms', async ({ page }) => {
    await page.goto('/events?severity=high');
    const name = `no-js saved ${Date.now()}`;
    await page.locator('#save-search-name').fill(name);
    await page.locator('#save-search').click();
    await expect(page).toHaveURL(/\/events\?severity=high/);
    const saved = page.locator('#saved-search-list li', { hasText: name });
    await expect(saved.locator('a.saved-link')).toHaveAttribute('href', '/events?severity=high');
    await saved.locator('.saved-delete').click();
    await expect(page.locator('#saved-search-list li', { hasText: name })).toHaveCount(0);
  });
});
