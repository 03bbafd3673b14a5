#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""prosody_accounts -- create Prosody accounts fast, for the test server.

    prosody_accounts.py DATA_PATH HOST USER PASSWORD [USER PASSWORD ...]

Writes the account files that `prosodyctl register USER HOST PASSWORD` would
write for Prosody 0.12 with authentication = "internal_hashed" and the
internal file storage: DATA_PATH/<host>/accounts/<user>.dat holding the
SCRAM-SHA-1 salt, iteration count, StoredKey and ServerKey (RFC 5802).

Why: prosodyctl starts a Lua interpreter and loads Prosody's libraries for
each account (about 60 ms each); this writes all accounts in one process of
a few milliseconds plus Python start-up, and can run while the server starts.
Prosody reads account files on every login (no cache), so accounts written
while it runs work at once, exactly as with prosodyctl.

Only plain credentials are accepted (user: lowercase ASCII letters, digits
and . _ -; password: printable ASCII), for which Prosody's nodeprep and
SASLprep change nothing. Anything else exits 2: use prosodyctl for it.
"""

import hashlib
import hmac
import os
import re
import sys
import uuid

ITERATIONS = 10000  # Prosody 0.12's default_iteration_count

USER_RE = re.compile(r"[a-z0-9._-]+")
PASSWORD_RE = re.compile(r"[ -~]+")


def encode(name):
    """Prosody's datamanager file-name encoding: every byte that is not an
    ASCII letter or digit becomes %xx (lowercase hex)."""
    return re.sub(rb"[^A-Za-z0-9]", lambda m: b"%%%02x" % m.group()[0],
                  name.encode("utf-8")).decode("ascii")


def scram_sha1(password, salt, iterations):
    """(StoredKey, ServerKey) as lowercase hex, as Prosody stores them."""
    salted = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"),
                                 salt.encode("utf-8"), iterations)
    client_key = hmac.new(salted, b"Client Key", "sha1").digest()
    server_key = hmac.new(salted, b"Server Key", "sha1").hexdigest()
    return hashlib.sha1(client_key).hexdigest(), server_key


def write_account(data_path, host, user, password):
    directory = os.path.join(data_path, encode(host), "accounts")
    os.makedirs(directory, exist_ok=True)
    salt = str(uuid.uuid4())  # Prosody also uses a UUID as the salt
    stored_key, server_key = scram_sha1(password, salt, ITERATIONS)
    # The Lua table Prosody's util.serialization writes; every value here
    # is hex, a UUID or a number, so nothing needs escaping.
    text = ("return {\n"
            f'\t["iteration_count"] = {ITERATIONS};\n'
            f'\t["salt"] = "{salt}";\n'
            f'\t["stored_key"] = "{stored_key}";\n'
            f'\t["server_key"] = "{server_key}";\n'
            "};\n")
    path = os.path.join(directory, encode(user) + ".dat")
    tmp = path + "~"  # the same scratch name Prosody uses, then rename
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    if len(argv) < 4 or len(argv) % 2 != 0:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    data_path, host, pairs = argv[0], argv[1], argv[2:]
    accounts = list(zip(pairs[0::2], pairs[1::2]))
    for user, password in accounts:
        if not USER_RE.fullmatch(user) or not PASSWORD_RE.fullmatch(password):
            print(f"prosody_accounts: {user!r}: not plain ASCII credentials; "
                  "use prosodyctl register", file=sys.stderr)
            return 2
    for user, password in accounts:
        write_account(data_path, host, user, password)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
