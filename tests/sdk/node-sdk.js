#!/usr/bin/env node
// Sends the fixed end-to-end scenario to a Sensors-compatible receiver through
// the real sa-sdk-node package, waits until every request was acknowledged,
// and prints one JSON line describing what was sent.
//
//   node tests/sdk/node-sdk.js <server_url> <run_id>
//
// sa-sdk-node posts each record as its own request: form fields
// data_list=<base64 of gzip of a JSON array>&gzip=1. It has no profile_delete,
// no ID-Mapping-3 calls and no login flag; login is trackSignup (wire type
// track_signup).
'use strict';
const SensorsAnalytics = require('sa-sdk-node');

const [serverUrl, runId] = process.argv.slice(2);
if (!serverUrl || !runId) {
  console.error('usage: node node-sdk.js <server_url> <run_id>');
  process.exit(2);
}
const anonymousId = `anon-${runId}`;
const loginId = `user-${runId}`;

const sa = new SensorsAnalytics();
const sent = []; // every record the SDK handed to its submitter, in order
sa.subscribe((record) => sent.push(record));
const submitter = sa.submitTo({ url: serverUrl, gzip: true, mode: 'track', timeout: 10000 });

let acked = 0;
submitter.subscribe(
  () => { acked += 1; },
  (err) => fail(`the SDK reported a failed send: ${err && err.message}`),
);

function fail(message) {
  console.error(`node-sdk: ${message}`);
  process.exit(1);
}

sa.track(anonymousId, '$pageview', {
  $url: 'https://www.example.com/course/1?from=ad',
  $title: '课程',
  $referrer: 'https://www.baidu.com/s?wd=x',
});
sa.track(anonymousId, 'buyCourse', { course_name: '高等数学', course_type: '直播课', money: 199 });
sa.trackSignup(loginId, anonymousId);
// sa-sdk-node has no login flag: calls made with a login id say so with the `$is_login_id`
// property (for profileUnset, among the keys), which slog reads as the Python and Java SDKs'
// is_login_id parameter.
const login = { $is_login_id: true };
sa.track(loginId, 'buyCourse', { course_name: '线性代数', course_type: '录播课', money: 99, ...login });
sa.profileSet(loginId, { name: '张三', city: '北京', ...login });
sa.profileSetOnce(loginId, { province: '广东', ...login });
sa.profileUnset(loginId, ['city', '$is_login_id']);
// profileAppend and profileIncrement accept string arrays and numbers only, so they cannot carry
// the login mark: sent with a login id they would name a device, not the account. The SDK has
// no profileDelete.
const skipped = ['profile_append', 'profile_increment'];
if (typeof sa.profileDelete === 'function') sa.profileDelete(loginId);
else skipped.push('profile_delete');

const deadline = Date.now() + 20000;
const timer = setInterval(() => {
  if (acked >= sent.length) {
    clearInterval(timer);
    console.log(JSON.stringify({
      sdk: 'sa-sdk-node',
      anonymous_id: anonymousId,
      login_id: loginId,
      events: sent.filter((r) => r.event).map((r) => r.event),
      types: sent.map((r) => r.type),
      skipped,
      requests: acked,
    }));
    process.exit(0);
  } else if (Date.now() > deadline) {
    fail(`only ${acked} of ${sent.length} requests were acknowledged within 20 s`);
  }
}, 50);
