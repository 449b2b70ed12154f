locals {
  # Only names and addresses go into custom data; secrets are fetched from Key Vault at boot.
  common_boot = {
    repo_url        = var.repo_url
    code_ref        = var.code_ref
    storage_account = azurerm_storage_account.main.name
    key_vault_name  = azurerm_key_vault.main.name
    postgres_host   = azurerm_postgresql_flexible_server.main.fqdn
  }
  # translation steps run on the control node and ask the first GPU node's vLLM
  translator_url = var.gpu_node_count > 0 ? "http://${azurerm_network_interface.gpu[0].private_ip_address}:${var.translation_llm.port}/v1" : ""
  # dub steps run on the control node and ask the first GPU node's TTS service
  tts_url = var.gpu_node_count > 0 ? "http://${azurerm_network_interface.gpu[0].private_ip_address}:${var.tts_service.port}/synthesize" : ""
  control_cloud_init = templatefile("${path.module}/cloud-init/control.yaml.tftpl", {
    translator_url   = local.translator_url
    translator_model = var.translation_llm.model
    tts_url          = local.tts_url
    tts_voice        = var.tts_service.voice
    boot_script = templatefile("${path.module}/cloud-init/common.sh.tftpl", merge(local.common_boot, {
      client_id = azurerm_user_assigned_identity.control.client_id
    }))
  })
  gpu_cloud_init = templatefile("${path.module}/cloud-init/gpu.yaml.tftpl", {
    control_host      = azurerm_network_interface.control.private_ip_address
    segment_cache_lun = local.segment_cache_lun
    llm               = var.translation_llm
    tts               = var.tts_service
    boot_script = templatefile("${path.module}/cloud-init/common.sh.tftpl", merge(local.common_boot, {
      client_id = azurerm_user_assigned_identity.gpu.client_id
    }))
  })
}

resource "azurerm_network_interface" "control" {
  name                = "${var.prefix}-control-nic"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.control.id
    private_ip_address_allocation = "Dynamic" # no public IP
  }
}

resource "azurerm_linux_virtual_machine" "control" {
  name                            = "${var.prefix}-control"
  location                        = azurerm_resource_group.main.location
  resource_group_name             = azurerm_resource_group.main.name
  size                            = var.control_vm_size
  admin_username                  = "azureuser"
  disable_password_authentication = true
  network_interface_ids           = [azurerm_network_interface.control.id]
  allow_extension_operations      = false
  encryption_at_host_enabled      = true
  custom_data                     = base64encode(local.control_cloud_init)
  tags                            = var.tags

  admin_ssh_key {
    username   = "azureuser"
    public_key = var.admin_ssh_public_key
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.control.id]
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
  }

  source_image_reference {
    publisher = "Canonical"
    offer     = "ubuntu-24_04-lts"
    sku       = "server"
    version   = "latest"
  }
}

resource "azurerm_network_interface" "gpu" {
  count               = var.gpu_node_count
  name                = "${var.prefix}-gpu-${count.index}-nic"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.gpu.id
    private_ip_address_allocation = "Dynamic" # no public IP
  }
}

resource "azurerm_linux_virtual_machine" "gpu" {
  count                           = var.gpu_node_count
  name                            = "${var.prefix}-gpu-${count.index}"
  location                        = azurerm_resource_group.main.location
  resource_group_name             = azurerm_resource_group.main.name
  size                            = var.gpu_vm_size
  priority                        = "Spot"
  eviction_policy                 = "Deallocate"
  max_bid_price                   = -1
  admin_username                  = "azureuser"
  disable_password_authentication = true
  network_interface_ids           = [azurerm_network_interface.gpu[count.index].id]
  allow_extension_operations      = false
  encryption_at_host_enabled      = true
  custom_data                     = base64encode(local.gpu_cloud_init)
  tags                            = var.tags

  admin_ssh_key {
    username   = "azureuser"
    public_key = var.admin_ssh_public_key
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.gpu.id]
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
  }

  source_image_reference {
    publisher = "microsoft-dsvm"
    offer     = "ubuntu-hpc"
    sku       = "2204"
    version   = "latest"
  }
}

# The segment cache outlives the spot VMs: evictions deallocate them, re-creation re-attaches
# the same disk, and neither Terraform nor a hurried operator can delete it.
resource "azurerm_managed_disk" "segment_cache" {
  #checkov:skip=CKV_AZURE_93:Platform-managed keys plus encryption at host on the VMs; a disk encryption set needs customer-managed keys (not used yet).
  count                         = var.gpu_node_count
  name                          = "${var.prefix}-gpu-${count.index}-segment-cache"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  storage_account_type          = "Premium_LRS"
  create_option                 = "Empty"
  disk_size_gb                  = var.segment_cache_disk_gb
  public_network_access_enabled = false
  network_access_policy         = "DenyAll"
  tags                          = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "azurerm_management_lock" "segment_cache" {
  count      = var.gpu_node_count
  name       = "${var.prefix}-gpu-${count.index}-segment-cache-lock"
  scope      = azurerm_managed_disk.segment_cache[count.index].id
  lock_level = "CanNotDelete"
  notes      = "The lip-sync segment cache survives VM re-creation; delete deliberately."
}

resource "azurerm_virtual_machine_data_disk_attachment" "segment_cache" {
  count              = var.gpu_node_count
  managed_disk_id    = azurerm_managed_disk.segment_cache[count.index].id
  virtual_machine_id = azurerm_linux_virtual_machine.gpu[count.index].id
  lun                = local.segment_cache_lun
  caching            = "ReadWrite"
}

# Backstop for the auto-stop sensor: every GPU node is shut down nightly whatever happens.
resource "azurerm_dev_test_global_vm_shutdown_schedule" "gpu" {
  count                 = var.gpu_node_count
  virtual_machine_id    = azurerm_linux_virtual_machine.gpu[count.index].id
  location              = azurerm_resource_group.main.location
  enabled               = true
  daily_recurrence_time = var.nightly_shutdown_time
  timezone              = "UTC"
  tags                  = var.tags

  notification_settings {
    enabled = false
  }
}
