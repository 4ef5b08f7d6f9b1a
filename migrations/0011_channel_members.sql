-- Who is in each incident channel, as Slack last told warroom (`conversations.members`, then
-- `member_joined_channel` / `member_left_channel`): the `participants` principal of
-- `[permissions]`.
CREATE TABLE channel_members (
    channel_id text NOT NULL,
    user_id    text NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
