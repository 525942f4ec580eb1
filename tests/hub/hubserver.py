"""A small stand-in for the Hugging Face Hub: the HTTP endpoints huggingface_hub calls to
resolve a revision, list a tree and download (or range-read) files, served from fixture
folders on 127.0.0.1. It counts what it sends, so tests can prove what was fetched."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".gguf", ".onnx", ".h5", ".msgpack")


class FakeHub:
    def __init__(self):
        self.repos: dict[str, dict[str, Path]] = {}  # repo id -> {commit sha: folder}
        self.refs: dict[str, dict[str, str]] = {}  # repo id -> {branch: commit sha}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, range header)
        self.bytes_sent: Counter[str] = Counter()  # repo file path -> body bytes sent
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo_id: str, folder: Path, branch: str = "main") -> str:
        """Serve `folder` as the head of `branch`; returns its (made-up, stable) commit sha."""
        digest = hashlib.sha1()
        for file in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            digest.update(file.relative_to(folder).as_posix().encode() + b"\0" + file.read_bytes())
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


def _handler(hub: FakeHub):
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
                self._json({"_id": sha[:24], "id": repo_id, "modelId": repo_id, "sha": sha, "private": False, "disabled": False, "gated": False, "tags": [], "siblings": siblings})

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
                        entries.append({"type": "directory", "oid": hashlib.sha1(folder_rel.encode()).hexdigest(), "size": 0, "path": folder_rel})
                if len(parts) > 1 and not recursive:
                    continue
                entries.append(_file_entry(rel, file))
            self._json(entries)

        def _resolve(self, repo_id, revision, rel, body):
            found = self._repo(repo_id, revision)
            if not found:
                return
            sha, folder = found
            file = folder / rel
            if ".." in rel.split("/") or not file.is_file():
                self._error(404, "EntryNotFound", f"{rel} does not exist", commit=sha)
                return
            size = file.stat().st_size
            begin, end, status = 0, size - 1, 200
            wanted = self.headers.get("Range")
            if wanted and (match := re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())):
                begin = int(match[1])
                end = min(int(match[2]) if match[2] else size - 1, size - 1)
                status = 206
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
                with open(file, "rb") as stream:
                    stream.seek(begin)
                    data = stream.read(length)
                hub.bytes_sent[rel] += len(data)
                self.wfile.write(data)

        def _json(self, data):
            raw = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

        def _error(self, status, code, message, commit=None):
            raw = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

    return Handler


def _files(folder: Path):
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        yield file.relative_to(folder).as_posix(), file


def _file_entry(rel: str, file: Path) -> dict:
    data = file.read_bytes()
    git_oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    entry = {"type": "file", "oid": git_oid, "size": len(data), "path": rel}
    if rel.endswith(LFS_SUFFIXES):
        entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
    return entry


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
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_CACHE=str(tmp_path / "hf-hub"), HF_HUB_DISABLE_TELEMETRY="1", NO_COLOR="1")
    return env


def run_hfcheck(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-P", "-m", "hfcheck", *map(str, args)], env=env, capture_output=True, text=True, cwd=cwd, timeout=120)


def json_report(result):
    assert result.stderr == "" or "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)
