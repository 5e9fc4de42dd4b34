"""Security headers of every page, and the rules that let the CSP be strict: no inline script or
style in the HTML, no HTML-string sinks or eval in the JavaScript."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hubbub.web.site import PAGES, STATIC_DIR, WIDGET_FRAME
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser

PAGE_PATHS = {"/": "index.html", "/r/lobby": "room.html", "/console": "console.html"}
PAGE_PATHS |= {"/demo": "demo.html", f"/static/{WIDGET_FRAME}": WIDGET_FRAME}


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = words[1:]
    return parsed


def test_every_route_of_the_site_is_checked() -> None:
    assert set(PAGES.values()) | {WIDGET_FRAME} == set(PAGE_PATHS.values())


@pytest.mark.parametrize("path", list(PAGE_PATHS))
def test_each_page_has_a_strict_content_security_policy(server: ServerProcess, path: str) -> None:
    status, headers, _ = fetch(server.base_url + path)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    policy = directives(headers["content-security-policy"])
    script_src = policy["script-src"]
    assert script_src == ["'self'"]
    for directive in ("script-src", "style-src", "default-src"):
        for bad in ("'unsafe-inline'", "'unsafe-eval'", "data:", "*", "http:", "https:"):
            assert bad not in policy[directive], (path, directive, bad)
    assert policy["default-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["require-trusted-types-for"] == ["'script'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    if path.endswith(WIDGET_FRAME):
        # the widget's frame is embedded by other sites
        assert policy["frame-ancestors"] == ["*"]
        assert "x-frame-options" not in headers
    else:
        assert policy["frame-ancestors"] == ["'none'"]
        assert headers["x-frame-options"] == "DENY"
    if path == "/demo":
        assert policy["frame-src"] == ["'self'"]


def test_assets_and_config(server: ServerProcess) -> None:
    status, headers, body = fetch(f"{server.base_url}/config.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"websocketPath": "/ws"}
    status, headers, _ = fetch(f"{server.base_url}/static/widget.js")
    assert "javascript" in headers["content-type"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cross-origin-resource-policy"] == "cross-origin"  # other sites load it
    for outside in ("/static/../site.py", "/static/%2e%2e/site.py", "/static/nope.js"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            fetch(server.base_url + outside)
        refused.value.close()
        assert refused.value.code == 404


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        values = dict(attrs)
        if tag == "script" and "src" not in names:
            self.problems.append("an inline <script>")
        if tag == "style":
            self.problems.append("a <style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"an inline handler {name}")
            if name == "style":
                self.problems.append("a style attribute")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"a javascript: URL in {name}")
        for name in ("src", "href"):
            ref = values.get(name)
            if ref and ref.startswith("/static/"):
                self.assets.append(ref)


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC_DIR.glob("*.html")))
def test_html_has_no_inline_script_or_style(server: ServerProcess, page: str) -> None:
    markup = _Markup()
    markup.feed((STATIC_DIR / page).read_text())
    assert markup.problems == []
    for asset in markup.assets:  # and everything it references exists
        assert fetch(server.base_url + asset)[0] == 200


SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\b"
    r"|setTimeout\(\s*['\"`]|createContextualFragment|srcdoc"
)


@pytest.mark.parametrize(
    "script", sorted(p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*.js"))
)
def test_javascript_has_no_html_string_sinks(script: str) -> None:
    source = (STATIC_DIR / script).read_text()
    assert SINKS.findall(source) == []


def test_tests_are_not_served() -> None:
    assert not any(Path(STATIC_DIR).rglob("*test*"))
