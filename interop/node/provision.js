#!/usr/bin/env node
// Fleet provisioning with the AWS IoT Device SDK v2 for JavaScript (IotIdentityClient):
// CreateKeysAndCertificate or CreateCertificateFromCsr, then RegisterThing, over MQTT
// 3.1.1 or MQTT 5 with the claim certificate; then a second connection with the new
// certificate, client id = thing name, publishing on the thing's status topic.
//
// The endpoint name is only ever sent as SNI and checked against the server
// certificate: the TCP connection goes through an HTTP CONNECT proxy
// (--proxy-host/--proxy-port), which knows where that name lives. Nothing here
// resolves the endpoint name or relaxes TLS verification.
//
// Prints one JSON line on stdout when everything succeeded:
//   {"certificateId","thingName","certificatePem","statusTopic","deviceConfiguration"}
// Exit status 0 on success, 1 on any failure, 2 on bad usage.
'use strict';

const fs = require('fs');
const { iotidentity, iot, io, mqtt, mqtt5, http } = require('aws-iot-device-sdk-v2');

const OPTIONS = {
  host: { env: 'IOT_HOST', help: 'endpoint name, sent as SNI and verified against the server certificate' },
  port: { env: 'IOT_PORT', def: '8883', help: 'endpoint port' },
  ca: { env: 'IOT_CA', help: 'root CA PEM file' },
  cert: { env: 'IOT_CLAIM_CERT', help: 'claim certificate PEM file' },
  key: { env: 'IOT_CLAIM_KEY', help: 'claim private key PEM file' },
  template: { env: 'IOT_TEMPLATE', help: 'provisioning template name' },
  serial: { env: 'IOT_SERIAL', help: 'SerialNumber template parameter' },
  site: { env: 'IOT_SITE', def: '', help: 'Site template parameter (omitted when empty)' },
  mode: { env: 'IOT_MODE', def: 'keys', help: 'keys (CreateKeysAndCertificate) or csr (CreateCertificateFromCsr)' },
  protocol: { env: 'IOT_PROTOCOL', def: 'mqtt311', help: 'mqtt311 or mqtt5' },
  csr: { env: 'IOT_CSR', def: '', help: 'CSR PEM file (mode csr)' },
  'csr-key': { env: 'IOT_CSR_KEY', def: '', help: 'private key PEM file of the CSR (mode csr)' },
  'client-id': { env: 'IOT_CLIENT_ID', def: '', help: 'client id of the claim connection; default fleetboot-claim-<serial>' },
  'proxy-host': { env: 'IOT_PROXY_HOST', def: '', help: 'HTTP CONNECT proxy host' },
  'proxy-port': { env: 'IOT_PROXY_PORT', def: '', help: 'HTTP CONNECT proxy port' },
  timeout: { env: 'IOT_TIMEOUT_MS', def: '45000', help: 'overall timeout in milliseconds' },
  'crt-log': { env: 'IOT_CRT_LOG', def: 'none', help: 'aws-crt log level on stderr: none, fatal, error, warn, info, debug, trace' },
};

function usage(msg) {
  const lines = Object.entries(OPTIONS).map(([k, o]) =>
    `  --${k} (env ${o.env}${o.def !== undefined ? `, default "${o.def}"` : ''}): ${o.help}`);
  process.stderr.write(`provision.js: ${msg}\nusage: node provision.js [options]\n${lines.join('\n')}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {};
  for (const [k, o] of Object.entries(OPTIONS)) {
    opts[k] = process.env[o.env] !== undefined ? process.env[o.env] : o.def;
  }
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in OPTIONS)) usage(`unknown argument ${argv[i]}`);
    let v = m[2];
    if (v === undefined) {
      if (i + 1 >= argv.length) usage(`--${m[1]} needs a value`);
      v = argv[++i];
    }
    opts[m[1]] = v;
  }
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined) usage(`--${k} is required`);
  }
  if (!['keys', 'csr'].includes(opts.mode)) usage(`--mode ${opts.mode}: keys or csr`);
  if (!['mqtt311', 'mqtt5'].includes(opts.protocol)) usage(`--protocol ${opts.protocol}: mqtt311 or mqtt5`);
  if (opts.mode === 'csr' && (!opts.csr || !opts['csr-key'])) usage('mode csr needs --csr and --csr-key');
  if (!!opts['proxy-host'] !== !!opts['proxy-port']) usage('--proxy-host and --proxy-port go together');
  if (!(opts['crt-log'].toUpperCase() in io.LogLevel)) usage(`--crt-log ${opts['crt-log']}: unknown level`);
  opts.port = Number(opts.port);
  opts.timeout = Number(opts.timeout);
  if (!opts['client-id']) opts['client-id'] = `fleetboot-claim-${opts.serial}`;
  return opts;
}

function log(msg) {
  process.stderr.write(`provision.js: ${msg}\n`);
}

// withTimeout rejects when p has not settled within ms; a lost reply must fail
// the run rather than hang it.
function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function proxyOptions(opts) {
  if (!opts['proxy-host']) return undefined;
  return new http.HttpProxyOptions(opts['proxy-host'], Number(opts['proxy-port']),
    http.HttpProxyAuthenticationType.None, undefined, undefined, undefined,
    http.HttpProxyConnectionType.Tunneling);
}

// Session is one MQTT connection of either protocol, with the identity client on it.
// A connect has no timeout of its own: s2n reports a failed TLS handshake only after
// its blinding delay (10 to 30 s), so the overall timeout bounds it.
class Session {
  static async open(opts, certPem, keyPem, clientId) {
    const s = new Session();
    const ca = fs.readFileSync(opts.ca, 'utf8');
    const proxy = proxyOptions(opts);
    if (opts.protocol === 'mqtt5') {
      const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(opts.host, certPem, keyPem)
        .withPort(opts.port)
        .withCertificateAuthority(ca)
        .withConnectProperties({ clientId, keepAliveIntervalSeconds: 60 })
        .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean);
      if (proxy) b.withHttpProxyOptions(proxy);
      const client = new mqtt5.Mqtt5Client(b.build());
      s.mqtt5 = client;
      const connected = new Promise((resolve, reject) => {
        client.once('connectionSuccess', resolve);
        client.once('connectionFailure', (ev) => reject(new Error(`MQTT 5 connect: ${ev.error}`)));
      });
      client.on('disconnection', (ev) => {
        if (!s.stopping) log(`MQTT 5 disconnection: ${ev.error}${ev.disconnect ? ` reason ${ev.disconnect.reasonCode}` : ''}`);
      });
      client.start();
      await connected;
      s.identity = iotidentity.IotIdentityClient.newFromMqtt5Client(client);
    } else {
      const b = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(certPem, keyPem)
        .with_endpoint(opts.host)
        .with_port(opts.port)
        .with_certificate_authority(ca)
        .with_client_id(clientId)
        .with_clean_session(true)
        .with_keep_alive_seconds(60);
      if (proxy) b.with_http_proxy_options(proxy);
      const conn = new mqtt.MqttClient().new_connection(b.build());
      s.mqtt311 = conn;
      conn.on('interrupt', (err) => log(`MQTT 3.1.1 connection interrupted: ${err}`));
      await conn.connect();
      s.identity = new iotidentity.IotIdentityClient(conn);
    }
    return s;
  }

  async publish(topic, payload) {
    if (this.mqtt5) {
      const res = await this.mqtt5.publish({ topicName: topic, payload, qos: mqtt5.QoS.AtLeastOnce });
      if (!res || !mqtt5.isSuccessfulPubackReasonCode(res.reasonCode)) {
        throw new Error(`publish ${topic}: PUBACK reason ${res ? res.reasonCode : 'none'}`);
      }
      return;
    }
    await this.mqtt311.publish(topic, payload, mqtt.QoS.AtLeastOnce);
  }

  async close() {
    if (this.mqtt5) {
      this.stopping = true;
      const stopped = new Promise((resolve) => this.mqtt5.once('stopped', resolve));
      this.mqtt5.stop();
      await withTimeout(stopped, 5000, 'MQTT 5 stop');
      this.mqtt5.close();
    } else {
      await withTimeout(this.mqtt311.disconnect(), 5000, 'MQTT 3.1.1 disconnect');
    }
  }
}

// exchange subscribes to accepted and rejected (SUBACK awaited), then publishes the
// request, and settles with the first reply.
async function exchange(name, subscribeAccepted, subscribeRejected, publish) {
  let settle;
  const reply = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  await subscribeAccepted((err, resp) => (err ? settle.reject(err) : settle.resolve(resp)));
  await subscribeRejected((err, resp) => settle.reject(err || new Error(`${name} rejected: ${JSON.stringify(resp)}`)));
  await publish();
  return withTimeout(reply, 15000, name);
}

async function provision(opts) {
  const QOS = mqtt.QoS.AtLeastOnce;
  const claim = await Session.open(opts, fs.readFileSync(opts.cert, 'utf8'), fs.readFileSync(opts.key, 'utf8'), opts['client-id']);
  log(`connected as ${opts['client-id']} over ${opts.protocol}`);
  const id = claim.identity;

  let created;
  let keyPem;
  if (opts.mode === 'keys') {
    created = await exchange('CreateKeysAndCertificate',
      (h) => id.subscribeToCreateKeysAndCertificateAccepted({}, QOS, h),
      (h) => id.subscribeToCreateKeysAndCertificateRejected({}, QOS, h),
      () => id.publishCreateKeysAndCertificate({}, QOS));
    keyPem = created.privateKey;
  } else {
    const csr = fs.readFileSync(opts.csr, 'utf8');
    created = await exchange('CreateCertificateFromCsr',
      (h) => id.subscribeToCreateCertificateFromCsrAccepted({}, QOS, h),
      (h) => id.subscribeToCreateCertificateFromCsrRejected({}, QOS, h),
      () => id.publishCreateCertificateFromCsr({ certificateSigningRequest: csr }, QOS));
    keyPem = fs.readFileSync(opts['csr-key'], 'utf8');
  }
  if (!created.certificateId || !created.certificatePem || !created.certificateOwnershipToken || !keyPem) {
    throw new Error(`${opts.mode}: reply lacks certificateId, certificatePem, certificateOwnershipToken or key`);
  }
  log(`certificate ${created.certificateId}`);

  const parameters = { SerialNumber: opts.serial };
  if (opts.site) parameters.Site = opts.site;
  const registered = await exchange('RegisterThing',
    (h) => id.subscribeToRegisterThingAccepted({ templateName: opts.template }, QOS, h),
    (h) => id.subscribeToRegisterThingRejected({ templateName: opts.template }, QOS, h),
    () => id.publishRegisterThing({
      templateName: opts.template,
      certificateOwnershipToken: created.certificateOwnershipToken,
      parameters,
    }, QOS));
  if (!registered.thingName) throw new Error('RegisterThing: reply without thingName');
  log(`thing ${registered.thingName}`);
  await claim.close();

  // The new identity: the device policy lets it connect only as its thing and
  // publish only under its thing's topics, so a PUBACK here proves both.
  const device = await Session.open(opts, created.certificatePem, keyPem, registered.thingName);
  const cfg = registered.deviceConfiguration || {};
  const statusTopic = cfg.statusTopic || `gateways/${registered.thingName}/status`;
  await withTimeout(device.publish(statusTopic, JSON.stringify({ state: 'provisioned', certificateId: created.certificateId })),
    15000, `publish ${statusTopic}`);
  log(`published on ${statusTopic}`);
  await device.close();

  process.stdout.write(JSON.stringify({
    certificateId: created.certificateId,
    thingName: registered.thingName,
    certificatePem: created.certificatePem,
    statusTopic,
    deviceConfiguration: cfg,
  }) + '\n');
}

const opts = parseArgs(process.argv.slice(2));
if (opts['crt-log'] !== 'none') io.enable_logging(io.LogLevel[opts['crt-log'].toUpperCase()]);
const deadline = setTimeout(() => {
  log(`timed out after ${opts.timeout} ms`);
  process.exit(1);
}, opts.timeout);
provision(opts).then(
  () => { clearTimeout(deadline); process.exit(0); },
  (err) => { log(`failed: ${err && err.stack ? err.stack : err}`); process.exit(1); },
);
