"""The sandbox bank: an SFTP server and a bank engine that answer like a cooperative bank.

It serves the demo and the end-to-end tests, and lets a bank's operations staff or an
integrator try the whole file exchange (``huzhu sandbox-bank serve``).
"""

from adapters.sandbox.clock import AcceleratedClock, Clock, ManualClock
from adapters.sandbox.config import InstitutionConfig, SandboxConfig, load_config
from adapters.sandbox.engine import BankEngine, CutoffReport
from adapters.sandbox.faults import FaultKind, InjectedFault
from adapters.sandbox.runner import RunningBank, running_bank
from adapters.sandbox.sftp_server import SandboxServer
from adapters.sandbox.state import CardStatus

__all__ = [
    "AcceleratedClock",
    "BankEngine",
    "CardStatus",
    "Clock",
    "CutoffReport",
    "FaultKind",
    "InjectedFault",
    "InstitutionConfig",
    "ManualClock",
    "RunningBank",
    "SandboxConfig",
    "SandboxServer",
    "load_config",
    "running_bank",
]
