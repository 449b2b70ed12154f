"""Every asserted property holds on terraform/, and a deliberately broken copy makes its rule
fail (so no rule passes vacuously)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.terraform.rules import RULES, load

TERRAFORM = REPO / "terraform"

# rule -> edits that break the property it guards: (file, text found there, replacement)
BREAKS: dict[str, list[tuple[str, str, str]]] = {
    "one_resource_group": [
        ("postgres.tf", "resource_group_name           = azurerm_resource_group.main.name",
         'resource_group_name           = "shared-databases-rg"'),
    ],
    "network_private_webserver": [
        ("network.tf",
         'destination_port_range     = "22"\n    source_address_prefix      = local.subnets.bastion',  # noqa: E501
         'destination_port_range     = "22"\n    source_address_prefix      = "Internet"'),
    ],
    "storage_hardened": [("storage.tf", 'min_tls_version                 = "TLS1_2"',
                          'min_tls_version                 = "TLS1_0"')],
    "storage_containers": [("main.tf", '"segment-cache", ', "")],
    "postgres_private": [("postgres.tf", "public_network_access_enabled = false",
                          "public_network_access_enabled = true")],
    "key_vault_least_privilege": [
        ("keyvault.tf", "principal_id         = azurerm_user_assigned_identity.gpu.principal_id",
         'principal_id         = "00000000-0000-0000-0000-000000000000"'),
    ],
    "vm_access": [("compute.tf", "disable_password_authentication = true",
                   "disable_password_authentication = false")],
    "gpu_spot_nodes": [("compute.tf", 'priority                        = "Spot"',
                        'priority                        = "Regular"')],
    "segment_cache_survives": [("compute.tf", "prevent_destroy = true", "prevent_destroy = false")],
    "gpu_units_and_backstop": [("cloud-init/gpu.yaml.tftpl", "localize worker --queue gpu",
                                "localize worker --queue gpu --concurrency 4")],
    "control_units": [("cloud-init/control.yaml.tftpl", "dagster-daemon run", "sleep infinity")],
    "identities_least_privilege": [
        ("identity.tf", '"Microsoft.Compute/virtualMachines/deallocate/action",',
         '"Microsoft.Compute/virtualMachines/deallocate/action",\n'
         '      "Microsoft.Compute/virtualMachines/delete",'),
    ],
    "variables_validated": [("variables.tf", "  validation {\n    condition     = var.gpu_vm_size",
                             "  xvalidation {\n    condition     = var.gpu_vm_size")],
}  # fmt: skip


def test_every_rule_has_a_breaking_edit() -> None:
    assert set(BREAKS) == set(RULES)


@pytest.mark.parametrize("name", sorted(RULES))
def test_property_holds(name: str) -> None:
    assert RULES[name](load(TERRAFORM), TERRAFORM) == []


@pytest.mark.parametrize("name", sorted(RULES))
def test_broken_copy_fails_its_rule(name: str, tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy)
    for file, old, new in BREAKS[name]:
        text = (copy / file).read_text()
        assert old in text, f"{file} no longer contains the text this test breaks"
        (copy / file).write_text(text.replace(old, new, 1))
    assert RULES[name](load(copy), copy), f"{name} did not notice the broken copy"
