"""The use cases every front door shares (web, spool folder): submitting, seeing, stopping jobs."""
