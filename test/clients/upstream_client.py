"""A client of the device API written the way the upstream's own Python pages write one.

The upstream's authentication pages ("Teste de autenticação") show a Python
client built from json, hashlib.md5, datetime, python-jose (`from jose import
jwt`) and requests; in short:

    today_str = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S")
    dict_to_sign = {"timestamp": today_str, "method": method, "uri": endpoint}
    # only for requests that have a body:
    dict_to_sign["payload_md5"] = md5(json.dumps(body).encode()).hexdigest()
    token = jwt.encode(dict_to_sign, client_private_key, algorithm="ES512")
    headers = {"AUTHORIZATION": token, "API-CLIENT-KEY": api_key}

and, on another page, `request_body = {}` for GET and DELETE (so the claim is
md5("{}")), `datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")` and
`headers={"typ": "JWT", "alg": "ES512"}` passed to `jwt.encode`. Their keys
are PEM `EC PRIVATE KEY`s. This script does the same with either python-jose
or PyJWT, as Debian packages them (python3-jose, python3-jwt; run it with
/usr/bin/python3), and sends with `requests.request(method, url, data=body)`.

The clients tier (test/clients/*.client-spec.ts, through upstream-clients.ts)
runs it once per request. It reads one JSON object on stdin:

    library        "python-jose" or "pyjwt"
    alg            "ES512", "ES256" or "EdDSA"
    private_key    the client's private key, PEM
    api_client_key the API-CLIENT-KEY header
    base_url, method, path
    body           the request's JSON body, sent as json.dumps(body); absent: no body
    timestamp      how the timestamp claim is written (TIMESTAMPS below)
    age_seconds    how far in the past that moment is (default 0)
    payload_md5    "body" (md5 of json.dumps(body)), "braces" (md5 of "{}"),
                   "empty" (md5 of ""), or "omitted" (no claim)
    jwt_header     true: pass headers={"typ": "JWT", "alg": alg}, as one upstream page does
    extra_claims   true: add iat, exp and kid claims, and a kid header field
    then           requests to send after the first: "copy" (the same headers
                   and body again) or "resign" (the same claims signed again)

and prints one JSON line per request sent: status, headers, text and body
(parsed if JSON), the AUTHORIZATION sent and its claims. If the library
cannot sign (an algorithm it does not support), it prints {"error": "..."}
and exits 3. With `--versions` it prints the versions of Python and of the
libraries instead.

datetime.utcnow() is deprecated from Python 3.12 on (a warning on stderr);
it is what the upstream's pages write, and Debian 12's Python is 3.11.
"""

import hashlib
import json
import sys
import time
from datetime import datetime, timedelta, timezone

import requests

# Each way the upstream's examples (and Python's datetime) write "now, in UTC",
# `age` seconds ago.
TIMESTAMPS = {
    # 2026-12-01T19:03:05 -- no zone, read as UTC (the upstream page's form)
    "strftime": lambda age: (datetime.utcnow() - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%S"),
    # 2026-12-01T19:03:05.123456Z (another upstream page's form)
    "strftime-z": lambda age: (datetime.utcnow() - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    # 2026-12-01T19:03:05.123456 -- no zone (isoformat drops the fraction when it is 0)
    "isoformat": lambda age: (datetime.utcnow() - timedelta(seconds=age)).isoformat(),
    # 2026-12-01T19:03:05.123456+00:00
    "aware-isoformat": lambda age: (datetime.now(timezone.utc) - timedelta(seconds=age)).isoformat(),
}


def md5_hex(text):
    return hashlib.md5(text.encode()).hexdigest()


def sign(library, claims, private_key, alg, headers):
    # Imported here, not at the top as the pages do, so that a run loads only the library it signs with.
    if library == "python-jose":
        from jose import jwt

        return jwt.encode(claims, private_key, algorithm=alg, headers=headers)
    if library == "pyjwt":
        import jwt

        return jwt.encode(claims, private_key, algorithm=alg, headers=headers)
    raise ValueError("unknown library " + library)


def send(spec, body_text, authorization):
    headers = {"API-CLIENT-KEY": spec["api_client_key"], "AUTHORIZATION": authorization}
    if body_text is not None:
        headers["Content-Type"] = "application/json"
    res = requests.request(spec["method"], spec["base_url"] + spec["path"], data=body_text, headers=headers, timeout=10)
    try:
        body = res.json()
    except ValueError:
        body = res.text
    return {"status": res.status_code, "headers": {k.lower(): v for k, v in res.headers.items()}, "text": res.text, "body": body}


def versions():
    import cryptography
    import jose
    import jwt

    return {"python": sys.version.split()[0], "python-jose": jose.__version__, "pyjwt": jwt.__version__,
            "requests": requests.__version__, "cryptography": cryptography.__version__}


def main():
    if sys.argv[1:] == ["--versions"]:
        print(json.dumps(versions()))
        return
    spec = json.load(sys.stdin)
    alg = spec["alg"]
    body_text = json.dumps(spec["body"]) if "body" in spec else None

    claims = {
        "timestamp": TIMESTAMPS[spec["timestamp"]](spec.get("age_seconds", 0)),
        "method": spec["method"],
        "uri": spec["path"],
    }
    how = spec["payload_md5"]
    if how == "body":
        claims["payload_md5"] = md5_hex(body_text)
    elif how == "braces":
        claims["payload_md5"] = md5_hex(json.dumps({}))
    elif how == "empty":
        claims["payload_md5"] = md5_hex("")
    elif how != "omitted":
        raise ValueError("unknown payload_md5 form " + how)

    headers = {"typ": "JWT", "alg": alg} if spec.get("jwt_header") else None
    if spec.get("extra_claims"):
        issued = int(time.time())
        claims.update({"iat": issued, "exp": issued + 120, "kid": "client-key-1"})
        headers = {**(headers or {}), "kid": "client-key-1"}

    try:
        authorization = sign(spec["library"], claims, spec["private_key"], alg, headers)
    except Exception as err:  # the library's own refusal (an algorithm it lacks, a key it cannot use)
        print(json.dumps({"error": type(err).__name__ + ": " + str(err)}))
        sys.exit(3)

    print(json.dumps({**send(spec, body_text, authorization), "authorization": authorization, "claims": claims}), flush=True)
    for step in spec.get("then", []):
        if step == "resign":
            authorization = sign(spec["library"], claims, spec["private_key"], alg, headers)
        elif step != "copy":
            raise ValueError("unknown follow-up " + step)
        print(json.dumps({**send(spec, body_text, authorization), "authorization": authorization, "claims": claims}), flush=True)


if __name__ == "__main__":
    main()
