// Sign-in through a real OpenID provider (npm oidc-provider, started by the test command) in
// Chromium: what a reader, an analyst and an admin see and may do, a person who is refused,
// sign-out, personal API tokens, and a session that expires. Runs only against a server with
// AUTH_ENABLED (AOC_E2E_AUTH=true; the test command starts one with a one-minute idle time-out).
import { test, expect } from '@playwright/test';

test.skip(process.env.AOC_E2E_AUTH !== 'true', 'only against a server with sign-in enabled');

async function signIn(page, user, path = '/events') {
  await page.goto(path);
  // AOC sends the browser to the provider's login form.
  await expect(page.locator('input[name="login"]')).toBeVisible();
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
}

async function signedInAs(page, user, path = '/events') {
  await signIn(page, user, path);
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
}

// A page asked for without a session goes to AOC's sign-in (the provider may still have its own
// single sign-on session and send the browser straight back, so the redirect itself is checked).
async function expectSentToSignIn(page) {
  const response = await page.request.get('/events', { headers: { accept: 'text/html' }, maxRedirects: 0 });
  expect(response.status()).toBeGreaterThanOrEqual(300);
  expect(response.status()).toBeLessThan(400);
  expect(response.headers()['location']).toMatch(/^\/auth\/login\?return_to=/);
}

test('a reader searches and reads but is offered no tagging, commenting or tokens', async ({ page }) => {
  await signedInAs(page, 'reader');
  await expect(page).toHaveURL(/\/events$/);
  await expect(page.locator('#signed-in-name')).toHaveText('Rita Reader');
  await expect(page.locator('#signed-in-role')).toHaveText('reader');
  const rows = page.locator('#events-table tbody tr');
  await expect(rows.first()).toBeVisible();
  await page.locator('#events-table tbody a').first().click();
  await expect(page).toHaveURL(/\/events\/\d+/);
  await expect(page.locator('#tag-form')).toHaveCount(0);
  await expect(page.locator('#comment-form')).toHaveCount(0);
  // The server refuses what the page does not offer.
  const origin = new URL(page.url()).origin;
  const refused = await page.request.post('/api/tag_event', { form: { id: '1', tag: 'x' }, headers: { origin } });
  expect(refused.status()).toBe(403);
  await page.goto('/settings/tokens');
  await expect(page.locator('.error-banner, [role="alert"]').first()).toContainText('manage personal API tokens');
});

test('an analyst tags and comments, and makes an API token that works once copied', async ({ page }) => {
  await signedInAs(page, 'analyst');
  await expect(page.locator('#signed-in-role')).toHaveText('analyst');
  await page.locator('#events-table tbody a').first().click();
  await expect(page.locator('#tag-form')).toBeVisible();
  await page.locator('#tag-form input[name="tag"]').fill('e2e-analyst');
  await page.locator('#tag-form button[type="submit"]').click();
  await expect(page.getByText('e2e-analyst').first()).toBeVisible();
  await page.locator('#comment-input').fill('Looked at this in the browser.');
  await page.locator('#comment-form button[type="submit"]').click();
  await expect(page.locator('.comment-body', { hasText: 'Looked at this in the browser.' })).toBeVisible();
  // Tenants are not the analyst's business.
  expect((await page.request.get('/api/tenants')).status()).toBe(403);

  await page.goto('/settings/tokens');
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
  // The role list stops at the analyst's own role.
  await expect(page.locator('#token-form select[name="role"] option')).toHaveText(['reader', 'analyst']);
  await page.locator('#token-form input[name="name"]').fill('e2e script');
  await page.locator('#create-token').click();
  const token = (await page.locator('#new-token').textContent()).trim();
  expect(token).toMatch(/^aoc_pat_[A-Za-z0-9_-]{43}$/);
  await expect(page.locator('#token-table tbody tr').filter({ hasText: 'e2e script' })).toHaveCount(1);
  // A script with the token, no cookies.
  const script = await page.context().browser().newContext();
  const api = script.request;
  const events = await api.get('/api/events?page_size=1', { headers: { authorization: `Bearer ${token}` } });
  expect(events.status()).toBe(200);
  // Revoked from the page, it stops working.
  await page.reload();
  await expect(page.locator('#new-token')).toHaveCount(0);
  const row = page.locator('#token-table tbody tr').filter({ hasText: 'e2e script' });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toHaveAttribute('data-status', 'revoked');
  const refused = await api.get('/api/events?page_size=1', { headers: { authorization: `Bearer ${token}` } });
  expect(refused.status()).toBe(401);
  await script.close();
});

test('an admin reaches everything, and sees every API token', async ({ page }) => {
  await signedInAs(page, 'admin', '/settings');
  await expect(page.locator('#caller-role')).toHaveText('admin');
  await expect(page.locator('#caller-name')).toHaveText('Ada Admin');
  expect((await page.request.get('/api/tenants')).status()).toBe(200);
  expect((await page.request.get('/api/audit-trail')).status()).toBe(200);
  await page.goto('/settings/tokens');
  await expect(page.locator('#token-form select[name="role"] option')).toHaveText(['reader', 'analyst', 'admin']);
  // Who is signed in, with a control to end their sessions.
  await page.goto('/settings/sessions');
  const me = page.locator('#sessions-table tbody tr').filter({ hasText: 'Ada Admin' });
  await expect(me).toHaveAttribute('data-state', 'signed in');
  await expect(me.getByRole('button', { name: 'End sessions' })).toBeVisible();
});

test('a person without a role or group sees who they are and what to ask for', async ({ page }) => {
  await signIn(page, 'stranger');
  await expect(page.getByRole('heading', { level: 1 })).toContainText(/not|denied|access/i);
  // The name is shown as text: the markup in it is not interpreted.
  await expect(page.getByText('Sam <b>Stranger</b>')).toBeVisible();
  await expect(page.locator('b', { hasText: 'Stranger' })).toHaveCount(0);
  await expect(page.locator('body')).toContainText('grp-soc');
  expect((await page.request.get('/api/events')).status()).toBe(401);
});

test('signing out ends the session on the server', async ({ page }) => {
  await signedInAs(page, 'reader');
  await page.locator('#sign-out').click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(/signed out/i);
  expect((await page.request.get('/api/events')).status()).toBe(401);
  await expectSentToSignIn(page);
});

test('a session left idle past the time-out must sign in again', async ({ page }) => {
  test.setTimeout(120_000);
  await signedInAs(page, 'reader');
  expect((await page.request.get('/api/events?page_size=1')).status()).toBe(200);
  // The test server's idle time-out is one minute.
  await page.waitForTimeout(65_000);
  expect((await page.request.get('/api/events?page_size=1')).status()).toBe(401);
  await expectSentToSignIn(page);
});
