#!/usr/bin/env python3
"""`horizons token issue` and the job API's bearer tokens from the command line:

- refusals: no key, a short secret, both kinds of key, a bad --ttl, `submit --via` without a token,
  `serve orchestrator --http` without a key;
- the tokens it mints are standard: HS256 checked here with Python's hmac, RS256 with `openssl dgst`
  against a key pair made by `openssl genpkey`; claims sub, iss, aud, iat, nbf, exp, roles;
- end to end on the embedded cluster (`horizons up`): `horizons serve orchestrator --http` with a
  secret and, over HTTPS, a certificate made by `openssl req` (HORIZONS_HTTP_TLS_CERT/KEY):
  `horizons submit --via https://` refused without the API's CA and plain HTTP unanswered; with
  --ca-cert / HORIZONS_HTTP_CA and a token 202 (the job admitted as the token's subject), a token
  signed with another secret (401), GET /jobs/<id> for the submitter (200), another user (403), an
  admin (200).

Usage: check_tokens.py HORIZONS_BINARY
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HORIZONS = sys.argv[1]
SECRET = "0123456789abcdef0123456789abcdef-test"
failures = []
checks = 0


def run(args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HORIZONS_JWT") and k != "HORIZONS_TOKEN"}
    env.update(env_extra or {})
    return subprocess.run([HORIZONS, *args], capture_output=True, text=True, timeout=timeout, env=env)


def check(name, ok, detail=""):
    global checks
    checks += 1
    if not ok:
        failures.append(f"{name}: {detail}")


def refused(name, args, env, words, code=2):
    done = run(args, env)
    check(name, done.returncode == code and words in done.stderr,
          f"exit {done.returncode} (expected {code}), stderr {done.stderr.strip()!r} lacks {words!r}")


def b64decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def minted(args, env):
    done = run(["token", "issue", *args], env)
    check(f"token issue {' '.join(args)}", done.returncode == 0, done.stderr)
    token = done.stdout.strip()
    parts = token.split(".")
    check("three parts", len(parts) == 3, token)
    return token, parts, json.loads(b64decode(parts[0])), json.loads(b64decode(parts[1]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TLS = {}  # the end-to-end API's TLS context (its own CA), set by end_to_end


def http(method, url, token=None, body=None):
    request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30, context=TLS.get("context")) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def answers_plain_http(port):
    """Whether a plain HTTP request to 127.0.0.1:port gets an HTTP answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def refusals(workdir):
    refused("no key", ["token", "issue", "--sub", "alice"], {}, "no key")
    refused("short secret", ["token", "issue", "--sub", "alice"], {"HORIZONS_JWT_SECRET": "short"}, "at least 32")
    refused("bad ttl", ["token", "issue", "--sub", "alice", "--ttl", "5x"], {"HORIZONS_JWT_SECRET": SECRET}, "--ttl")
    refused("both keys", ["token", "issue", "--sub", "alice"],
            {"HORIZONS_JWT_SECRET": SECRET, "HORIZONS_JWT_PRIVATE_KEY": "/nonexistent.pem"}, "not both")
    refused("missing key file", ["token", "issue", "--sub", "alice"],
            {"HORIZONS_JWT_PRIVATE_KEY": os.path.join(workdir, "missing.pem")}, "cannot read")
    refused("submit --via without a token", ["submit", "--via", "http://127.0.0.1:9", "--name", "m87"], {},
            "bearer token")
    refused("serve --http without a key",
            ["serve", "orchestrator", "--http", "127.0.0.1:0", "--brokers", "127.0.0.1:9", "--data-dir", workdir], {},
            "HORIZONS_JWT_SECRET", code=1)


def standard_tokens(workdir):
    token, parts, header, claims = minted(["--sub", "alice", "--role", "admin", "--ttl", "2h"],
                                          {"HORIZONS_JWT_SECRET": SECRET})
    check("HS256 header", header.get("alg") == "HS256", header)
    expected = hmac.new(SECRET.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    check("HS256 signature (Python hmac)", hmac.compare_digest(expected, b64decode(parts[2])), token)
    check("claims", claims.get("sub") == "alice" and claims.get("iss") == "horizons"
          and claims.get("aud") == "horizons-job-api" and claims.get("roles") == ["admin"]
          and claims["exp"] - claims["iat"] == 7200 and claims["nbf"] == claims["iat"]
          and abs(claims["iat"] - time.time()) < 60, claims)

    key, pub = os.path.join(workdir, "key.pem"), os.path.join(workdir, "pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    token, parts, header, claims = minted(["--sub", "bob"], {"HORIZONS_JWT_PRIVATE_KEY": key,
                                                              "HORIZONS_JWT_AUDIENCE": "jobs-elsewhere"})
    check("RS256 header", header.get("alg") == "RS256", header)
    check("RS256 claims", claims.get("sub") == "bob" and claims.get("aud") == "jobs-elsewhere"
          and "roles" not in claims and claims["exp"] - claims["iat"] == 3600, claims)
    signed, signature = os.path.join(workdir, "signed"), os.path.join(workdir, "signature")
    with open(signed, "w") as f:
        f.write(f"{parts[0]}.{parts[1]}")
    with open(signature, "wb") as f:
        f.write(b64decode(parts[2]))
    verify = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", signature, signed],
                            capture_output=True, text=True)
    check("RS256 signature (openssl dgst)", verify.returncode == 0, verify.stdout + verify.stderr)


def end_to_end(workdir):
    up = subprocess.Popen([HORIZONS, "up", "--registry-listen", "none"], stdout=subprocess.PIPE, text=True)
    serve = None
    try:
        brokers = None
        for line in up.stdout:
            if line.startswith("bootstrap servers: "):
                brokers = line.split(": ", 1)[1].strip()
            if line.startswith("serving until"):
                break
        check("horizons up", brokers is not None, "no bootstrap servers printed")
        if brokers is None:
            return
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        # The API over HTTPS, with a certificate for 127.0.0.1 that only this test trusts.
        cert, key = os.path.join(workdir, "api.crt"), os.path.join(workdir, "api.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        TLS["context"] = ssl.create_default_context(cafile=cert)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HORIZONS_JWT")}
        env.update({"HORIZONS_JWT_SECRET": SECRET, "HORIZONS_HTTP_TLS_CERT": cert, "HORIZONS_HTTP_TLS_KEY": key})
        serve = subprocess.Popen([HORIZONS, "serve", "orchestrator", "--brokers", brokers, "--http", f"127.0.0.1:{port}",
                                  "--data-dir", os.path.join(workdir, "data")], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        alice = minted(["--sub", "alice"], {"HORIZONS_JWT_SECRET": SECRET})[0]
        bob = minted(["--sub", "bob"], {"HORIZONS_JWT_SECRET": SECRET})[0]
        admin = minted(["--sub", "ops", "--role", "admin"], {"HORIZONS_JWT_SECRET": SECRET})[0]
        forged = minted(["--sub", "alice"], {"HORIZONS_JWT_SECRET": "x" * 40})[0]

        done = run(["submit", "--via", url, "--name", "m87", "--job-id", "job-untrusted"], {"HORIZONS_TOKEN": alice})
        check("submit --via https without the API's CA", done.returncode == 1 and "--ca-cert" in done.stderr,
              f"exit {done.returncode}: {done.stderr}")
        check("plain HTTP to the HTTPS API", not answers_plain_http(port))
        done = run(["submit", "--via", url, "--name", "m87", "--job-id", "job-token-1"],
                   {"HORIZONS_TOKEN": alice, "HORIZONS_HTTP_CA": cert})
        check("submit --via with a token", done.returncode == 0 and '"job-token-1"' in done.stdout,
              f"exit {done.returncode}: {done.stdout} {done.stderr}")
        done = run(["submit", "--via", url, "--name", "m87", "--token", forged, "--ca-cert", cert])
        check("submit --via with a forged token", done.returncode == 1 and "401" in done.stderr, done.stderr)
        done = run(["submit", "--via", url, "--name", "m87", "--user", "alice", "--ca-cert", cert],
                   {"HORIZONS_TOKEN": bob})
        check("submit --via as another user", done.returncode == 1 and "403" in done.stderr, done.stderr)

        status, body = 404, {}
        deadline = time.time() + 60
        while status == 404 and time.time() < deadline:  # until the orchestrator admitted the job
            status, body = http("GET", f"{url}/jobs/job-token-1", alice)
            time.sleep(0.2)
        check("GET by the submitter", status == 200 and body.get("user_id") == "alice", f"{status} {body}")
        check("GET by another user", http("GET", f"{url}/jobs/job-token-1", bob)[0] == 403)
        check("GET by an admin", http("GET", f"{url}/jobs/job-token-1", admin)[0] == 200)
        status, body = http("GET", f"{url}/jobs/job-token-1")
        check("GET without a token", status == 401 and "error" in body, f"{status} {body}")
    finally:
        for process in (serve, up):
            if process:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    check("serve stopped cleanly", serve is None or serve.returncode == 0, f"exit {serve.returncode if serve else ''}")


def main():
    with tempfile.TemporaryDirectory() as workdir:
        refusals(workdir)
        standard_tokens(workdir)
        end_to_end(workdir)
    for f in failures:
        print("FAIL", f)
    print(f"token checks: {checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures or checks == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
