-- Members of the Slack user groups named as approvers (`@sre-leads`), as last read from Slack.
CREATE TABLE usergroup_members (
    handle       text NOT NULL,
    user_id      text NOT NULL,
    refreshed_at timestamptz NOT NULL,
    PRIMARY KEY (handle, user_id)
);
