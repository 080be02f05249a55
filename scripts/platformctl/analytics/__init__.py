"""The analytics layer's tooling: the metric views (SQL files in infrastructure/analytics/views/), their
catalog template, and ``platformctl query`` on Athena or on the local engine (DuckDB). docs/analytics.md."""
