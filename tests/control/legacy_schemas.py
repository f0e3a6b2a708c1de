"""The schema the gateway had before the control plane (main before issue 13), frozen here as it shipped,
so the migrations are tested from what a deployed database really holds."""

# SQLite: created with CREATE ... IF NOT EXISTS at every start, no version table
SQLITE_V3 = """
CREATE TABLE IF NOT EXISTS spend_logs (
    request_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_alias TEXT NOT NULL,
    model TEXT NOT NULL,
    bedrock_model_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    spend REAL NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    estimated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS spend_logs_by_time ON spend_logs (end_time);
CREATE INDEX IF NOT EXISTS spend_logs_by_key ON spend_logs (key_id, end_time);
CREATE TABLE IF NOT EXISTS key_spend (
    key_id TEXT PRIMARY KEY,
    key_alias TEXT NOT NULL,
    spend REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    response_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    response TEXT NOT NULL,
    items TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_at);
"""

# PostgreSQL: migrations 1-3, recorded in bedrock_proxy_migrations
POSTGRES_V3: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS spend_logs (
        request_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_alias TEXT NOT NULL,
        model TEXT NOT NULL,
        bedrock_model_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        spend DOUBLE PRECISION NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        start_time DOUBLE PRECISION NOT NULL,
        end_time DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS spend_logs_by_time ON spend_logs (end_time);
    CREATE INDEX IF NOT EXISTS spend_logs_by_key ON spend_logs (key_id, end_time);
    CREATE TABLE IF NOT EXISTS key_spend (
        key_id TEXT PRIMARY KEY,
        key_alias TEXT NOT NULL,
        spend DOUBLE PRECISION NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS responses (
        response_id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        response TEXT NOT NULL,
        items TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_at);
    """,
    # 3: calls cut short (a client that left mid-stream) are charged an estimate, flagged here
    "ALTER TABLE spend_logs ADD COLUMN IF NOT EXISTS estimated BOOLEAN NOT NULL DEFAULT FALSE;",
)

POSTGRES_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS bedrock_proxy_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
