"""A real Synapse homeserver for tests, run as a subprocess on 127.0.0.1.

``server = await start_synapse(tmp_dir)`` writes a ``homeserver.yaml`` into ``tmp_dir``, starts
``python -m synapse.app.homeserver`` on a free local port and returns once ``GET /health``
answers 200. Point a matrix-nio ``AsyncClient`` at ``server.base_url``; make users with
``await server.register("alice")`` (shared-secret registration, so no open registration is
needed) and stop it with ``await server.stop()``. ``await server.restart()`` stops and starts
it again on the same port with the same SQLite database, so users, access tokens and rooms
survive, as they do when a real homeserver restarts.

The server is set up for tests, not for the world:

* it listens on 127.0.0.1 only, with the client API (and /health) and no federation listener;
  ``federation_domain_whitelist: []`` and ``trusted_key_servers: []`` keep it from ever
  contacting another server, and stats reporting, metrics and URL previews are off;
* every rate limit is generous (see :data:`GENEROUS_RATE_LIMITS`), so tests are not throttled.
  A test about throttling can put real limits back with ``start_synapse(...,
  extra_config={"rc_message": {"per_second": 0.2, "burst_count": 3}})``;
  ``lift_rate_limits`` exempts one user through the admin API;
* presence is off and passwords are hashed with 4 bcrypt rounds (instead of 12) so that
  registering and logging in are fast;
* Synapse writes the signing key itself on the first start (its default "generate missing
  files and run" mode), logs WARNING and above to ``<tmp_dir>/homeserver.log``, and its
  stdout/stderr go to ``<tmp_dir>/synapse.out`` (start-up errors land there). When the
  process dies during start-up, :class:`SynapseStartError` carries the tail of both.

Processes are plain ``subprocess.Popen`` objects polled from asyncio, so a server may be
started, used and stopped from different event loops.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp

DEFAULT_SERVER_NAME = "caucus.test"

_PER_SECOND = 10_000
_BURST = 100_000
_GENEROUS = {"per_second": _PER_SECOND, "burst_count": _BURST}

#: Rate limits so high that no test can reach them. Keys as read by
#: ``synapse/config/ratelimiting.py``; values may be overridden with ``extra_config``.
GENEROUS_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _GENEROUS,
    "rc_registration": _GENEROUS,
    "rc_registration_token_validity": _GENEROUS,
    "rc_login": {
        "address": _GENEROUS,
        "account": _GENEROUS,
        "failed_attempts": _GENEROUS,
    },
    "rc_admin_redaction": _GENEROUS,
    "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
    "rc_joins_per_room": _GENEROUS,
    "rc_3pid_validation": _GENEROUS,
    "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
    "rc_third_party_invite": _GENEROUS,
    "rc_media_create": _GENEROUS,
    "rc_presence": {"per_user": _GENEROUS},
    "rc_delayed_event_mgmt": _GENEROUS,
    "rc_room_creation": _GENEROUS,
    "rc_reports": _GENEROUS,
    "rc_user_directory": _GENEROUS,
    "rc_profile": _GENEROUS,
    "rc_key_requests": _GENEROUS,
}

_LOG_TAIL_BYTES = 6000
_STOP_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.05


class SynapseStartError(RuntimeError):
    """Synapse did not come up: the process died, or /health did not answer in time."""


class SynapseAPIError(RuntimeError):
    """An admin or registration request got an error answer."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body!r}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class RegisteredUser:
    """A user made by :meth:`SynapseServer.register`, logged in on one device."""

    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


# Servers still running when the interpreter exits (a fixture that never reached its
# teardown, an interrupted run) get killed, so no homeserver outlives the test run.
_running: set[SynapseServer] = set()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server._kill_now()


@dataclass(eq=False)
class SynapseServer:
    base_url: str
    server_name: str
    registration_secret: str
    data_dir: Path
    port: int
    config_path: Path
    log_path: Path
    output_path: Path
    #: Seconds each start took, from spawning the process to /health answering 200: the
    #: first entry is the cold start (fresh directory, key generation, schema creation),
    #: later ones are restarts.
    start_seconds: list[float] = field(default_factory=list)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _spawn(self) -> None:
        if self.running:
            raise RuntimeError("Synapse is already running")
        with self.output_path.open("ab") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "--config-path", self.config_path],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=_child_environment(),
            )
        _running.add(self)

    async def _start(self, startup_timeout: float) -> None:
        began = time.monotonic()
        # A plain Popen (not asyncio's subprocess) so that no event loop owns the process.
        self._spawn()
        try:
            await self._wait_until_healthy(began + startup_timeout)
        except BaseException:
            await self.stop()
            raise
        self.start_seconds.append(time.monotonic() - began)

    async def _wait_until_healthy(self, deadline: float) -> None:
        process = self._process
        assert process is not None
        began = time.monotonic()
        client_timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=client_timeout) as session:
            while True:
                code = process.poll()
                if code is not None:
                    raise SynapseStartError(
                        f"Synapse exited with code {code} during start-up\n{self.log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with session.get(f"{self.base_url}/health") as response:
                        if response.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise SynapseStartError(
                        f"Synapse did not answer /health within "
                        f"{time.monotonic() - began:.1f} s\n{self.log_tail()}"
                    )
                await asyncio.sleep(_POLL_SECONDS)

    async def stop(self, grace: float = _STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds. Idempotent."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, grace)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        self._process = None
        _running.discard(self)

    async def restart(self, *, timeout: float = 60.0) -> None:  # noqa: ASYNC109 - start-up wait
        """Stop and start again: same port, same database, same signing key."""
        await self.stop()
        await self._start(timeout)

    def _kill_now(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def log_tail(self, limit: int = _LOG_TAIL_BYTES) -> str:
        """The last ``limit`` bytes of the Synapse log and of its stdout/stderr."""
        parts = []
        for path in (self.log_path, self.output_path):
            try:
                with path.open("rb") as file:
                    file.seek(max(0, path.stat().st_size - limit))
                    text = file.read().decode("utf-8", "replace")
            except FileNotFoundError:
                text = "(missing)"
            parts.append(f"--- {path.name} (tail) ---\n{text.rstrip()}")
        return "\n".join(parts)

    # -- HTTP -------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        access_token: str | None = None,
    ) -> Any:
        """Send a JSON request to the server; return the decoded answer or raise
        :class:`SynapseAPIError` on a non-2xx status."""
        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.request(
                method, url, json=None if body is None else dict(body), headers=headers
            ) as response,
        ):
            text = await response.text()
            try:
                answer = json.loads(text) if text else None
            except ValueError:
                answer = text
            if not 200 <= response.status < 300:
                raise SynapseAPIError(method, url, response.status, answer)
            return answer

    async def register(
        self,
        localpart: str,
        password: str | None = None,
        *,
        admin: bool = False,
        displayname: str | None = None,
    ) -> RegisteredUser:
        """Create a user through the shared-secret registration admin API and log it in.

        ``password`` defaults to a random one (returned in the result)."""
        if password is None:
            password = secrets.token_urlsafe(12)
        path = "/_synapse/admin/v1/register"
        nonce = (await self.request("GET", path))["nonce"]
        mac = hmac.new(self.registration_secret.encode(), digestmod=hashlib.sha1)
        for index, part in enumerate(
            (nonce, localpart, password, "admin" if admin else "notadmin")
        ):
            if index:
                mac.update(b"\x00")
            mac.update(part.encode("utf-8"))
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname is not None:
            body["displayname"] = displayname
        answer = await self.request("POST", path, body)
        return RegisteredUser(
            user_id=answer["user_id"],
            access_token=answer["access_token"],
            device_id=answer["device_id"],
            password=password,
        )

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    async def lift_rate_limits(self, user_id: str, admin_token: str) -> None:
        """Exempt ``user_id`` from message rate limiting (admin API ``override_ratelimit``)."""
        await self.request(
            "POST",
            f"/_synapse/admin/v1/users/{quote(user_id, safe='')}/override_ratelimit",
            {"messages_per_second": 0, "burst_count": 0},
            access_token=admin_token,
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _child_environment() -> dict[str, str]:
    env = dict(os.environ)
    # No proxy may divert Synapse's (loopback-only) traffic.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def homeserver_config(
    *,
    data_dir: Path,
    server_name: str,
    port: int,
    registration_secret: str,
    log_config_path: Path,
) -> dict[str, Any]:
    """The ``homeserver.yaml`` contents (as a dict) for a test server in ``data_dir``."""
    return {
        "server_name": server_name,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(data_dir / "homeserver.pid"),
        "report_stats": False,
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "log_config": str(log_config_path),
        "media_store_path": str(data_dir / "media_store"),
        "signing_key_path": str(data_dir / f"{server_name}.signing.key"),
        "registration_shared_secret": registration_secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "enable_registration": False,
        "allow_guest_access": False,
        "bcrypt_rounds": 4,
        # No federation, in either direction, and no key servers to ask.
        "federation_domain_whitelist": [],
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        "enable_metrics": False,
        "presence": {"enabled": False},
        "use_frozen_dicts": False,
        **GENEROUS_RATE_LIMITS,
    }


def _log_config(log_path: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {
            "precise": {
                "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - "
                "%(request)s - %(message)s"
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(log_path),
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def _write_configs(
    tmp_dir: Path, server_name: str, extra_config: Mapping[str, Any] | None
) -> SynapseServer:
    """Create ``tmp_dir``, write the log config and a ``homeserver.yaml`` for a free port."""
    data_dir = Path(tmp_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "homeserver.log"
    log_config_path = data_dir / "log_config.yaml"
    config_path = data_dir / "homeserver.yaml"
    # JSON is YAML, so json.dumps writes both files.
    log_config_path.write_text(json.dumps(_log_config(log_path), indent=2))
    port = _free_port()
    registration_secret = secrets.token_hex(32)
    config = homeserver_config(
        data_dir=data_dir,
        server_name=server_name,
        port=port,
        registration_secret=registration_secret,
        log_config_path=log_config_path,
    )
    if extra_config:
        config = _deep_merge(config, extra_config)
    config_path.write_text(json.dumps(config, indent=2))
    return SynapseServer(
        base_url=f"http://127.0.0.1:{port}",
        server_name=server_name,
        registration_secret=registration_secret,
        data_dir=data_dir,
        port=port,
        config_path=config_path,
        log_path=log_path,
        output_path=data_dir / "synapse.out",
    )


async def start_synapse(
    tmp_dir: Path,
    *,
    timeout: float = 60.0,  # noqa: ASYNC109 - bounds the start-up wait only
    server_name: str = DEFAULT_SERVER_NAME,
    extra_config: Mapping[str, Any] | None = None,
) -> SynapseServer:
    """Write a config into ``tmp_dir`` (created if missing), start Synapse and wait for it.

    ``extra_config`` is merged into the generated ``homeserver.yaml`` (nested mappings key by
    key), e.g. to restore a real rate limit. Raises :class:`SynapseStartError` when Synapse
    dies or does not answer /health within ``timeout`` seconds."""
    attempts = 3
    for attempt in range(1, attempts + 1):
        server = _write_configs(tmp_dir, server_name, extra_config)
        try:
            await server._start(timeout)
        except SynapseStartError as error:
            # Another process may have taken the port between probing and binding it.
            if attempt == attempts or "Address already in use" not in str(error):
                raise
            continue
        return server
    raise AssertionError("unreachable")
