variable "enabled" {
  description = "Create the tenant filters (the silver tables must exist)."
  type        = bool
  default     = false
}

variable "catalog_id" {
  description = "Glue catalog (account) id."
  type        = string
}

variable "database_name" {
  description = "Glue database of the silver zone."
  type        = string
}

variable "tenant_tables" {
  description = "Silver table -> the column holding the tenant id (generated from the registry)."
  type        = map(string)
}

variable "tenants" {
  description = "Tenant key -> tenant id (UUID) and the principals reading that tenant's rows."
  type = map(object({
    tenant_id      = string
    principal_arns = optional(list(string), [])
  }))
  default = {}

  validation {
    condition = alltrue([
      for k, t in var.tenants :
      can(regex("^[a-z0-9_]{1,40}$", k)) && can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", t.tenant_id))
    ])
    error_message = "tenants: keys of lower-case letters, digits and _; tenant_id a lower-case UUID."
  }
}

variable "register_locations" {
  description = "Register the locations with Lake Formation."
  type        = bool
  default     = false
}

variable "location_arns" {
  description = "Bucket ARNs Lake Formation governs when registered (silver, gold)."
  type        = list(string)
  default     = []
}
