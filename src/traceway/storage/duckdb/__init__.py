from traceway.storage.duckdb.store import DuckDBStore

__all__ = ["DuckDBStore"]
