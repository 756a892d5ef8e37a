"""The four ways to get a piece's bytes to a player, each started by the benchmark itself.

* ``direct`` — the client reads the emulated origin itself: the physical baseline a proxy can only add to.
* ``pieceplayer`` — ``python -m proxy`` (this project) in front of the origin, default settings.
* ``nginx`` — Debian's nginx with ``proxy_cache`` and the ``slice`` module (1 MiB), the standard production
  answer, one worker (our proxy is one event loop; both get the same share of the 2 cores).
* ``wholefile`` — the seed tutorial's pattern (:mod:`bench.wholefile`), for comparison only.

``restart()`` gives a contender a fresh, empty cache: that is how scenarios make a "cold" start.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import aiohttp

from bench.procs import ChildProcess, free_port, python_module, wait_for_port

NGINX = Path("/usr/sbin/nginx")
SLICE = "1m"


class Contender:
    name = ""
    title = ""

    def __init__(self, work: Path, upstream_template: str) -> None:
        self.work = work
        self.upstream_template = upstream_template
        self.process: ChildProcess | None = None
        self._generation = 0

    def unavailable(self) -> str | None:
        """Why this contender cannot run on this machine (None: it can)."""
        return None

    async def start(self) -> None:
        self._generation += 1

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop()
            self.process = None

    async def restart(self) -> None:
        """Stop, then start again with a fresh, empty cache."""
        await self.stop()
        await self.start()

    def url(self, cid: str) -> str:
        raise NotImplementedError

    def log_files(self) -> list[Path]:
        """Where this contender writes its complaints (all restarts included)."""
        return [self.work / f"{self.name}.log"]

    def pids(self) -> list[int]:
        """Processes that stand between client and origin (their memory is this contender's cost)."""
        return [self.process.pid] if self.process is not None else []

    def _fresh_dir(self, stem: str) -> Path:
        folder = self.work / f"{self.name}-{stem}-{self._generation}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder


class Direct(Contender):
    name = "direct"
    title = "direct (origin)"

    def log_files(self) -> list[Path]:
        return []

    def url(self, cid: str) -> str:
        return self.upstream_template.replace("{cid}", cid)


class PiecePlayer(Contender):
    name = "pieceplayer"
    title = "PiecePlayer proxy"

    async def start(self) -> None:
        await super().start()
        cache = self._fresh_dir("cache")
        self.process = ChildProcess(
            self.name,
            python_module("proxy", "--upstream", self.upstream_template, "--cache-dir", str(cache)),
            self.work / "pieceplayer.log",
        )
        await self.process.start()

    def url(self, cid: str) -> str:
        assert self.process is not None
        return f"{self.process.url}/piece/{cid}"

    async def stats(self, session: aiohttp.ClientSession) -> dict:
        """The proxy's ``/stats`` document (bytes fetched ahead and never served, among others)."""
        assert self.process is not None
        async with session.get(f"{self.process.url}/stats") as response:
            return await response.json()


class Nginx(Contender):
    name = "nginx"
    title = "nginx slice cache"

    def __init__(self, work: Path, upstream_template: str) -> None:
        super().__init__(work, upstream_template)
        self.port = 0

    def unavailable(self) -> str | None:
        if not NGINX.exists():
            return f"{NGINX} is not installed (apt install nginx)"
        return None

    async def start(self) -> None:
        await super().start()
        prefix = self._fresh_dir("prefix")
        self.port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(prefix, self.port, self.upstream_template))
        error_log = prefix / "error.log"
        self.process = ChildProcess(
            self.name,
            [str(NGINX), "-p", str(prefix), "-e", str(error_log), "-c", str(conf)],
            self.work / "nginx.log",
        )
        await self.process.start(prints_url=False)
        await wait_for_port(self.port)

    def log_files(self) -> list[Path]:
        return [self.work / "nginx.log", *sorted(self.work.glob(f"{self.name}-prefix-*/error.log"))]

    def url(self, cid: str) -> str:
        upstream_path = self.upstream_template.split("://", 1)[1].split("/", 1)[1]
        return f"http://127.0.0.1:{self.port}/" + upstream_path.replace("{cid}", cid)


def nginx_config(prefix: Path, port: int, upstream_template: str) -> str:
    """The nginx slice-module recipe (nginx.org docs, ngx_http_slice_module), in a private prefix."""
    origin = upstream_template.split("://", 1)[1].split("/", 1)[0]
    user = ""
    if os.geteuid() == 0:  # workers would drop to "nobody" and lose access to the private prefix
        user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"
    return f"""{user}
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy_temp;
    fastcgi_temp_path {prefix}/fastcgi_temp;
    uwsgi_temp_path {prefix}/uwsgi_temp;
    scgi_temp_path {prefix}/scgi_temp;
    sendfile on;
    tcp_nopush on;
    proxy_cache_path {prefix}/cache levels=1:2 keys_zone=pieces:16m max_size=4g inactive=1d use_temp_path=off;
    upstream origin {{
        server {origin};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            slice {SLICE};
            proxy_cache pieces;
            proxy_cache_key $uri$slice_range;
            proxy_set_header Range $slice_range;
            proxy_cache_valid 200 206 1h;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://origin;
        }}
    }}
}}
"""


class WholeFile(Contender):
    name = "wholefile"
    title = "whole-file (seed pattern)"

    async def start(self) -> None:
        await super().start()
        self.process = ChildProcess(
            self.name,
            python_module("bench.wholefile", "--upstream", self.upstream_template),
            self.work / "wholefile.log",
        )
        await self.process.start()

    def url(self, cid: str) -> str:
        assert self.process is not None
        return f"{self.process.url}/piece/{cid}"


ALL = (Direct, PiecePlayer, Nginx, WholeFile)


def nginx_version() -> str:
    if not NGINX.exists():
        return "not installed"
    out = subprocess.run([str(NGINX), "-v"], capture_output=True, text=True)
    return out.stderr.strip().removeprefix("nginx version: ").removeprefix("nginx/")
