# Lake Formation tenant isolation for the saas dataset: one data cells filter per (tenant, silver
# table) keeping only that tenant's rows (tenant_id = '<uuid>'; the tenant table itself by its id),
# granted SELECT to the tenant's principals. The tables and their tenant column come from the
# registry (generated tenant_tables). Filters need the silver tables in the catalog: enable them
# (enable_tenant_filters) after the first pipeline run. They govern reads only where Lake
# Formation governs the location (register_locations) and IAMAllowedPrincipals is revoked.

locals {
  filters = {
    for pair in setproduct(keys(var.tenants), keys(var.tenant_tables)) :
    "${pair[0]}.${pair[1]}" => {
      tenant    = pair[0]
      table     = pair[1]
      name      = "tenant_${pair[0]}_${pair[1]}"
      predicate = "${var.tenant_tables[pair[1]]} = '${var.tenants[pair[0]].tenant_id}'"
    } if var.enabled
  }

  grants = merge([
    for k, f in local.filters : {
      for p in var.tenants[f.tenant].principal_arns : "${k}|${p}" => merge(f, { principal = p, filter_key = k })
    }
  ]...)
}

resource "aws_lakeformation_resource" "lake" {
  for_each = var.register_locations ? toset(var.location_arns) : toset([])

  arn                     = each.value
  use_service_linked_role = true
}

resource "aws_lakeformation_data_cells_filter" "tenant" {
  for_each = local.filters

  table_data {
    database_name    = var.database_name
    table_name       = each.value.table
    table_catalog_id = var.catalog_id
    name             = each.value.name

    column_wildcard {}

    row_filter {
      filter_expression = each.value.predicate
    }
  }
}

resource "aws_lakeformation_permissions" "tenant" {
  for_each = local.grants

  principal   = each.value.principal
  permissions = ["SELECT"]

  data_cells_filter {
    database_name    = var.database_name
    table_name       = each.value.table
    table_catalog_id = var.catalog_id
    name             = aws_lakeformation_data_cells_filter.tenant[each.value.filter_key].table_data[0].name
  }
}
