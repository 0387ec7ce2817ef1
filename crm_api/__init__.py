"""The CRM REST API: the contract of docs/crm-rest-contract.md served over any `CrmService`."""

from crm_api.app import create_app

__all__ = ["create_app"]
