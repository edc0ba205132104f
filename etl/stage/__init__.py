"""Staging: NDJSON per resource type, Parquet per resource type, and the manifest."""
