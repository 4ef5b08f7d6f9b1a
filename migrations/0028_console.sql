-- The console's Sign in with Slack (DESIGN.md "Console").
--
-- console_logins: a sign-in under way, from /auth/slack/login to its callback. The browser
-- carries the state; the nonce comes back inside Slack's ID token. Each row is used once
-- (deleted by the callback) and is good for ten minutes.
CREATE TABLE console_logins (
    state_hash bytea PRIMARY KEY,          -- sha256 of the state; the state itself is not stored
    nonce text NOT NULL,
    next_path text NOT NULL,               -- where to go after signing in (a /console path)
    created_at timestamptz NOT NULL
);

-- console_sessions: who a session cookie belongs to. Only the cookie's sha256 is stored, so a
-- copy of the table signs nobody in.
CREATE TABLE console_sessions (
    token_hash bytea PRIMARY KEY,
    user_id text NOT NULL,
    team_id text NOT NULL,
    name text NOT NULL,
    email text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
CREATE INDEX console_logins_created_at ON console_logins (created_at);
