"""A loopback server speaking the part of the Hugging Face Hub's HTTP API that pushing and loading a model use.

The real Hub is unreachable from the tests and no self-hostable server accepts uploads, so this stdlib
`ThreadingHTTPServer` implements what huggingface_hub 2.4's `create_repo`, `upload_folder` (preupload + ndjson
commit), `repo_info`/`model_info`, `list_repo_tree` and `hf_hub_download` (resolve, HEAD and GET) send, following the
request and response shapes in huggingface_hub's `hf_api.py`, `_commit_api.py`, `file_download.py` and `utils/_http.py`:

| request | answer |
|---|---|
| `POST /api/repos/create` | 200 `{"url", "name"}`, or 409 when the repo exists (`exist_ok=True` accepts it) |
| `POST /api/validate-yaml` | parses the README front matter; 400 with `errors` when it is not a YAML mapping |
| `POST /api/models/{repo}/preupload/{rev}` | every file `"regular"` (content inline, base64), `oid` = git sha1 of the stored file |
| `POST /api/models/{repo}/commit/{rev}` | ndjson `header` / `file` / `deletedFile` / `deletedFolder` lines -> a new commit |
| `GET /api/models/{repo}[/revision/{rev}]` | `id`, `sha`, `private`, `siblings` |
| `GET /api/models/{repo}/tree/{rev}[/{path}]` | the files under `path` (`type`, `path`, `oid`, `size`) |
| `HEAD`/`GET /{repo}/resolve/{rev}/{path}` | the bytes, with `ETag` (git sha1), `X-Repo-Commit` and `Content-Length` |

Errors carry the `X-Error-Code` header (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`) that
`hf_raise_for_status` maps to its exception types. Every file is uploaded in "regular" mode: the real Hub asks for
LFS/Xet for large binaries, which needs a CAS service no loopback server can provide. Repos persist as JSON plus
content-addressed blobs under `root`, and every request is recorded in `server.requests` for the tests to inspect.

Run it alone with `python tests/_hub_server.py --root DIR --port 8765`.
"""

import argparse
import base64
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml


REPO = r"(?P<repo>[\w.-]+/[\w.-]+|[\w.-]+)"
DEFAULT_BRANCH = "main"


def git_blob_sha1(data: bytes) -> str:
    """`git hash-object` of `data`: the oid git (and the Hub) gives a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubError(Exception):
    """An API error: HTTP status, `X-Error-Code` and message."""

    def __init__(self, status: int, code: str | None, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RepoStore:
    """Repos as commit lists (`{oid, parent, message, files: {path: sha256}}`) plus content-addressed blobs on disk."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.state_file = self.root / "repos.json"
        self.repos: dict[str, dict] = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        self.lock = threading.Lock()

    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.repos, indent=1))

    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / "blobs" / digest
        if not path.exists():
            path.write_bytes(data)
        return digest

    def blob(self, digest: str) -> bytes:
        return (self.root / "blobs" / digest).read_bytes()

    def create(self, repo_id: str, private: bool) -> bool:
        """Creates `repo_id` with an empty initial commit; False when it already exists."""
        with self.lock:
            if repo_id in self.repos:
                return False
            self.repos[repo_id] = {"private": private, "commits": []}
            self._commit(repo_id, "initial commit", {})
            self._save()
            return True

    def repo(self, repo_id: str) -> dict:
        if repo_id not in self.repos:
            raise HubError(404, "RepoNotFound", f"Repository {repo_id} not found.")
        return self.repos[repo_id]

    def commit_at(self, repo_id: str, revision: str) -> dict:
        """The branch head (`main`) or the commit whose oid is `revision`."""
        commits = self.repo(repo_id)["commits"]
        if revision == DEFAULT_BRANCH:
            return commits[-1]
        for commit in commits:
            if commit["oid"] == revision:
                return commit
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    def _commit(self, repo_id: str, message: str, files: dict[str, str]) -> dict:
        commits = self.repos[repo_id]["commits"]
        parent = commits[-1]["oid"] if commits else None
        seed = json.dumps([repo_id, parent, len(commits), message, sorted(files.items())]).encode()
        commit = {"oid": hashlib.sha1(seed).hexdigest(), "parent": parent, "message": message, "files": files}
        commits.append(commit)
        return commit

    def apply(self, repo_id: str, revision: str, lines: list[dict]) -> dict:
        """Applies one ndjson commit payload to the branch; 412 when `parentCommit` is not the head."""
        with self.lock:
            head = self.commit_at(repo_id, revision)
            if revision != DEFAULT_BRANCH:
                raise HubError(400, None, f"Commits go to branch {DEFAULT_BRANCH!r} only, not {revision!r}.")
            files = dict(head["files"])
            message = ""
            for line in lines:
                key, value = line.get("key"), line.get("value", {})
                if key == "header":
                    message = value.get("summary", "")
                    parent = value.get("parentCommit")
                    if parent is not None and parent != head["oid"]:
                        raise HubError(412, None, f"parentCommit {parent} is not the head {head['oid']}.")
                elif key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(400, None, f"Unsupported encoding {value.get('encoding')!r}.")
                    files[value["path"]] = self.put_blob(base64.b64decode(value["content"]))
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise HubError(404, "EntryNotFound", "A file with this name doesn't exist")
                    del files[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {path: blob for path, blob in files.items() if not path.startswith(prefix)}
                else:
                    raise HubError(
                        400, None, f"Unsupported commit line {key!r} (this server takes regular files only)."
                    )
            commit = self._commit(repo_id, message, files)
            self._save()
            return commit


class HubRequestHandler(BaseHTTPRequestHandler):
    """Routes Hub API requests to the server's `RepoStore`."""

    protocol_version = "HTTP/1.1"
    server: "LoopbackHub"

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # requests are recorded in `server.requests` instead of stderr

    # -- plumbing --------------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head_only: bool = False) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _json(self, status: int, payload, headers: dict | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _dispatch(self, method: str) -> None:
        path = unquote(urlsplit(self.path).path)
        body = self._body() if method in ("POST", "PUT") else b""
        self.server.requests.append((method, path))
        try:
            for route_method, pattern, handler in ROUTES:
                match = re.fullmatch(pattern, path)
                if route_method == method.replace("HEAD", "GET") and match:
                    return handler(self, body=body, head_only=method == "HEAD", **match.groupdict())
            raise HubError(404, None, f"This loopback Hub does not serve {method} {path}.")
        except HubError as err:
            headers = {"X-Error-Code": err.code} if err.code else {}
            body = json.dumps({"error": err.message}).encode()
            self._send(err.status, body, {**headers, "X-Error-Message": err.message}, head_only=method == "HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    # -- routes ----------------------------------------------------------------------------------------------------
    def create_repo(self, body: bytes, **_):
        payload = json.loads(body)
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        url = f"{self.server.endpoint}/{repo_id}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        if not self.server.store.create(repo_id, private):
            return self._json(409, {"error": "You already created this model repo", "url": url})
        self._json(200, {"url": url, "name": repo_id})

    def validate_yaml(self, body: bytes, **_):
        content = json.loads(body)["content"]
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, re.DOTALL)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as err:
            return self._json(400, {"errors": [{"message": f"Invalid YAML: {err}"}]})
        if not isinstance(metadata, dict):
            return self._json(400, {"errors": [{"message": "The metadata must be a YAML mapping."}]})
        warnings = [] if metadata else [{"message": "Empty metadata"}]
        self._json(200, {"errors": [], "warnings": warnings})

    def preupload(self, repo: str, rev: str, body: bytes, **_):
        files = self.server.store.commit_at(repo, rev)["files"]
        answers = []
        for item in json.loads(body)["files"]:
            blob = files.get(item["path"])
            oid = git_blob_sha1(self.server.store.blob(blob)) if blob else None
            answers.append({"path": item["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": oid})
        self._json(200, {"files": answers, "commitOid": self.server.store.commit_at(repo, rev)["oid"]})

    def commit(self, repo: str, rev: str, body: bytes, **_):
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        commit = self.server.store.apply(repo, rev, lines)
        url = f"{self.server.endpoint}/{repo}/commit/{commit['oid']}"
        self._json(200, {"success": True, "commitOid": commit["oid"], "commitUrl": url, "pullRequestUrl": None})

    def model_info(self, repo: str, rev: str = DEFAULT_BRANCH, **_):
        commit = self.server.store.commit_at(repo, rev)
        siblings = [{"rfilename": path} for path in sorted(commit["files"])]
        private = self.server.store.repo(repo)["private"]
        self._json(200, {"id": repo, "modelId": repo, "sha": commit["oid"], "private": private, "siblings": siblings})

    def tree(self, repo: str, rev: str, path: str | None = None, **_):
        store = self.server.store
        prefix = f"{path.rstrip('/')}/" if path else ""
        entries = []
        for name, blob in sorted(store.commit_at(repo, rev)["files"].items()):
            if name.startswith(prefix):
                data = store.blob(blob)
                entries.append({"type": "file", "path": name, "oid": git_blob_sha1(data), "size": len(data)})
        self._json(200, entries)

    def resolve(self, repo: str, rev: str, path: str, head_only: bool, **_):
        store = self.server.store
        commit = store.commit_at(repo, rev)
        if path not in commit["files"]:
            raise HubError(404, "EntryNotFound", f"{path} does not exist at revision {rev} of {repo}.")
        data = store.blob(commit["files"][path])
        headers = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{git_blob_sha1(data)}"',
            "X-Repo-Commit": commit["oid"],
        }
        self._send(200, data, headers, head_only=head_only)


ROUTES = [
    ("POST", r"/api/repos/create", HubRequestHandler.create_repo),
    ("POST", r"/api/validate-yaml", HubRequestHandler.validate_yaml),
    ("POST", rf"/api/models/{REPO}/preupload/(?P<rev>[^/]+)", HubRequestHandler.preupload),
    ("POST", rf"/api/models/{REPO}/commit/(?P<rev>[^/]+)", HubRequestHandler.commit),
    ("GET", rf"/api/models/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", HubRequestHandler.tree),
    ("GET", rf"/api/models/{REPO}/revision/(?P<rev>[^/]+)", HubRequestHandler.model_info),
    ("GET", rf"/api/models/{REPO}", HubRequestHandler.model_info),
    ("GET", rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", HubRequestHandler.resolve),
]


class LoopbackHub(ThreadingHTTPServer):
    """The server; `start()` serves from a daemon thread, `endpoint` is the value for `HF_ENDPOINT`."""

    daemon_threads = True

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), HubRequestHandler)
        self.store = RepoStore(root)
        self.requests: list[tuple[str, str]] = []
        self.endpoint = f"http://{host}:{self.server_address[1]}"

    def start(self) -> "LoopbackHub":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a loopback Hugging Face Hub (see the module docstring).")
    parser.add_argument("--root", type=Path, required=True, help="Directory holding the repos.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    hub = LoopbackHub(args.root, port=args.port).start()
    print(f"HF_ENDPOINT={hub.endpoint}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()


__all__ = ["HubError", "LoopbackHub", "RepoStore", "git_blob_sha1"]
