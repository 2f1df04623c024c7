"""Reference servers the comparison benchmark runs beside ours under the same gunicorn settings."""
