"""ControlStore on SQL: one implementation for SQLite, PostgreSQL and MySQL/MariaDB (their differences
are in sql.py and the drivers).

Management writes bump `control_version` in the same transaction, a row every writer locks: versions
commit in order in every database, so a process that read version N never misses a change numbered below
N. The ledger counts a call once: its row (request id and start time) is inserted only if new
(`spend_logs`, or `spend_seen` when logs are off), and only new rows add to the totals, the budgets' period
spend and the daily sums. The start time is part of the identity because a client may send the same
x-request-id twice: those are two calls, and both are paid for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from bedrock_proxy.control.database import Database
from bedrock_proxy.control.durations import next_reset
from bedrock_proxy.control.migrations import LEDGER_COLUMNS, Cursor
from bedrock_proxy.control.records import KeyRecord, SpendEntry, TeamRecord, UserRecord
from bedrock_proxy.control.rows import KEYS, TABLES, TEAMS, USERS, Table
from bedrock_proxy.control.sql import NO_LIMIT, Dialect
from bedrock_proxy.control.store import EVERYTHING, REPORT_DIMENSIONS, Conflict

R = TypeVar("R", KeyRecord, TeamRecord, UserRecord)
T = TypeVar("T")

CHANGE_LOG_SECONDS = 86400.0  # changes older than this are pruned: a process that slept longer reloads all
SEEN_SECONDS = 7 * 86400.0  # request ids remembered when logs are off: longer than any retry
_PRUNE_EVERY = 64  # versions between two prunes of the change log

_LEDGER = tuple(name.strip() for name in LEDGER_COLUMNS.split(","))
_START = _LEDGER.index("start_time")
_CHUNK = 200  # rows per multi-row INSERT: 14 columns x 200 stays far below every driver's parameter limit
_DAILY = (
    "day",
    "key_id",
    "team_id",
    "user_id",
    "model",
    "spend",
    "requests",
    "prompt_tokens",
    "completion_tokens",
)


def digest_only(key_id: str) -> None:
    """A key is stored as its SHA-256 hex digest, never as itself: anything else is refused."""
    if len(key_id) != 64 or any(c not in "0123456789abcdef" for c in key_id):
        raise ValueError(
            "key_id must be the key's SHA-256 hex digest (bedrock_proxy.keys.key_id), never the key"
        )


def utc_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


class SqlControlStore:
    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.d: Dialect = database.dialect
        self.clock = clock

    @property
    def where(self) -> str:
        return self.database.where

    async def _write(self, fn: Callable[[Cursor], T]) -> T:
        return await self.database.call(fn, write=True)

    async def _read(self, fn: Callable[[Cursor], T]) -> T:
        return await self.database.call(fn, write=False)

    # ------------------------------------------------------------------ lifecycle
    def check(self) -> None:
        self.database.check()

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()

    # ------------------------------------------------------------------ changes
    def _bump(self, cur: Cursor, changed: Sequence[tuple[str, str]]) -> int:
        d, now = self.d, self.clock()
        cur.execute("UPDATE control_version SET version = version + 1 WHERE id = 1")
        cur.execute("SELECT version FROM control_version WHERE id = 1")
        version = int(cur.fetchone()[0])
        insert = d.sql("INSERT INTO control_changes (version, kind, item_id, changed_at) VALUES (?, ?, ?, ?)")
        for kind, item in dict.fromkeys(changed):
            cur.execute(insert, (version, kind, item, now))
        if version % _PRUNE_EVERY == 0:
            cur.execute(
                d.sql("DELETE FROM control_changes WHERE changed_at < ?"), (now - CHANGE_LOG_SECONDS,)
            )
        return version

    async def version(self) -> int:
        def read(cur: Cursor) -> int:
            cur.execute("SELECT version FROM control_version WHERE id = 1")
            return int(cur.fetchone()[0])

        return await self._read(read)

    async def changed_since(self, version: int) -> tuple[int, list[tuple[str, str]]]:
        d = self.d

        def read(cur: Cursor) -> tuple[int, list[tuple[str, str]]]:
            cur.execute("SELECT version FROM control_version WHERE id = 1")
            current = int(cur.fetchone()[0])
            if version >= current:
                return current, []
            cur.execute("SELECT MIN(version) FROM control_changes")
            oldest = cur.fetchone()[0]
            if oldest is None or int(oldest) > version + 1:
                return current, [EVERYTHING]
            cur.execute(
                d.sql(
                    "SELECT kind, item_id FROM control_changes WHERE version > ? AND version <= ?"
                    " ORDER BY version"
                ),
                (version, current),
            )
            return current, list(dict.fromkeys((str(k), str(i)) for k, i in cur.fetchall()))

        return await self._read(read)

    # ------------------------------------------------------------------ records, any table
    def _select(self, table: Table[R]) -> str:
        return f"SELECT {', '.join(table.columns)} FROM {table.name}"

    def _get_sync(self, cur: Cursor, table: Table[R], item: str) -> R | None:
        cur.execute(self.d.sql(f"{self._select(table)} WHERE {table.id_column} = ?"), (item,))
        row = cur.fetchone()
        return table.parse(row) if row is not None else None

    def _exists(
        self, cur: Cursor, table: str, column: str, value: object, *, besides: str | None = None
    ) -> bool:
        sql = f"SELECT 1 FROM {table} WHERE {column} = ?"
        args: list[object] = [value]
        if besides is not None:
            sql += " AND key_id <> ?"
            args.append(besides)
        cur.execute(self.d.sql(sql), tuple(args))
        return cur.fetchone() is not None

    async def _insert(self, table: Table[R], record: R) -> None:
        item = getattr(record, table.id_column)

        def write(cur: Cursor) -> None:
            if self._exists(cur, table.name, table.id_column, item):
                raise Conflict(table.id_column, item)
            alias = getattr(record, "key_alias", None)
            if (
                table.kind == "key"
                and alias is not None
                and self._exists(cur, table.name, "key_alias", alias)
            ):
                raise Conflict("key_alias", alias)
            values = ", ".join("?" * len(table.columns))
            cur.execute(
                self.d.sql(f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({values})"),
                table.row(record),
            )
            self._bump(cur, [(table.kind, item)])

        await self._write(write)

    async def _get(self, table: Table[R], item: str) -> R | None:
        return await self._read(lambda cur: self._get_sync(cur, table, item))

    async def _update(self, table: Table[R], item: str, changes: Mapping[str, object]) -> R | None:
        columns: list[tuple[str, Any]] = table.changes(changes)

        def write(cur: Cursor) -> R | None:
            if not self._exists(cur, table.name, table.id_column, item):
                return None
            alias = changes.get("key_alias")
            if (
                table.kind == "key"
                and alias is not None
                and self._exists(cur, table.name, "key_alias", alias, besides=item)
            ):
                raise Conflict("key_alias", str(alias))
            sets: list[tuple[str, Any]] = [*columns, ("updated_at", self.clock())]
            cur.execute(
                self.d.sql(
                    f"UPDATE {table.name} SET {', '.join(f'{name} = ?' for name, _ in sets)}"
                    f" WHERE {table.id_column} = ?"
                ),
                (*(value for _, value in sets), item),
            )
            self._bump(cur, [(table.kind, item)])
            return self._get_sync(cur, table, item)

        return await self._write(write)

    async def _delete(self, table: Table[R], items: Sequence[str]) -> list[str]:
        def write(cur: Cursor) -> list[str]:
            deleted = []
            for item in dict.fromkeys(items):
                cur.execute(self.d.sql(f"DELETE FROM {table.name} WHERE {table.id_column} = ?"), (item,))
                if cur.rowcount > 0:
                    deleted.append(item)
            if deleted:
                self._bump(cur, [(table.kind, item) for item in deleted])
            return deleted

        return await self._write(write)

    async def _list(
        self, table: Table[R], where: Mapping[str, str | None], offset: int, limit: int | None
    ) -> list[R]:
        filters: dict[str, str] = {column: value for column, value in where.items() if value is not None}
        sql = self._select(table)
        if filters:
            sql += " WHERE " + " AND ".join(f"{column} = ?" for column in filters)
        sql += f" ORDER BY created_at, {table.id_column} LIMIT ? OFFSET ?"
        args = (*filters.values(), NO_LIMIT if limit is None else max(0, limit), max(0, offset))

        def read(cur: Cursor) -> list[R]:
            cur.execute(self.d.sql(sql), args)
            return [table.parse(row) for row in cur.fetchall()]

        return await self._read(read)

    # ------------------------------------------------------------------ keys
    async def insert_key(self, record: KeyRecord) -> None:
        digest_only(record.key_id)
        await self._insert(KEYS, record)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return await self._get(KEYS, key_id)

    async def update_key(self, key_id: str, changes: Mapping[str, object]) -> KeyRecord | None:
        return await self._update(KEYS, key_id, changes)

    async def rekey(self, old_key_id: str, new_key_id: str, new_key_name: str) -> KeyRecord | None:
        d = self.d
        digest_only(new_key_id)

        def write(cur: Cursor) -> KeyRecord | None:
            if not self._exists(cur, KEYS.name, "key_id", old_key_id):
                return None
            if self._exists(cur, KEYS.name, "key_id", new_key_id):
                raise Conflict("key_id", new_key_id)
            cur.execute(
                d.sql("UPDATE control_keys SET key_id = ?, key_name = ?, updated_at = ? WHERE key_id = ?"),
                (new_key_id, new_key_name, self.clock(), old_key_id),
            )
            # the lifetime total follows the key; the ledger's rows keep the id they were charged under
            cur.execute(d.sql("UPDATE key_spend SET key_id = ? WHERE key_id = ?"), (new_key_id, old_key_id))
            self._bump(cur, [("key", old_key_id), ("key", new_key_id)])
            return self._get_sync(cur, KEYS, new_key_id)

        return await self._write(write)

    async def delete_keys(self, key_ids: Sequence[str]) -> list[str]:
        return await self._delete(KEYS, key_ids)

    async def list_keys(
        self,
        *,
        team_id: str | None = None,
        user_id: str | None = None,
        offset: int = 0,
        limit: int | None = 100,
    ) -> list[KeyRecord]:
        return await self._list(KEYS, {"team_id": team_id, "user_id": user_id}, offset, limit)

    # ------------------------------------------------------------------ teams
    async def insert_team(self, record: TeamRecord) -> None:
        await self._insert(TEAMS, record)

    async def get_team(self, team_id: str) -> TeamRecord | None:
        return await self._get(TEAMS, team_id)

    async def update_team(self, team_id: str, changes: Mapping[str, object]) -> TeamRecord | None:
        return await self._update(TEAMS, team_id, changes)

    async def delete_teams(self, team_ids: Sequence[str]) -> list[str]:
        return await self._delete(TEAMS, team_ids)

    async def list_teams(self, *, offset: int = 0, limit: int | None = 100) -> list[TeamRecord]:
        return await self._list(TEAMS, {}, offset, limit)

    # ------------------------------------------------------------------ users
    async def insert_user(self, record: UserRecord) -> None:
        await self._insert(USERS, record)

    async def get_user(self, user_id: str) -> UserRecord | None:
        return await self._get(USERS, user_id)

    async def update_user(self, user_id: str, changes: Mapping[str, object]) -> UserRecord | None:
        return await self._update(USERS, user_id, changes)

    async def delete_users(self, user_ids: Sequence[str]) -> list[str]:
        return await self._delete(USERS, user_ids)

    async def list_users(self, *, offset: int = 0, limit: int | None = 100) -> list[UserRecord]:
        return await self._list(USERS, {}, offset, limit)

    # ------------------------------------------------------------------ budgets
    async def reset_budgets(self, now: float) -> int:
        d = self.d

        def write(cur: Cursor) -> int:
            changed: list[tuple[str, str]] = []
            for table in TABLES:
                cur.execute(
                    d.sql(
                        f"SELECT {table.id_column}, budget_duration, budget_reset_at FROM {table.name}"
                        " WHERE budget_duration IS NOT NULL"
                        " AND (budget_reset_at IS NULL OR budget_reset_at <= ?)"
                    ),
                    (now,),
                )
                for item, duration, reset_at in cur.fetchall():
                    try:
                        upcoming = next_reset(now, duration)
                    except ValueError:
                        continue  # a duration the API would refuse: leave the row alone
                    if reset_at is None:  # a duration without a reset time yet: the period starts now
                        sql = f"UPDATE {table.name} SET budget_reset_at = ? WHERE {table.id_column} = ?"
                        cur.execute(d.sql(sql + " AND budget_reset_at IS NULL"), (upcoming, item))
                    else:
                        sql = (
                            f"UPDATE {table.name} SET spend = 0, budget_reset_at = ?"
                            f" WHERE {table.id_column} = ?"
                        )
                        cur.execute(d.sql(sql + " AND budget_reset_at <= ?"), (upcoming, item, now))
                    if cur.rowcount > 0:
                        changed.append((table.kind, str(item)))
            if changed:
                self._bump(cur, changed)
            return len(changed)

        return await self._write(write)

    async def spends(self) -> dict[tuple[str, str], float]:
        def read(cur: Cursor) -> dict[tuple[str, str], float]:
            out: dict[tuple[str, str], float] = {}
            for table in TABLES:
                cur.execute(f"SELECT {table.id_column}, spend FROM {table.name}")
                out.update({(table.kind, str(item)): float(spent) for item, spent in cur.fetchall()})
            return out

        return await self._read(read)

    # ------------------------------------------------------------------ the ledger
    async def record(self, entries: list[SpendEntry], *, keep_logs: bool = True) -> None:
        if entries:
            await self._write(lambda cur: self._record(cur, entries, keep_logs))

    def _owners(self, cur: Cursor, entries: Sequence[SpendEntry]) -> list[SpendEntry]:
        """Entries without a team or user get their key's (a generated key's record says them)."""
        unknown = sorted({e.key_id for e in entries if e.team_id is None or e.user_id is None})
        owners: dict[str, tuple[str | None, str | None]] = {}
        for kid in unknown:
            cur.execute(self.d.sql("SELECT team_id, user_id FROM control_keys WHERE key_id = ?"), (kid,))
            row = cur.fetchone()
            if row is not None:
                owners[kid] = (row[0], row[1])
        if not owners:
            return list(entries)
        out = []
        for entry in entries:
            team, user = owners.get(entry.key_id, (None, None))
            if (team and not entry.team_id) or (user and not entry.user_id):
                entry = replace(entry, team_id=entry.team_id or team, user_id=entry.user_id or user)
            out.append(entry)
        return out

    def _record(self, cur: Cursor, entries: list[SpendEntry], keep_logs: bool) -> None:
        d = self.d
        calls = {(e.request_id, e.start_time): e for e in reversed(entries)}
        unique = [calls[call] for call in sorted(calls)]
        now = self.clock()
        owned = self._owners(cur, unique)
        if keep_logs:
            into, columns, rows = "spend_logs", _LEDGER, [entry.as_row() for entry in owned]
        else:
            into, columns = "spend_seen", ("request_id", "start_time", "seen_at")
            rows = [(entry.request_id, entry.start_time, now) for entry in owned]
        new = [
            entry
            for entry, added in zip(owned, self._insert_new(cur, into, columns, rows), strict=True)
            if added
        ]
        if not keep_logs:
            cur.execute(d.sql("DELETE FROM spend_seen WHERE seen_at < ?"), (now - SEEN_SECONDS,))
        if not new:
            return
        # locks are taken in one order (sorted ids) in every process: concurrent writers never deadlock
        lifetime: dict[str, tuple[str, float, float]] = {}
        period: dict[tuple[str, str], float] = {}
        daily: dict[tuple[str, str, str, str, str], list[float]] = {}
        for e in new:
            _, spent, _ = lifetime.get(e.key_id, (e.key_alias, 0.0, 0.0))
            lifetime[e.key_id] = (e.key_alias, spent + e.spend, e.end_time)
            for kind, item in (("key", e.key_id), ("team", e.team_id), ("user", e.user_id)):
                if item:
                    period[(kind, item)] = period.get((kind, item), 0.0) + e.spend
            bucket = (utc_day(e.end_time), e.key_id, e.team_id or "", e.user_id or "", e.model)
            sums = daily.setdefault(bucket, [0.0, 0, 0, 0])
            sums[0] += e.spend
            sums[1] += 1
            sums[2] += e.prompt_tokens
            sums[3] += e.completion_tokens
        cur_sql = d.upsert(
            "key_spend",
            ("key_id", "key_alias", "spend", "updated_at"),
            ("key_id",),
            add=("spend",),
            replace=("key_alias", "updated_at"),
        )
        cur.executemany(cur_sql, [(kid, *rest) for kid, rest in sorted(lifetime.items())])
        for table in TABLES:
            updates = [(spent, item) for (kind, item), spent in sorted(period.items()) if kind == table.kind]
            if updates:
                sql = f"UPDATE {table.name} SET spend = spend + ? WHERE {table.id_column} = ?"
                cur.executemany(d.sql(sql), updates)
        daily_sql = d.upsert(
            "spend_daily",
            _DAILY,
            _DAILY[:5],
            add=("spend", "requests", "prompt_tokens", "completion_tokens"),
            replace=(),
        )
        cur.executemany(
            daily_sql,
            [
                (*bucket, spent, int(n), int(prompt), int(out))
                for bucket, (spent, n, prompt, out) in sorted(daily.items())
            ],
        )

    def _insert_new(
        self, cur: Cursor, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> list[bool]:
        """Insert the rows whose (request_id, start_time) is new; for each row, whether it was. SQLite and
        PostgreSQL say which in one statement per chunk (RETURNING); MySQL row by row (INSERT IGNORE's
        affected-row count), since MySQL has no INSERT ... RETURNING. Exact with concurrent writers: a
        second writer of the same row waits for the first's commit, then finds it there."""
        d = self.d
        if not d.returning:
            insert = d.insert_if_new(table, columns, "request_id, start_time")
            added = []
            for row in rows:
                cur.execute(insert, row)
                added.append(cur.rowcount == 1)
            return added
        inserted: set[tuple[str, float]] = set()
        one = "(" + ", ".join("?" * len(columns)) + ")"
        for at in range(0, len(rows), _CHUNK):
            chunk = rows[at : at + _CHUNK]
            cur.execute(
                d.sql(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * len(chunk))}"
                    " ON CONFLICT (request_id, start_time) DO NOTHING RETURNING request_id, start_time"
                ),
                tuple(value for row in chunk for value in row),
            )
            inserted.update((str(rid), float(start)) for rid, start in cur.fetchall())
        return [(row[0], row[1] if table == "spend_seen" else row[_START]) in inserted for row in rows]

    async def totals(self) -> dict[str, float]:
        def read(cur: Cursor) -> dict[str, float]:
            cur.execute("SELECT key_id, spend FROM key_spend")
            return {str(kid): float(spent) for kid, spent in cur.fetchall()}

        return await self._read(read)

    async def spend_logs(
        self,
        *,
        key_id: str | None = None,
        team_id: str | None = None,
        user_id: str | None = None,
        model: str | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int = 100,
    ) -> list[SpendEntry]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("key_id", key_id),
            ("team_id", team_id),
            ("user_id", user_id),
            ("model", model),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if start is not None:
            where.append("end_time >= ?")
            args.append(start)
        if end is not None:
            where.append("end_time <= ?")
            args.append(end)
        sql = f"SELECT {LEDGER_COLUMNS} FROM spend_logs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY end_time DESC LIMIT ?"
        args.append(max(0, limit))

        def read(cur: Cursor) -> list[SpendEntry]:
            cur.execute(self.d.sql(sql), tuple(args))
            return [SpendEntry.from_row(row) for row in cur.fetchall()]

        return await self._read(read)

    async def logs(
        self, *, key_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[SpendEntry]:
        """The spend ledger's read (spend/store.py SpendStore)."""
        return await self.spend_logs(key_id=key_id, start=since, limit=limit)

    async def spend_report(
        self, *, start: float, end: float, group_by: str | Sequence[str]
    ) -> list[dict[str, object]]:
        dims = [group_by] if isinstance(group_by, str) else list(group_by)
        unknown = [dim for dim in dims if dim not in REPORT_DIMENSIONS]
        if unknown or not dims:
            raise ValueError(
                f"group_by {', '.join(map(repr, unknown)) or 'is empty'}: use one or more of "
                + ", ".join(REPORT_DIMENSIONS)
            )
        columns = [REPORT_DIMENSIONS[dim] for dim in dict.fromkeys(dims)]
        grouped = ", ".join(columns)
        order = ("day, " if "day" in columns else "") + "SUM(spend) DESC, " + grouped
        sql = self.d.sql(
            f"SELECT {grouped}, SUM(spend), SUM(requests), SUM(prompt_tokens), SUM(completion_tokens)"
            f" FROM spend_daily WHERE day >= ? AND day <= ? GROUP BY {grouped} ORDER BY {order}"
        )

        def read(cur: Cursor) -> list[dict[str, object]]:
            cur.execute(sql, (utc_day(start), utc_day(end)))
            rows = []
            for row in cur.fetchall():
                out: dict[str, object] = {
                    column: str(value) for column, value in zip(columns, row, strict=False)
                }
                spent, requests, prompt, completion = row[len(columns) :]
                out.update(
                    spend=float(spent),
                    requests=int(requests),
                    prompt_tokens=int(prompt),
                    completion_tokens=int(completion),
                )
                rows.append(out)
            return rows

        return await self._read(read)
