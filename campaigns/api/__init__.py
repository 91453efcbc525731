"""The REST API for point-of-sale systems, under ``/api/v1/``."""
