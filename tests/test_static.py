"""Static files under content-hashed names with a year's cache; HTML gzip'd."""

import gzip
import hashlib
import re

from association.static import LONG_MAX_AGE, SHORT_MAX_AGE, build_manifest, hashed_name
from config import BASE_DIR

CSS = (BASE_DIR / "static" / "app.css").read_bytes()
CSS_HASH = hashlib.sha256(CSS).hexdigest()[:8]


def static_links(html: str) -> list[str]:
    return re.findall(r'href="(/static/[^"]+)"', html)


def test_pages_link_the_css_and_icon_by_their_content_hash(client):
    links = static_links(client.get("/login").get_data(as_text=True))
    assert f"/static/app.{CSS_HASH}.css" in links
    assert any(re.fullmatch(r"/static/favicon\.[0-9a-f]{8}\.svg", link) for link in links), links
    assert "/static/app.css" not in links


def test_a_hashed_address_is_cached_for_a_year(client):
    response = client.get(f"/static/app.{CSS_HASH}.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert response.get_data() == CSS
    cache = response.cache_control
    assert cache.public and cache.immutable and cache.max_age == LONG_MAX_AGE == 31536000
    assert "Content-Security-Policy" in response.headers


def test_plain_and_stale_addresses_still_work_with_a_short_cache(client):
    for path in ("/static/app.css", "/static/app.0123abcd.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.get_data() == CSS, path
        assert response.cache_control.max_age == SHORT_MAX_AGE, path
        assert not response.cache_control.immutable, path
    assert client.get("/static/nothing.css").status_code == 404
    assert client.get("/static/nothing.0123abcd.css").status_code == 404
    assert client.get("/static/..%2Fconfig.py").status_code == 404


def test_html_is_gzipped_for_clients_that_accept_it_and_keeps_its_headers(client):
    plain = client.get("/login")
    assert "Content-Encoding" not in plain.headers
    response = client.get("/login", headers={"Accept-Encoding": "gzip, deflate"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    html = gzip.decompress(response.get_data()).decode()
    assert 'name="login"' in html
    assert static_links(html) == static_links(plain.get_data(as_text=True))
    assert int(response.headers["Content-Length"]) == len(response.get_data()) < len(plain.data)
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                   "Referrer-Policy"):
        assert response.headers[header] == plain.headers[header], header
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_css_is_gzipped_too_and_keeps_its_year_of_cache(client):
    response = client.get(f"/static/app.{CSS_HASH}.css", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.get_data()) == CSS
    assert response.cache_control.immutable


def test_a_range_of_a_static_file_is_sent_as_it_is(client):
    response = client.get(f"/static/app.{CSS_HASH}.css",
                          headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert response.status_code == 206
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == CSS[:10]


def test_the_manifest_hashes_each_file_once_by_content(tmp_path):
    (tmp_path / "a.css").write_text("a{}")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "logo.svg").write_text("<svg/>")
    manifest = build_manifest(tmp_path)
    digest = hashlib.sha256(b"a{}").hexdigest()[:8]
    assert manifest["a.css"] == f"a.{digest}.css"
    assert re.fullmatch(r"img/logo\.[0-9a-f]{8}\.svg", manifest["img/logo.svg"])
    assert hashed_name("LICENSE", "0123abcd") == "LICENSE.0123abcd"
