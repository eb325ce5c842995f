"""The SQLite schema, its version number, and opening a database."""

from __future__ import annotations

import sqlite3

from durable_workflows.sidecar.errors import SchemaVersionError, SidecarError

SCHEMA_VERSION = 2
"""Stored in ``PRAGMA user_version``; bump it and add a migration on every schema change."""

_V1 = """
CREATE TABLE instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT,
    status INTEGER NOT NULL,
    execution_id TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL,
    failure BLOB,
    tags TEXT,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    history_len INTEGER NOT NULL
);
CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    event BLOB NOT NULL
);
CREATE INDEX messages_by_target ON messages (kind, target);
CREATE TABLE delayed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fire_at REAL NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    execution_id TEXT,
    event BLOB NOT NULL
);
CREATE INDEX delayed_by_target ON delayed (kind, target);
CREATE TABLE activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    input TEXT,
    version TEXT,
    tags TEXT
);
CREATE INDEX activities_by_instance ON activities (instance_id);
CREATE TABLE entities (
    entity_id TEXT PRIMARY KEY,
    state TEXT,
    updated_at REAL NOT NULL,
    locked_by TEXT,
    lock_owner TEXT
);
CREATE TABLE lock_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    critical_section_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    lock_set TEXT NOT NULL,
    barrier INTEGER NOT NULL
);
"""

_V2 = """
CREATE INDEX instances_by_status ON instances (status, completed_at);
CREATE INDEX instances_by_parent ON instances (parent_instance_id);
"""
"""Finished instances live only in the database: find them by status, age and parent."""

_MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2}
"""Script that brings a database from version ``n - 1`` to version ``n``."""


def open_database(path: str, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Open (creating or migrating) the sidecar database at ``path`` (``":memory:"`` allowed).

    Raises `SchemaVersionError` when the file was written by a newer schema version.
    """
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise SidecarError(f"invalid synchronous mode {synchronous!r}")
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise SidecarError(f"cannot open database {path!r}: {exc}") from exc
    try:
        if not _has_tables(conn):
            # Only possible before the first table (and before WAL mode): purges can then give
            # pages back to the file system (`writer.reclaim_free_pages`). Databases created
            # before schema version 2 reuse freed pages instead.
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA busy_timeout=5000")
        _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise SidecarError(f"cannot open database {path!r}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"database {path!r} has schema version {version}, but this durable_workflows "
                f"supports up to version {SCHEMA_VERSION}; upgrade durable_workflows to open it"
            )
        if version == 0 and _has_tables(conn):
            raise SidecarError(f"database {path!r} is not a durable_workflows sidecar database")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={target}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return int(row[0]) > 0
