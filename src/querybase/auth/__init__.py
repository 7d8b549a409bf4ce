"""Authentication: passwords, sessions, API keys and the login throttle."""
