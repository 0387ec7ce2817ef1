"""Rasa SDK actions: thin adapters between the conversation and crm_adapter services."""
