"""The aws profile: AWS resources, Terraform outputs and the configuration shared with Terraform."""
