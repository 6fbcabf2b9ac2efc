"""pytest fixtures that run real OpenSSH servers (see :mod:`pssh.testing`).

Fixtures:

``sshd_server``
    A started :class:`~pssh.testing.OpenSSHServer` on 127.0.0.1 with a free
    port, stopped (and its files removed) after the test.

``sshd_server_factory``
    A callable taking the keyword arguments of
    :class:`~pssh.testing.OpenSSHServer` and returning a started server; every
    server it made is stopped after the test.

Load it with ``-p pssh.testing.pytest_plugin`` or
``pytest_plugins = ['pssh.testing.pytest_plugin']`` in a root ``conftest.py``.
Only the standard library is imported.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest

from ._server import OpenSSHServer

__all__ = ['sshd_server', 'sshd_server_factory']


@pytest.fixture
def sshd_server_factory() -> Iterator[Callable[..., OpenSSHServer]]:
    """Callable ``(**kwargs) -> started OpenSSHServer``; all stopped after the test."""
    servers: list[OpenSSHServer] = []

    def factory(*args: Any, **kwargs: Any) -> OpenSSHServer:
        server = OpenSSHServer(*args, **kwargs)
        servers.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
def sshd_server(sshd_server_factory: Callable[..., OpenSSHServer]) -> OpenSSHServer:
    """A started OpenSSHServer on 127.0.0.1, stopped after the test."""
    return sshd_server_factory()
