"""Live customer state: each customer's current stage kept up to date as events arrive, the
stage-entered feed, and webhooks that post it (docs/live-state.md)."""
