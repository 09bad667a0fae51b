"""Ask a Cassandra node for its release_version over the CQL native protocol (v4), stdlib only.

    python3 scripts/cassandra/cql_ping.py [HOST [PORT [TIMEOUT]]]

Prints the version and exits 0 when `SELECT release_version FROM system.local` answers;
exits 1 with the reason on stderr otherwise. Used by scripts/cassandra.sh to wait for
readiness before the project's virtualenv (and its CQL driver) exists.
"""

import socket
import struct
import sys

OP_ERROR, OP_STARTUP, OP_READY, OP_AUTHENTICATE, OP_QUERY, OP_RESULT = 0x00, 0x01, 0x02, 0x03, 0x07, 0x08


def _string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the server")
        buf += chunk
    return buf


def _request(sock, stream, opcode, body):
    sock.sendall(struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body)
    _version, _flags, _stream, op, length = struct.unpack(">BBhBi", _recv_exact(sock, 9))
    return op, _recv_exact(sock, length)


def _error(body):
    (code,) = struct.unpack_from(">i", body, 0)
    (n,) = struct.unpack_from(">H", body, 4)
    return f"server error 0x{code:04x}: {body[6 : 6 + n].decode(errors='replace')}"


def release_version(host, port, timeout):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        op, body = _request(sock, 1, OP_STARTUP, struct.pack(">H", 1) + _string("CQL_VERSION") + _string("3.0.0"))
        if op == OP_AUTHENTICATE:
            return "(answers, authentication required)"
        if op != OP_READY:
            raise RuntimeError(_error(body) if op == OP_ERROR else f"unexpected opcode {op} to STARTUP")
        query = b"SELECT release_version FROM system.local"
        # <long string query><short consistency ONE><byte flags: none>
        op, body = _request(sock, 2, OP_QUERY, struct.pack(">i", len(query)) + query + struct.pack(">HB", 0x0001, 0))
        if op != OP_RESULT:
            raise RuntimeError(_error(body) if op == OP_ERROR else f"unexpected opcode {op} to QUERY")
        kind, flags, ncols = struct.unpack_from(">iii", body, 0)
        if kind != 2 or ncols != 1:
            raise RuntimeError(f"unexpected result (kind {kind}, {ncols} columns)")
        pos = 12
        if flags & 0x0002:  # has_more_pages: <bytes paging_state>
            (n,) = struct.unpack_from(">i", body, pos)
            pos += 4 + max(n, 0)
        # One column: <ks><table> (once if the global_tables_spec flag is set, else before the column),
        # then <name>: three strings either way, then the column's type.
        for _ in range(3):
            (n,) = struct.unpack_from(">H", body, pos)
            pos += 2 + n
        pos += 2  # column type id (varchar, no parameters)
        (rows,) = struct.unpack_from(">i", body, pos)
        pos += 4
        if rows < 1:
            raise RuntimeError("system.local returned no row")
        (n,) = struct.unpack_from(">i", body, pos)
        return body[pos + 4 : pos + 4 + n].decode()


def main(argv):
    host = argv[1] if len(argv) > 1 else "127.0.0.1"
    port = int(argv[2]) if len(argv) > 2 else 9042
    timeout = float(argv[3]) if len(argv) > 3 else 5.0
    try:
        print(release_version(host, port, timeout))
    except (OSError, RuntimeError, struct.error) as exc:
        print(f"{host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
