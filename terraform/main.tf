data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "main" {
  name     = "${var.prefix}-rg"
  location = var.location
  tags     = var.tags
}

locals {
  containers = ["uploads", "outputs", "edits", "segment-cache", "catalog", "compute-logs"]
  subnets = {
    control  = cidrsubnet(var.vnet_cidr, 8, 1)
    gpu      = cidrsubnet(var.vnet_cidr, 8, 2)
    postgres = cidrsubnet(var.vnet_cidr, 8, 3)
    bastion  = cidrsubnet(var.vnet_cidr, 10, 0) # AzureBastionSubnet needs a /26 or larger
  }
  segment_cache_lun = 10
}
