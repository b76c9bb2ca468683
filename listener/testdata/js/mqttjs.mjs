// MQTT.js in Node against a Roost WebSocket listener: connect, subscribe,
// publish, receive the message back. Prints "OK <payload>" and exits 0, or
// prints the error and exits 1.
//
//   node mqttjs.mjs URL PROTOCOL_VERSION [CA_FILE [CERT_FILE KEY_FILE]]
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';

const [url, version, caFile, certFile, keyFile] = process.argv.slice(2);
const opts = {
  protocolVersion: Number(version),
  clientId: `mqttjs-${process.pid}`,
  reconnectPeriod: 0,
  connectTimeout: 10000,
};
if (caFile) {
  opts.ca = readFileSync(caFile);
  opts.rejectUnauthorized = true;
}
if (certFile) {
  opts.cert = readFileSync(certFile);
  opts.key = readFileSync(keyFile);
}

const fail = (why) => {
  console.log(`FAIL ${why}`);
  process.exit(1);
};
setTimeout(() => fail('timeout'), 15000).unref();

const topic = `js/${process.pid}`;
const payload = `hello from MQTT.js v${version}`;
const client = mqtt.connect(url, opts);
client.on('error', (err) => fail(err.message));
client.on('connect', () => {
  client.subscribe(topic, { qos: 1 }, (err) => {
    if (err) return fail(err.message);
    client.publish(topic, payload, { qos: 1 });
  });
});
client.on('message', (t, msg) => {
  if (t === topic && msg.toString() === payload) {
    console.log(`OK ${msg}`);
    client.end(false, () => process.exit(0));
  }
});
