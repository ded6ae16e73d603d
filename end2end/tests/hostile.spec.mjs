// Tenant strings are hostile. `aoc generate --hostile` stores five records (tenant
// hostile.aoc.invalid) whose actors, targets, operations, mail subjects, inbox-rule names and
// application names hold markup (`<script>`, `<img onerror>`, `<svg onload>`), right-to-left
// overrides (U+202E), zero-width characters and 10,000-character values without a space; this
// spec adds tags, comments and a tenant of the same kind through the REST API. On every page that
// shows them it checks that nothing executes (no dialog, no element or handler injected), that
// the layout does not grow sideways (long values wrap or are cut with an ellipsis) and that a
// right-to-left override cannot reorder the text around it (the value is isolated).
import { test, expect } from '@playwright/test';

const TENANT = 'hostile.aoc.invalid';
const RLO = '\u202E';

test.skip(process.env.AOC_E2E_DEMO === 'true',
  'the demo collects only the simulator; the hostile records are stored by `aoc generate --hostile` (generated-data pass)');
test.skip(process.env.AOC_E2E_AUTH === 'true', 'the sign-in pass runs the sign-in spec only');

/** Collects dialogs (an executed alert) and page errors. */
function guard(page) {
  const problems = [];
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

async function hydrated(page, url) {
  await page.goto(url);
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
}

/** Everything a page must hold for hostile strings; returns what is wrong. */
async function inspect(page) {
  return page.evaluate((rlo) => {
    const wrong = [];
    const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
    // 1. Nothing injected: no event-handler attribute, no element from the records' markup.
    for (const el of document.querySelectorAll('[onerror], [onload], [onclick], [onmouseover]')) wrong.push(`handler on ${describe(el)}`);
    for (const el of document.querySelectorAll('img[src="x"], svg > script')) wrong.push(`injected ${describe(el)}`);
    // (Hydration data holds the strings too, escaped inside its own scripts: a script made of
    // a record's markup is one whose whole text is the payload.)
    for (const s of document.querySelectorAll('script')) if (/^alert\(\d+\)$/.test(s.textContent.trim())) wrong.push('injected script');
    for (const b of document.querySelectorAll('b')) if (b.textContent.startsWith('target')) wrong.push('injected <b>');
    // 2. No horizontal overflow: the page does not scroll sideways, nor does any box inside it.
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth + 1) wrong.push(`page scrolls sideways (${root.scrollWidth} > ${root.clientWidth})`);
    for (const el of document.querySelectorAll('body *')) {
      const style = getComputedStyle(el);
      if (['auto', 'scroll'].includes(style.overflowX) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        wrong.push(`${describe(el)} scrolls sideways (${el.scrollWidth} > ${el.clientWidth})`);
      }
    }
    // 3. A right-to-left override stays inside its value: the text's element isolates it, or is
    // a box of its own holding nothing else.
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.includes(rlo)) continue;
      const el = node.parentElement;
      if (!el || el.closest('script, style, option, datalist, textarea, title')) continue;
      const style = getComputedStyle(el);
      const isolates = ['isolate', 'isolate-override', 'plaintext'].includes(style.unicodeBidi);
      const alone = style.display !== 'inline' && el.textContent.trim() === node.textContent.trim();
      if (!isolates && !alone) wrong.push(`override not isolated in ${describe(el)}: ${JSON.stringify(el.textContent.slice(0, 60))}`);
    }
    return wrong;
  }, RLO);
}

async function expectSafe(page, problems, where) {
  // Closed `details` (the raw tree, editors) are opened so their contents are laid out too.
  await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
  expect(await inspect(page), where).toEqual([]);
  expect(problems, where).toEqual([]);
}

test('hostile tenant strings render inertly, wrap and stay isolated on every page', async ({ page, request }) => {
  test.setTimeout(120_000);
  const problems = guard(page);

  // The list: every record of the hostile tenant, with its facets.
  await hydrated(page, `/events?tenant=${TENANT}`);
  const rows = page.locator('#events-table tbody tr');
  await expect(rows).toHaveCount(5);
  await expect(page.locator('#events-table td.actor').getByText('<script>alert(1)</script>@contoso.example', { exact: true })).toBeVisible();
  await expect(page.locator('#facet-operation .facet-value').getByText('<img src=x onerror=alert(4)>', { exact: true })).toBeVisible();
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.eventId));
  // AOC's own summary line never carries a tenant's override into the rest of the line.
  for (const summary of await page.locator('#events-table .event-summary').allTextContents()) {
    expect(summary).not.toContain(RLO);
  }
  await expectSafe(page, problems, 'events list');

  // Tags and comments are hostile too (the API takes them as text).
  const first = ids[0];
  const tag = `<img src=x onerror=alert(11)>${RLO}gat`;
  const tagged = await request.patch(`/api/events/${first}/tags`, { data: { add: [tag, 'w'.repeat(64)] } });
  expect(tagged.status()).toBe(200);
  const comment = `<script>alert(12)</script> ${RLO}tnemmoc ${'C'.repeat(9000)}`;
  const commented = await request.post(`/api/events/${first}/comments`, { data: { body: comment } });
  expect(commented.status()).toBe(201);

  await hydrated(page, `/events?tenant=${TENANT}`);
  await expect(page.locator('#events-table .tag').first()).toBeVisible();
  await expectSafe(page, problems, 'events list with tags');

  // Each event: fields, flattened fields, the raw record as a tree and as text, tags, comments,
  // history and related events.
  for (const id of ids) {
    await hydrated(page, `/events/${id}`);
    await expect(page.locator('#event-raw-tree')).toBeVisible();
    await expectSafe(page, problems, `event ${id}`);
  }
  await hydrated(page, `/events/${first}`);
  await expect(page.locator('#event-comments .comment-body').first()).toContainText('<script>alert(12)</script>');
  await expect(page.locator('#event-tags .tag').first()).toBeVisible();
  await expectSafe(page, problems, 'event with tags and comments');

  // The investigation overview and graph of the same search.
  await hydrated(page, `/investigate?tenant=${TENANT}`);
  await expect(page.locator('#overview')).toBeVisible();
  await expectSafe(page, problems, 'investigate overview');
  await hydrated(page, `/investigate?tenant=${TENANT}&tab=graph`);
  await expect(page.locator('#entity-graph')).toBeVisible();
  await expectSafe(page, problems, 'investigate graph');

  // A tenant whose display name is hostile, on the Sources page (disabled: nothing is collected).
  // Storing a tenant needs AOC_ENCRYPTION_KEY; without it the page is checked as it is.
  const tenantId = '7e57e57e-0000-4000-8000-00000000b0d1';
  await request.delete(`/api/tenants/${tenantId}`);
  const created = await request.post('/api/tenants', {
    data: {
      tenant_id: tenantId,
      display_name: `<img src=x onerror=alert(13)>${RLO}${'N'.repeat(70)}`,
      client_id: '7e57e57e-0000-4000-8000-00000000c1d1',
      client_secret: 'not-a-real-secret',
      enabled: false,
    },
  });
  if (created.status() === 409) {
    test.info().annotations.push({ type: 'note', description: 'no AOC_ENCRYPTION_KEY: the Sources page is checked without a hostile tenant' });
  } else {
    expect(created.status()).toBe(201);
  }
  try {
    await hydrated(page, '/sources');
    await expect(page.locator('#tenants')).toBeVisible();
    if (created.status() === 201) {
      await expect(page.locator('#tenants').getByText('<img src=x onerror=alert(13)>', { exact: false })).toBeVisible();
    }
    await expectSafe(page, problems, 'sources');
  } finally {
    if (created.status() === 201) expect((await request.delete(`/api/tenants/${tenantId}`)).status()).toBeLessThan(300);
  }

  // The audit trail records the tag, the comment and the tenant, with their hostile details.
  await hydrated(page, '/audit');
  await expect(page.locator('#audit-table')).toBeVisible();
  await expectSafe(page, problems, 'audit trail');
});

test('without JavaScript the same pages are inert and keep their layout', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const problems = guard(page);
  await page.goto(`/events?tenant=${TENANT}`);
  await expect(page.locator('#events-table tbody tr')).toHaveCount(5);
  // Inspection runs in the page, which needs script: evaluate is allowed even with it off.
  expect(await inspect(page), 'events list').toEqual([]);
  const id = await page.locator('#events-table tbody tr').nth(1).getAttribute('data-event-id');
  await page.goto(`/events/${id}`);
  expect(await inspect(page), 'event').toEqual([]);
  expect(problems).toEqual([]);
  await context.close();
});
