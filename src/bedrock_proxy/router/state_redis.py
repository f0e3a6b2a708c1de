"""SharedState in Redis: every process and host pointed at one Redis (6+, Valkey, Cluster, ElastiCache)
shares its limits, in-flight slots and cooldowns.

Each operation is one Lua script, so an admission's checks and adds happen atomically on the server, in one
round trip, against the server's clock (hosts' clocks may differ). Every key carries the same `{namespace}`
hash tag, so all keys of one script sit in one hash slot, as Redis Cluster requires; and every key has a
TTL (a minute window a little over a minute, a slot set its lease, a cooldown its seconds), so nothing grows
forever and a crashed process's slots free themselves when their lease ends.

Layout: a minute window is a hash `second -> amount`; a slot set is a sorted set `holder -> lease end`; a
cooldown (or a claim) is a plain key with a TTL; a budget is a hash: `s` (the key's spend) and one field per
reservation, `h:<holder>` -> `<amount>:<expiry>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

import redis.asyncio as aioredis
from hiredis import pack_command  # Redis's protocol in C; redis-py reads replies with hiredis by itself
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from bedrock_proxy.router.leases import LEASE_GRACE, LEASE_SECONDS, UNLIMITED, Lease, LeaseBook
from bedrock_proxy.router.state import (
    BUDGET_KEEP_SECONDS,
    WINDOW_SECONDS,
    Booking,
    Check,
    Choice,
    Option,
    Readings,
)

logger = logging.getLogger("bedrock_proxy.router")

DEFAULT_NAMESPACE = "bedrock-proxy"
DEFAULT_MAX_CONNECTIONS = 64
WARM_CONNECTIONS = 4  # opened at start

_COMMON = f"""
local WINDOW = {WINDOW_SECONDS}
pcall(function() if redis.replicate_commands then redis.replicate_commands() end end)
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
-- A minute window: fields 't' (the total), 'o' (the oldest second that may still hold a bucket) and one
-- bucket per second; while processes hold leases on it (leases.py), 'l' (the units leased), 'n' (how many
-- leases) and one 'L:<lease>' -> '<units>:<end>' per lease. expire() drops the buckets a minute old from
-- the total and returns it: O(1) per call under steady use (about one bucket leaves per second), however
-- many buckets the window holds. Also returns whether the window has its 'o' field (false: a new window)
-- and the units leased.
local function expire(key, now)
  local oldest = math.floor(now) - WINDOW
  local head = redis.call('HMGET', key, 't', 'o', 'l', 'n')
  local total, from = tonumber(head[1]), tonumber(head[2])
  local leased, leases = tonumber(head[3]) or 0, tonumber(head[4]) or 0
  if total == nil or from == nil then return 0, false, leased end
  if from > oldest then return total, true, leased end
  local stale = {{}}
  if oldest - from > 2 * WINDOW then
    total = 0
    local raw = redis.call('HGETALL', key)
    for i = 1, #raw, 2 do
      local second = tonumber(raw[i])
      if second ~= nil then
        if second <= oldest then stale[#stale + 1] = raw[i] else total = total + tonumber(raw[i + 1]) end
      end
    end
  else
    for second = from, oldest do stale[#stale + 1] = tostring(second) end
    local amounts = redis.call('HMGET', key, unpack(stale))
    for _, amount in ipairs(amounts) do
      if amount then total = total - tonumber(amount) end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  local fields = 2
  if leases > 0 then fields = 4 + leases end
  if redis.call('HLEN', key) <= fields then total = 0 end  -- no bucket left: no float drift either
  redis.call('HSET', key, 't', tostring(total), 'o', tostring(oldest + 1))
  return total, true, leased
end
-- the live buckets, oldest first (only when a refusal must say when there is room)
local function buckets(key, now)
  local oldest = math.floor(now) - WINDOW
  local raw = redis.call('HGETALL', key)
  local found = {{}}
  for i = 1, #raw, 2 do
    local second = tonumber(raw[i])
    if second ~= nil and second > oldest then found[#found + 1] = {{second, tonumber(raw[i + 1])}} end
  end
  table.sort(found, function(a, b) return a[1] < b[1] end)
  return found
end
local function free_in(key, total, limit, needed, now)
  local excess = total + needed - limit
  if excess <= 0 then return 0 end
  for _, bucket in ipairs(buckets(key, now)) do
    excess = excess - bucket[2]
    if excess <= 0 then return math.max(bucket[1] + WINDOW - now, 0) end
  end
  return WINDOW
end
-- `known`: what expire() said of this window earlier in the same script (nil: not called yet)
local function window_add(key, amount, now, known)
  if amount == 0 then return end
  local second = math.floor(now)
  if known == nil then
    local _
    _, known = expire(key, now)
  end
  redis.call('HINCRBYFLOAT', key, second, amount)
  redis.call('HINCRBYFLOAT', key, 't', amount)
  if not known then redis.call('HSETNX', key, 'o', second) end
  redis.call('PEXPIRE', key, (WINDOW + 2) * 1000)
end
local function slots_held(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key)
end
-- a lease ends: its units are no longer leased
local function unlease(key, field, units)
  redis.call('HDEL', key, field)
  if redis.call('HINCRBY', key, 'n', -1) <= 0 then redis.call('HDEL', key, 'l', 'n')
  else redis.call('HINCRBYFLOAT', key, 'l', -units) end
end
-- leases past their end (their holder crashed or its report was lost) count as used: never more admitted.
-- Returns the total, the units still leased and when the soonest remaining lease record ends.
local function sweep(key, now)
  local raw = redis.call('HGETALL', key)
  local soonest = nil
  for i = 1, #raw, 2 do
    if string.sub(raw[i], 1, 2) == 'L:' then
      local value = raw[i + 1]
      local colon = string.find(value, ':', 1, true)
      local ends = tonumber(string.sub(value, colon + 1))
      if ends <= now then
        local units = tonumber(string.sub(value, 1, colon - 1))
        unlease(key, raw[i], units)
        window_add(key, units, now, true)
      elseif soonest == nil or ends < soonest then
        soonest = ends
      end
    end
  end
  local head = redis.call('HMGET', key, 't', 'l')
  return tonumber(head[1]) or 0, tonumber(head[2]) or 0, soonest
end
"""

# KEYS: every key the checks name; ARGV: slot lease seconds, window lease id ('': none wanted), admissions
# a window lease should cover, its seconds, the seconds past its end the store keeps it, the common checks
# (count, then each check), option count, then per option: cooldown key index (0: none), its checks (count,
# then each check). A check is five values: key index, limit (-1: none), needed, amount, holder ('': a
# window).
# Returns {admitted option (0-based, -1: none), common blocked_by, common wait, the grants (key index,
# units; -1: no limit), seconds to wait for leases (0: a refusal they did not cause), then per option
# looked at: blocked_by, wait}; numbers as text (Lua numbers become integers in replies).
CHOOSE = (
    _COMMON
    + """
local now = clock()
local lease = tonumber(ARGV[1])
local lease_id, want = ARGV[2], tonumber(ARGV[3])
local lease_seconds, lease_kept = tonumber(ARGV[4]), tonumber(ARGV[5])
local expired = {}  -- window key -> whether it has its 'o' field, once expire() ran on it here
local leased_wait = 0
local function blocked(first, count)
  local p = first
  for index = 0, count - 1 do
    local key, limit, needed = KEYS[tonumber(ARGV[p])], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
    if limit >= 0 then
      if ARGV[p + 4] ~= '' then
        if slots_held(key, now) >= limit then return index, 1 end
      else
        local total, known, leased = expire(key, now)
        expired[key] = known
        if total + leased + needed > limit then
          local soonest = nil
          if leased > 0 and total + needed <= limit then total, leased, soonest = sweep(key, now) end
          if total + leased + needed > limit then
            if total + needed <= limit then  -- only leases hold the room: their holders report within
              -- lease_seconds; at the latest their records are swept when they end
              leased_wait = math.max((soonest or now) - now, lease_seconds)
              return index, leased_wait
            end
            return index, free_in(key, total + leased, limit, needed, now)
          end
        end
      end
    end
    p = p + 5
  end
  return -1, 0
end
local grants, granted = {}, {}
-- the asking call's tombstone (the last key): set when the caller gave up on this call (a timeout, a
-- cancellation), so a late run of it grants no lease that no process would ever use
local abandoned = lease_id ~= '' and redis.call('EXISTS', KEYS[#KEYS]) == 1
local function grant(first, count)
  if abandoned then return end
  local p = first
  for _ = 1, count do
    local index = tonumber(ARGV[p])
    if ARGV[p + 4] == '' and not granted[index] then
      granted[index] = true
      local key, limit = KEYS[index], tonumber(ARGV[p + 1])
      if limit < 0 then
        grants[#grants + 1] = index
        grants[#grants + 1] = '-1'
      else
        local unit = math.max(tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3]), 1)
        local head = redis.call('HMGET', key, 't', 'l')
        local room = limit - (tonumber(head[1]) or 0) - (tonumber(head[2]) or 0)
        local units = math.min(want * unit, math.floor(room / 16))
        if units >= 2 * unit then
          if head[1] == false then  -- nothing taken yet (a token window before its first answer)
            redis.call('HSET', key, 't', '0', 'o', tostring(math.floor(now)))
          end
          local ends = string.format('%.6f', now + lease_seconds + lease_kept)
          redis.call('HSET', key, 'L:' .. lease_id, units .. ':' .. ends)
          redis.call('HINCRBYFLOAT', key, 'l', units)
          redis.call('HINCRBY', key, 'n', 1)
          redis.call('PEXPIRE', key, (WINDOW + 2) * 1000)  -- outlives the lease, whatever was taken
          grants[#grants + 1] = index
          grants[#grants + 1] = tostring(units)
        end
      end
    end
    p = p + 5
  end
end
local function take(first, count)
  local p = first
  for _ = 1, count do
    local key, amount, holder = KEYS[tonumber(ARGV[p])], tonumber(ARGV[p + 3]), ARGV[p + 4]
    if holder ~= '' then
      redis.call('ZADD', key, now + lease, holder)
      redis.call('PEXPIRE', key, math.ceil(lease * 1000))
    else
      window_add(key, amount, now, expired[key])
      expired[key] = true
    end
    p = p + 5
  end
end
local common = tonumber(ARGV[6])
local common_first = 7
local refused, wait = blocked(common_first, common)
if refused >= 0 then return {-1, refused, tostring(wait), grants, tostring(leased_wait)} end
local pos = common_first + common * 5
local count = tonumber(ARGV[pos])
pos = pos + 1
local result = {-1, -1, '0', grants, '0'}
for option = 1, count do
  local cooldown, checks = tonumber(ARGV[pos]), tonumber(ARGV[pos + 1])
  local first = pos + 2
  pos = first + checks * 5
  local index, seconds = -1, 0
  if cooldown > 0 then
    local ttl = redis.call('PTTL', KEYS[cooldown])
    if ttl > 0 then index, seconds = -2, ttl / 1000 end
  end
  if index == -1 then index, seconds = blocked(first, checks) end
  result[#result + 1] = index
  result[#result + 1] = tostring(seconds)
  if index == -1 then
    take(first, checks)
    take(common_first, common)
    if lease_id ~= '' then
      grant(first, checks)
      grant(common_first, common)
    end
    result[1] = option - 1
    result[5] = '0'
    return result
  end
end
result[5] = tostring(leased_wait)
return result
"""
)

# KEYS: windows whose leases end; ARGV: per window, the lease id ('': a window without a limit) and the
# units its holder used. A lease the store no longer holds was swept as used (its holder was too late):
# its use is already counted.
RETURN = (
    _COMMON
    + """
local now = clock()
for i = 1, #KEYS do
  local key, id, used = KEYS[i], ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  local counted = true
  if id ~= '' then
    local field = 'L:' .. id
    local held = redis.call('HGET', key, field)
    if held then
      unlease(key, field, tonumber(string.sub(held, 1, string.find(held, ':', 1, true) - 1)))
    else
      counted = false
    end
  end
  if counted and used ~= 0 then window_add(key, used, now) end
end
return 1
"""
)

# KEYS: the windows a lease-asking call named, then its tombstone; ARGV: the lease id, the tombstone's
# milliseconds. The caller gave up on that call: a lease it was granted is given back whole (the caller
# never knew of it, so used none of it), and the tombstone stops a late run of the call from granting one.
ABANDON = (
    _COMMON
    + """
local field = 'L:' .. ARGV[1]
for i = 1, #KEYS - 1 do
  local held = redis.call('HGET', KEYS[i], field)
  if held then unlease(KEYS[i], field, tonumber(string.sub(held, 1, string.find(held, ':', 1, true) - 1))) end
end
redis.call('SET', KEYS[#KEYS], '1', 'PX', ARGV[2])
return 1
"""
)

# KEYS: windows to add to, then slot sets; ARGV: add count, the amounts, then the holders to release.
SETTLE = (
    _COMMON
    + """
local now = clock()
local adds = tonumber(ARGV[1])
for i = 1, adds do window_add(KEYS[i], tonumber(ARGV[1 + i]), now) end
for i = adds + 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1 + i]) end
return 1
"""
)

# KEYS: the failure window, the cooldown key; ARGV: allowed failures, cooldown seconds.
FAIL = (
    _COMMON
    + """
local now = clock()
window_add(KEYS[1], 1, now)
local fails = expire(KEYS[1], now)
local seconds = tonumber(ARGV[2])
if fails > tonumber(ARGV[1]) and seconds > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', math.max(math.ceil(seconds * 1000), 1))
  redis.call('DEL', KEYS[1])
  return {tostring(fails), 1}
end
return {tostring(fails), 0}
"""
)

# KEYS: windows, slot sets, cooldowns; ARGV: how many of the first two kinds.
READ = (
    _COMMON
    + """
local now = clock()
local windows, slots = tonumber(ARGV[1]), tonumber(ARGV[2])
local result = {}
for i = 1, #KEYS do
  if i <= windows then
    result[i] = tostring(expire(KEYS[i], now))
  elseif i <= windows + slots then
    result[i] = tostring(slots_held(KEYS[i], now))
  else
    result[i] = tostring(math.max(redis.call('PTTL', KEYS[i]), 0) / 1000)
  end
end
return result
"""
)

# KEYS: the budget hash; ARGV: holder, amount, limit, the caller's spend, ttl, keep (seconds).
# Returns {1 admitted or 0, spend, reserved before this one} (numbers as text).
RESERVE = (
    _COMMON
    + """
local now = clock()
local key, holder = KEYS[1], ARGV[1]
local amount, limit, known = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl, keep = tonumber(ARGV[5]), tonumber(ARGV[6])
local raw = redis.call('HGETALL', key)
local spent, reserved, stale = 0, 0, {}
for i = 1, #raw, 2 do
  if raw[i] == 's' then
    spent = tonumber(raw[i + 1])
  else
    local value = raw[i + 1]
    local colon = string.find(value, ':', 1, true)
    if tonumber(string.sub(value, colon + 1)) <= now then stale[#stale + 1] = raw[i]
    else reserved = reserved + tonumber(string.sub(value, 1, colon - 1)) end
  end
end
if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
if known > spent then
  spent = known
  redis.call('HSET', key, 's', ARGV[4])
end
local admitted = 0
if spent + reserved < limit and (reserved <= 0 or spent + reserved + amount <= limit) then
  redis.call('HSET', key, 'h:' .. holder, ARGV[2] .. ':' .. string.format('%.6f', now + ttl))
  admitted = 1
end
redis.call('PEXPIRE', key, math.ceil(math.max(keep, ttl) * 1000))
return {admitted, string.format('%.17g', spent), string.format('%.17g', reserved)}
"""
)

# KEYS: the budget hash; ARGV: holder, cost, keep (seconds).
RELEASE = """
redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1])
if tonumber(ARGV[2]) ~= 0 then redis.call('HINCRBYFLOAT', KEYS[1], 's', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000))
return 1
"""

# KEYS: the claim; ARGV: milliseconds. Returns 1 for the first caller.
CLAIM = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""

_SHAS = {
    source: hashlib.sha1(source.encode()).hexdigest()
    for source in (CHOOSE, RETURN, ABANDON, SETTLE, FAIL, READ, RESERVE, RELEASE, CLAIM)
}


class RedisState:
    """Scripts called by their SHA (EVALSHA, EVAL once after a Redis restart emptied its script cache) on
    connections of the official client (`redis.asyncio`), each used by one call at a time: the hot path
    skips the client's command machinery and its pool's locks, which cost more than the round trip."""

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        password: str | None = None,
        url: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        lease_seconds: float = 660.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        timeout: float = 0.1,
        bounded: bool = True,
        window_leases: float = LEASE_SECONDS,
    ) -> None:
        """`timeout` bounds connecting and, when `bounded`, each call (False: the caller bounds each call
        itself, as FailoverState does, and a second timer would only cost time). `window_leases`: how long
        a window lease lasts (leases.py); 0 asks the store on every admission."""
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if url:
            pool = aioredis.ConnectionPool.from_url(url, **options)
            self.target = _without_password(url)
        else:
            pool = aioredis.ConnectionPool(
                host=host or "localhost", port=port or 6379, password=password, **options
            )
            self.target = f"{host or 'localhost'}:{port or 6379}"
        self.pool = pool  # the connections' settings (host, TLS, AUTH, database); makes each connection
        self.client = aioredis.Redis(connection_pool=pool)  # for start() and for looking from outside
        # the hot path's connections leave timeouts to `_script` (one timer per call: redis-py's own
        # socket_timeout runs each write in a task of its own and each read under another timer)
        self._hot_kwargs = {**pool.connection_kwargs, "socket_timeout": None}
        self.call_timeout = timeout if bounded else None
        self.timeout = timeout  # the lease calls off the request path are bounded by it too
        self.description = f"redis at {self.target}"
        self.prefix = "{" + namespace + "}:"  # one hash tag: every key of a script in one cluster slot
        self.lease_seconds = lease_seconds
        self._idle: list[AbstractConnection] = []
        self._open = asyncio.Semaphore(max_connections)
        self.leases = LeaseBook(window_leases) if window_leases > 0 else None
        self._reporting: asyncio.TimerHandle | None = None
        self._reports: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Load the scripts and open a few connections now, so that the first requests pay neither a
        connection nor a script upload within their short timeout."""
        await self.client.ping()
        for source in _SHAS:
            await self.client.script_load(source)
        for _ in range(WARM_CONNECTIONS):
            connection = self._connect()
            await connection.connect()  # type: ignore[no-untyped-call]
            self._idle.append(connection)

    async def aclose(self) -> None:
        """Report every lease first, so that other processes may use what this one leased and did not use."""
        if self._reports:  # renewals first: what they grant is reported below
            await asyncio.wait(list(self._reports), timeout=1.0)
        if self._reporting is not None:
            self._reporting.cancel()
        if self.leases is not None:
            self.leases.end_all()
            with contextlib.suppress(Exception):
                await self._return(self.leases.due())
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()
        close = getattr(self.client, "aclose", None) or self.client.close  # aclose: redis >= 5.0.1
        await close()
        await self.pool.disconnect()

    def _connect(self) -> AbstractConnection:
        """A new connection with the pool's settings (it connects on its first command)."""
        return self.pool.connection_class(**self._hot_kwargs)

    async def _script(self, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        async with self._open:
            connection = self._idle.pop() if self._idle else self._connect()
            try:
                async with asyncio.timeout(self.call_timeout):
                    command = ("EVALSHA", _SHAS[source], len(keys), *keys, *args)
                    await connection.send_packed_command(bytes(pack_command(command)), check_health=False)
                    try:
                        reply = await connection.read_response()
                    except NoScriptError:  # Redis restarted and forgot the scripts: send the text once
                        command = ("EVAL", source, len(keys), *keys, *args)
                        await connection.send_packed_command(bytes(pack_command(command)), check_health=False)
                        reply = await connection.read_response()
            except BaseException as exc:  # an error, a timeout, a cancellation: this connection's state is
                # unknown; after a lost connection the idle ones most likely went with the server too
                stale = [connection]
                if isinstance(exc, RedisConnectionError | OSError):
                    stale += self._idle
                    self._idle = []
                for each in stale:
                    with contextlib.suppress(Exception):
                        await each.disconnect(nowait=True)
                raise
            self._idle.append(connection)
            return reply

    def choose_leased(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice | None:
        """The admission decided from this process's leases, without a round trip; None: ask `choose`.
        A busy lease near its end is renewed in the background."""
        book = self.leases
        if book is None:
            return None
        choice = book.admit(options, common)
        if choice is not None:
            for option, common_checks in book.renewals():
                self._background(self._renew(option, common_checks))
        return choice

    async def choose(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice:
        book = self.leases
        if book is None:
            keys, args = encode_options(options, common, self.prefix, self.lease_seconds)
            return decode_choice(await self._script(CHOOSE, keys, args))
        choice = self.choose_leased(options, common)
        if choice is not None:
            return choice
        self._report_due()  # leases that just ended make room for this admission too
        checks = (*common, *(check for option in options for check in option.checks))
        want = book.want(checks)
        # the lifetime goes even without a lease wanted: it is how long a refusal caused by others' waits
        lease = (book.new_id() if want else "", want, book.lifetime)
        keys, args = encode_options(options, common, self.prefix, self.lease_seconds, lease)
        try:
            reply = await self._script(CHOOSE, keys, args)
        except BaseException:
            if want:
                self._background(self._abandon(lease[0], checks))
            raise
        finally:
            if want:
                book.answered(checks)
        choice = decode_choice(reply)
        self._granted(reply[3], keys, lease[0], common, options[choice.index] if choice.admitted else None)
        return choice

    def _granted(
        self,
        grants: Sequence[Any],
        keys: Sequence[str],
        lease_id: str,
        common: Sequence[Check],
        option: Option | None,
    ) -> None:
        """Hand the leases a CHOOSE reply granted (key index, units) to the book."""
        book = self.leases
        if not grants or book is None:
            return
        cooldown_key = option.cooldown_key if option is not None else ""
        common_keys = {check.key for check in common}
        for position in range(0, len(grants), 2):
            key = keys[int(grants[position]) - 1][len(self.prefix) :]
            units = float(grants[position + 1])
            book.granted(
                key, "" if units == UNLIMITED else lease_id, units, "" if key in common_keys else cooldown_key
            )
        self._report_due()  # the leases these replace
        self._schedule_reports()

    async def _renew(self, option: Option, common: Sequence[Check]) -> None:
        """New leases on an admission's windows before the current ones end: the same checks with nothing
        taken (needed and amount 0), so it is granted while there is room (and the deployment is not cooling
        down), and refused, without harm, otherwise."""
        book = self.leases
        if book is None:
            return
        nothing = [Check(check.key, check.limit, 0, 0) for check in common]
        renewed = Option(tuple(Check(c.key, c.limit, 0, 0) for c in option.checks), option.cooldown_key)
        want = book.renewal_want((*nothing, *renewed.checks))
        if not want:
            return
        lease = (book.new_id(), want, book.lifetime)
        keys, args = encode_options([renewed], nothing, self.prefix, self.lease_seconds, lease)
        try:
            async with asyncio.timeout(self.timeout):
                reply = await self._script(CHOOSE, keys, args)
        except BaseException:
            self._background(self._abandon(lease[0], (*nothing, *renewed.checks)))
            raise
        finally:
            book.answered((*nothing, *renewed.checks))
        if int(reply[0]) == 0:
            self._granted(reply[3], keys, lease[0], common, option)

    async def _abandon(self, lease_id: str, checks: Sequence[Check]) -> None:
        """A lease-asking call failed or was cancelled, yet Redis may run it (late, or it did and the reply
        was lost): whatever it granted goes back, and a late run grants nothing."""
        windows = list(dict.fromkeys(self.prefix + check.key for check in checks if not check.holder))
        keys = [*windows, tombstone(self.prefix, lease_id)]
        milliseconds = max(int((self.timeout + LEASE_GRACE) * 1000) * 2, 1000)
        async with asyncio.timeout(max(self.timeout, 1.0)):
            await self._script(ABANDON, keys, [lease_id, milliseconds])

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(self._quietly(work))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _quietly(self, work: Coroutine[Any, Any, None]) -> None:
        """Lease work off the request path: a failure only means a round trip later (the store counts a
        lease never reported as used once it expires)."""
        try:
            await work
        except Exception as exc:
            logger.debug("window lease call failed: %s", exc)

    def _schedule_reports(self) -> None:
        """Report each lease when it ends: one timer for the soonest."""
        book = self.leases
        if self._reporting is not None or book is None:
            return
        delay = book.next_end()
        if delay != float("inf"):
            self._reporting = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._reporting = None
        self._report_due()
        self._schedule_reports()

    def _report_due(self) -> None:
        """Send the leases that ended, in the background (they only give room back)."""
        if self.leases is None:
            return
        ended = self.leases.due()
        if ended:
            self._background(self._return(ended))

    async def _return(self, ended: Sequence[Lease]) -> None:
        if not ended:
            return
        keys = [self.prefix + lease.key for lease in ended]
        args: list[Any] = []
        for lease in ended:
            args += (lease.lease_id, _number(lease.used))
        try:
            async with asyncio.timeout(self.timeout):
                await self._script(RETURN, keys, args)
        finally:
            if self.leases is not None:
                self.leases.reported(ended)

    async def settle(self, adds: Sequence[tuple[str, float]], releases: Sequence[tuple[str, str]]) -> None:
        book = self.leases
        adds = [(key, amount) for key, amount in adds if amount and not (book and book.absorb(key, amount))]
        if not adds and not releases:
            return
        prefix = self.prefix
        keys = [prefix + key for key, _ in adds] + [prefix + key for key, _ in releases]
        args: list[Any] = [len(adds), *(_number(amount) for _, amount in adds), *(h for _, h in releases)]
        await self._script(SETTLE, keys, args)

    async def fail(
        self, fails_key: str, cooldown_key: str, allowed: int, cooldown_seconds: float
    ) -> tuple[float, bool]:
        if self.leases is not None:
            self.leases.end_cooldown_key(cooldown_key)  # the next admission sees the store's cooldown
        keys = [self.prefix + fails_key, self.prefix + cooldown_key]
        reply = await self._script(FAIL, keys, [allowed, _number(cooldown_seconds)])
        return float(reply[0]), bool(int(reply[1]))

    async def read(self, windows: Sequence[str], slots: Sequence[str], cooldowns: Sequence[str]) -> Readings:
        prefix = self.prefix
        keys = [prefix + key for key in (*windows, *slots, *cooldowns)]
        readings = Readings()
        if not keys:
            return readings
        reply = await self._script(READ, keys, [len(windows), len(slots)])
        values = [float(value) for value in reply]
        book = self.leases
        for key, value in zip(windows, values, strict=False):
            readings.totals[key] = value + book.unreported(key) if book is not None else value
        for key, value in zip(slots, values[len(windows) :], strict=False):
            readings.slots[key] = int(value)
        for key, value in zip(cooldowns, values[len(windows) + len(slots) :], strict=False):
            if value > 0:
                readings.cooling[key] = value
        return readings

    async def reserve(
        self, key: str, holder: str, amount: float, limit: float, spent: float, ttl: float
    ) -> Booking:
        args = [holder, _number(amount), _number(limit), _number(spent), _number(ttl)]
        args.append(_number(BUDGET_KEEP_SECONDS))
        reply = await self._script(RESERVE, [self.prefix + key], args)
        return Booking(bool(int(reply[0])), float(reply[1]), float(reply[2]))

    async def release(self, key: str, holder: str, cost: float) -> None:
        await self._script(
            RELEASE, [self.prefix + key], [holder, _number(cost), _number(BUDGET_KEEP_SECONDS)]
        )

    async def claim(self, key: str, seconds: float) -> bool:
        reply = await self._script(CLAIM, [self.prefix + key], [max(int(seconds * 1000), 1)])
        return bool(int(reply))


def encode_options(
    options: Sequence[Option],
    common: Sequence[Check],
    prefix: str,
    lease: float,
    window_lease: tuple[str, int, float] = ("", 0, LEASE_SECONDS),
) -> tuple[list[str], list[Any]]:
    """The CHOOSE script's KEYS and ARGV (each key sent once); `window_lease`: (lease id or '' for none,
    admissions it should cover, seconds a lease lasts, which is also how long a refusal caused by other
    processes' leases should wait)."""
    keys: list[str] = []
    index: dict[str, int] = {}

    def key_index(key: str) -> int:
        position = index.get(key)
        if position is None:
            keys.append(prefix + key)
            position = index[key] = len(keys)  # Lua counts from 1
        return position

    def add_checks(checks: Sequence[Check]) -> None:
        args.append(len(checks))
        for check in checks:
            limit = -1 if check.limit is None else check.limit
            args.extend((key_index(check.key), _number(limit), _number(check.needed), _number(check.amount)))
            args.append(check.holder)

    lease_id, want, seconds = window_lease
    args: list[Any] = [_number(lease), lease_id, want, _number(seconds), _number(LEASE_GRACE)]
    add_checks(common)
    args.append(len(options))
    for option in options:
        args.append(key_index(option.cooldown_key) if option.cooldown_key else 0)
        add_checks(option.checks)
    if lease_id:
        keys.append(tombstone(prefix, lease_id))
    return keys, args


def tombstone(prefix: str, lease_id: str) -> str:
    """The key that marks a lease-asking call given up on (ABANDON)."""
    return f"{prefix}abandoned:{lease_id}"


def decode_choice(reply: Sequence[Any]) -> Choice:
    values = list(reply)
    blocked = tuple(int(value) for value in values[5::2])
    waits = tuple(float(value) for value in values[6::2])
    return Choice(int(values[0]), blocked, waits, int(values[1]), float(values[2]), float(values[4]))


def _number(value: float) -> str:
    """A number as Redis and Lua read it back exactly (integers without a trailing .0)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _without_password(url: str) -> str:
    head, sep, tail = url.partition("://")
    if sep and "@" in tail.split("/", 1)[0]:
        return f"{head}://{tail.split('@', 1)[1]}"
    return url
