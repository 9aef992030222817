#!/usr/bin/env python3
"""Write guest requests to the metadata service as seeds for fuzz_mmds_http.

An input is a flags byte (bit 0 V2, bit 1 imds_compat, bits 2-3 the
store, bit 4 "TOKEN" replaced by a valid token, bit 5 a merge patch
first: a length byte and its JSON), then the request head.
"""
import os
import sys

V2, COMPAT, TOKEN, PATCH = 1, 2, 0x10, 0x20


def store(n):
    return n << 2


def req(line, *headers):
    return (line + "\r\n" + "".join(h + "\r\n" for h in headers)
            + "\r\n").encode()


def patch(js):
    b = js.encode()
    return bytes([len(b)]) + b


SEEDS = {
    "v1-get": (0, req("GET /latest/meta-data/ HTTP/1.1")),
    "v1-get-json": (0, req("GET /latest/meta-data/ami-id HTTP/1.0",
                           "Accept: application/json")),
    "v1-absolute": (0, req("GET http://169.254.169.254//latest//user-data "
                           "HTTP/1.1")),
    "v1-array": (0, req("GET /list/1/b HTTP/1.1", "Accept: application/json")),
    "v1-escapes": (store(3), req("GET /a~1b/m~0n/0 HTTP/1.1",
                                 "accept:  application/json ")),
    "v1-compat": (COMPAT, req("GET / HTTP/1.1", "Accept: application/json")),
    "v1-null-store": (store(1), req("GET / HTTP/1.1")),
    "v1-bad-token": (0, req("GET / HTTP/1.1", "X-metadata-token: abc")),
    "v2-no-token": (V2, req("GET /latest HTTP/1.1")),
    "v2-token": (V2 | TOKEN, req("GET /latest/meta-data/ids HTTP/1.1",
                                 "X-metadata-token: TOKEN")),
    "v2-aws-token": (V2 | TOKEN, req("GET /latest HTTP/1.1",
                                     "X-aws-ec2-metadata-token: TOKEN",
                                     "Accept: text/plain")),
    "put-token": (V2, req("PUT /latest/api/token HTTP/1.1",
                          "X-metadata-token-ttl-seconds: 21600")),
    "put-token-aws": (0, req("PUT //latest/api/token HTTP/1.0",
                             "x-aws-ec2-metadata-token-ttl-seconds: +5")),
    "put-token-xff": (V2, req("PUT /latest/api/token HTTP/1.1",
                              "X-Forwarded-For: 1.2.3.4",
                              "X-metadata-token-ttl-seconds: 5")),
    "put-bad-ttl": (V2, req("PUT /latest/api/token HTTP/1.1",
                            "X-metadata-token-ttl-seconds: 0")),
    "patch-method": (0, req("PATCH / HTTP/1.1")),
    "post-method": (0, req("POST / HTTP/1.1")),
    "headers": (0, req("GET / HTTP/1.1", "Content-Length: 0",
                       "Accept-Encoding: gzip, *;q=0, identity",
                       "Transfer-Encoding: chunked", "Expect: 100-continue",
                       "Content-Type: text/plain", "Server: x",
                       "X-Custom: a:b")),
    "bad-header": (0, req("GET / HTTP/1.1", "nocolon")),
    "patched": (PATCH, patch('{"latest":{"meta-data":null},"z":[1.5,"\\n"]}')
                + req("GET /z/1 HTTP/1.1", "Accept: application/json")),
    "patched-scalar": (PATCH | store(2), patch('{"a":{"b":{}}}')
                       + req("GET /a/b/ HTTP/1.1")),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (flags, body) in SEEDS.items():
        with open(os.path.join(out, "mmds-" + name), "wb") as f:
            f.write(bytes([flags]) + body)


if __name__ == "__main__":
    main()
