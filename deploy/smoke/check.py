"""The smoke test's checks, over HTTPS through nginx (deploy/smoke/run.sh starts everything).

A member logs in, pays by STK push through the local Daraja sandbox and sees the receipt;
pages are compressed, static files cached (a year for content-hashed names), the security
headers set; the callback paths stay out of nginx's access log; the app sees the client's
own address, not nginx's nor one the client made up. Exit 1 with the reason on a failure.
"""

import argparse
import hashlib
import os
import re
import secrets
import ssl
import sys
import time
from pathlib import Path

import httpx

PASSWORD = "mtaani-demo"  # noqa: S105 - the demo's published password
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
RECEIPT_PATH = re.compile(r"/receipts/([A-Z]+-\d{4}-\d{6})$")
HSTS = "max-age=31536000; includeSubDomains"
YEAR = "public, max-age=31536000, immutable"


class SmokeFailure(AssertionError):
    pass


def check(condition, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def csrf_token(response: httpx.Response) -> str:
    found = CSRF.search(response.text)
    check(found, f"no CSRF token on {response.url}")
    return found.group(1)


def wait_until_up(client: httpx.Client, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            response = client.get("/login")
            if response.status_code == 200:
                return
            last = f"status {response.status_code}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.5)
    raise SmokeFailure(f"the app did not answer through nginx within {seconds:.0f} s: {last}")


def check_redirect_to_https(http_base: str, base: str, context: ssl.SSLContext) -> None:
    response = httpx.get(f"{http_base}/login?next=%2Fme", verify=context)
    check(response.status_code == 301, f"http: {response.status_code}, not 301")
    check(response.headers.get("location") == f"{base}/login?next=%2Fme",
          f"http redirects to {response.headers.get('location')}")
    # HSTS over plain HTTP is ignored by browsers and only tells an onlooker (RFC 6797 8.1).
    check("strict-transport-security" not in response.headers,
          f"http sends HSTS: {response.headers.get('strict-transport-security')}")
    check(response.headers.get("server") == "nginx",
          f"http: the Server header is {response.headers.get('server')!r}")


def check_app_headers(app_base: str) -> None:
    """gunicorn itself (as nginx reaches it, ./gunicorn.conf.py read): no ``Server: gunicorn``,
    and no HSTS on a request that did not come over HTTPS."""
    for path in ("/login", "/static/app.css"):
        response = httpx.get(f"{app_base}{path}")
        servers = response.headers.get_list("server")
        check(not any("gunicorn" in value.lower() for value in servers),
              f"gunicorn names itself on {path}: {servers}")
        check("strict-transport-security" not in response.headers,
              f"the app sends HSTS over plain http on {path}")


def check_page_headers(client: httpx.Client) -> httpx.Response:
    response = client.get("/login", headers={"Accept-Encoding": "gzip"})
    check(response.status_code == 200, f"/login: {response.status_code}")
    check(response.headers.get("content-encoding") == "gzip",
          f"/login is not compressed: {response.headers.get('content-encoding')}")
    check("accept-encoding" in response.headers.get("vary", "").lower(),
          f"/login: Vary is {response.headers.get('vary')!r}")
    check(response.headers.get_list("strict-transport-security") == [HSTS],
          f"/login HSTS: {response.headers.get_list('strict-transport-security')}")
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        check(name in response.headers, f"/login has no {name} header")
    check(response.headers.get_list("server") == ["nginx"],
          f"the Server header is not nginx's alone: {response.headers.get_list('server')}")
    return response


def check_static(client: httpx.Client, page: httpx.Response, static_dir: Path) -> None:
    on_disk = (static_dir / "app.css").read_bytes()
    plain = client.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    check(plain.status_code == 200 and plain.content == on_disk,
          f"/static/app.css: {plain.status_code}, not the file on disk")
    check(plain.headers.get("content-encoding") == "gzip", "/static/app.css is not compressed")
    cache = plain.headers.get("cache-control", "")
    check("immutable" not in cache and "max-age=300" in cache,
          f"/static/app.css (no hash in its name) is cached as {cache!r}")

    # The page's own stylesheet address when it carries a content hash; otherwise the name
    # a hash would give it (nginx maps name.HASH.ext to name.ext).
    linked = re.search(r'href="(/static/app\.[0-9a-f]{8,64}\.css)"', page.text)
    hashed = linked.group(1) if linked else \
        f"/static/app.{hashlib.sha256(on_disk).hexdigest()[:8]}.css"
    response = client.get(hashed, headers={"Accept-Encoding": "gzip"})
    check(response.status_code == 200 and response.content == on_disk,
          f"{hashed}: {response.status_code}, not static/app.css")
    check(response.headers.get("cache-control") == YEAR,
          f"{hashed} is cached as {response.headers.get('cache-control')!r}")
    check(response.headers.get("content-encoding") == "gzip", f"{hashed} is not compressed")
    check(response.headers.get_list("strict-transport-security") == [HSTS],
          f"{hashed} HSTS: {response.headers.get_list('strict-transport-security')}")
    check(response.headers.get("x-content-type-options") == "nosniff", f"{hashed}: no nosniff")
    missing = client.get("/static/nothing.0123abcd.css")
    check(missing.status_code == 404, f"a missing static file: {missing.status_code}")


def log_in(client: httpx.Client, username: str) -> None:
    form = client.get("/login")
    # Over https Flask-WTF also checks that the Referer is the app's own address.
    response = client.post("/login", headers={"Referer": str(form.url)}, data={
        "csrf_token": csrf_token(form), "login": username, "password": PASSWORD})
    check(response.status_code in (302, 303), f"login: {response.status_code}")
    cookie = response.headers.get("set-cookie", "")
    check("Secure" in cookie and "HttpOnly" in cookie,
          f"the session cookie is not Secure and HttpOnly: {cookie.split(';')[1:]}")
    home = client.get(response.headers["location"], follow_redirects=True)
    check(home.status_code == 200 and "/login" not in str(home.url),
          f"after logging in: {home.status_code} {home.url}")


def pay_by_stk_push(client: httpx.Client, amount: int) -> str:
    """Pay ``amount`` shillings by a prompt the sandbox's phone accepts; the receipt number."""
    form = client.get("/mpesa/pay")
    check(form.status_code == 200 and 'class="mpesa-pay"' in form.text,
          f"/mpesa/pay: {form.status_code}, no payment form")
    response = client.post("/mpesa/pay", headers={"Referer": str(form.url)}, data={
        "csrf_token": csrf_token(form), "choice": "other", "amount": str(amount),
        "phone": "0712 345 678"})
    check(response.status_code in (302, 303), f"sending the prompt: {response.status_code} "
          + re.sub(r"\s+", " ", response.text)[:300])
    status_url = response.headers["location"]
    check(re.search(r"/mpesa/pay/\d+$", status_url), f"the prompt went to {status_url}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = client.get(status_url)
        if page.status_code in (302, 303):
            found = RECEIPT_PATH.search(page.headers["location"])
            check(found, f"the paid prompt leads to {page.headers['location']}")
            receipt = client.get(page.headers["location"])
            check(receipt.status_code == 200, f"the receipt: {receipt.status_code}")
            check(found.group(1) in receipt.text and f"KES {amount:,}.00" in receipt.text,
                  "the receipt page does not show its number and amount")
            return found.group(1)
        check(page.status_code == 200 and page.headers.get("refresh"),
              f"the prompt's page: {page.status_code}, no Refresh header")
        time.sleep(1)
    raise SmokeFailure("no receipt a minute after the prompt (did the callback reach the app?)")


def check_upload_limit(client: httpx.Client) -> None:
    """Just over MAX_UPLOAD_BYTES: the app's own page (nginx lets it through); far over: nginx."""
    limit = int(os.environ.get("MAX_UPLOAD_BYTES", 5 * 1024 * 1024))
    over = client.post("/login", content=b"x" * (limit + 1024),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(over.status_code == 413 and "<html lang=" in over.text,
          f"a body just over the app's limit: {over.status_code}, not the app's 413 page")


def check_client_address(base: str, context: ssl.SSLContext, app_log: Path) -> None:
    """From 127.0.0.2, with a made-up X-Forwarded-For: the app sees 127.0.0.2."""
    probe = "probe-" + secrets.token_hex(8)
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=context)
    with httpx.Client(base_url=base, transport=transport) as other:
        response = other.get("/login", headers={
            "X-Forwarded-For": "203.0.113.7", "X-Smoke-Probe": probe})
    check(response.status_code == 200, f"/login from 127.0.0.2: {response.status_code}")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = [line.split()[0] for line in app_log.read_text().splitlines() if probe in line]
        if seen:
            check(seen == ["127.0.0.2"], f"the app saw the client as {seen}, not 127.0.0.2")
            return
        time.sleep(0.2)
    raise SmokeFailure("the probe request is not in gunicorn's access log")


def check_callbacks_not_logged(client: httpx.Client, nginx_log: Path, token: str) -> None:
    for path in ("/hooks/stk/callback/", "/mpesa/stk/callback/", "/hooks/c2b/confirmation/",
                 "/mpesa/c2b/validation/"):
        response = client.post(path + "not-the-token-" + secrets.token_hex(4),
                               json={"Body": {}})
        check(response.status_code == 404, f"{path} with a wrong token: {response.status_code}")
    time.sleep(0.5)
    lines = nginx_log.read_text().splitlines()
    check(any('"GET /login' in line for line in lines), "nginx's access log has no /login")
    check(any('"POST /mpesa/pay' in line for line in lines), "nginx's access log has no payment")
    leaked = [line for line in lines if "/hooks/" in line or token in line
              or re.search(r"/mpesa/(stk|c2b|status)/", line)]
    shown = [line.replace(token, "<token>") for line in leaked[:3]]
    check(not leaked, f"{len(leaked)} callback requests in nginx's access log: {shown}")


def check_health(client: httpx.Client) -> None:
    response = client.get("/healthz")
    check(response.status_code == 200, f"/healthz: {response.status_code} {response.text[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="nginx's https address")
    parser.add_argument("--http", required=True, help="nginx's plain http address")
    parser.add_argument("--cafile", required=True, help="the self-signed certificate")
    parser.add_argument("--nginx-log", required=True, type=Path)
    parser.add_argument("--app-log", required=True, type=Path)
    parser.add_argument("--static", required=True, type=Path, help="the app's static folder")
    parser.add_argument("--app", required=True, help="gunicorn's own http address")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.cafile)
    token = os.environ["MPESA_CALLBACK_TOKEN"]

    steps = []
    with httpx.Client(base_url=args.base, verify=context, timeout=30) as client:
        def step(name, fn, *fn_args):
            started = time.monotonic()
            result = fn(*fn_args)
            steps.append(name)
            print(f"   ok  {name} ({time.monotonic() - started:.1f} s)")
            return result

        try:
            step("the app answers through nginx", wait_until_up, client)
            step("http redirects to https, without HSTS", check_redirect_to_https, args.http,
                 args.base, context)
            step("gunicorn: no Server: gunicorn, no HSTS over http", check_app_headers,
                 args.app)
            page = step("a page: gzip, HSTS, security headers", check_page_headers, client)
            step("static files: gzip, a year for hashed names, 5 minutes otherwise",
                 check_static, client, page, args.static)
            step("the app, not nginx, refuses a body over MAX_UPLOAD_BYTES",
                 check_upload_limit, client)
            step("the member logs in over https", log_in, client, "member")
            receipt = step("an STK push through the sandbox ends on the receipt",
                           pay_by_stk_push, client, 100)
            print(f"       receipt {receipt}")
            step("the app sees the client's address", check_client_address, args.base,
                 context, args.app_log)
            step("callback paths stay out of nginx's access log", check_callbacks_not_logged,
                 client, args.nginx_log, token)
            step("/healthz", check_health, client)
        except SmokeFailure as failure:
            print(f"FAILED after {len(steps)} checks: {failure}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
