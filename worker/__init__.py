"""The background worker: history ingestion, and the housekeeping jobs that run whenever it has caught up."""
