"""The sandbox bank's SFTP server (asyncssh) on the loopback interface.

Each institution logs in with its own user name and one of its configured public keys and
sees only its own folder (``in/``, ``out/``, ``out/processed/``) as ``/``. The server's host
key is generated into the state folder on first start and kept, so clients can pin it.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    # asyncssh defines its DSA key classes on import, which makes cryptography warn that DSA is
    # deprecated; the warning is about asyncssh's module, not about keys the bank uses
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import asyncssh

from adapters.sandbox.clock import Clock
from adapters.sandbox.engine import BankEngine
from adapters.sandbox.errors import SandboxError
from adapters.sandbox.faults import FaultKind, InjectedFault, RefusalWindow

HOST_KEY_FILE = "ssh_host_ed25519_key"
FaultSink = Callable[[InjectedFault], None]


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """The server's own Ed25519 host key, generated (mode 0600) when the file is missing."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="huzhu-sandbox-bank")
    key.write_private_key(str(path))
    path.chmod(0o600)
    return key


class RefusalGate:
    """Decides whether to refuse an incoming connection (the 'server unavailable' fault)."""

    def __init__(self, windows: Sequence[RefusalWindow], clock: Clock) -> None:
        self._lock = threading.Lock()
        self._windows = tuple(w for w in windows if w.count is None)
        self._remaining = sum(w.count or 0 for w in windows)
        self._clock = clock

    def refuse_next(self, count: int) -> None:
        """Refuse the next ``count`` connections, whatever the time."""
        with self._lock:
            self._remaining += count

    def should_refuse(self) -> bool:
        with self._lock:
            if self._remaining > 0:
                self._remaining -= 1
                return True
        now = self._clock.now().replace(tzinfo=None)
        return any(
            w.start is not None and w.end is not None and w.start <= now < w.end
            for w in self._windows
        )


class _BankSSHServer(asyncssh.SSHServer):
    def __init__(self, owner: SandboxServer) -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        if not self._owner.admit():
            conn.abort()
            return
        self._owner.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._owner.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        assert self._conn is not None
        keys = self._owner.authorized_keys(username)
        if keys is not None:
            self._conn.set_authorized_keys(keys)
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False


class _ChrootedSFTP(asyncssh.SFTPServer):
    """Plain file operations below the institution's own folder, which it sees as ``/``."""

    def __init__(self, chan: asyncssh.SSHServerChannel, root: Path) -> None:
        user = chan.get_extra_info("username")
        if not isinstance(user, str) or not user:
            raise SandboxError("SFTP session without a user name")
        super().__init__(chan, chroot=str(root / user).encode())


class SandboxServer:
    """The SFTP side of the sandbox bank.

    Use ``start()``/``stop()`` (or ``with``) to run it in a background thread with its own
    event loop, or ``await serve_forever(stop)`` in the foreground.
    """

    def __init__(
        self,
        root: Path,
        client_keys: Mapping[str, Sequence[Path]],
        *,
        host_key_path: Path,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        refusals: Sequence[RefusalWindow] = (),
        fault_sink: FaultSink | None = None,
    ) -> None:
        self.root = root
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._clock = clock
        self._fault_sink = fault_sink
        self.gate = RefusalGate(refusals, clock)
        self.host_key = load_or_create_host_key(host_key_path)
        self._keys: dict[str, asyncssh.SSHAuthorizedKeys] = {}
        for user, paths in client_keys.items():
            lines: list[str] = []
            for path in paths:
                try:
                    lines.append(path.read_text(encoding="utf-8").strip())
                except OSError as exc:
                    raise SandboxError(
                        f"客户端公钥不存在 client key of {user} not readable: {path.resolve()} "
                        f"(make one with: ssh-keygen -t ed25519 -N '' -f "
                        f"{path.resolve().with_suffix('')})"
                    ) from exc
            if lines:
                try:
                    self._keys[user] = asyncssh.import_authorized_keys("\n".join(lines) + "\n")
                except (asyncssh.KeyImportError, ValueError) as exc:
                    shown = ", ".join(str(p) for p in paths)
                    raise SandboxError(
                        f"客户端公钥无效 client key of {user} is not an OpenSSH public key: {shown}"
                    ) from exc
            (root / user).mkdir(parents=True, exist_ok=True)
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.refused_connections = 0
        self.connections: set[asyncssh.SSHServerConnection] = set()

    @classmethod
    def for_engine(
        cls, engine: BankEngine, clock: Clock, *, port: int | None = None
    ) -> SandboxServer:
        """The server for a ``BankEngine``: its folders, its institutions' keys, its faults."""
        config = engine.config
        return cls(
            engine.sftp_root,
            {i.name: i.client_keys for i in config.institutions},
            host_key_path=config.state_dir / HOST_KEY_FILE,
            clock=clock,
            host=config.host,
            port=config.port if port is None else port,
            refusals=config.faults.refusals,
            fault_sink=engine.record_fault,
        )

    # --- what a client needs to know --------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise SandboxError("the SFTP server is not listening")
        return self._port

    def host_public_key(self) -> str:
        """The host key in OpenSSH one-line format (``ssh-ed25519 AAAA...``)."""
        return " ".join(self.host_key.export_public_key("openssh").decode().split()[:2])

    def known_hosts_line(self) -> str:
        """A ``known_hosts`` line pinning this server at its host and port."""
        return f"[{self.host}]:{self.port} {self.host_public_key()}\n"

    def authorized_keys(self, user: str) -> asyncssh.SSHAuthorizedKeys | None:
        return self._keys.get(user)

    # --- foreground -------------------------------------------------------------------

    async def listen(self) -> None:
        self._acceptor = await asyncssh.create_server(
            lambda: _BankSSHServer(self),
            self.host,
            self._requested_port,
            server_host_keys=[self.host_key],
            sftp_factory=lambda chan: _ChrootedSFTP(chan, self.root),
            allow_scp=False,
            keepalive_interval=30,
            login_timeout=30,
        )
        self._port = int(self._acceptor.sockets[0].getsockname()[1])

    def admit(self) -> bool:
        """Whether to serve a new connection; a refusal is recorded as an injected fault."""
        if not self.gate.should_refuse():
            return True
        self.refused_connections += 1
        if self._fault_sink is not None:
            self._fault_sink(
                InjectedFault(
                    date=self._clock.today(),
                    kind=FaultKind.SFTP_REFUSED,
                    institution="",
                    detail=f"connection refused at {self._clock.now().isoformat()}",
                )
            )
        return False

    async def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        open_connections = list(self.connections)
        for conn in open_connections:
            conn.close()
        for conn in open_connections:
            await conn.wait_closed()
        self.connections.clear()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        await self.listen()
        try:
            await stop.wait()
        finally:
            await self.close()

    # --- background thread ------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Self:
        """Listen in a background thread with its own event loop; returns once listening."""
        if self._thread is not None:
            raise SandboxError("the SFTP server is running already")
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="sandbox-sftp", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise SandboxError(f"the SFTP server did not start within {timeout} s")
        if self._startup_error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise SandboxError(f"the SFTP server failed to start: {self._startup_error}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stopping = asyncio.Event()
        try:
            loop.run_until_complete(self._run_until_stopped())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._loop = None

    async def _run_until_stopped(self) -> None:
        assert self._stopping is not None
        try:
            await self.listen()
        except BaseException as exc:  # reported to start(), which raises it
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection, then end the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            raise SandboxError(f"the SFTP server did not stop within {timeout} s")
        self._thread = None
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
