#!/usr/bin/env python3
"""Prints the names of the blobs in one Azurite container, one a line.

    azurite_blobs.py <blob endpoint> <container> [prefix]

The endpoint is http://127.0.0.1:<port>/devstoreaccount1 (AZURITE_BLOB_URL);
the request is signed with the emulator's documented development key
(SharedKey, the 2009-09-19-and-later string-to-sign), so the interop
scripts can check the container side of what a client did without any
Azure tooling. Exit status 0 with the names, 1 with a message on any error
(a missing container included), so a check built on it can fail.
"""

import base64
import datetime
import hashlib
import hmac
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree

ACCOUNT = "devstoreaccount1"
# The documented development key of the storage emulator (not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
    "K1SZFPTOtr/KBHBeksoGMGw=="
)
API_VERSION = "2021-08-06"


def signed_get(url: str) -> bytes:
    parts = urllib.parse.urlsplit(url)
    date = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    headers = {"x-ms-date": date, "x-ms-version": API_VERSION}
    query = sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    resource = f"/{ACCOUNT}{parts.path}" + "".join(
        f"\n{name.lower()}:{value}" for name, value in query
    )
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
    # VERB, then eleven standard headers, all empty for a GET without a body.
    string_to_sign = "GET\n" + "\n" * 11 + canonical_headers + resource
    digest = hmac.new(
        base64.b64decode(ACCOUNT_KEY), string_to_sign.encode(), hashlib.sha256
    ).digest()
    headers["Authorization"] = f"SharedKey {ACCOUNT}:{base64.b64encode(digest).decode()}"
    request = urllib.request.Request(url, headers=headers, method="GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def blob_names(endpoint: str, container: str, prefix: str) -> list:
    names = []
    marker = ""
    while True:
        query = {"restype": "container", "comp": "list"}
        if prefix:
            query["prefix"] = prefix
        if marker:
            query["marker"] = marker
        url = f"{endpoint.rstrip('/')}/{container}?{urllib.parse.urlencode(query)}"
        root = ElementTree.fromstring(signed_get(url))
        names.extend(name.text for name in root.iter("Name"))
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return names


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 1
    endpoint, container = sys.argv[1], sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) == 4 else ""
    try:
        for name in blob_names(endpoint, container, prefix):
            print(name)
    except urllib.error.HTTPError as error:
        print(f"azurite_blobs.py: {container}: HTTP {error.code} {error.reason}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ElementTree.ParseError) as error:
        print(f"azurite_blobs.py: {container}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
