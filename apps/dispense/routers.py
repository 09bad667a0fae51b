"""Keep SQL models off Cassandra and cqlengine models off SQL."""

from cassandra.cqlengine.models import Model as CqlModel

CASSANDRA = "cassandra"
# Every Cassandra alias: the feeds' keyspace (dispense) and the logs' (analytics, LOGS_STORE=cassandra).
CASSANDRA_ALIASES = frozenset({CASSANDRA, "cassandra_logs"})


def _is_cql(model) -> bool:
    return isinstance(model, type) and issubclass(model, CqlModel)


class CassandraRouter:
    """cqlengine models live on their Cassandra alias (synced by sync_cassandra); everything else in SQL."""

    def db_for_read(self, model, **hints):
        return (getattr(model, "__connection__", None) or CASSANDRA) if _is_cql(model) else None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return None if _is_cql(type(obj1)) == _is_cql(type(obj2)) else False

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db in CASSANDRA_ALIASES:
            return False  # Django migrations never touch Cassandra; sync_cassandra does
        model = hints.get("model")
        return False if _is_cql(model) else None
