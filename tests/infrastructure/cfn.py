"""Reading template.yaml with its CloudFormation short-form tags."""

from edge_consent.table import TEMPLATE, load_template

__all__ = ["TEMPLATE", "load_template"]
