#!/usr/bin/env python3
"""Sends the fixed end-to-end scenario to a Sensors-compatible receiver through
the real sensorsanalyticssdk package (PyPI) and prints one JSON line
describing what was sent.

    $VENV/bin/python tests/sdk/python-sdk.py <server_url> <run_id>

Uses the SDK's DefaultConsumer: one synchronous POST per record, form fields
data=<base64 of gzip of one JSON record>&gzip=1. A non-2xx answer raises
SensorsAnalyticsNetworkException, so every record returned from the SDK call
has been acknowledged. Login is track_signup(login_id, anonymous_id).
"""
import json
import socket
import sys
import urllib.error

import sensorsanalytics


class RecordingConsumer(sensorsanalytics.DefaultConsumer):
    """The SDK's DefaultConsumer, noting each record it delivered."""

    def __init__(self, url):
        super().__init__(url, request_timeout=10)
        self.sent = []

    def send(self, msg):
        result = super().send(msg)
        self.sent.append(json.loads(msg))
        return result


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python-sdk.py <server_url> <run_id>")
    server_url, run_id = sys.argv[1:]
    anonymous_id, login_id = f"anon-{run_id}", f"user-{run_id}"
    socket.setdefaulttimeout(20)

    consumer = RecordingConsumer(server_url)
    sa = sensorsanalytics.SensorsAnalytics(consumer)
    try:
        sa.track(anonymous_id, "$pageview", {
            "$url": "https://www.example.com/course/1?from=ad",
            "$title": "课程",
            "$referrer": "https://www.baidu.com/s?wd=x",
        })
        sa.track(anonymous_id, "buyCourse",
                 {"course_name": "高等数学", "course_type": "直播课", "money": 199})
        sa.track_signup(login_id, anonymous_id)
        sa.track(login_id, "buyCourse",
                 {"course_name": "线性代数", "course_type": "录播课", "money": 99}, is_login_id=True)
        sa.profile_set(login_id, {"name": "张三", "city": "北京"}, is_login_id=True)
        sa.profile_set_once(login_id, {"province": "广东"}, is_login_id=True)
        sa.profile_unset(login_id, ["city"], is_login_id=True)
        sa.profile_append(login_id, {"tags": ["直播", "数学"]}, is_login_id=True)
        sa.profile_increment(login_id, {"login_count": 2}, is_login_id=True)
        sa.profile_delete(login_id, is_login_id=True)
        sa.close()
    except (sensorsanalytics.SensorsAnalyticsException, urllib.error.URLError, OSError) as e:
        sys.exit(f"python-sdk: the SDK reported a failed send after "
                 f"{len(consumer.sent)} records: {e}")

    sent = consumer.sent
    print(json.dumps({
        "sdk": "sensorsanalyticssdk",
        "anonymous_id": anonymous_id,
        "login_id": login_id,
        "events": [r["event"] for r in sent if "event" in r],
        "types": [r["type"] for r in sent],
        "skipped": [],
        "requests": len(sent),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
