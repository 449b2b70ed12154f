"""Rules over the Terraform configuration as HashiCorp's HCL parser (pygohcl) reads it.

Each rule returns the violations it finds (empty when the property holds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pygohcl

Config = dict[str, Any]
Rule = Callable[[Config, Path], list[str]]
INTERNET = {"*", "Internet", "0.0.0.0/0", "Any", "any"}
CONTAINERS = {"uploads", "outputs", "edits", "segment-cache", "catalog", "compute-logs"}
GPU_POWER_ACTIONS = {
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Compute/virtualMachines/instanceView/read",
    "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Compute/virtualMachines/deallocate/action",
}


def load(directory: Path) -> Config:
    """Every ``.tf`` file of ``directory`` merged into one document."""
    merged: Config = {}
    for path in sorted(directory.glob("*.tf")):
        document = pygohcl.loads(path.read_text())
        for section, body in document.items():
            if section in ("resource", "data"):
                for kind, named in body.items():
                    merged.setdefault(section, {}).setdefault(kind, {}).update(named)
            elif isinstance(body, dict):
                merged.setdefault(section, {}).update(body)
            else:
                merged.setdefault(section, []).append(body)
    return merged


def resources(config: Config, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = config.get("resource", {}).get(kind, {})
    return found


def blocks(value: Any) -> Iterator[dict[str, Any]]:
    """A nested block that may appear once (a dict) or several times (a list)."""
    if isinstance(value, list):
        yield from value
    elif isinstance(value, dict):
        yield value


def one(config: Config, kind: str) -> tuple[str, dict[str, Any]]:
    found = resources(config, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.items()))


def one_resource_group(config: Config, _root: Path) -> list[str]:
    """Everything lives in the one resource group (teardown and locks have one scope)."""
    one(config, "azurerm_resource_group")
    problems = []
    for kind, named in config.get("resource", {}).items():
        for name, body in named.items():
            group = body.get("resource_group_name")
            if group is not None and group != "azurerm_resource_group.main.name":
                problems.append(f"{kind}.{name} is in {group}")
    return problems


def network_private_webserver(config: Config, _root: Path) -> list[str]:
    """No public SSH; the webserver port only from Bastion; no VM with a public address."""
    problems = []
    for name, nsg in resources(config, "azurerm_network_security_group").items():
        for rule in blocks(nsg.get("security_rule")):
            inbound_allow = rule.get("direction") == "Inbound" and rule.get("access") == "Allow"
            ports = {str(rule.get("destination_port_range", ""))}
            if inbound_allow and ports & {"22", "*", "3000"}:
                source = str(rule.get("source_address_prefix", ""))
                if source in INTERNET or "bastion" not in source:
                    problems.append(f"{name}/{rule.get('name')}: port {ports} open to {source}")
    for name, nic in resources(config, "azurerm_network_interface").items():
        for ip in blocks(nic.get("ip_configuration")):
            if "public_ip_address_id" in ip:
                problems.append(f"NIC {name} has a public IP")
    bastions = resources(config, "azurerm_bastion_host")
    if not bastions or not all(b.get("tunneling_enabled") is True for b in bastions.values()):
        problems.append("no Bastion with tunneling: the private webserver is unreachable")
    return problems


def storage_hardened(config: Config, _root: Path) -> list[str]:
    _, account = one(config, "azurerm_storage_account")
    expected = {
        "allow_nested_items_to_be_public": False,
        "min_tls_version": "TLS1_2",
        "https_traffic_only_enabled": True,
        "shared_access_key_enabled": False,
    }
    problems = [f"{k} is {account.get(k)!r}" for k, v in expected.items() if account.get(k) != v]
    blob = account.get("blob_properties", {})
    for retention in ("delete_retention_policy", "container_delete_retention_policy"):
        days = blob.get(retention, {}).get("days", 0)
        if not isinstance(days, int) or days < 7:
            problems.append(f"soft delete {retention} missing or under 7 days")
    rules = account.get("network_rules", {})
    if rules.get("default_action") != "Deny":
        problems.append("storage network rules do not deny by default")
    return problems


def storage_containers(config: Config, _root: Path) -> list[str]:
    names = set(config.get("locals", {}).get("containers", []))
    problems = [f"missing container {c}" for c in sorted(CONTAINERS - names)]
    for name, container in resources(config, "azurerm_storage_container").items():
        if container.get("container_access_type") != "private":
            problems.append(f"container {name} is not private")
    return problems


def postgres_private(config: Config, _root: Path) -> list[str]:
    _, server = one(config, "azurerm_postgresql_flexible_server")
    problems = []
    if server.get("public_network_access_enabled") is not False:
        problems.append("postgres public network access is not disabled")
    for key in ("delegated_subnet_id", "private_dns_zone_id"):
        if not server.get(key):
            problems.append(f"postgres has no {key}")
    if (
        not isinstance(server.get("backup_retention_days"), int)
        or server["backup_retention_days"] < 7
    ):
        problems.append("postgres backups kept under 7 days")
    password = str(server.get("administrator_password", ""))
    stored = [
        s for s in resources(config, "azurerm_key_vault_secret").values()
        if str(s.get("value")) == password
    ]  # fmt: skip
    auth = server.get("authentication", {})
    if (password and not password.startswith("random_password.")) or (password and not stored):
        problems.append("postgres password is not generated and kept in Key Vault")
    if not password and auth.get("active_directory_auth_enabled") is not True:
        problems.append("postgres has neither a Key Vault password nor Entra authentication")
    return problems


def key_vault_least_privilege(config: Config, _root: Path) -> list[str]:
    _, vault = one(config, "azurerm_key_vault")
    problems = []
    if vault.get("rbac_authorization_enabled") is not True:
        problems.append("Key Vault does not use RBAC")
    if vault.get("purge_protection_enabled") is not True:
        problems.append("Key Vault purge protection is off")
    if vault.get("network_acls", {}).get("default_action") != "Deny":
        problems.append("Key Vault network ACLs do not deny by default")
    for name, assignment in resources(config, "azurerm_role_assignment").items():
        if "azurerm_key_vault" not in str(assignment.get("scope")):
            continue
        principal = str(assignment.get("principal_id"))
        if not principal.startswith("azurerm_user_assigned_identity."):
            problems.append(f"{name}: Key Vault readable by {principal}")
        if assignment.get("role_definition_name") != "Key Vault Secrets User":
            problems.append(f"{name}: role {assignment.get('role_definition_name')} on Key Vault")
    return problems


def vm_access(config: Config, _root: Path) -> list[str]:
    problems = []
    for name, vm in resources(config, "azurerm_linux_virtual_machine").items():
        if vm.get("disable_password_authentication") is not True:
            problems.append(f"VM {name} allows password authentication")
        if "UserAssigned" not in str(vm.get("identity", {}).get("type")):
            problems.append(f"VM {name} has no user-assigned identity")
        if "custom_data" not in vm:
            problems.append(f"VM {name} has no cloud-init")
    return problems


def gpu_spot_nodes(config: Config, _root: Path) -> list[str]:
    gpu = resources(config, "azurerm_linux_virtual_machine").get("gpu", {})
    expected = {
        "size": "var.gpu_vm_size",
        "priority": "Spot",
        "eviction_policy": "Deallocate",
        "max_bid_price": -1,
        "count": "var.gpu_node_count",
    }
    problems = [f"gpu {k} is {gpu.get(k)!r}" for k, v in expected.items() if gpu.get(k) != v]
    size = config.get("variable", {}).get("gpu_vm_size", {}).get("default")
    if size != "Standard_NC8as_T4_v3":
        problems.append(f"gpu size default is {size!r}")
    return problems


def segment_cache_survives(config: Config, root: Path) -> list[str]:
    disk = resources(config, "azurerm_managed_disk").get("segment_cache", {})
    problems = []
    if disk.get("lifecycle", {}).get("prevent_destroy") is not True:
        problems.append("segment cache disk lacks prevent_destroy")
    locks = [
        lock for lock in resources(config, "azurerm_management_lock").values()
        if "azurerm_managed_disk.segment_cache" in str(lock.get("scope"))
    ]  # fmt: skip
    if not locks or any(lock.get("lock_level") != "CanNotDelete" for lock in locks):
        problems.append("segment cache disk has no CanNotDelete lock")
    attachment = resources(config, "azurerm_virtual_machine_data_disk_attachment").get(
        "segment_cache", {}
    )
    lun = config.get("locals", {}).get("segment_cache_lun")
    if attachment.get("lun") not in ("local.segment_cache_lun", lun) or not isinstance(lun, int):
        problems.append("segment cache disk is not attached at a fixed LUN")
    gpu_init = (root / "cloud-init" / "gpu.yaml.tftpl").read_text()
    if "/dev/disk/azure/scsi1/lun${segment_cache_lun}" not in gpu_init or "mounts:" not in gpu_init:
        problems.append("cloud-init does not mount the segment cache LUN")
    return problems


def gpu_units_and_backstop(config: Config, root: Path) -> list[str]:
    gpu_init = (root / "cloud-init" / "gpu.yaml.tftpl").read_text()
    problems = []
    # `localize worker --queue gpu` is one step at a time in a thread (workers.worker_argv)
    worker = [line for line in gpu_init.splitlines() if "bin/localize worker" in line]
    if worker != ["      ExecStart=/opt/localization/venv/bin/localize worker --queue gpu"]:
        problems.append("gpu worker unit is not `localize worker --queue gpu` (threads, one step)")
    if "eviction-watcher.service" not in gpu_init:
        problems.append("no eviction watcher unit")
    schedules = resources(config, "azurerm_dev_test_global_vm_shutdown_schedule")
    if not any("azurerm_linux_virtual_machine.gpu" in str(s.get("virtual_machine_id"))
               and s.get("enabled") is True for s in schedules.values()):  # fmt: skip
        problems.append("no nightly shutdown schedule on the GPU nodes")
    return problems


def control_units(_: Config, root: Path) -> list[str]:
    control = (root / "cloud-init" / "control.yaml.tftpl").read_text()
    wanted = [
        "bin/dagster-webserver -h",
        "bin/dagster-daemon run",
        "bin/localize worker --queue cpu",
        "rabbitmq-server",
    ]
    return [f"control cloud-init lacks {unit}" for unit in wanted if unit not in control]


def identities_least_privilege(config: Config, _root: Path) -> list[str]:
    problems = []
    _, role = one(config, "azurerm_role_definition")
    actions = set(role.get("permissions", {}).get("actions", []))
    if actions != GPU_POWER_ACTIONS:
        problems.append(f"gpu power role actions are {sorted(actions)}")
    for name, assignment in resources(config, "azurerm_role_assignment").items():
        scope, role_name = str(assignment.get("scope")), assignment.get("role_definition_name")
        if "role_definition_id" in assignment:
            if "azurerm_linux_virtual_machine.gpu" not in scope:
                problems.append(f"{name}: gpu power role not scoped to a GPU VM")
        elif role_name == "Storage Blob Data Contributor":
            if scope != "azurerm_storage_account.main.id":
                problems.append(f"{name}: blob role on {scope}")
        elif role_name != "Key Vault Secrets User":
            problems.append(f"{name}: broader role {role_name} on {scope}")
    return problems


def variables_validated(config: Config, _root: Path) -> list[str]:
    problems = []
    for name, variable in config.get("variable", {}).items():
        if name != "tags" and "validation" not in variable:
            problems.append(f"variable {name} has no validation")
        if "description" not in variable:
            problems.append(f"variable {name} has no description")
    if len(config.get("output", {})) < 3:
        problems.append("fewer than three outputs")
    return problems


RULES: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        one_resource_group,
        network_private_webserver,
        storage_hardened,
        storage_containers,
        postgres_private,
        key_vault_least_privilege,
        vm_access,
        gpu_spot_nodes,
        segment_cache_survives,
        gpu_units_and_backstop,
        control_units,
        identities_least_privilege,
        variables_validated,
    )
}
