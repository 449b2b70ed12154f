resource "azurerm_user_assigned_identity" "control" {
  name                = "${var.prefix}-control-id"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_user_assigned_identity" "gpu" {
  name                = "${var.prefix}-gpu-id"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

# The auto-stop/start sensors on the control VM: read, instance view, start and deallocate the
# GPU VMs. Nothing else (no write, no delete, no other resource types).
resource "azurerm_role_definition" "gpu_power" {
  name        = "${var.prefix}-gpu-power"
  scope       = azurerm_resource_group.main.id
  description = "Read, start and deallocate the localization GPU nodes."

  permissions {
    actions = [
      "Microsoft.Compute/virtualMachines/read",
      "Microsoft.Compute/virtualMachines/instanceView/read",
      "Microsoft.Compute/virtualMachines/start/action",
      "Microsoft.Compute/virtualMachines/deallocate/action",
    ]
    not_actions = []
  }

  assignable_scopes = [azurerm_resource_group.main.id]
}

resource "azurerm_role_assignment" "control_gpu_power" {
  count              = var.gpu_node_count
  scope              = azurerm_linux_virtual_machine.gpu[count.index].id
  role_definition_id = azurerm_role_definition.gpu_power.role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.control.principal_id
}

resource "azurerm_role_assignment" "blob_control" {
  scope                = azurerm_storage_account.main.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.control.principal_id
}

resource "azurerm_role_assignment" "blob_gpu" {
  scope                = azurerm_storage_account.main.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.gpu.principal_id
}
