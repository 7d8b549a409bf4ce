"""Post-processing: steps that wrap the lazy row iterator (format values, cap the row count)."""
