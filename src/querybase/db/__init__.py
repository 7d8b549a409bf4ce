"""The application database: engine, sessions and migrations."""
