// The Destinations page: a webhook destination added through the form delivers a signed test
// record to a receiver this spec runs (which checks the Standard Webhooks signature), and an
// alert raised by the built-in rules reaches a Microsoft Teams stand-in as a card.
//
// Alerts: in the generated-data pass the evaluator raises them from the seeded events when the
// server starts; in demo mode new events keep arriving. Either way they may exist before the Teams
// destination does, so the form asks for a backfill of the last day: every alert raised since
// is queued for the new destination (and any raised later is queued as it is stored).
import { test, expect } from '@playwright/test';
import http from 'node:http';
import crypto from 'node:crypto';

/** An HTTP receiver on a free port; `verify(headers, body)` says whether a request is genuine. */
async function startReceiver(verify) {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const valid = verify(req.headers, body);
      received.push({ path: req.url, headers: req.headers, body, valid });
      res.writeHead(valid ? 200 : 401, { 'content-type': 'text/plain' });
      res.end(valid ? 'accepted by the e2e receiver' : 'bad signature');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  // Closing waits for every connection to end; AOC's delivery worker may hold one open (HTTP
  // keep-alive, or a request in flight), so they are closed too.
  const close = () =>
    new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
  return { url, received, close };
}

/** Standard Webhooks: v1,base64(HMAC-SHA256(key, "id.timestamp.body")). */
function signatureValid(secret, headers, body) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (!id || !timestamp || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return (headers['webhook-signature'] || '').split(' ').some((s) => s === `v1,${expected}`);
}

async function hydrated(page, url) {
  await page.goto(url);
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
}

async function deleteDestination(page, name) {
  const card = page.locator(`section.destination-card[data-destination="${name}"]`);
  await card.locator('button[data-action=delete]').click();
  await expect(card).toHaveCount(0);
}

test('a webhook destination added in the form delivers a signed test record', async ({ page }) => {
  const secret = `whsec_${crypto.randomBytes(32).toString('base64')}`;
  const receiver = await startReceiver((headers, body) => signatureValid(secret, headers, body));
  const name = `e2e-webhook-${Date.now()}`;
  try {
    await hydrated(page, '/destinations');
    await page.locator('#add-webhook summary').click();
    const form = page.locator('#new-webhook');
    await form.locator('input[name=name]').fill(name);
    await form.locator('input[name=endpoint]').fill(`${receiver.url}/hook`);
    await form.locator('input[name=secret]').fill(secret);
    // Keep the receiver quiet in demo mode: only critical events.
    await form.locator('select[name=receives]').selectOption('min_severity');
    await form.locator('select[name=min_severity]').selectOption('critical');
    await form.getByRole('button', { name: /^Add HTTPS webhook/ }).click();

    const card = page.locator(`section.destination-card[data-destination="${name}"]`);
    await expect(card).toBeVisible();
    await expect(card).not.toContainText(secret);
    await expect(card).toContainText('stored (write-only)');
    await expect(page.locator(`#destinations-table tr[data-destination="${name}"]`)).toContainText('events of severity critical or worse');

    await card.locator('button[data-action=test]').click();
    const result = card.locator('.test-result');
    await expect(result).toHaveAttribute('data-delivered', 'true');
    await expect(result).toContainText('status 200');
    await expect(result.locator('pre')).toHaveText('accepted by the e2e receiver');

    const tests = receiver.received.filter((r) => r.body.includes('AOC.DestinationTest'));
    expect(tests.length).toBe(1);
    expect(tests[0].valid).toBe(true);
    const docs = JSON.parse(tests[0].body);
    expect(Array.isArray(docs) && docs[0].operation).toBe('AOC.DestinationTest');
    expect(receiver.received.every((r) => r.valid)).toBe(true);

    await deleteDestination(page, name);
  } finally {
    await receiver.close();
  }
});

test('an alert reaches a Microsoft Teams stand-in as a card', async ({ page, request }) => {
  test.setTimeout(120_000);
  // Wait for the evaluator to have raised at least one (triage) alert.
  let alerts = [];
  for (let i = 0; i < 90 && alerts.length === 0; i++) {
    const response = await request.get('/api/alerts?page_size=50');
    expect(response.ok()).toBe(true);
    alerts = (await response.json()).items;
    if (alerts.length === 0) await new Promise((r) => setTimeout(r, 1_000));
  }
  expect(alerts.length, 'the built-in rules raised an alert').toBeGreaterThan(0);

  const teams = await startReceiver((headers, body) => {
    try {
      return JSON.parse(body).attachments[0].contentType === 'application/vnd.microsoft.card.adaptive';
    } catch {
      return false;
    }
  });
  const name = `e2e-teams-${Date.now()}`;
  try {
    await hydrated(page, '/destinations');
    await page.locator('#add-teams summary').click();
    const form = page.locator('#new-teams');
    await form.locator('input[name=name]').fill(name);
    await form.locator('input[name=secret]').fill(`${teams.url}/webhookb2/e2e`);
    await form.locator('select[name=min_severity]').selectOption('info');
    const dayAgo = new Date(Date.now() - 24 * 3600 * 1000).toISOString().slice(0, 16);
    await form.locator('input[name=backfill_from]').fill(dayAgo);
    await form.getByRole('button', { name: /^Add Microsoft Teams/ }).click();

    const card = page.locator(`section.destination-card[data-destination="${name}"]`);
    await expect(card).toBeVisible();
    // Only the host of the webhook URL is shown: the URL is the credential.
    await expect(card).not.toContainText('webhookb2');

    await expect.poll(() => teams.received.filter((r) => r.valid).length, { timeout: 60_000 }).toBeGreaterThan(0);
    const message = JSON.parse(teams.received.find((r) => r.valid).body);
    const content = message.attachments[0].content;
    expect(content.type).toBe('AdaptiveCard');
    expect(content.body[0].text).toMatch(/^(INFO|LOW|MEDIUM|HIGH|CRITICAL) alert: /);
    expect(content.actions[0].url).toMatch(/\/alerts\/\d+$/);
    const alertId = Number(content.actions[0].url.split('/').pop());
    expect(alerts.some((a) => a.id === alertId) || alertId > 0).toBe(true);

    // The page counts what was delivered.
    await expect
      .poll(async () => {
        await hydrated(page, '/destinations');
        return Number(await page.locator(`#destinations-table tr[data-destination="${name}"] td[data-metric=delivered]`).innerText());
      }, { timeout: 30_000 })
      .toBeGreaterThan(0);
    await deleteDestination(page, name);
  } finally {
    await teams.close();
  }
});
