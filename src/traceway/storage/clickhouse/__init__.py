from traceway.storage.clickhouse.schema import Location
from traceway.storage.clickhouse.store import ClickHouseStore, connect

__all__ = ["ClickHouseStore", "Location", "connect"]
