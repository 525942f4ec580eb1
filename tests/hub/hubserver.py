"""A small stand-in for the Hugging Face Hub: the HTTP endpoints huggingface_hub calls to
resolve a revision (model info), list a tree, ask about paths (paths-info), and read a file
(HEAD for its metadata, GET whole or by byte range), served from fixture folders on
127.0.0.1. It answers as the Hub documents: a resolve URL carries X-Repo-Commit and ETag
(X-Linked-Etag and X-Linked-Size for LFS files); a satisfiable Range gets 206 with
Content-Range, an unsatisfiable one 416. It counts what it sends, so tests can prove what
was fetched. Files may be sparse giants (a 140 GB shard of holes): their content ids are
taken from the data extents, never by reading the holes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".gguf", ".onnx", ".h5", ".msgpack")


class FakeHub:
    def __init__(self):
        self.repos: dict[str, dict[str, Path]] = {}  # repo id -> {commit sha: folder}
        self.refs: dict[str, dict[str, str]] = {}  # repo id -> {branch: commit sha}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, range header)
        self.bytes_sent: Counter[str] = Counter()  # repo file path -> body bytes sent
        self.api_bytes_sent = 0  # JSON bodies (model info, tree, paths-info, errors)
        # Behaviours a test can switch on: a gated repo's files need accepted terms (its
        # info and tree stay public, as on the Hub); withheld files are listed but answer
        # 404; hung-up files get the connection closed without an answer (the network
        # going away mid-run); a server that ignores Range answers 200 with the whole file.
        self.gated: set[str] = set()
        self.withheld: set[str] = set()
        self.hung_up: set[str] = set()
        self.honour_ranges = True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo_id: str, folder: Path, branch: str = "main") -> str:
        """Serve `folder` as the head of `branch`; returns its (made-up, stable) commit sha."""
        digest = hashlib.sha1()
        for rel, file in _files(Path(folder)):
            digest.update(rel.encode() + b"\0" + _content_ids(file)[1].encode())
        sha = digest.hexdigest()
        self.repos.setdefault(repo_id, {})[sha] = Path(folder)
        self.refs.setdefault(repo_id, {})[branch] = sha
        return sha

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def resolve(self, repo_id: str, revision: str) -> tuple[str, Path] | None:
        commits = self.repos.get(repo_id)
        if commits is None:
            return None
        sha = self.refs[repo_id].get(revision, revision)
        return (sha, commits[sha]) if sha in commits else None


def _handler(hub: FakeHub):  # noqa: C901 - older than the bound; split it when it next changes
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, as production HTTP servers set it: http.server sends the headers
        # and the body in two writes, and with Nagle on the body waits for the client's
        # delayed ACK of the headers (~40 ms on Linux), ~0.36 s of a target's ~0.4 s.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_HEAD(self):
            self._serve(body=False)

        def do_GET(self):
            self._serve(body=True)

        def do_POST(self):
            path = unquote(urlsplit(self.path).path)
            hub.requests.append((self.command, path, None))
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/paths-info/(.+)", path):
                return self._paths_info(match[1], match[2], form.get("paths", []))
            self._error(404, "EntryNotFound", "no such endpoint")

        def _serve(self, body: bool):
            path = unquote(urlsplit(self.path).path)
            hub.requests.append((self.command, path, self.headers.get("Range")))
            if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
                return self._model_info(match[1], match[2] or "main")
            if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path):
                return self._tree(match[1], match[2], match[3] or "")
            if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                return self._resolve(match[1], match[2], match[3], body)
            self._error(404, "EntryNotFound", "no such endpoint")

        def _repo(self, repo_id, revision):
            if repo_id not in hub.repos:
                self._error(404, "RepoNotFound", "Repository not found")
                return None
            found = hub.resolve(repo_id, revision)
            if found is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return found

        def _model_info(self, repo_id, revision):
            found = self._repo(repo_id, revision)
            if found:
                sha, folder = found
                siblings = [{"rfilename": rel} for rel, _ in _files(folder)]
                self._json(
                    {
                        "_id": sha[:24],
                        "id": repo_id,
                        "modelId": repo_id,
                        "sha": sha,
                        "private": False,
                        "disabled": False,
                        "gated": False,
                        "tags": [],
                        "siblings": siblings,
                    }
                )

        def _tree(self, repo_id, revision, under):
            found = self._repo(repo_id, revision)
            if not found:
                return
            sha, folder = found
            recursive = "recursive=true" in (urlsplit(self.path).query or "").lower()
            entries, dirs = [], set()
            for rel, file in _files(folder):
                if under and not rel.startswith(under.rstrip("/") + "/"):
                    continue
                inner = rel[len(under.rstrip("/")) + 1 :] if under else rel
                parts = inner.split("/")
                prefix = (under.rstrip("/") + "/") if under else ""
                for depth in range(1, len(parts)):
                    folder_rel = prefix + "/".join(parts[:depth])
                    if folder_rel not in dirs and (recursive or depth == 1):
                        dirs.add(folder_rel)
                        entries.append(
                            {"type": "directory", "oid": hashlib.sha1(folder_rel.encode()).hexdigest(), "size": 0, "path": folder_rel}
                        )
                if len(parts) > 1 and not recursive:
                    continue
                entries.append(_file_entry(rel, file))
            self._json(entries)

        def _paths_info(self, repo_id, revision, paths):
            """The entries of the asked paths that exist (files and folders); others are left out."""
            found = self._repo(repo_id, revision)
            if not found:
                return
            _sha, folder = found
            entries = []
            for rel in paths:
                target = folder / rel.strip("/")
                if ".." in rel.split("/") or not target.exists():
                    continue
                if target.is_file():
                    entries.append(_file_entry(rel.strip("/"), target))
                else:
                    entries.append({"type": "directory", "oid": hashlib.sha1(rel.encode()).hexdigest(), "size": 0, "path": rel.strip("/")})
            self._json(entries)

        def _resolve(self, repo_id, revision, rel, body):
            found = self._repo(repo_id, revision)
            if not found:
                return
            sha, folder = found
            file = folder / rel
            if rel in hub.hung_up:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if repo_id in hub.gated:
                self._error(
                    401,
                    "GatedRepo",
                    f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it.",
                    commit=sha,
                )
                return
            if ".." in rel.split("/") or not file.is_file() or rel in hub.withheld:
                self._error(404, "EntryNotFound", f"{rel} does not exist", commit=sha)
                return
            size = file.stat().st_size
            span = _byte_range(self.headers.get("Range"), size) if hub.honour_ranges else None
            if span == "unsatisfiable":
                return self._error(416, "RangeNotSatisfiable", f"bytes */{size}", commit=sha, content_range=f"bytes */{size}")
            begin, end = span or (0, size - 1)
            status = 206 if span else 200
            entry = _file_entry(rel, file)
            self.send_response(status)
            self.send_header("X-Repo-Commit", sha)
            self.send_header("ETag", f'"{entry["oid"]}"')
            if "lfs" in entry:
                self.send_header("X-Linked-Etag", f'"{entry["lfs"]["oid"]}"')
                self.send_header("X-Linked-Size", str(size))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            length = max(0, end - begin + 1)
            if status == 206:
                self.send_header("Content-Range", f"bytes {begin}-{end}/{size}")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if body and length:
                self._send_file(file, rel, begin, length)

        def _send_file(self, file, rel, begin, length):
            """The body in 1 MiB pieces, counted as each is handed to the socket: a client
            that hangs up early (a stream cut short) is charged only what was sent."""
            with open(file, "rb") as stream:
                stream.seek(begin)
                while length > 0:
                    piece = stream.read(min(length, 1 << 20))
                    if not piece:
                        return
                    try:
                        self.wfile.write(piece)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True
                        return
                    hub.bytes_sent[rel] += len(piece)
                    length -= len(piece)

        def _json(self, data):
            raw = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self._write_api_body(raw)

        def _error(self, status, code, message, commit=None, content_range=None):
            raw = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            if content_range:
                self.send_header("Content-Range", content_range)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self._write_api_body(raw)

        def _write_api_body(self, raw):
            if self.command != "HEAD":
                hub.api_bytes_sent += len(raw)
                self.wfile.write(raw)

    return Handler


def _files(folder: Path):
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        yield file.relative_to(folder).as_posix(), file


def _file_entry(rel: str, file: Path) -> dict:
    size = file.stat().st_size
    git_oid, lfs_oid = _content_ids(file)
    entry = {"type": "file", "oid": git_oid, "size": size, "path": rel}
    if rel.endswith(LFS_SUFFIXES):
        entry["lfs"] = {"oid": lfs_oid, "size": size, "pointerSize": 134}
    return entry


def _byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single-range `Range` header (RFC 9110: `a-b`, `a-`, `-n`);
    None when there is none (or it is not one this server understands: the whole file, as
    a server that ignores Range answers); "unsatisfiable" when it starts past the end."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (header or "").strip())
    if not match or not (match[1] or match[2]):
        return None
    if not match[1]:  # the last n bytes
        return (max(0, size - int(match[2])), size - 1) if int(match[2]) and size else "unsatisfiable"
    first = int(match[1])
    if first >= size:
        return "unsatisfiable"
    return first, min(int(match[2]) if match[2] else size - 1, size - 1)


# (path, size, mtime) -> (git blob sha1, sha256): the tree listing and every HEAD need them.
_IDS: dict[tuple[str, int, int], tuple[str, str]] = {}
WHOLE_HASH_LIMIT = 64 << 20


def _content_ids(file: Path) -> tuple[str, str]:
    """The git blob id and the LFS sha256 of a file, as the Hub reports them. Above 64 MiB
    (the sparse 70B-shaped shards) they are ids of the data extents and the size instead:
    stable and content-derived, without reading 140 GB of holes."""
    status = file.stat()
    key = (str(file), status.st_size, status.st_mtime_ns)
    if key not in _IDS:
        if status.st_size <= WHOLE_HASH_LIMIT:
            data = file.read_bytes()
            _IDS[key] = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), hashlib.sha256(data).hexdigest()
        else:
            digest = hashlib.sha256(b"%d\0" % status.st_size)
            for start, chunk in _data_extents(file):
                digest.update(b"%d\0" % start + chunk)
            _IDS[key] = digest.hexdigest()[:40], digest.hexdigest()
    return _IDS[key]


def _data_extents(file: Path):
    """(offset, bytes) of each run of written data of a sparse file (SEEK_DATA/SEEK_HOLE)."""
    with open(file, "rb") as stream:
        fd, offset, size = stream.fileno(), 0, os.fstat(stream.fileno()).st_size
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                return
            end = os.lseek(fd, start, os.SEEK_HOLE)
            stream.seek(start)
            yield start, stream.read(end - start)
            offset = end


# -- pytest fixtures and helpers (imported by the test modules) -------------------------


@pytest.fixture
def hub():
    server = FakeHub().start()
    yield server
    server.stop()


@pytest.fixture
def hub_env(hub, tmp_path):
    """Environment for a hfcheck run that talks only to the local hub, with its own cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "HFCHECK_"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_CACHE=str(tmp_path / "hf-hub"),
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_COLOR="1",
    )
    return env


def run_hfcheck(env, *args, cwd=None):
    return subprocess.run(
        [sys.executable, "-P", "-m", "hfcheck", *map(str, args)], env=env, capture_output=True, text=True, cwd=cwd, timeout=120
    )


def json_report(result):
    assert result.stderr == "" or "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)
