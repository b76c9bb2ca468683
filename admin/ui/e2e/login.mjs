// The dashboard's login page in headless Chromium, run by
// admin/browser_test.go (TestDashboardLoginBrowser):
//
//   node e2e/login.mjs DASHBOARD_URL USER PASSWORD
//
// Opening the dashboard without a session lands on /login; a wrong password
// is refused on the page; the right one leads to the dashboard, whose API
// calls then work with the session cookie alone (HttpOnly, SameSite=Strict,
// with an expiry); logging out sends the browser back to /login. The last
// line is "OK" (exit 0) or "FAIL reason" (exit 1).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, user, password] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'roost-login-'));
const pageErrors = [];
let code = 1;
let context;

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await page.goto(base + '/');
  check(new URL(page.url()).pathname === '/login', 'not sent to /login: ' + page.url());
  await page.fill('#login-user', user);
  await page.fill('#login-password', password + '-wrong');
  await page.click('#login-submit');
  await page.waitForSelector('#login-error');
  check((await context.cookies()).length === 0, 'a cookie after a wrong password');
  console.log('REFUSED');

  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#stat-connections .value');
  check(new URL(page.url()).pathname === '/', 'after login: ' + page.url());
  const cookies = await context.cookies();
  const ck = cookies.find((c) => c.name === 'roost_admin_session');
  check(ck, 'no session cookie: ' + JSON.stringify(cookies));
  check(ck.httpOnly === true, 'cookie not HttpOnly');
  check(ck.sameSite === 'Strict', 'cookie SameSite ' + ck.sameSite);
  check(ck.expires > Date.now() / 1000, 'cookie without expiry: ' + ck.expires);
  check(!(await page.evaluate(() => document.cookie)).includes('roost_admin_session'), 'the page script reads the cookie');
  console.log('COOKIE ' + JSON.stringify({ httpOnly: ck.httpOnly, sameSite: ck.sameSite }));

  await page.click('#logout');
  await page.waitForSelector('#login-form');
  check(new URL(page.url()).pathname === '/login', 'after logout: ' + page.url());
  await page.goto(base + '/');
  check(new URL(page.url()).pathname === '/login', 'the session outlived logout: ' + page.url());

  check(pageErrors.length === 0, 'page errors: ' + pageErrors.join('; '));
  console.log('OK');
  code = 0;
} catch (err) {
  console.log('FAIL ' + err.message + (pageErrors.length ? ' (page errors: ' + pageErrors.join('; ') + ')' : ''));
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
