#!/usr/bin/env node
// Sends the fixed end-to-end scenario to a Sensors-compatible receiver through
// the real browser SDK (sa-sdk-javascript) running inside jsdom, waits until
// every record the SDK handed to its sender was delivered, and prints one JSON
// line describing what was sent.
//
//   node tests/sdk/web-sdk.js <server_url> <run_id> <image|ajax|beacon|batch>
//
// jsdom loads no images (without the canvas package) and has no
// navigator.sendBeacon, so this file adds two small shims inside the page that
// make exactly the request the SDK asked for with Node's http: an <img> src
// becomes a GET, sendBeacon(url, data) a text/plain POST. ajax and batch go
// through jsdom's own XMLHttpRequest, which enforces CORS like a browser.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const { JSDOM, ResourceLoader, VirtualConsole } = require('jsdom');

const PAGE_URL = 'https://www.example.com/course/1?from=ad';
const REFERRER = 'https://www.baidu.com/s?wd=x';
const CHROME_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 '
  + '(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const MODES = ['image', 'ajax', 'beacon', 'batch'];

const [serverUrl, runId, mode] = process.argv.slice(2);
if (!serverUrl || !runId || !MODES.includes(mode)) {
  console.error(`usage: node web-sdk.js <server_url> <run_id> <${MODES.join('|')}>`);
  process.exit(2);
}
const anonymousId = `anon-${runId}`;
const loginId = `user-${runId}`;

function fail(message) {
  console.error(`web-sdk (${mode}): ${message}`);
  process.exit(1);
}

const handed = [];   // records the SDK passed to its send stage, in order
let delivered = 0;   // records whose request was answered with 2xx
let inFlight = 0;    // shim requests not answered yet

// One request made on the page's behalf by a shim; resolves with the status.
function shimRequest(method, url, headers, body) {
  inFlight += 1;
  return new Promise((resolve) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.request(url, { method, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => { inFlight -= 1; resolve(res.statusCode); });
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => { inFlight -= 1; resolve(`${err.message}`); });
    req.end(body);
  });
}

function checkDelivered(what, status) {
  if (typeof status === 'number' && status >= 200 && status < 300) delivered += 1;
  else fail(`${what} failed: ${status}`);
}

function installShims(window) {
  const pageHeaders = {
    'User-Agent': CHROME_UA,
    Referer: PAGE_URL,
  };
  // <img>: setting src to an http(s) URL performs the GET, then fires load/error.
  const proto = window.HTMLImageElement.prototype;
  const srcProp = Object.getOwnPropertyDescriptor(proto, 'src');
  Object.defineProperty(proto, 'src', {
    configurable: true,
    enumerable: true,
    get() { return srcProp.get.call(this); },
    set(value) {
      srcProp.set.call(this, value);
      if (!/^https?:/.test(String(value))) return;
      const img = this;
      shimRequest('GET', String(value), { ...pageHeaders, Accept: 'image/avif,image/webp,image/*,*/*;q=0.8' })
        .then((status) => {
          checkDelivered(`GET ${String(value).slice(0, 80)}...`, status);
          img.dispatchEvent(new window.Event(status === 200 ? 'load' : 'error'));
        });
    },
  });
  // navigator.sendBeacon: a fire-and-forget text/plain POST, as browsers send it.
  Object.defineProperty(window.navigator, 'sendBeacon', {
    configurable: true,
    value(url, data) {
      const body = Buffer.from(String(data), 'utf8');
      shimRequest('POST', new window.URL(url, window.location.href).href, {
        ...pageHeaders,
        Origin: window.location.origin,
        'Content-Type': 'text/plain;charset=UTF-8',
        'Content-Length': body.length,
      }, body).then((status) => checkDelivered(`sendBeacon ${url}`, status));
      return true;
    },
  });
}

const virtualConsole = new VirtualConsole();
virtualConsole.on('jsdomError', (err) => console.error(`web-sdk (${mode}): page: ${err.message}`));
const dom = new JSDOM(
  '<!DOCTYPE html><html><head><meta charset="utf-8"><title>课程</title></head>'
  + '<body><h1>高等数学</h1></body></html>',
  {
    url: PAGE_URL,
    referrer: REFERRER,
    runScripts: 'dangerously',
    pretendToBeVisual: true,
    resources: new ResourceLoader({ userAgent: CHROME_UA }),
    virtualConsole,
  },
);
const { window } = dom;
installShims(window);

// Load the SDK's built file exactly as a <script> tag would run it.
const script = window.document.createElement('script');
script.textContent = fs.readFileSync(require.resolve('sa-sdk-javascript'), 'utf8');
window.document.head.appendChild(script);
const sensors = window.sensorsDataAnalytic201505;
if (!sensors || typeof sensors.init !== 'function') fail('the SDK did not load');

sensors.init({
  server_url: serverUrl,
  send_type: mode === 'batch' ? 'ajax' : mode,
  batch_send: mode === 'batch' ? { send_interval: 300, datasend_timeout: 5000 } : false,
  datasend_timeout: 5000,
  callback_timeout: 200,
  show_log: false,
  is_track_single_page: false,
  heatmap: { clickmode: 'not_collect', scroll_notice_map: 'not_collect' },
});

// Observe (not alter) what reaches the send stage, and the SDK's own verdicts
// on its XMLHttpRequest sends (ajax_single / ajax_batch).
sensors.registerInterceptor('sendDataStage', {
  send: { priority: 0, entry: (e) => { handed.push(JSON.parse(JSON.stringify(e.data))); return e; } },
});
sensors.on('dataSendSuccess', (r) => { delivered += Array.isArray(r.data) ? r.data.length : 1; });
sensors.on('dataSendFail', (r) => fail(`the SDK reported a failed ${r.type} send (non-2xx answer, CORS refusal, timeout or connection error)`));

sensors.identify(anonymousId, true);
sensors.quick('autoTrack');
sensors.track('buyCourse', { course_name: '高等数学', course_type: '直播课', money: 199 });
sensors.login(loginId);
sensors.track('buyCourse', { course_name: '线性代数', course_type: '录播课', money: 99 });
sensors.setProfile({ name: '张三', city: '北京' });
sensors.setOnceProfile({ province: '广东' });
sensors.unsetProfile('city');
sensors.appendProfile({ tags: ['直播', '数学'] });
sensors.incrementProfile({ login_count: 2 });
sensors.deleteProfile();

// Done once everything handed over was delivered and stayed so for a moment.
const deadline = Date.now() + 20000;
let quietSince = 0;
const timer = setInterval(() => {
  const done = handed.length > 0 && delivered >= handed.length && inFlight === 0;
  quietSince = done ? (quietSince || Date.now()) : 0;
  if (done && Date.now() - quietSince >= 300) {
    clearInterval(timer);
    console.log(JSON.stringify({
      sdk: 'sa-sdk-javascript',
      mode,
      anonymous_id: anonymousId,
      login_id: loginId,
      events: handed.filter((r) => r.event).map((r) => r.event),
      types: handed.map((r) => r.type),
      skipped: [],
      records: handed.length,
    }));
    window.close();
    process.exit(0);
  } else if (Date.now() > deadline) {
    fail(`only ${delivered} of ${handed.length} records were delivered within 20 s`);
  }
}, 50);
