"""nbchat benchmarks: figures measured side by side with the thing nbchat wraps. Run ``python -m benchmarks``."""
