"""Checks of the examples' browser pages (examples/common/page.hpp): GET / carries a strict
Content-Security-Policy and X-Frame-Options: DENY, holds no inline script or style (so the policy
needs no 'unsafe-inline'), and its script and stylesheet are served from the page's own origin."""

import re

from nexios_testlib import HttpConnection

# What every directive of the policy must be (tokens, in any order). connect-src also names the
# page's own WebSocket origin, from the Host the request carried.
EXPECTED_POLICY = {
    "default-src": {"'none'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "object-src": {"'none'"},
    "frame-ancestors": {"'none'"},
}


def get(port: int, path: str, host: str = "127.0.0.1"):
    with HttpConnection(port) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return c.read_response()


def parse_policy(value: str) -> dict:
    policy = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            policy[tokens[0].lower()] = set(tokens[1:])
    return policy


def check_page(tc, port: int, js_contains=(), html_contains=()) -> None:
    """Asserts, in unittest.TestCase `tc`, everything the examples' pages promise."""
    host = f"127.0.0.1:{port}"
    res = get(port, "/", host)
    tc.assertEqual(res.status, 200)
    tc.assertTrue(res.header("Content-Type").startswith("text/html"), res.headers)
    tc.assertEqual(res.header("X-Frame-Options"), "DENY")
    tc.assertEqual(len(res.header_all("Content-Security-Policy")), 1, res.headers)
    policy = parse_policy(res.header("Content-Security-Policy"))
    for directive, tokens in EXPECTED_POLICY.items():
        tc.assertEqual(policy.get(directive), tokens, f"{directive} in {res.header('Content-Security-Policy')}")
    tc.assertEqual(policy.get("connect-src"), {"'self'", f"ws://{host}", f"wss://{host}"})
    for tokens in policy.values():
        for unsafe in ("'unsafe-inline'", "'unsafe-eval'", "*", "ws:", "wss:", "http:", "https:", "data:"):
            tc.assertNotIn(unsafe, tokens)

    body = res.body.decode()
    # No inline script, no inline style, no event-handler or style attributes.
    tc.assertIsNone(re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), "inline <script>")
    tc.assertNotIn("<style", body)
    tc.assertIsNone(re.search(r"\s(on[a-z]+|style)\s*=", body), "an event-handler or style attribute")
    tc.assertIn('<script src="/page.js"></script>', body)
    tc.assertIn('<link rel="stylesheet" href="/page.css">', body)
    tc.assertNotRegex(body, r"(src|href)=\"https?://", "the page loads nothing from outside")
    for text in html_contains:
        tc.assertIn(text, body)

    js = get(port, "/page.js", host)
    tc.assertEqual(js.status, 200)
    tc.assertEqual(js.header("Content-Type"), "text/javascript; charset=utf-8")
    for text in js_contains:
        tc.assertIn(text, js.body.decode())
    css = get(port, "/page.css", host)
    tc.assertEqual(css.status, 200)
    tc.assertEqual(css.header("Content-Type"), "text/css; charset=utf-8")

    # A Host that could smuggle a directive into the policy is left out of it.
    hostile = get(port, "/", "a.example;script-src")
    if hostile.status == 200:
        value = hostile.header("Content-Security-Policy")
        tc.assertNotIn("a.example", value)
        tc.assertEqual(parse_policy(value)["connect-src"], {"'self'"})
        tc.assertEqual(parse_policy(value)["script-src"], {"'self'"})
