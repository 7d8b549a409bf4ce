"""querybase: an open-source BI server that speaks Metabase's HTTP API."""

__version__ = "0.1.0"

# The Metabase release whose API querybase answers as; reported in `version` and X-Metabase-Version.
METABASE_API_VERSION = "v0.57.0"
