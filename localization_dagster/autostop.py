"""GPU VM auto-stop and auto-start (DESIGN section 6): the decision and the VM controllers.

GPU nodes bill by the minute while allocated, so they are deallocated when the ``gpu`` pool has
had nothing to do for the idle window, and started again as soon as a run that needs them is
queued. ``decide`` is a pure function of what the Dagster instance shows (runs that need the
GPU, ``gpu`` slots and who holds them, when the last GPU step ended) and of each VM's power
state; the two sensors in ``sensors/autostop.py`` gather those inputs and carry out its
actions. Rules, in order:

- GPU work (a queued or running run whose plan has a ``gpu`` step, a live ``gpu`` slot, a step
  waiting for one): no VM is stopped (which VM holds a step is not known, so none is touched),
  and stopped VMs are started up to one per such run or per GPU step, at most all of them.
- A slot whose run has ended (a crashed run worker: run monitoring frees it only later) is
  stale: it keeps no VM on, and the reason says so.
- No GPU work: a VM is deallocated once the last GPU step ended more than the idle window ago
  and the VM has been on for the minimum on-time (a VM just started for a run that was then
  canceled still gets that long). A VM stopped from inside (still allocated, still billed) is
  deallocated too.
- A VM starting, stopping or deallocating is left alone until it settles.

Terraform's daily DevTest shutdown stays the backstop if the sensors are off or fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import dagster as dg

from localization_core.errors import ConfigurationError
from localization_core.settings import Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.compute import ComputeManagementClient

PowerState = Literal[
    "running", "starting", "stopping", "stopped", "deallocating", "deallocated", "unknown"
]
POWER_STATES: frozenset[str] = frozenset(get_args(PowerState))
STARTABLE = frozenset({"stopped", "deallocated"})
SETTLING = frozenset({"starting", "stopping", "deallocating"})
Kind = Literal["start", "deallocate"]
# the ARM API version every request uses (pinned: an SDK upgrade does not change the traffic)
API_VERSION = "2026-04-01"
GPU_VMS_RESOURCE = "gpu_vms"


@dataclass(frozen=True)
class Slot:
    """A ``gpu`` pool slot held (or waited for) by one step of one run."""

    run_id: str
    step_key: str
    run_ended: bool  # the run has ended (or is gone): the slot is stale


@dataclass(frozen=True)
class GpuWork:
    """What the instance shows of GPU work: run ids that need the GPU, the pool's slots, and
    when (epoch seconds) the last GPU step ended within the idle window (None: none did)."""

    queued: tuple[str, ...] = ()
    running: tuple[str, ...] = ()
    slots: tuple[Slot, ...] = ()
    pending: tuple[Slot, ...] = ()
    last_end: float | None = None


@dataclass(frozen=True)
class Vm:
    """A GPU VM as the decision sees it; ``on_since`` is when it was first seen on (None:
    not known, the minimum on-time then counts as reached)."""

    name: str
    power: PowerState
    on_since: float | None = None


@dataclass(frozen=True)
class Policy:
    """How long the pool stays idle before a VM stops, and the least time a VM stays on."""

    idle_window_s: float
    min_on_s: float


@dataclass(frozen=True)
class Action:
    """Start or deallocate one VM, and why."""

    kind: Kind
    vm: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """The actions of one evaluation, and why nothing happens to each VM left as it is."""

    actions: tuple[Action, ...]
    notes: tuple[str, ...]

    def of(self, kind: Kind) -> tuple[Action, ...]:
        """The actions of one kind (each sensor carries out its own)."""
        return tuple(a for a in self.actions if a.kind == kind)


def _short(run_id: str) -> str:
    return run_id[:8]


def _stale_note(stale: Sequence[Slot]) -> str:
    held = ", ".join(f"run {_short(s.run_id)} ({s.step_key})" for s in stale)
    return (
        f"stale gpu slot(s) held by ended run(s) {held} ignored: they keep no VM on "
        "(run monitoring frees them)"
    )


def _work_summary(work: GpuWork, live: int, waiting: int) -> str | None:
    """What GPU work there is, in words; None when there is none."""
    parts = [
        f"{count} {what}"
        for count, what in (
            (len(work.queued), "queued run(s) need the GPU"),
            (len(work.running), "running run(s) need the GPU"),
            (live, "step(s) hold a gpu slot"),
            (waiting, "step(s) wait for a gpu slot"),
        )
        if count
    ]
    return ", ".join(parts) or None


def decide(work: GpuWork, vms: Sequence[Vm], policy: Policy, now: float) -> Decision:
    """Which VMs to start or deallocate now, each with its reason, and why the others stay."""
    live = sum(not s.run_ended for s in work.slots)
    waiting = sum(not s.run_ended for s in work.pending)
    stale = [s for s in work.slots if s.run_ended]
    notes = [_stale_note(stale)] if stale else []
    busy = _work_summary(work, live, waiting)
    if busy is not None:
        wanted = min(len(vms), max(len(work.queued) + len(work.running), live + waiting))
        actions, more = _when_busy(vms, wanted, busy)
        return Decision(tuple(actions), tuple(notes + more))
    suffix = f"; {notes[0]}" if stale else ""
    actions, more = _when_idle(vms, work.last_end, policy, now, suffix)
    # a deallocation's reason names the stale slots already
    return Decision(tuple(actions), tuple(more if actions else notes + more))


def _settling_note(vm: Vm) -> str:
    return f"{vm.name} is {vm.power}: nothing to do until it settles"


def _when_busy(vms: Sequence[Vm], wanted: int, busy: str) -> tuple[list[Action], list[str]]:
    """Start stopped VMs until ``wanted`` are on; stop none (a step may run on any of them)."""
    actions: list[Action] = []
    notes: list[str] = []
    on = sum(vm.power in ("running", "starting") for vm in vms)
    for vm in vms:
        if vm.power == "running":
            notes.append(f"{vm.name} stays on: {busy}")
        elif vm.power in STARTABLE and on < wanted:
            on += 1
            reason = f"{busy}; {wanted} VM(s) wanted, {on - 1} on"
            actions.append(Action("start", vm.name, reason))
        elif vm.power in STARTABLE:
            notes.append(f"{vm.name} stays {vm.power}: {wanted} VM(s) on are enough for {busy}")
        elif vm.power in SETTLING:
            notes.append(_settling_note(vm))
        else:
            notes.append(f"{vm.name}: power state unknown, left alone")
    return actions, notes


def _when_idle(
    vms: Sequence[Vm], last_end: float | None, policy: Policy, now: float, suffix: str
) -> tuple[list[Action], list[str]]:
    """Deallocate the VMs that have been idle long enough; note why the others stay."""
    window = policy.idle_window_s
    if last_end is not None and now - last_end < window:
        why = (
            f"last GPU step ended {now - last_end:.0f} s ago, within the idle window {window:.0f} s"
        )
        return [], [f"{vm.name} stays {vm.power}: {why}" for vm in vms]
    if last_end is None:
        idle = f"no GPU run queued or running, no GPU step ended in the last {window:.0f} s"
    else:
        idle = f"no GPU run queued or running, last GPU step ended {now - last_end:.0f} s ago"
    idle += f" (idle window {window:.0f} s){suffix}"
    actions: list[Action] = []
    notes: list[str] = []
    for vm in vms:
        on_for = None if vm.on_since is None else now - vm.on_since
        if vm.power == "running" and on_for is not None and on_for < policy.min_on_s:
            notes.append(
                f"{vm.name} stays on: on for {on_for:.0f} s, under the minimum on-time "
                f"{policy.min_on_s:.0f} s"
            )
        elif vm.power == "running":
            actions.append(Action("deallocate", vm.name, f"idle: {idle}"))
        elif vm.power == "stopped":
            actions.append(Action("deallocate", vm.name, f"stopped but still allocated: {idle}"))
        elif vm.power == "deallocated":
            notes.append(f"{vm.name} is deallocated")
        elif vm.power in SETTLING:
            notes.append(_settling_note(vm))
        else:
            notes.append(f"{vm.name}: power state unknown, left alone")
    return actions, notes


class VmController(Protocol):
    """Power control of the GPU VMs."""

    def power_states(self) -> dict[str, PowerState]:
        """The power state of each GPU VM, by name, in the configured order."""
        ...

    def start(self, vm: str) -> None:
        """Ask for ``vm`` to start (returns once the request is accepted)."""
        ...

    def deallocate(self, vm: str) -> None:
        """Ask for ``vm`` to be deallocated (returns once the request is accepted)."""
        ...


def parse_power(codes: Iterable[str]) -> PowerState:
    """The power state among an instance view's status codes (``PowerState/running``)."""
    for code in codes:
        kind, _, value = code.partition("/")
        if kind == "PowerState" and value in POWER_STATES:
            return value  # type: ignore[return-value]
    return "unknown"


class LocalVmController:
    """In-memory VMs (tests, a laptop): a start makes a VM ``starting``, a deallocation
    ``deallocating``; every call is recorded in ``calls``."""

    def __init__(self, states: Mapping[str, PowerState]) -> None:
        self.states: dict[str, PowerState] = dict(states)
        self.calls: list[tuple[str, str]] = []

    def _known(self, vm: str) -> str:
        if vm not in self.states:
            raise ConfigurationError(f"unknown GPU VM {vm!r}; known: {', '.join(self.states)}")
        return vm

    def power_states(self) -> dict[str, PowerState]:
        """The state of each VM."""
        return dict(self.states)

    def start(self, vm: str) -> None:
        """Record the start; the VM is ``starting``."""
        self.calls.append(("start", self._known(vm)))
        self.states[vm] = "starting"

    def deallocate(self, vm: str) -> None:
        """Record the deallocation; the VM is ``deallocating``."""
        self.calls.append(("deallocate", self._known(vm)))
        self.states[vm] = "deallocating"


class AzureVmController:
    """The GPU VMs of one resource group through Azure Resource Manager (azure-mgmt-compute).

    Production passes no credential: ``DefaultAzureCredential`` finds the control VM's managed
    identity (``AZURE_CLIENT_ID`` names the user-assigned one). ``base_url`` is the ARM
    endpoint (``AZURE_ARM_ENDPOINT``; the token's scope follows it), ``connection_verify`` a
    CA bundle for a private endpoint or a test server. Start and deallocate return once ARM
    accepts the request, or with ``wait`` once the operation has finished.
    """

    def __init__(
        self,
        subscription_id: str,
        resource_group: str,
        vms: Sequence[str],
        *,
        credential: TokenCredential | None = None,
        base_url: str = "https://management.azure.com",
        connection_verify: bool | str = True,
        polling_interval: float = 30.0,
    ) -> None:
        self.resource_group = resource_group
        self.vms = tuple(vms)
        self._client = _compute_client(
            subscription_id, credential, base_url, connection_verify, polling_interval
        )

    def power_states(self) -> dict[str, PowerState]:
        """Each VM's power state from its instance view."""
        machines = self._client.virtual_machines
        states: dict[str, PowerState] = {}
        for vm in self.vms:
            view = machines.instance_view(self.resource_group, vm, api_version=API_VERSION)
            states[vm] = parse_power(s.code or "" for s in view.statuses or [])
        return states

    def start(self, vm: str, *, wait: bool = False) -> None:
        """Start ``vm``; with ``wait``, poll the operation until it has finished."""
        poller = self._client.virtual_machines.begin_start(
            self.resource_group, vm, api_version=API_VERSION, polling=wait
        )
        poller.result()

    def deallocate(self, vm: str, *, wait: bool = False) -> None:
        """Deallocate ``vm``; with ``wait``, poll the operation until it has finished."""
        poller = self._client.virtual_machines.begin_deallocate(
            self.resource_group, vm, api_version=API_VERSION, polling=wait
        )
        poller.result()


def _compute_client(
    subscription_id: str,
    credential: TokenCredential | None,
    base_url: str,
    connection_verify: bool | str,
    polling_interval: float,
) -> ComputeManagementClient:
    """The ARM compute client (the Azure SDK is imported here, on first use)."""
    from azure.mgmt.compute import ComputeManagementClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    endpoint = base_url.rstrip("/")
    return ComputeManagementClient(
        credential,
        subscription_id,
        base_url=endpoint,
        credential_scopes=[f"{endpoint}/.default"],
        connection_verify=connection_verify,
        polling_interval=polling_interval,
    )


_CONTROLLERS: dict[tuple[object, ...], AzureVmController] = {}


class GpuVmsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The GPU VMs the auto-stop/start sensors power (``GPU_VMS`` in ``AZURE_RESOURCE_GROUP``
    of ``AZURE_SUBSCRIPTION_ID``, through ``AZURE_ARM_ENDPOINT``), with the managed identity."""

    subscription_id: str
    resource_group: str
    vms: list[str]
    arm_endpoint: str = "https://management.azure.com"

    def controller(self) -> AzureVmController:
        """The ARM controller of this configuration (one per process)."""
        key = (self.subscription_id, self.resource_group, tuple(self.vms), self.arm_endpoint)
        if key not in _CONTROLLERS:
            _CONTROLLERS[key] = AzureVmController(
                self.subscription_id,
                self.resource_group,
                self.vms,
                base_url=self.arm_endpoint,
            )
        return _CONTROLLERS[key]

    def power_states(self) -> dict[str, PowerState]:
        """Each VM's power state."""
        return self.controller().power_states()

    def start(self, vm: str) -> None:
        """Ask ARM to start ``vm``."""
        self.controller().start(vm)

    def deallocate(self, vm: str) -> None:
        """Ask ARM to deallocate ``vm``."""
        self.controller().deallocate(vm)


def gpu_vm_names(settings: Settings) -> list[str]:
    """The names in ``GPU_VMS`` (comma separated), each once, in order."""
    return list(dict.fromkeys(n.strip() for n in settings.gpu_vms.split(",") if n.strip()))


def autostop_resources(settings: Settings) -> dict[str, Any]:
    """The ``gpu_vms`` resource when ``GPU_VMS`` names VMs, else nothing."""
    names = gpu_vm_names(settings)
    if not names:
        return {}
    if not settings.azure_subscription_id or not settings.azure_resource_group:
        raise ConfigurationError(
            "GPU_VMS is set: set AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP too"
        )
    resource = GpuVmsResource(
        subscription_id=settings.azure_subscription_id,
        resource_group=settings.azure_resource_group,
        vms=names,
        arm_endpoint=settings.azure_arm_endpoint,
    )
    return {GPU_VMS_RESOURCE: resource}
