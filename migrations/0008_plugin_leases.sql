-- Active/standby across hosts: each plugin runs on the one host holding its lease. Taken and
-- renewed with the database's clock; `epoch` grows on every change of holder and fences
-- commits: a host whose lease moved on commits nothing (see PostgresFence).
CREATE TABLE plugin_leases (
    plugin      text PRIMARY KEY,
    holder      text NOT NULL,
    epoch       bigint NOT NULL,
    expires_at  timestamptz NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    renewed_at  timestamptz NOT NULL DEFAULT now()
);
