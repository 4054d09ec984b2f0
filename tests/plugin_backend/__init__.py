"""A backend plugin built only on ml2sc.ir, backends.base and backends.common; registers nothing on import."""
