"""Relationship history: projecting Rasa's event log into the CRM, and reading a customer's timeline."""
