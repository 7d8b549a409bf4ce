"""Emails for dashboard subscriptions and alerts: `send` builds them (running the cards as the creator),
`render` is their HTML and attachments."""
