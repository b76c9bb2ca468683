// End-to-end test of the dashboard in headless Chromium (Debian's chromium,
// driven by playwright-core), run by admin/browser_test.go:
//
//   node e2e/dashboard.mjs DASHBOARD_URL ARTIFACT_DIR CLIENT_ID RETAINED_TOPIC TAP_FILTER TAP_TOPIC RATE_TOPIC
//
// It checks the overview, the clients table (CLIENT_ID is listed), the topic
// tree (RETAINED_TOPIC with its value, RATE_TOPIC with a rate above zero
// from the Go test's background traffic), then opens the tap on TAP_FILTER,
// prints "READY" and waits for a message on TAP_TOPIC, which the Go test
// publishes on reading READY; the message must appear with its JSON payload
// pretty-printed. Then it publishes through the tap page's form (the
// admin API) to a topic under TAP_FILTER, which the tap must show too, and
// checks that the form reports the refusal of a $SYS topic. Screenshots of each page go to ARTIFACT_DIR. The last line
// is "OK" (exit 0) or "FAIL reason" (exit 1).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, artifacts, clientID, retainedTopic, tapFilter, tapTopic, rateTopic] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'roost-dashboard-'));
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
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push('console: ' + m.text()); });

  // Overview: counters, then two polls so that the charts have a line.
  await page.goto(base + '/#/overview');
  await page.waitForSelector('#stat-connections .value');
  // Three polls: the charts show the background traffic of the Go test.
  await page.waitForFunction(() => {
    const p = document.querySelector('#chart-rates polyline');
    return p && p.getAttribute('points').split(' ').length >= 3;
  });
  const conns = Number((await page.textContent('#stat-connections .value')).replace(/,/g, ''));
  check(conns >= 1, 'overview: connections ' + conns);
  await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true });

  // Clients table.
  await page.goto(base + '/#/clients');
  const row = page.locator(`#clients-table tr[data-client="${clientID}"]`);
  await row.waitFor();
  check((await row.textContent()).includes('connected'), 'clients: ' + clientID + ' not shown as connected');
  // The search narrows the table to that client.
  await page.fill('#client-search', clientID.slice(0, 5));
  await page.waitForFunction((id) => {
    const rows = document.querySelectorAll('#clients-table tbody tr');
    return rows.length === 1 && rows[0].dataset.client === id;
  }, clientID);
  await page.screenshot({ path: join(artifacts, 'clients.png'), fullPage: true });

  // Topic tree: the retained value shows under its topic.
  await page.goto(base + '/#/topics');
  const node = page.locator(`#topic-tree [data-topic="${retainedTopic}"]`);
  await node.waitFor();
  check((await node.locator('code.retained').count()) === 1, 'topics: no retained value on ' + retainedTopic);
  await page.waitForFunction((t) => {
    const r = document.querySelector(`#topic-tree [data-topic="${t}"] .pill.rate`);
    return r && parseFloat(r.textContent) > 0;
  }, rateTopic);
  await page.screenshot({ path: join(artifacts, 'topics.png'), fullPage: true });

  // Tap: subscribe over MQTT-over-WebSocket, then ask the Go test to publish.
  await page.goto(base + '/#/tap');
  // Out of the box the tap uses the admin listener's own /mqtt.
  const tapURL = await page.inputValue('#tap-url');
  check(tapURL === base.replace(/^http/, 'ws') + '/mqtt', 'tap: default URL ' + tapURL + ' is not the dashboard\'s own /mqtt');
  await page.fill('#tap-filter', tapFilter);
  await page.click('#tap-start');
  await page.waitForSelector('#tap-status[data-state="subscribed"]');
  console.log('READY');
  const msg = page.locator('#tap-messages .msg', { hasText: tapTopic }).first();
  await msg.waitFor({ timeout: 20000 });
  const pre = await msg.locator('pre').textContent();
  check(pre.includes('\n  "'), 'tap: payload not pretty-printed: ' + JSON.stringify(pre));
  check((await msg.getAttribute('class')).includes('json'), 'tap: not recognised as JSON');
  console.log('PAYLOAD ' + JSON.stringify(pre));

  // Publish from the dashboard's form (the admin API): the tap shows it.
  const ownTopic = tapFilter.replace('+', 'from-dashboard');
  await page.fill('#pub-topic', ownTopic);
  await page.fill('#pub-payload', '{"sent":"by the dashboard"}');
  await page.selectOption('#pub-qos', '1');
  await page.click('#pub-send');
  await page.waitForSelector('#pub-status[data-state="ok"]');
  const own = page.locator('#tap-messages .msg', { hasText: ownTopic }).first();
  await own.waitFor({ timeout: 20000 });
  check((await own.locator('pre').textContent()).includes('"sent": "by the dashboard"'), 'publish form: payload not shown by the tap');
  console.log('PUBLISHED ' + ownTopic);
  // $SYS is the broker's: the form says the API refused it.
  const errorsBefore = pageErrors.length;
  await page.fill('#pub-topic', '$SYS/broker/forged');
  await page.click('#pub-send');
  await page.waitForSelector('#pub-status[data-state="error"]');
  // The browser logs the refused request (400) as a console error: expected here.
  pageErrors.splice(errorsBefore, pageErrors.length - errorsBefore,
    ...pageErrors.slice(errorsBefore).filter((e) => !e.includes('status of 400')));
  check((await page.textContent('#pub-status')).includes('$SYS'), 'publish form: $SYS refusal not shown');
  await page.screenshot({ path: join(artifacts, 'tap.png'), fullPage: true });

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
