// MQTT.js in a real headless Chromium page (playwright-core drives Debian's
// chromium) against a Roost WebSocket listener. The page is loaded from
// PAGE_URL, so the WebSocket carries that page's Origin.
//
//   node browser.mjs PAGE_URL BROKER_URL
// Prints "OK <payload>" and exits 0; "REFUSED <error>" and exits 2 when the
// connection is refused; anything else exits 1.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [pageURL, brokerURL] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'roost-chromium-'));
let code = 1;
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  await page.goto(pageURL, { timeout: 15000 });
  const result = await page.evaluate((url) => new Promise((resolve) => {
    const topic = 'browser/' + Math.random().toString(36).slice(2);
    const payload = 'hello from ' + navigator.userAgent.split(' ').find((s) => s.startsWith('HeadlessChrome') || s.startsWith('Chrome'));
    const client = window.mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000 });
    const done = (r) => { client.end(true); resolve(r); };
    setTimeout(() => done('FAIL timeout'), 15000);
    client.on('error', (e) => done('REFUSED ' + e.message));
    client.on('close', () => done('REFUSED closed'));
    client.on('connect', () => client.subscribe(topic, { qos: 1 }, (err) => {
      if (err) return done('FAIL ' + err.message);
      client.publish(topic, payload, { qos: 1 });
    }));
    client.on('message', (t, m) => { if (t === topic) done('OK ' + m.toString()); });
  }), brokerURL);
  console.log(result);
  code = result.startsWith('OK ') ? 0 : result.startsWith('REFUSED ') ? 2 : 1;
} catch (err) {
  console.log('FAIL ' + err.message);
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
