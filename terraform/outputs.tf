output "resource_group" {
  description = "Resource group holding everything."
  value       = azurerm_resource_group.main.name
}

output "control_private_ip" {
  description = "Private address of the control VM (webserver on port 3000, through Bastion)."
  value       = azurerm_network_interface.control.private_ip_address
}

output "gpu_vm_names" {
  description = "GPU node names (the `gpu` pool limit should equal their count)."
  value       = azurerm_linux_virtual_machine.gpu[*].name
}

output "storage_account" {
  description = "Storage account of uploads, outputs, edits, segment cache, catalog, logs."
  value       = azurerm_storage_account.main.name
}

output "postgres_fqdn" {
  description = "Private FQDN of the Dagster instance database."
  value       = azurerm_postgresql_flexible_server.main.fqdn
}

output "key_vault_name" {
  description = "Key Vault holding the Postgres and RabbitMQ passwords."
  value       = azurerm_key_vault.main.name
}

output "bastion_tunnel_command" {
  description = "How to open the Dagster UI from a workstation."
  value       = "az network bastion tunnel -n ${azurerm_bastion_host.main.name} -g ${azurerm_resource_group.main.name} --target-resource-id ${azurerm_linux_virtual_machine.control.id} --resource-port 3000 --port 3000"
}
